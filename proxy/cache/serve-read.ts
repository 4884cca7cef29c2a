// One non-quorum GET through the proxy: the staleness state machine of
// design.md in one function, so the HTTP route only renders what it returns.
//
//   within bound ─► hit
//   past bound / no entry / no-cache ─► read through (one upstream read per key)
//        ├─ answer at or above every index answered ─► upstream
//        ├─ answer below one (a lagging member) ─► wait for the view, read again
//        └─ upstream unreachable ─► stale-if-error hit, else unavailable (503)
//   view behind an index already answered (this proxy's own write) ─►
//        wait briefly for the view, then as above
//
// Nearly pure: time comes from deps.nowMs, waiting from deps.waitForIndex
// (the caller bounds it: view.whenIndex with an AbortSignal.timeout), the
// read from deps.load.

import { Ecode, V2Error } from '../../core-server/store/v2-error.js';
import type { ReadOptions } from '../../core-server/store/types.js';
import type { ReadPolicy } from './cache-control.js';
import type { GetAnswer, LoadedAnswer, ReadCache } from './read-cache.js';

export interface ReadDeps {
  nowMs(): number;
  /** A GET from the core (any member), or the shared L2 cache; rejects when no member can be reached. */
  load(): Promise<GetAnswer | LoadedAnswer>;
  /** Resolves when the view has reached `index` or the caller's bound on waiting has passed. */
  waitForIndex(index: number): Promise<void>;
  /** The view's index, for the index of an "unavailable" answer. */
  viewIndex(): number;
}

export type ServedRead =
  | { source: 'hit' | 'stale-if-error'; answer: GetAnswer; index: number; ageMs: number }
  | { source: 'upstream'; answer: GetAnswer; index: number; ageMs: 0 }
  /** No answer may be given: 503 with this etcd-style error. */
  | { source: 'unavailable'; status: 503; error: V2Error; cause: 'upstream_unreachable' | 'upstream_behind' };

export async function serveRead(cache: ReadCache, path: string, opts: ReadOptions, policy: ReadPolicy, deps: ReadDeps): Promise<ServedRead> {
  if (!policy.readThrough) {
    let l = cache.lookup(path, opts, deps.nowMs(), policy.maxStaleMs);
    if (!l.hit && l.reason === 'behind') {
      await deps.waitForIndex(l.wantIndex);
      l = cache.lookup(path, opts, deps.nowMs(), policy.maxStaleMs);
    }
    if (l.hit) return { source: 'hit', answer: l.answer, index: l.index, ageMs: l.ageMs };
  }
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    let r;
    try {
      r = await cache.getOrLoad(path, opts, deps.nowMs(), () => deps.load());
    } catch (err) {
      lastError = err;
      break;
    }
    if (r.kind === 'answer') return { source: 'upstream', answer: r.answer, index: r.index, ageMs: 0 };
    // The member answered below an index this proxy already answered: give
    // the view (and the member) a moment, then read again.
    await deps.waitForIndex(r.wantIndex);
    const l = cache.lookup(path, opts, deps.nowMs(), policy.readThrough ? -1 : policy.maxStaleMs);
    if (l.hit) return { source: 'hit', answer: l.answer, index: l.index, ageMs: l.ageMs };
  }
  if (policy.staleIfErrorMs !== null) {
    const l = cache.lookup(path, opts, deps.nowMs(), policy.staleIfErrorMs);
    if (l.hit) return { source: 'stale-if-error', answer: l.answer, index: l.index, ageMs: l.ageMs };
  }
  const cause = lastError === null ? 'upstream_behind' : 'upstream_unreachable';
  return { source: 'unavailable', status: 503, error: new V2Error(Ecode.RaftInternal, cause, deps.viewIndex()), cause };
}
