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
import type { UpstreamOp } from './upstream/types.js';

export type { UpstreamOp } from './upstream/types.js';
export type ProxyRoute = 'keys' | 'keys_watch' | 'version' | 'health' | 'ready' | 'status' | 'members' | 'machines' | 'stats' | 'metrics' | 'other';
export type RefusedLimit = 'connections' | 'connections_per_client' | 'inflight' | 'watchers' | 'body_bytes';

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
  /** Newest etcd index heard from any member minus the view's index (0 when current). */
  upstreamWatchLagEvents(): number;
  /** Monotonic tallies kept elsewhere (the view, the cache, the upstream, the app), mirrored as counters. */
  watchersDropped(): { overflow: number; cleared: number };
  resyncs(): number;
  cacheEvictions(): number;
  cacheInvalidations(): number;
  upstreamWatchReconnects(): number;
}

export interface ProxyMetrics {
  observeRequest(route: ProxyRoute, method: string, status: number, seconds: number | null): void;
  /** One attempt on one member (UpstreamObserver). */
  observeUpstream(op: UpstreamOp, member: string, seconds: number): void;
  cacheHit(): void;
  cacheMiss(): void;
  /** What raftgate_proxy_cache_hits_total and _misses_total say (for /raftgate/v1/status). */
  cacheCounts(): { hits: number; misses: number };
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

/** A gauge set from its source at every scrape. */
function scrapedGauge(reg: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: reg,
    collect() {
      this.set(read());
    },
  });
}

/** A counter (no labels) that mirrors a monotonic tally at every scrape. */
function mirroredCounter(reg: Registry[], name: string, help: string, read: () => number): void {
  const seen = { v: 0 };
  new Counter({
    name,
    help,
    registers: reg,
    collect() {
      mirror(this, null, seen, read());
    },
  });
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
  mirroredCounter(
    reg,
    'raftgate_proxy_cache_evictions_total',
    'Cached answers the LRU dropped to make room under --cache-bytes-max (it sets no TTL: age is checked against the staleness bound at read time). ' +
      'Entries dropped because an upstream event changed them are not evictions: see raftgate_proxy_cache_invalidations_total.',
    src.cacheEvictions,
  );
  mirroredCounter(
    reg,
    'raftgate_proxy_cache_invalidations_total',
    'Cached answers dropped because an upstream event changed or may have changed them (an entry an event rewrites in place is not counted). ' +
      'A resync drops the whole cache and is counted in raftgate_proxy_upstream_resyncs_total instead.',
    src.cacheInvalidations,
  );
  scrapedGauge(reg, 'raftgate_proxy_cache_bytes', 'Approximate bytes of cached answers.', src.cacheBytes);
  scrapedGauge(reg, 'raftgate_proxy_cache_entries', 'Cached answers.', src.cacheEntries);
  scrapedGauge(
    reg,
    'raftgate_proxy_staleness_seconds',
    'Time since the proxy last knew its view of the keyspace was current (last event or progress notification).',
    src.stalenessSeconds,
  );
  scrapedGauge(reg, 'raftgate_proxy_max_staleness_seconds', 'The configured default staleness bound (--max-staleness).', () => src.maxStalenessSeconds);
  scrapedGauge(reg, 'raftgate_proxy_view_index', "The etcd index the proxy's view reflects.", src.viewIndex);
  scrapedGauge(reg, 'raftgate_proxy_watchers', 'Client watches (wait=true) open on this proxy.', src.watchers);
  scrapedGauge(reg, 'raftgate_proxy_upstream_watch_streams', 'Upstream watch streams open: 0 or 1, however many client watches.', src.upstreamWatchStreams);
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
  scrapedGauge(reg, 'raftgate_proxy_connections', 'Open client connections.', src.connections);
  const refusedC = new Counter({
    name: 'raftgate_proxy_refused_total',
    help: 'Requests and connections refused by a limit.',
    labelNames: ['limit'] as const,
    registers: reg,
  });
  for (const l of ['connections', 'connections_per_client', 'inflight', 'watchers', 'body_bytes'] as const) refusedC.inc({ limit: l }, 0);
  scrapedGauge(
    reg,
    'raftgate_proxy_upstream_watch_lag_events',
    'How many etcd indexes the view is behind: the newest index the proxy has heard of from any member (native hello, the stream, answers to reads and writes) ' +
      'minus the index its view has applied; 0 when current. Staleness says how long since the view was known current; this says how far behind it is.',
    src.upstreamWatchLagEvents,
  );
  mirroredCounter(
    reg,
    'raftgate_proxy_upstream_watch_reconnects_total',
    'Times the upstream watch stream was opened again after it ended or stalled (member killed or restarted, failover, stall, history cleared); the first stream is not counted.',
    src.upstreamWatchReconnects,
  );
  const upstream = new Histogram({
    name: 'raftgate_proxy_upstream_request_duration_seconds',
    help: 'Time for one member (member id) to answer one request from the proxy: one attempt, so a retry on another member is another observation; requests that never left the proxy are not observed.',
    labelNames: ['op', 'member'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: reg,
  });
  scrapedGauge(reg, 'raftgate_proxy_upstream_members_up', 'Core members passing health checks.', src.membersUp);
  mirroredCounter(
    reg,
    'raftgate_proxy_upstream_resyncs_total',
    "Times the proxy's view had to jump (the upstream history no longer reached it): cache dropped, affected watchers answered 401.",
    src.resyncs,
  );

  type HChild = { observe(v: number): void };
  const ups = new Map<string, HChild>();
  let hitCount = 0;
  let missCount = 0;

  return {
    observeRequest: requestObserver(requests, latency),
    observeUpstream(op, member, seconds) {
      const k = `${op} ${member}`;
      let h = ups.get(k);
      if (h === undefined) {
        h = upstream.labels(op, member);
        ups.set(k, h);
      }
      h.observe(seconds);
    },
    cacheHit: () => {
      hitCount++;
      hits.inc();
    },
    cacheMiss: () => {
      missCount++;
      misses.inc();
    },
    cacheCounts: () => ({ hits: hitCount, misses: missCount }),
    refused: (limit) => refusedC.inc({ limit }),
  };
}
