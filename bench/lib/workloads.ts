// The requests the benchmark modes have in common: keys, status checks and
// workload builders, so every mode sends the same PUTs and GETs.

import { formHeaders, formValueBody, runLoad, seededRandom, type BenchRequest, type LoadResult } from './load.js';
import type { Workload } from './runs.js';

export const HOT_KEY = '/v2/keys/bench/hot';
export const putKey = (i: number) => `/v2/keys/bench/p/k${i}`;
/** PUT workloads write random keys among this many. */
export const PUT_KEYSPACE = 10_000;

// set on an existing key answers 200, on a new key 201; anything else is a failure.
export const putOk = (s: number) => s === 200 || s === 201;
export const getOk = (s: number) => s === 200;

/** PUT `value` (form body) to a seeded random key among PUT_KEYSPACE. */
export function putWorkload(id: string, connections: number, value: string): Workload {
  const body = formValueBody(value);
  return {
    id,
    title: `PUT ${value.length} B values`,
    connections,
    requests: (runSeed) => {
      const rnd = seededRandom(runSeed);
      return (): BenchRequest => ({ method: 'PUT', path: putKey(Math.floor(rnd() * PUT_KEYSPACE)), body, headers: formHeaders });
    },
    ok: putOk,
  };
}

/** GET of HOT_KEY, plain or with `?quorum=true` (linearizable: through Raft on both systems). */
export function hotGetWorkload(id: string, connections: number, opts: { quorum?: boolean; title?: string } = {}): Workload {
  const path = opts.quorum ? `${HOT_KEY}?quorum=true` : HOT_KEY;
  return {
    id,
    title: opts.title ?? (opts.quorum ? 'quorum GET one key' : 'GET one hot key'),
    connections,
    requests: () => () => ({ method: 'GET', path }),
    ok: getOk,
  };
}

/** PUTs `value` to every key in `keys` at `connections` at once (a preload). */
export function putKeys(origin: string, keys: readonly string[], value: string, connections: number, timeLimitMs = 120_000): Promise<LoadResult> {
  const body = formValueBody(value);
  return runLoad({
    origin,
    connections,
    totalRequests: keys.length,
    timeLimitMs,
    next: (seq) => ({ method: 'PUT', path: keys[seq] as string, body, headers: formHeaders }),
    ok: putOk,
  });
}
