// The upstream stream in front of REAL etcd, as a pure state machine: one
// v2 long poll at a time (`GET /v2/keys/?wait=true&recursive=true
// &waitIndex=N`), each answering ONE event, turned into the contiguous,
// every-index stream the proxy's view needs. No I/O: etcd-upstream.ts feeds
// it what each poll returned and applies the actions it answers.
//
// What etcd 3.4 shows such a watcher (checked against a live etcd):
//   - from its history (waitIndex ≤ its index): the FIRST event ≥ N of any
//     key, hidden ('_') keys included, TTL refreshes never;
//   - live (registered): later events, but neither hidden keys nor refreshes;
//   - the response headers come at once, X-Etcd-Index = etcd's index X when
//     the watch started; a history answer's event follows them at once.
//   (stream=true is not used: a stream that starts in the history gets its
//   first event and then nothing, silently.)
//
// So, for a poll from N (view at N-1) with headers X and event E:
//
//   X < N                 nothing unseen: current now (progress X)
//   E ≤ X                 from history: N..E-1 were refreshes (gap events), then E
//   E > X (live)          N..X were refreshes (the scan at registration found
//                         nothing); X+1..E-1 may hold hidden keys, which only
//                         a history scan shows: next poll from X+1 (E comes
//                         again from history). If E = X+1, apply it.
//   X ≥ N, no event       ambiguous for a moment (the history answer may be
//   after `settle`        in flight): after `settle` treat N..X as refreshes.
//                         If the event comes anyway (E ≤ X, already filled),
//                         rewind the view to E-1 — every watcher gets 401 and
//                         re-watches — rather than lose E.
//   401                   the history no longer reaches N: restart live, resync.
//
// Gap events (watch/gap-event.ts) fill refresh indexes: no watcher matches
// them, and the read cache drops everything on one (a refresh moved some
// key's TTL, and etcd does not say which).

import { eventIndex } from '../../core-server/store/event-history.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import { gapEvents } from '../watch/gap-event.js';

export type FeedAction =
  | { t: 'resync'; index: number }
  | { t: 'events'; events: StoreEvent[] }
  | { t: 'progress'; index: number };

export interface FeedView {
  readonly index: number;
  readonly synced: boolean;
}

interface Poll {
  /** null: a live watch from now (no waitIndex). */
  waitIndex: number | null;
  /** Resync the view to this index when the poll's headers arrive (fresh start or after 401). */
  resyncTo: number | 'headers' | null;
  headerIndex: number | null;
  /** The poll's range N..claimed was filled with gap events after `settle`. */
  claimed: number | null;
  done: boolean;
}

export class EtcdFeed {
  private readonly historyMax: number;
  private needResync = false;
  private triedHistory = false;
  private poll: Poll | null = null;
  /** Times the view had to be rewound because a settled guess was wrong. */
  rewinds = 0;

  constructor(historyMax: number) {
    this.historyMax = historyMax;
  }

  /**
   * Parameters of the next poll. `etcdIndexHint` is etcd's current index
   * (asked before a fresh start), so the first poll can start as far back
   * as the proxy keeps events and waitIndex works at once.
   */
  beginPoll(view: FeedView, etcdIndexHint: number | null): { waitIndex: number | null } {
    let p: Poll;
    if (this.needResync || (!view.synced && (this.triedHistory || etcdIndexHint === null))) {
      p = { waitIndex: null, resyncTo: 'headers', headerIndex: null, claimed: null, done: false };
    } else if (!view.synced) {
      const from = Math.max(1, (etcdIndexHint as number) - this.historyMax + 1);
      this.triedHistory = true;
      p = { waitIndex: from, resyncTo: from - 1, headerIndex: null, claimed: null, done: false };
    } else {
      p = { waitIndex: view.index + 1, resyncTo: null, headerIndex: null, claimed: null, done: false };
    }
    this.poll = p;
    return { waitIndex: p.waitIndex };
  }

  /** Whether the open poll waits for `settle` before it can claim progress. */
  get ambiguous(): boolean {
    const p = this.poll;
    return p !== null && !p.done && p.waitIndex !== null && p.headerIndex !== null && p.claimed === null && p.headerIndex >= p.waitIndex;
  }

  onHeaders(etcdIndex: number): FeedAction[] {
    const p = this.poll;
    if (p === null || p.done) return [];
    p.headerIndex = etcdIndex;
    const out: FeedAction[] = [];
    if (p.resyncTo === 'headers') {
      this.needResync = false;
      // A live watch from X: every later event is > X.
      out.push({ t: 'resync', index: etcdIndex });
      return out;
    }
    if (p.resyncTo !== null) out.push({ t: 'resync', index: p.resyncTo });
    // X < N: etcd has nothing the view has not seen (X < N-1: a member behind
    // the view, whose progress the view ignores).
    if (etcdIndex < (p.waitIndex as number)) out.push({ t: 'progress', index: etcdIndex });
    return out;
  }

  /** `settle` passed after ambiguous headers without an event: N..X were refreshes. */
  onSettled(view: FeedView): FeedAction[] {
    const p = this.poll;
    if (p === null || !this.ambiguous) return [];
    const x = p.headerIndex as number;
    if (view.index !== (p.waitIndex as number) - 1) return [];
    p.claimed = x;
    return [{ t: 'events', events: gapEvents(view.index + 1, x) }];
  }

  /** The poll answered an event; the poll is over. */
  onEvent(e: StoreEvent, view: FeedView): FeedAction[] {
    const p = this.poll;
    if (p === null || p.done) return [];
    p.done = true;
    const idx = eventIndex(e);
    const x = p.headerIndex ?? idx - 1;
    if (p.claimed !== null && idx <= p.claimed) {
      // A settled guess was wrong: E was in the history after all. Rewind to
      // just before it (watchers that may have missed it get 401), then apply it.
      this.rewinds++;
      return [{ t: 'resync', index: idx - 1 }, { t: 'events', events: [e] }];
    }
    const vi = view.index;
    if (idx <= vi) return []; // already seen (a lagging member replaying)
    if (p.waitIndex === null) {
      // A live watch from X (= the view's index): E next, or X+1..E-1 may hold
      // hidden keys, which only the history shows: the next poll asks it.
      return idx === vi + 1 ? [{ t: 'events', events: [e] }] : [];
    }
    if (idx <= x) {
      // From the history: the first event ≥ N, so N..E-1 were refreshes.
      return [{ t: 'events', events: [...gapEvents(vi + 1, idx - 1), e] }];
    }
    // Live: N..X were refreshes; X+1..E-1 unknown (hidden keys show only from history).
    const out: FeedAction[] = [];
    if (x > vi) out.push({ t: 'events', events: gapEvents(vi + 1, x) });
    if (idx === Math.max(x, vi) + 1) out.push({ t: 'events', events: [e] });
    return out;
  }

  /** The poll answered 401: the history no longer reaches; restart live and resync. */
  onCleared(): void {
    if (this.poll !== null) this.poll.done = true;
    this.needResync = true;
  }

  /** The poll ended without an answer (re-armed, or the connection failed). */
  onEnded(): void {
    if (this.poll !== null) this.poll.done = true;
  }
}
