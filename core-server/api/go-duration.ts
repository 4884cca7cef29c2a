// Go's time.Duration.String() for a whole number of milliseconds, as etcd
// prints uptime in /v2/stats/self ("2.266s", "1m5s", "3h0m0.5s", "0s").

export function goDurationFromMs(msIn: number): string {
  const ms = Math.max(0, Math.floor(msIn));
  if (ms === 0) return '0s';
  if (ms < 1000) return ms + 'ms';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sWhole = Math.floor((ms % 60_000) / 1000);
  const frac = ms % 1000;
  let s = String(sWhole);
  if (frac !== 0) s += ('.' + String(frac).padStart(3, '0')).replace(/0+$/, '');
  if (h > 0) return h + 'h' + m + 'm' + s + 's';
  if (m > 0) return m + 'm' + s + 's';
  return s + 's';
}
