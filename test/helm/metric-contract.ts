// The metric names the core, the proxy, the chart's dashboard and its alerts
// agree on (issue 5). The dashboard and the rules may name only these; the
// live-scrape tests check each one a running process is meant to export.
//
// The proxy's metrics are required live as soon as the built CLI has
// `raftgate proxy`.
import { Registry } from 'prom-client';
import { collectProcessMetrics } from '../../core-server/api/metrics.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Exporter = 'core' | 'proxy';

export interface ContractMetric {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly exporter: Exporter;
}

function m(exporter: Exporter, name: string, type: MetricType, labels: readonly string[] = []): ContractMetric {
  return { name, type, labels, exporter };
}

const core = (name: string, type: MetricType, labels: readonly string[] = []) => m('core', name, type, labels);
const proxy = (name: string, type: MetricType, labels: readonly string[] = []) => m('proxy', name, type, labels);

/** Process and Node metrics, exactly as the processes collect them (collectProcessMetrics). */
function defaultMetrics(exporter: Exporter): ContractMetric[] {
  const registry = new Registry();
  collectProcessMetrics(registry, `raftgate_${exporter}_`);
  return registry.getMetricsAsArray().map((metric) => {
    const { name, type, labelNames } = metric as unknown as { name: string; type: MetricType; labelNames?: string[] };
    return m(exporter, name, type, labelNames ?? []);
  });
}

export const METRIC_CONTRACT: readonly ContractMetric[] = [
  core('raftgate_core_http_requests_total', 'counter', ['route', 'method', 'code']),
  core('raftgate_core_http_request_duration_seconds', 'histogram', ['route', 'method']),
  core('raftgate_core_watchers', 'gauge'),
  core('raftgate_core_watchers_refused_total', 'counter'),
  core('raftgate_core_store_index', 'gauge'),
  core('raftgate_core_raft_applied_index', 'gauge'),
  core('raftgate_core_native_connections', 'gauge'),
  core('raftgate_core_native_requests_total', 'counter', ['op', 'outcome']),
  core('raftgate_core_native_watch_streams', 'gauge'),
  ...defaultMetrics('core'),
  core('raftgate_core_raft_term', 'gauge'),
  core('raftgate_core_raft_committed_index', 'gauge'),
  core('raftgate_core_has_leader', 'gauge'),
  core('raftgate_core_is_leader', 'gauge'),
  core('raftgate_core_leader_changes_total', 'counter'),
  core('raftgate_core_proposals_failed_total', 'counter'),
  core('raftgate_core_wal_fsync_duration_seconds', 'histogram'),
  core('raftgate_core_peer_sent_bytes_total', 'counter', ['to']),
  core('raftgate_core_peer_received_bytes_total', 'counter', ['from']),
  core('raftgate_core_snapshots_total', 'counter'),

  proxy('raftgate_proxy_http_requests_total', 'counter', ['route', 'method', 'code']),
  proxy('raftgate_proxy_http_request_duration_seconds', 'histogram', ['route', 'method']),
  proxy('raftgate_proxy_cache_hits_total', 'counter'),
  proxy('raftgate_proxy_cache_misses_total', 'counter'),
  proxy('raftgate_proxy_cache_bytes', 'gauge'),
  proxy('raftgate_proxy_cache_entries', 'gauge'),
  proxy('raftgate_proxy_staleness_seconds', 'gauge'),
  proxy('raftgate_proxy_max_staleness_seconds', 'gauge'),
  proxy('raftgate_proxy_view_index', 'gauge'),
  proxy('raftgate_proxy_watchers', 'gauge'),
  proxy('raftgate_proxy_upstream_watch_streams', 'gauge'),
  proxy('raftgate_proxy_watchers_dropped_total', 'counter', ['reason']),
  proxy('raftgate_proxy_connections', 'gauge'),
  proxy('raftgate_proxy_refused_total', 'counter', ['limit']),
  proxy('raftgate_proxy_upstream_request_duration_seconds', 'histogram', ['op', 'member']),
  proxy('raftgate_proxy_upstream_members_up', 'gauge'),
  proxy('raftgate_proxy_upstream_resyncs_total', 'counter'),
  proxy('raftgate_proxy_cache_evictions_total', 'counter'),
  proxy('raftgate_proxy_cache_invalidations_total', 'counter'),
  proxy('raftgate_proxy_upstream_watch_lag_events', 'gauge'),
  proxy('raftgate_proxy_upstream_watch_reconnects_total', 'counter'),
  // Both drop prom-client's three gauges named like counters
  // (nodejs_active_*_total), which `promtool check metrics` refuses.
  ...defaultMetrics('proxy'),
];

const byName = new Map(METRIC_CONTRACT.map((c) => [c.name, c]));

/**
 * The contract entry a series name belongs to: histograms expose
 * <name>_bucket, <name>_sum and <name>_count, not <name> itself.
 */
export function contractEntryOf(seriesName: string): { metric: ContractMetric; suffix: '' | '_bucket' | '_sum' | '_count' } | undefined {
  const exact = byName.get(seriesName);
  if (exact !== undefined && exact.type !== 'histogram') return { metric: exact, suffix: '' };
  for (const suffix of ['_bucket', '_sum', '_count'] as const) {
    if (!seriesName.endsWith(suffix)) continue;
    const base = byName.get(seriesName.slice(0, -suffix.length));
    if (base !== undefined && base.type === 'histogram') return { metric: base, suffix };
  }
  return undefined;
}

/** Labels Prometheus (and the Prometheus Operator) attach to every scraped series. */
export const TARGET_LABELS: readonly string[] = ['instance', 'job', 'namespace', 'pod', 'service', 'endpoint', 'container'];
