// /v2/stats/store counters (etcd's v2store/stats.go).
//
// The counters move exactly as etcd 3.4 moves them, quirks included, because
// clients and dashboards compare them. Verified against etcd 3.4.23:
// - Delete and Update of "/" (107) count as *success*, as do Update of a
//   directory with a value (102) and every failed compareAndDelete (101, 102):
//   etcd returns those errors without setting the variable its deferred
//   counter reads.
// - A create whose parent path runs through a key (104) counts createFail
//   *and* setsFail (internalCreate bumps SetFail itself).
// - Watchers are not counted here; `watchers` is read from the hub.

import type { StoreStats } from './types.js';

export type Counter = Exclude<keyof StoreStats, 'watchers'>;

export const COUNTERS: readonly Counter[] = [
  'getsSuccess',
  'getsFail',
  'setsSuccess',
  'setsFail',
  'deleteSuccess',
  'deleteFail',
  'updateSuccess',
  'updateFail',
  'createSuccess',
  'createFail',
  'compareAndSwapSuccess',
  'compareAndSwapFail',
  'compareAndDeleteSuccess',
  'compareAndDeleteFail',
  'expireCount',
];

export type Counters = Record<Counter, number>;

export function zeroCounters(): Counters {
  const c = {} as Counters;
  for (const k of COUNTERS) c[k] = 0;
  return c;
}

/** Counters with the live watcher count, in etcd's JSON field order. */
export function withWatchers(c: Counters, watchers: number): StoreStats {
  return { ...c, watchers };
}
