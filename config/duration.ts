// Durations: Go's time.ParseDuration syntax ("250ms", "1s", "1m30s", "1.5h")
// because that is what etcd users already write, plus plain numbers meaning
// milliseconds because that is what etcd's own --heartbeat-interval and
// --election-timeout take. Stored as integer milliseconds: a value that is
// not a whole number of milliseconds ("1500us") is refused rather than
// rounded, so what runs is exactly what was written.
//
// Arithmetic is done in BigInt nanoseconds so fractions ("1.1s") are exact.

const nsPerUnit: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign, as Go accepts
  'μs': 1_000n, // U+03BC Greek mu, as Go accepts
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const NS_PER_MS = 1_000_000n;
// A duration string longer than this is not a typo we need to explain.
const DURATION_TEXT_LENGTH_MAX = 64;

const componentPattern = /^(\d+)?(?:\.(\d+))?(ns|us|µs|μs|ms|s|m|h)/u;

/**
 * Parses a Go-style duration or a plain millisecond count into integer
 * milliseconds. Returns undefined for anything that is not one.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s.length === 0 || s.length > DURATION_TEXT_LENGTH_MAX) return undefined;
  if (/^[+-]?\d+$/.test(s)) return toSafe(BigInt(s) * NS_PER_MS);
  let rest = s;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest.length === 0) return undefined;
  let totalNs = 0n;
  while (rest.length > 0) {
    const m = componentPattern.exec(rest);
    if (m === null) return undefined;
    const whole = m[1] ?? '';
    const frac = m[2] ?? '';
    const unit = m[3] ?? '';
    if (whole === '' && frac === '') return undefined; // "s", ".s"
    const scale = nsPerUnit[unit];
    if (scale === undefined) return undefined;
    const fracScale = 10n ** BigInt(frac.length);
    const num = (BigInt(whole === '' ? '0' : whole) * fracScale + BigInt(frac === '' ? '0' : frac)) * scale;
    if (num % fracScale !== 0n) return undefined; // finer than a nanosecond
    totalNs += num / fracScale;
    rest = rest.slice(m[0].length);
  }
  if (totalNs % NS_PER_MS !== 0n) return undefined;
  return toSafe(negative ? -totalNs : totalNs);
}

function toSafe(ns: bigint): number | undefined {
  if (ns % NS_PER_MS !== 0n) return undefined;
  const ms = ns / NS_PER_MS;
  if (ms > BigInt(Number.MAX_SAFE_INTEGER) || ms < -BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(ms);
}

/** Formats integer milliseconds the way Go prints them, minus fractions: 90000 -> "1m30s", 1500 -> "1s500ms". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`formatDuration: not a safe integer: ${ms}`);
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  if (s > 0) out += `${s}s`;
  if (milli > 0) out += `${milli}ms`;
  return sign + out;
}
