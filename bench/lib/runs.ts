// Measured runs of a workload against one server, and the tables that set
// Raftgate's medians beside etcd's. Shared by every mode that compares the
// two systems workload by workload (single, cluster).

import { runLoad, type BenchRequest, type LoadResult } from './load.js';
import { progress, failuresText } from './report.js';
import { formatBytes, formatNumber, formatRatio, markdownTable, median, summarizeLatenciesUs } from './stats.js';

export interface Workload {
  id: string;
  title: string;
  connections: number;
  /** A fresh request generator per run; seeded so both systems see the same keys. */
  requests(runSeed: number): (seq: number) => BenchRequest;
  ok(status: number): boolean;
}

/** What a run is measured on: the origin the load goes to and the process whose CPU and memory count. */
export interface RunTarget {
  origin: string;
  cpuMs(): number;
  /** RSS in bytes (NaN if unreadable); read after each run when given. */
  rssBytes?: () => number;
}

export interface RunSummary {
  okPerSec: number;
  okCount: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  failures: Record<string, number>;
  failureSamples: string[];
  /** Server CPU (user + system, all threads) per successful request, µs. */
  serverCpuUsPerReq: number;
  /** The load generator's own CPU, % of one core: near 100 means the client may be the limit. */
  clientCpuPct: number;
  /** The server's RSS right after the run (NaN when not read). */
  serverRssBytes: number;
}

export function summarizeRun(r: LoadResult, serverCpuMs: number, serverRssBytes = Number.NaN): RunSummary {
  const lat = summarizeLatenciesUs(r.latenciesUs);
  return {
    okPerSec: r.okPerSec,
    okCount: r.okCount,
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    errors: r.errors,
    failures: r.failures,
    failureSamples: r.failureSamples,
    serverCpuUsPerReq: r.okCount > 0 ? (serverCpuMs * 1000) / r.okCount : Number.NaN,
    clientCpuPct: r.clientCpuPct,
    serverRssBytes,
  };
}

/**
 * One measured run of `w` (after the warm-up when `warmupMs` > 0), with a
 * progress line; failed requests are also pushed to `problems`.
 */
export async function measureRun(
  label: string,
  target: RunTarget,
  w: Workload,
  run: { index: number; of: number; durationMs: number; warmupMs: number },
  problems: string[],
): Promise<RunSummary> {
  if (run.warmupMs > 0) {
    await runLoad({ origin: target.origin, connections: w.connections, durationMs: run.warmupMs, next: w.requests(999), ok: w.ok });
  }
  const cpuBefore = target.cpuMs();
  const r = await runLoad({ origin: target.origin, connections: w.connections, durationMs: run.durationMs, next: w.requests(run.index), ok: w.ok });
  const s = summarizeRun(r, target.cpuMs() - cpuBefore, target.rssBytes?.() ?? Number.NaN);
  progress(
    `${label}: ${w.id.padEnd(12)} c=${String(w.connections).padStart(3)} run ${run.index}/${run.of}: ` +
      `${formatNumber(s.okPerSec, 0).padStart(7)} req/s  p50 ${formatNumber(s.p50Ms, 2)} ms  p99 ${formatNumber(s.p99Ms, 2)} ms  ` +
      `server ${formatNumber(s.serverCpuUsPerReq, 0)} µs CPU/req  client CPU ${formatNumber(s.clientCpuPct, 0)}%` +
      `${Number.isNaN(s.serverRssBytes) ? '' : `  RSS ${formatBytes(s.serverRssBytes)}`}  failures ${failuresText(s.failures)}`,
  );
  if (s.errors > 0) problems.push(`${w.id} run ${run.index}: ${s.errors} failed requests (${failuresText(s.failures)}), e.g. ${s.failureSamples[0] ?? ''}`);
  return s;
}

export function medianOf(runs: readonly RunSummary[] | undefined, pick: (r: RunSummary) => number): number {
  return runs && runs.length > 0 ? median(runs.map(pick)) : Number.NaN;
}

/** One column group of a comparison table: etcd's median, Raftgate's, and the ratio. */
export interface Metric {
  /** e.g. "req/s", "p50 ms" */
  label: string;
  pick: (r: RunSummary) => number;
  format: (v: number) => string;
}

const ms2 = (v: number) => formatNumber(v, 2);

export const throughputMetrics: readonly Metric[] = [
  { label: 'req/s', pick: (r) => r.okPerSec, format: (v) => formatNumber(v, 0) },
  { label: 'p50 ms', pick: (r) => r.p50Ms, format: ms2 },
  { label: 'p99 ms', pick: (r) => r.p99Ms, format: ms2 },
];

export const rssMetric: Metric = { label: 'RSS', pick: (r) => r.serverRssBytes, format: formatBytes };

export type RunsByWorkload = Readonly<Record<string, readonly RunSummary[]>>;

/**
 * Workload rows × (etcd, RG, RG/etcd) per metric, then failed requests:
 * the medians of each system's runs.
 */
export function comparisonTable(wls: readonly Workload[], etcd: RunsByWorkload | undefined, rg: RunsByWorkload | undefined, metrics: readonly Metric[]): string {
  const header = ['workload', 'conns', ...metrics.flatMap((m) => [`etcd ${m.label}`, `RG ${m.label}`, 'RG/etcd']), 'failed (etcd / RG)'];
  const errs = (x: readonly RunSummary[] | undefined) => (x ? String(x.reduce((a, b) => a + b.errors, 0)) : 'n/a');
  const rows = wls.map((w) => {
    const e = etcd?.[w.id];
    const r = rg?.[w.id];
    const cells = metrics.flatMap((m) => {
      const a = medianOf(e, m.pick);
      const b = medianOf(r, m.pick);
      return [m.format(a), m.format(b), formatRatio(b, a)];
    });
    return [w.title, String(w.connections), ...cells, `${errs(e)} / ${errs(r)}`];
  });
  return markdownTable(header, rows, header.map((_, i) => i > 0));
}

/** Server CPU per request (etcd, RG, ratio) and the load generator's own CPU, per workload. */
export function cpuTable(wls: readonly Workload[], etcd: RunsByWorkload | undefined, rg: RunsByWorkload | undefined, serverLabel = 'CPU µs/req'): string {
  return markdownTable(
    ['workload', 'conns', `etcd ${serverLabel}`, `RG ${serverLabel}`, 'RG/etcd', 'client CPU % (etcd / RG runs)'],
    wls.map((w) => {
      const e = medianOf(etcd?.[w.id], (x) => x.serverCpuUsPerReq);
      const r = medianOf(rg?.[w.id], (x) => x.serverCpuUsPerReq);
      const ce = medianOf(etcd?.[w.id], (x) => x.clientCpuPct);
      const cr = medianOf(rg?.[w.id], (x) => x.clientCpuPct);
      return [w.title, String(w.connections), formatNumber(e, 0), formatNumber(r, 0), formatRatio(r, e), `${formatNumber(ce, 0)} / ${formatNumber(cr, 0)}`];
    }),
    [false, true, true, true, true, true],
  );
}

/** "- <title>, N conn: etcd a, b, c; Raftgate d, e, f" per workload. */
export function perRunLines(wls: readonly Workload[], etcd: RunsByWorkload | undefined, rg: RunsByWorkload | undefined): string {
  const line = (s: RunsByWorkload | undefined, id: string) => s?.[id]?.map((r) => formatNumber(r.okPerSec, 0)).join(', ') ?? 'n/a';
  return wls.map((w) => `- ${w.title}, ${w.connections} conn: etcd ${line(etcd, w.id)}; Raftgate ${line(rg, w.id)}`).join('\n');
}
