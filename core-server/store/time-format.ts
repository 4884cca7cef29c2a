// TTL rendering exactly as etcd's JSON shows it, without reading a clock
// (this folder may not touch Date): Go's RFC3339Nano in UTC, and etcd's
// node.expirationAndTTL rounding.

/**
 * Go's time.Format(time.RFC3339Nano) of a UTC instant given in milliseconds
 * since the Unix epoch: "2026-11-22T04:15:49.123Z", with trailing zeros of the
 * fraction trimmed and no fraction at all when it is zero (".999999999").
 */
export function formatRfc3339NanoUtc(ms: number): string {
  const totalMs = Math.floor(ms);
  const days = Math.floor(totalMs / 86_400_000);
  let rem = totalMs - days * 86_400_000;
  const hour = Math.floor(rem / 3_600_000);
  rem -= hour * 3_600_000;
  const minute = Math.floor(rem / 60_000);
  rem -= minute * 60_000;
  const second = Math.floor(rem / 1000);
  const milli = rem - second * 1000;
  const { year, month, day } = civilFromDays(days);

  let frac = '';
  if (milli !== 0) {
    frac = '.' + pad(milli, 3);
    while (frac.endsWith('0')) frac = frac.slice(0, -1);
  }
  const y = year < 0 ? '-' + pad(-year, 4) : pad(year, 4);
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${frac}Z`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Howard Hinnant's days-to-civil: proleptic Gregorian date of a day number (0 = 1970-01-01). */
function civilFromDays(z0: number): { year: number; month: number; day: number } {
  const z = z0 + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/**
 * etcd's ttl: ceil((expireTime - now) / 1s) for a positive remainder, Go's
 * truncating division otherwise (so 0.3 s past the deadline is 0, and 1.5 s
 * past is -1). A 0 is omitted from the JSON by the caller, like Go's omitempty.
 */
export function ttlSeconds(expireAtMs: number, nowMs: number): number {
  const d = expireAtMs - nowMs;
  let ttl = Math.trunc(d / 1000) || 0; // never -0
  if (d % 1000 > 0) ttl++;
  return ttl;
}
