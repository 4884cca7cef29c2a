// The proxy's view of the core, built from its ONE upstream watch stream.
//
//   upstream stream ──► applyEvents ──► event ring (EventHistory)
//                                   ├─► listeners (the read cache: invalidate)
//                                   └─► WatcherHub ──► client watchers
//   progress {etcdIndex} ──► applyProgress ──► lastCurrentAtMs
//   history gone ──► resync ──► ring cleared, every watcher that may have
//                               missed an event gets etcd's 401, cache cleared
//
// Client watches are served by the store's own EventHistory, WatcherHub and
// startWatch/reconcileWatchers (core-server/store/), driven with upstream
// events instead of local writes, so a watch on a proxy has the same
// semantics as one on a member: hidden keys, one-shot vs stream, history
// replay from waitIndex, 401 for a cleared index, bounded queues closed on
// overflow without slowing anyone else.
//
// One difference is forced by having no tree: when a directory is deleted or
// expires, a member notifies watchers at the paths that existed inside it;
// the proxy notifies watchers at every path inside it, existing or not (see
// liveMatches in watch-order.ts). A watch on a key that does not exist under
// a deleted directory therefore hears the delete here and keeps waiting on a
// member — the same event a member hands out to that watch from its history.
//
// Time is data: every call that can make the view current carries nowMs.

import { EventHistory, eventIndex } from '../../core-server/store/event-history.js';
import type { StoreEvent, WatchOptions, Watcher } from '../../core-server/store/types.js';
import type { V2Error } from '../../core-server/store/v2-error.js';
import { reconcileWatchers, startWatch } from '../../core-server/store/watch-start.js';
import { WatcherHub } from '../../core-server/store/watcher-hub.js';
import { isGapEvent } from './gap-event.js';

export interface UpstreamViewOptions {
  /** Events kept for watches that start in the past (etcd: 1000). */
  historyMax?: number;
  /** Events queued per client watcher before it is closed as too slow (etcd: 100). */
  watcherQueueMax?: number;
}

/** Told about every event (in index order) and every resync, before any watcher wakes. */
export interface ViewListener {
  onEvent(e: StoreEvent): void;
  /** The view jumped from oldIndex to newIndex without the events in between. */
  onResync(oldIndex: number, newIndex: number): void;
}

export interface UpstreamViewStats {
  /** Client watchers registered now. */
  watchers: number;
  /** Client watchers closed because they could not keep up. */
  watchersOverflowed: number;
  /** Client watchers answered 401 by a resync. */
  watchersCleared: number;
  eventsApplied: number;
  /** Events at or below the view's index (a resumed stream overlapping): skipped. */
  eventsDuplicate: number;
  resyncs: number;
  /** Resyncs the view forced itself because the stream skipped indexes. */
  gaps: number;
  /** Progress notifications below the view's index (a lagging member): ignored. */
  progressBehind: number;
}

interface IndexWaiter {
  index: number;
  resolve: (index: number) => void;
}

export class UpstreamView {
  private readonly history: EventHistory;
  private readonly hub: WatcherHub;
  private readonly listeners = new Set<ViewListener>();
  private waiters: IndexWaiter[] = [];
  private currentIndex = 0;
  private currentAtMs = Number.NEGATIVE_INFINITY;
  private counts = {
    watchersCleared: 0,
    eventsApplied: 0,
    eventsDuplicate: 0,
    resyncs: 0,
    gaps: 0,
    progressBehind: 0,
  };

  constructor(opts: UpstreamViewOptions = {}) {
    this.history = new EventHistory(opts.historyMax ?? 1000);
    this.hub = new WatcherHub(opts.watcherQueueMax ?? 100);
  }

  /** The highest index known current: every event up to it has been applied. */
  get index(): number {
    return this.currentIndex;
  }

  /** The last time the view was known current (an event or a progress notification); -Infinity before that. */
  get lastCurrentAtMs(): number {
    return this.currentAtMs;
  }

  /** How long since the view was last known current; Infinity before it ever was. */
  staleness(nowMs: number): number {
    return Math.max(0, nowMs - this.currentAtMs);
  }

  /** The oldest index a watch may still start from (0 while the ring is empty). */
  get historyStartIndex(): number {
    return this.history.startIndex;
  }

  subscribe(listener: ViewListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Events from the upstream stream, in index order. Events at or below the
   * view's index are skipped (a resumed stream may overlap); a hole before an
   * event means the stream lost events, and the view resyncs rather than
   * pretend it saw them. Refreshes go to the ring and listeners (the cache
   * must see the new TTL) but never to watchers, as in etcd.
   */
  applyEvents(events: readonly StoreEvent[], nowMs: number): void {
    const before = this.currentIndex;
    try {
      for (const e of events) {
        const idx = eventIndex(e);
        if (idx <= this.currentIndex) {
          this.counts.eventsDuplicate++;
          continue;
        }
        if (idx !== this.currentIndex + 1) {
          this.counts.gaps++;
          this.jump(idx - 1);
        }
        this.history.add(e);
        this.currentIndex = idx;
        this.counts.eventsApplied++;
        for (const l of this.listeners) l.onEvent(e);
        if (e.refresh !== true) {
          this.hub.notify(e);
          const p = e.prevNode;
          if ((e.action === 'delete' || e.action === 'expire') && p !== undefined && p.dir === true) {
            this.hub.notifyBeneath(e, e.node.key ?? '/');
          }
        }
      }
      if (this.currentIndex > before) this.currentAtMs = Math.max(this.currentAtMs, nowMs);
    } finally {
      this.settle();
    }
  }

  /**
   * The stream says every event up to etcdIndex has been sent. At the view's
   * index: current now. Below it: a member behind this view (after a
   * failover) proves nothing, ignored. Above it: the stream skipped events,
   * so the view resyncs.
   */
  applyProgress(etcdIndex: number, nowMs: number): void {
    try {
      if (etcdIndex < this.currentIndex) {
        this.counts.progressBehind++;
        return;
      }
      if (etcdIndex > this.currentIndex) {
        this.counts.gaps++;
        this.jump(etcdIndex);
      }
      this.currentAtMs = Math.max(this.currentAtMs, nowMs);
    } finally {
      this.settle();
    }
  }

  /**
   * The core's history no longer reaches back to the view's next index (or
   * the proxy is starting): continue from etcdIndex. The ring is emptied,
   * listeners (the cache) drop what they knew, and every watcher whose next
   * wanted event lies in the skipped range is closed with etcd's 401 — never
   * left waiting while events pass it by.
   */
  resync(etcdIndex: number, nowMs: number): void {
    try {
      this.jump(etcdIndex);
      this.currentAtMs = Math.max(this.currentAtMs, nowMs);
    } finally {
      this.settle();
    }
  }

  /**
   * A client watch with etcd's semantics at the view's index. As with the
   * store: the caller sets onWake, then take()s once (a watch starting in
   * the history may already hold its events), then waits.
   */
  watch(path: string, opts: WatchOptions): Watcher | V2Error {
    try {
      return startWatch(this.hub, this.history, this.currentIndex, path, opts);
    } finally {
      // The new watcher has no onWake yet; forget the wake-ups its history hits queued.
      this.hub.flushWakes();
    }
  }

  /**
   * Resolves once the view has reached `index` (at once if it has). Used for
   * monotonic reads and read-your-writes; the caller bounds the wait with the
   * signal (an aborted wait resolves with the index reached so far).
   */
  whenIndex(index: number, signal?: AbortSignal): Promise<number> {
    if (this.currentIndex >= index || signal?.aborted === true) return Promise.resolve(this.currentIndex);
    return new Promise<number>((resolve) => {
      const waiter: IndexWaiter = { index, resolve };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(this.currentIndex);
        },
        { once: true },
      );
    });
  }

  /**
   * Whether any event after `sinceIndex` (up to the view's index) could have
   * changed a GET of `path`: an event at the path, inside it, or at one of
   * its ancestors (a directory deleted, replaced or created). null when the
   * ring no longer reaches back to sinceIndex + 1, so it cannot tell. A gap
   * event (a refresh of an unknown key) touches everything. Used to decide
   * whether another proxy's answer from the shared L2 cache is still true.
   */
  touchedSince(path: string, sinceIndex: number): boolean | null {
    if (sinceIndex >= this.currentIndex) return false;
    const h = this.history;
    if (h.size === 0 || sinceIndex + 1 < h.startIndex) return null;
    for (let i = sinceIndex + 1; i <= h.lastIndex; i++) {
      const e = h.at(i);
      if (e === undefined) return null;
      if (isGapEvent(e)) return true; // key unknown
      const k = e.node.key ?? '/';
      if (k === path || path === '/' || k === '/') return true;
      if (k.startsWith(path + '/') || path.startsWith(k + '/')) return true;
    }
    return false;
  }

  stats(): UpstreamViewStats {
    return { watchers: this.hub.count, watchersOverflowed: this.hub.overflows, ...this.counts };
  }

  private jump(newIndex: number): void {
    const oldIndex = this.currentIndex;
    this.counts.resyncs++;
    this.history.clear();
    this.currentIndex = newIndex;
    for (const l of this.listeners) l.onResync(oldIndex, newIndex);
    const before = this.hub.count;
    reconcileWatchers(this.hub, this.history, oldIndex, newIndex);
    // With an empty ring, reconcile either keeps a watcher (it wants only
    // later events) or clears it: every watcher it dropped got a 401.
    this.counts.watchersCleared += before - this.hub.count;
  }

  /** Wake the watchers that got events or were closed, then any index waiters. */
  private settle(): void {
    try {
      this.hub.flushWakes();
    } finally {
      if (this.waiters.length > 0) {
        const ready = this.waiters.filter((w) => w.index <= this.currentIndex);
        if (ready.length > 0) {
          this.waiters = this.waiters.filter((w) => w.index > this.currentIndex);
          for (const w of ready) w.resolve(this.currentIndex);
        }
      }
    }
  }
}
