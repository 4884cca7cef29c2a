// The proxy's Prometheus metrics, on the registry the caller passes (one per
// process, never the global one). The names are a contract with the core,
// the Helm chart's dashboard and its alerts: change none without them.
//
// Counters the code increments as things happen; gauges (and the counters
// that mirror another component's tally) are read from their sources at
// scrape time, so a scrape never lags and the hot path pays nothing.

import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { collectProcessMetrics, requestObserver } from '../core-server/api/metrics.js';

export type ProxyRoute = 'keys' | 'keys_watch' | 'version' | 'health' | 'ready' | 'members' | 'machines' | 'stats' | 'metrics' | 'other';
export type RefusedLimit = 'connections' | 'connections_per_client' | 'inflight' | 'watchers' | 'body_bytes';
export type UpstreamOp = 'get' | 'write' | 'quorum_get';

/** Read at scrape time. */
export interface MetricSources {
  cacheBytes(): number;
  cacheEntries(): number;
  /** Seconds since the view was last known current (+Inf before it ever was). */
  stalenessSeconds(): number;
  maxStalenessSeconds: number;
  viewIndex(): number;
  watchers(): number;
  upstreamWatchStreams(): number;
  connections(): number;
  membersUp(): number;
  /** Monotonic tallies kept elsewhere (the view, the app), mirrored as counters. */
  watchersDropped(): { overflow: number; cleared: number };
  resyncs(): number;
}

export interface ProxyMetrics {
  observeRequest(route: ProxyRoute, method: string, status: number, seconds: number | null): void;
  observeUpstream(op: UpstreamOp, seconds: number): void;
  cacheHit(): void;
  cacheMiss(): void;
  refused(limit: RefusedLimit): void;
}

/** A counter that follows a monotonic tally kept elsewhere. */
function mirror(c: Counter<string>, labels: Record<string, string> | null, seen: { v: number }, now: number): void {
  if (now > seen.v) {
    if (labels === null) c.inc(now - seen.v);
    else c.inc(labels, now - seen.v);
    seen.v = now;
  }
}

export function createProxyMetrics(registry: Registry, src: MetricSources): ProxyMetrics {
  // The process metrics minus prom-client's _total gauges, which promtool refuses.
  collectProcessMetrics(registry, 'raftgate_proxy_');
  const reg = [registry];
  const requests = new Counter({
    name: 'raftgate_proxy_http_requests_total',
    help: 'HTTP requests answered by the proxy, by route, method and status code.',
    labelNames: ['route', 'method', 'code'] as const,
    registers: reg,
  });
  const latency = new Histogram({
    name: 'raftgate_proxy_http_request_duration_seconds',
    help: 'Time to answer a proxy HTTP request (watches excluded: they last as long as the client waits).',
    labelNames: ['route', 'method'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: reg,
  });
  const hits = new Counter({ name: 'raftgate_proxy_cache_hits_total', help: 'Reads answered from the cache (within the staleness bound).', registers: reg });
  const misses = new Counter({ name: 'raftgate_proxy_cache_misses_total', help: 'Reads answered by reading through to a member.', registers: reg });
  new Gauge({
    name: 'raftgate_proxy_cache_bytes',
    help: 'Approximate bytes of cached answers.',
    registers: reg,
    collect() {
      this.set(src.cacheBytes());
    },
  });
  new Gauge({
    name: 'raftgate_proxy_cache_entries',
    help: 'Cached answers.',
    registers: reg,
    collect() {
      this.set(src.cacheEntries());
    },
  });
  new Gauge({
    name: 'raftgate_proxy_staleness_seconds',
    help: 'Time since the proxy last knew its view of the keyspace was current (last event or progress notification).',
    registers: reg,
    collect() {
      this.set(src.stalenessSeconds());
    },
  });
  new Gauge({
    name: 'raftgate_proxy_max_staleness_seconds',
    help: 'The configured default staleness bound (--max-staleness).',
    registers: reg,
    collect() {
      this.set(src.maxStalenessSeconds);
    },
  });
  new Gauge({
    name: 'raftgate_proxy_view_index',
    help: "The etcd index the proxy's view reflects.",
    registers: reg,
    collect() {
      this.set(src.viewIndex());
    },
  });
  new Gauge({
    name: 'raftgate_proxy_watchers',
    help: 'Client watches (wait=true) open on this proxy.',
    registers: reg,
    collect() {
      this.set(src.watchers());
    },
  });
  new Gauge({
    name: 'raftgate_proxy_upstream_watch_streams',
    help: 'Upstream watch streams open: 0 or 1, however many client watches.',
    registers: reg,
    collect() {
      this.set(src.upstreamWatchStreams());
    },
  });
  const droppedSeen = { overflow: { v: 0 }, cleared: { v: 0 } };
  const dropped = new Counter({
    name: 'raftgate_proxy_watchers_dropped_total',
    help: 'Client watches closed by the proxy: overflow (could not keep up) or cleared (answered 401 after a resync).',
    labelNames: ['reason'] as const,
    registers: reg,
    collect() {
      const d = src.watchersDropped();
      mirror(this, { reason: 'overflow' }, droppedSeen.overflow, d.overflow);
      mirror(this, { reason: 'cleared' }, droppedSeen.cleared, d.cleared);
    },
  });
  // Both series exist from the start, so rate() and alerts see 0, not "no data".
  dropped.inc({ reason: 'overflow' }, 0);
  dropped.inc({ reason: 'cleared' }, 0);
  new Gauge({
    name: 'raftgate_proxy_connections',
    help: 'Open client connections.',
    registers: reg,
    collect() {
      this.set(src.connections());
    },
  });
  const refusedC = new Counter({
    name: 'raftgate_proxy_refused_total',
    help: 'Requests and connections refused by a limit.',
    labelNames: ['limit'] as const,
    registers: reg,
  });
  for (const l of ['connections', 'connections_per_client', 'inflight', 'watchers', 'body_bytes'] as const) refusedC.inc({ limit: l }, 0);
  const upstream = new Histogram({
    name: 'raftgate_proxy_upstream_request_duration_seconds',
    help: 'Time for a member to answer a request from the proxy, retries and failover included.',
    labelNames: ['op'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: reg,
  });
  new Gauge({
    name: 'raftgate_proxy_upstream_members_up',
    help: 'Core members passing health checks.',
    registers: reg,
    collect() {
      this.set(src.membersUp());
    },
  });
  const resyncSeen = { v: 0 };
  new Counter({
    name: 'raftgate_proxy_upstream_resyncs_total',
    help: "Times the proxy's view had to jump (the upstream history no longer reached it): cache dropped, affected watchers answered 401.",
    registers: reg,
    collect() {
      mirror(this, null, resyncSeen, src.resyncs());
    },
  });

  type HChild = { observe(v: number): void };
  const ups = new Map<UpstreamOp, HChild>();

  return {
    observeRequest: requestObserver(requests, latency),
    observeUpstream(op, seconds) {
      let h = ups.get(op);
      if (h === undefined) {
        h = upstream.labels(op);
        ups.set(op, h);
      }
      h.observe(seconds);
    },
    cacheHit: () => hits.inc(),
    cacheMiss: () => misses.inc(),
    refused: (limit) => refusedC.inc({ limit }),
  };
}
