// Watchers and who hears what (etcd's watcher_hub.go and watcher.go).
//
// Watchers are kept by the exact path they watch. An event at /a/b is offered
// to the watchers at "/", "/a" and "/a/b" (recursive ones hear descendants,
// unless a hidden segment lies between); deleting or expiring a directory
// also offers the event to every watcher at a path inside it. A watcher never
// blocks the store: its queue is bounded and an overflow closes it.
//
// Wake-ups are deferred to the end of the store operation (flushWakes) so an
// onWake callback that re-enters the store (a client re-arming its long poll)
// never sees a half-applied write or the event it was just given.
//
// Deliberate differences from etcd 3.4, both for stream watchers only (the
// proxy's upstream watch relies on them): a stream watcher never receives the
// same event twice (etcd sends a deleted key's event twice to a stream watcher
// on that key), and a stream watch that starts in the history replays every
// matching event from there before going live (etcd sends the first one and
// then nothing more, silently).

import { isHiddenBelow } from './key-path.js';
import type { EventHistory } from './event-history.js';
import { eventIndex } from './event-history.js';
import type { StoreEvent, Watcher, WatcherCloseReason } from './types.js';
import type { V2Error } from './v2-error.js';

export class StoreWatcher implements Watcher {
  readonly startIndex: number;
  onWake: (() => void) | null = null;
  closed: WatcherCloseReason | null = null;
  error: V2Error | null = null;
  /** Path watched; also the hub's bucket key. */
  readonly key: string;
  readonly recursive: boolean;
  readonly stream: boolean;
  /** First event index this watcher wants. */
  sinceIndex: number;
  /** Index of the last event queued, so a stream watcher never gets one twice. */
  lastIndex = 0;
  /** Whether the hub holds it (counts in stats.watchers). */
  registered = false;
  private queue: StoreEvent[] = [];
  private readonly hub: WatcherHub;

  constructor(hub: WatcherHub, key: string, recursive: boolean, stream: boolean, sinceIndex: number, startIndex: number) {
    this.hub = hub;
    this.key = key;
    this.recursive = recursive;
    this.stream = stream;
    this.sinceIndex = sinceIndex;
    this.startIndex = startIndex;
  }

  take(): StoreEvent[] {
    if (this.queue.length === 0) return [];
    const out = this.queue;
    this.queue = [];
    return out;
  }

  remove(): void {
    if (this.closed !== null) return;
    this.closed = 'removed';
    this.hub.unregister(this);
  }

  /** Queue an event; false (and the watcher closed) when the queue is full. */
  push(e: StoreEvent, queueMax: number): boolean {
    if (this.queue.length >= queueMax) {
      this.hub.overflows++;
      this.close('overflow', null);
      return false;
    }
    this.queue.push(e);
    this.lastIndex = eventIndex(e);
    this.hub.scheduleWake(this);
    return true;
  }

  close(reason: WatcherCloseReason, error: V2Error | null): void {
    if (this.closed !== null) return;
    this.closed = reason;
    this.error = error;
    this.hub.unregister(this);
    this.hub.scheduleWake(this);
  }

  /** Whether it has already been given this event (the stream de-duplication). */
  has(e: StoreEvent): boolean {
    return eventIndex(e) <= this.lastIndex;
  }
}

/**
 * etcd's EventHistory.scan match rule: the event is at the key, or (recursive)
 * below it, or it deleted/expired a directory that contains the key. It is a
 * string-prefix test, as in etcd, so deleting dir /foo also matches a watch on
 * /foobar. Refresh events never match.
 */
export function historyMatches(e: StoreEvent, key: string, recursive: boolean): boolean {
  if (e.refresh === true) return false;
  const k = e.node.key ?? '/';
  if (k === key) return true;
  if (recursive && k.startsWith(key === '/' ? '/' : key + '/')) return true;
  const p = e.prevNode;
  if ((e.action === 'delete' || e.action === 'expire') && p !== undefined && p.dir === true) {
    if (key.startsWith(p.key ?? '/')) return true;
  }
  return false;
}

export class WatcherHub {
  private readonly byPath = new Map<string, Set<StoreWatcher>>();
  private live = 0;
  private wakes: Watcher[] = [];
  /** Watchers of every event (the native protocol's upstream streams); not counted in stats.watchers. */
  private readonly allWatchers = new Set<AllWatcher>();
  readonly queueMax: number;
  /** Watchers closed because their queue was full (a metric: they could not keep up). */
  overflows = 0;

  constructor(queueMax: number) {
    if (!Number.isInteger(queueMax) || queueMax < 1) throw new Error('RG_ERR_STORE_CONFIG: watcherQueueMax must be a positive integer');
    this.queueMax = queueMax;
  }

  /** Live (registered) watchers: stats.watchers. */
  get count(): number {
    return this.live;
  }

  register(w: StoreWatcher): void {
    let set = this.byPath.get(w.key);
    if (set === undefined) {
      set = new Set();
      this.byPath.set(w.key, set);
    }
    set.add(w);
    w.registered = true;
    this.live++;
  }

  unregister(w: StoreWatcher): void {
    if (!w.registered) return;
    w.registered = false;
    this.live--;
    const set = this.byPath.get(w.key);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) this.byPath.delete(w.key);
  }

  /** Every registered watcher, in registration order per path (for snapshot restore). */
  all(): StoreWatcher[] {
    const out: StoreWatcher[] = [];
    for (const set of this.byPath.values()) for (const w of set) out.push(w);
    return out;
  }

  /**
   * Offer a live event to the watchers at the event's key and its ancestors
   * (etcd's notify). The caller has already recorded it in the history.
   */
  notify(e: StoreEvent): void {
    if (this.live === 0) return;
    const key = e.node.key ?? '/';
    this.notifyAt(e, '/', false);
    for (let i = 1; i < key.length; i++) {
      if (key.charCodeAt(i) === 47) this.notifyAt(e, key.slice(0, i), false);
    }
    if (key.length > 1) this.notifyAt(e, key, false);
  }

  /** Offer an event to the watchers at one path (etcd's notifyWatchers); `deleted` when that path was removed. */
  notifyAt(e: StoreEvent, watchPath: string, deleted: boolean): void {
    if (this.live === 0) return;
    const set = this.byPath.get(watchPath);
    if (set === undefined) return;
    const key = e.node.key ?? '/';
    const originalPath = key === watchPath;
    if (!originalPath && isHiddenBelow(watchPath, key)) return;
    const idx = eventIndex(e);
    // Deleting from a Set while iterating it is safe in JS; nothing is added
    // meanwhile because wake-ups are deferred.
    for (const w of set) {
      if (!(w.recursive || originalPath || deleted) || idx < w.sinceIndex) continue;
      if (w.has(e)) continue;
      if (w.push(e, this.queueMax) && !w.stream) this.unregister(w);
    }
  }

  registerAll(w: AllWatcher): void {
    this.allWatchers.add(w);
  }

  unregisterAll(w: AllWatcher): void {
    this.allWatchers.delete(w);
  }

  /**
   * A new event is in the history: wake every watcher of all events, and
   * close with 401 any whose next wanted event has just left the ring (its
   * reader fell more than the history behind).
   */
  notifyAll(history: EventHistory, storeIndex: number): void {
    if (this.allWatchers.size === 0) return;
    for (const w of this.allWatchers) {
      if (history.reaches(w.nextIndex)) this.scheduleWake(w);
      else w.close(history.clearedError(w.nextIndex, storeIndex));
    }
  }

  /**
   * After a snapshot restore: a watcher of all events stays only if the
   * restored history still holds its next event and the index did not move
   * back (which would replay indexes it has seen with other contents).
   */
  reconcileAll(history: EventHistory, oldIndex: number, newIndex: number): void {
    for (const w of this.allWatchers) {
      const next = w.nextIndex;
      if (newIndex < oldIndex) w.close(history.clearedError(oldIndex + 1, newIndex));
      else if (next <= newIndex && (history.size === 0 || !history.reaches(next))) w.close(history.clearedError(next, newIndex));
      else this.scheduleWake(w);
    }
  }

  /**
   * Offer a directory's delete or expire event to the watchers at every path
   * strictly inside it, as if each path had been a removed node. The proxy's
   * hub uses this: it has no tree to walk, so it cannot tell which of those
   * paths existed (the store walks the removed subtree and calls notifyAt).
   */
  notifyBeneath(e: StoreEvent, dirKey: string): void {
    if (this.live === 0) return;
    const prefix = dirKey === '/' ? '/' : dirKey + '/';
    const paths: string[] = [];
    for (const p of this.byPath.keys()) if (p.length > prefix.length && p.startsWith(prefix)) paths.push(p);
    for (const p of paths) this.notifyAt(e, p, true);
  }

  scheduleWake(w: Watcher): void {
    this.wakes.push(w);
  }

  /**
   * Call onWake for every watcher that got events or was closed during the
   * operation, once each. A throwing callback does not stop the others; the
   * first error is rethrown afterwards.
   */
  flushWakes(): void {
    if (this.wakes.length === 0) return;
    const wakes = this.wakes;
    this.wakes = [];
    const seen = new Set<Watcher>();
    let failure: unknown = null;
    for (const w of wakes) {
      if (seen.has(w)) continue;
      seen.add(w);
      const cb = w.onWake;
      if (cb === null) continue;
      try {
        cb();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== null) throw failure;
  }

  /** Find history events for a new watch starting at sinceIndex (the caller checked the window). */
  firstFromHistory(history: EventHistory, key: string, recursive: boolean, sinceIndex: number): StoreEvent | null {
    for (let i = sinceIndex; i <= history.lastIndex; i++) {
      const e = history.at(i);
      if (e !== undefined && historyMatches(e, key, recursive)) return e;
    }
    return null;
  }
}

/**
 * A watcher of every event the store records, in index order: all keys
 * (hidden `_` ones included), expiries, and TTL refreshes (marked
 * `refresh: true`, which ordinary watchers never see). It keeps no queue of
 * its own: it is a cursor into the event history, so `take()` returns the
 * history from its next index to the newest event. A reader that falls more
 * than the history behind is closed with 'cleared' and etcd's 401 — the same
 * answer a watch from that index would get — rather than buffering without
 * bound. Its only consumer is the native protocol's upstream watch stream.
 */
export class AllWatcher implements Watcher {
  readonly startIndex: number;
  onWake: (() => void) | null = null;
  closed: WatcherCloseReason | null = null;
  error: V2Error | null = null;
  /** Index of the next event take() returns. */
  nextIndex: number;
  private readonly hub: WatcherHub;
  private readonly history: EventHistory;

  constructor(hub: WatcherHub, history: EventHistory, sinceIndex: number, startIndex: number) {
    this.hub = hub;
    this.history = history;
    this.nextIndex = sinceIndex;
    this.startIndex = startIndex;
  }

  take(): StoreEvent[] {
    const h = this.history;
    if (this.closed !== null || this.nextIndex > h.lastIndex) return [];
    if (!h.reaches(this.nextIndex)) {
      this.close(h.clearedError(this.nextIndex, h.lastIndex));
      return [];
    }
    const out: StoreEvent[] = [];
    for (let i = this.nextIndex; i <= h.lastIndex; i++) out.push(h.at(i) as StoreEvent);
    this.nextIndex = h.lastIndex + 1;
    return out;
  }

  remove(): void {
    if (this.closed !== null) return;
    this.closed = 'removed';
    this.hub.unregisterAll(this);
  }

  close(error: V2Error): void {
    if (this.closed !== null) return;
    this.closed = 'cleared';
    this.error = error;
    this.hub.unregisterAll(this);
    this.hub.scheduleWake(this);
  }
}
