// Small, dependency-free statistics and formatting helpers shared by every
// benchmark. Latencies are kept in microseconds as plain numbers: a 5 s run at
// 50k req/s is 250k samples, cheap to sort once at the end.

/** The p-th percentile (0..100) of ascending-sorted samples, nearest-rank. NaN when empty. */
export function percentile(sortedAsc: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const n = sortedAsc.length;
  if (n === 0) return Number.NaN;
  // Nearest-rank: the smallest sample such that at least p% are <= it.
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sortedAsc[Math.min(rank, n) - 1] as number;
}

/** Sorts a copy ascending (numeric) into a Float64Array, which sorts numerically by default. */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(samples as ArrayLike<number>);
  out.sort();
  return out;
}

/** Median of the values; NaN when empty. Even counts average the middle two. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return Number.NaN;
  const s = sortedCopy(finite);
  const mid = s.length >> 1;
  if (s.length % 2 === 1) return s[mid] as number;
  return ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Summarises latency samples given in microseconds. */
export function summarizeLatenciesUs(samplesUs: ArrayLike<number>): LatencySummary {
  const s = sortedCopy(samplesUs);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i] as number;
  const n = s.length;
  return {
    count: n,
    p50Ms: percentile(s, 50) / 1000,
    p90Ms: percentile(s, 90) / 1000,
    p99Ms: percentile(s, 99) / 1000,
    maxMs: n === 0 ? Number.NaN : (s[n - 1] as number) / 1000,
    meanMs: n === 0 ? Number.NaN : sum / n / 1000,
  };
}

/** `ours / theirs` as "0.83x"; "n/a" when either side is missing or theirs is 0. */
export function formatRatio(ours: number, theirs: number): string {
  if (!Number.isFinite(ours) || !Number.isFinite(theirs) || theirs === 0) return 'n/a';
  const r = ours / theirs;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

/** A number with sensible precision for a table cell; "n/a" for NaN. */
export function formatNumber(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  const mib = bytes / (1024 * 1024);
  return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB`;
}

/** Parses "5s", "500ms", "2m" or a bare number of seconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration "${text}": use e.g. 5s, 500ms, 1m`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000;
  if (!(ms > 0)) throw new Error(`bad duration "${text}": must be positive`);
  return ms;
}

/** Renders a GitHub-flavoured Markdown table; also readable as plain text. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], alignRight?: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (cell: string, i: number) => (alignRight?.[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (alignRight?.[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), sep, ...rows.map((r) => line(header.map((_, i) => r[i] ?? '')))].join('\n');
}
