// Reading a server's own counters: one sample of a Prometheus text
// exposition (Raftgate's /metrics), and etcd's /v2/stats/store.

/**
 * The value of metric `name` in Prometheus text, summed over its label sets
 * (a metric without labels has one); NaN when absent.
 */
export function promValue(text: string, name: string): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // The name must end here: "foo 1" or "foo{a="b"} 1", never "foo_total 1".
    const m = /^(?:\{[^}]*\})?\s+(\S+)/.exec(rest);
    if (m === null) continue;
    sum += Number(m[1]);
    seen = true;
  }
  return seen ? sum : Number.NaN;
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
  return text;
}

/** GET <origin>/metrics and read the given metrics (NaN for any that are missing or unreachable). */
export async function scrape<K extends string>(origin: string, names: readonly K[]): Promise<Record<K, number>> {
  const out = {} as Record<K, number>;
  let text = '';
  try {
    text = await getText(`${origin}/metrics`);
  } catch {
    // all NaN
  }
  for (const n of names) out[n] = promValue(text, n);
  return out;
}

/** The number of v2 watchers an etcd (or Raftgate core) member reports in /v2/stats/store; NaN if unreadable. */
export async function storeWatchers(origin: string): Promise<number> {
  try {
    const stats = JSON.parse(await getText(`${origin}/v2/stats/store`)) as { watchers?: number };
    return typeof stats.watchers === 'number' ? stats.watchers : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
