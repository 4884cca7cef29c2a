// Byte sizes: plain integers, or a number with a binary (IEC) unit — "512KiB",
// "1.5MiB", "64MiB", "1GiB" — and the Kubernetes spellings "Ki", "Mi", "Gi",
// "Ti" so values copied from a Helm chart work. Decimal units ("64MB") are
// refused with a reason instead of guessed at: half of the tools that print
// "MB" mean MiB. Stored as integer bytes; a size that is not a whole number
// of bytes ("1.3B") is refused. BigInt keeps fractions exact.

const bytesPerUnit: Readonly<Record<string, bigint>> = {
  b: 1n,
  kib: 1024n,
  ki: 1024n,
  mib: 1024n ** 2n,
  mi: 1024n ** 2n,
  gib: 1024n ** 3n,
  gi: 1024n ** 3n,
  tib: 1024n ** 4n,
  ti: 1024n ** 4n,
};

const decimalUnits = new Set(['k', 'kb', 'm', 'mb', 'g', 'gb', 't', 'tb']);
const BYTE_SIZE_TEXT_LENGTH_MAX = 64;
const sizePattern = /^(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)$/u;

export type ByteSizeParse = { ok: true; bytes: number } | { ok: false; reason: string };

/** Parses "64MiB", "1.5MiB", "512KiB", "1GiB", "4096" into integer bytes. */
export function parseByteSize(text: string): ByteSizeParse {
  const s = text.trim();
  const bad: ByteSizeParse = { ok: false, reason: 'must be a byte size such as 4096, 512KiB, 1.5MiB or 1GiB' };
  if (s.length === 0 || s.length > BYTE_SIZE_TEXT_LENGTH_MAX) return bad;
  const m = sizePattern.exec(s);
  if (m === null) return bad;
  const whole = m[1] ?? '0';
  const frac = m[2] ?? '';
  const unitText = m[3] ?? '';
  const unit = unitText.toLowerCase();
  if (decimalUnits.has(unit)) {
    return { ok: false, reason: `"${unitText}" is ambiguous; write ${whole}${frac === '' ? '' : '.' + frac}${unitText[0]?.toUpperCase() ?? ''}iB (binary) or a plain number of bytes` };
  }
  const scale = unit === '' ? 1n : bytesPerUnit[unit];
  if (scale === undefined) return bad;
  const fracScale = 10n ** BigInt(frac.length);
  const num = (BigInt(whole) * fracScale + BigInt(frac === '' ? '0' : frac)) * scale;
  if (num % fracScale !== 0n) return { ok: false, reason: 'must be a whole number of bytes' };
  const bytes = num / fracScale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'is too large' };
  return { ok: true, bytes: Number(bytes) };
}

const formatUnits: ReadonlyArray<readonly [string, bigint]> = [
  ['TiB', 1024n ** 4n],
  ['GiB', 1024n ** 3n],
  ['MiB', 1024n ** 2n],
  ['KiB', 1024n],
];

/** Formats bytes with the largest IEC unit that needs at most three decimals: 1572864 -> "1.5MiB". */
export function formatByteSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`formatByteSize: not a non-negative safe integer: ${bytes}`);
  const n = BigInt(bytes);
  for (const [name, unit] of formatUnits) {
    if (n < unit || (n * 1000n) % unit !== 0n) continue;
    const whole = n / unit;
    const milli = ((n % unit) * 1000n) / unit;
    const frac = milli === 0n ? '' : '.' + milli.toString().padStart(3, '0').replace(/0+$/u, '');
    return `${whole}${frac}${name}`;
  }
  return String(bytes);
}
