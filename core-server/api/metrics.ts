// The core's HTTP metrics, on the registry the caller passes (never the
// global one, so two apps in one process — tests, a dev cluster — never
// collide). Names follow Prometheus conventions: raftgate_core_ prefix, base
// units (seconds), _total on counters.

import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import type { KvNode } from '../node/types.js';

/**
 * prom-client's default metrics that are gauges named like counters
 * (`_total`): `promtool check metrics` rejects them, and the live-handle
 * counts they give are not worth a lint failure in every scrape.
 */
const DEFAULT_METRICS_DROPPED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Process metrics (CPU, memory, event loop, GC) under `prefix`, minus the ones promtool refuses. */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const n of DEFAULT_METRICS_DROPPED) registry.removeSingleMetric(prefix + n);
}

export type RouteLabel =
  | 'keys'
  | 'keys_watch'
  | 'version'
  | 'health'
  | 'metrics'
  | 'members'
  | 'machines'
  | 'stats'
  | 'options'
  | 'other';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH']);

export interface CoreMetrics {
  /** Count one finished request and, unless it was a watch, its latency. */
  observe(route: RouteLabel, method: string, status: number, seconds: number | null): void;
  watcherRefused(): void;
}

/**
 * Counts one finished request by route, method and code and, unless
 * `seconds` is null (a watch), its latency. Labelled children are looked up
 * once per label combination, not per request. Shared by the core's and the
 * proxy's HTTP metrics.
 */
export function requestObserver(
  requests: Counter<'route' | 'method' | 'code'>,
  latency: Histogram<'route' | 'method'>,
): (route: string, method: string, status: number, seconds: number | null) => void {
  type Child = { inc(): void };
  type HChild = { observe(v: number): void };
  const counters = new Map<string, Child>();
  const histograms = new Map<string, HChild>();
  return (route, methodIn, status, seconds) => {
    const method = KNOWN_METHODS.has(methodIn) ? methodIn : 'other';
    const ck = route + ' ' + method + ' ' + status;
    let c = counters.get(ck);
    if (c === undefined) {
      c = requests.labels(route, method, String(status));
      counters.set(ck, c);
    }
    c.inc();
    if (seconds === null) return;
    const hk = route + ' ' + method;
    let h = histograms.get(hk);
    if (h === undefined) {
      h = latency.labels(route, method);
      histograms.set(hk, h);
    }
    h.observe(seconds);
  };
}

export function createCoreMetrics(registry: Registry, node: KvNode, activeWatchers: () => number): CoreMetrics {
  const requests = new Counter({
    name: 'raftgate_core_http_requests_total',
    help: 'HTTP requests answered by the core, by route, method and status code.',
    labelNames: ['route', 'method', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'raftgate_core_http_request_duration_seconds',
    help: 'Time to answer a core HTTP request (watches excluded: they last as long as the client waits).',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'raftgate_core_watchers',
    help: 'Client watches (wait=true) currently open on this member.',
    registers: [registry],
    collect() {
      this.set(activeWatchers());
    },
  });
  const refused = new Counter({
    name: 'raftgate_core_watchers_refused_total',
    help: 'Watches refused because watchersMax were already open.',
    registers: [registry],
  });
  new Gauge({
    name: 'raftgate_core_store_index',
    help: 'The v2 store index (X-Etcd-Index) of this member.',
    registers: [registry],
    collect() {
      this.set(node.store.index);
    },
  });
  new Gauge({
    name: 'raftgate_core_raft_applied_index',
    help: 'The last Raft log index applied by this member (X-Raft-Index).',
    registers: [registry],
    collect() {
      this.set(node.raftIndex);
    },
  });

  return {
    observe: requestObserver(requests, latency),
    watcherRefused() {
      refused.inc();
    },
  };
}
