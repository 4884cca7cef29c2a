// The watch-order checker: given every event the core recorded and what each
// client watcher received, did each watcher get exactly the events meant for
// it, each once, in index order? Used by unit tests and by the 5,000-watcher
// integration test (which records watch responses over real HTTP).
//
// "Meant for it" is stated here independently of the hub that delivers
// events, as two rules:
//
// - an event at or below the watch's start index (X-Etcd-Index of the watch
//   response) is found by etcd's history scan: historyMatches (the store's
//   definition: same key, or below it when recursive — hidden keys included
//   — or a deleted/expired directory that string-prefixes the key);
// - a later event is delivered live: liveMatches below.

import { eventIndex } from '../../core-server/store/event-history.js';
import { isHiddenBelow } from '../../core-server/store/key-path.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import { historyMatches } from '../../core-server/store/watcher-hub.js';

/** Whether `path` lies strictly inside directory `dir`. */
function isInside(path: string, dir: string): boolean {
  if (dir === '/') return path.length > 1;
  return path.length > dir.length + 1 && path.startsWith(dir) && path.charCodeAt(dir.length) === 47;
}

/**
 * Live delivery (etcd's notify, as the proxy's hub applies it): the event's
 * own key; a key inside a recursive watch unless a segment between them is
 * hidden ('_'); and, for a directory's delete or expire, a watch at any path
 * inside that directory. Refreshes are never delivered.
 */
export function liveMatches(e: StoreEvent, key: string, recursive: boolean): boolean {
  if (e.refresh === true) return false;
  const k = e.node.key ?? '/';
  if (k === key) return true;
  if (recursive && isInside(k, key) && !isHiddenBelow(key, k)) return true;
  const p = e.prevNode;
  return (e.action === 'delete' || e.action === 'expire') && p !== undefined && p.dir === true && isInside(key, k);
}

export interface WatchRecord {
  /** Clean watched path. */
  key: string;
  recursive: boolean;
  stream: boolean;
  /** waitIndex as asked; 0 when none. */
  sinceIndex: number;
  /** The watch's X-Etcd-Index: the index when it was registered. */
  startIndex: number;
  /** Events in the order received. */
  received: readonly StoreEvent[];
  /**
   * How it ended: 'open' — still registered (or a one-shot that got its
   * event) when checked, so it must have every event meant for it; 'cut' —
   * closed early (401, overflow, disconnect): what it got must be a prefix.
   */
  end: 'open' | 'cut';
}

export interface WatchViolation {
  watcher: number;
  kind: 'missing' | 'unexpected' | 'duplicate' | 'out-of-order' | 'unknown-event' | 'log-too-short';
  detail: string;
}

/** The events meant for one watcher, in order; `log` holds every event in index order. */
export function expectedEvents(log: readonly StoreEvent[], w: Omit<WatchRecord, 'received' | 'end'>): StoreEvent[] {
  const since = w.sinceIndex === 0 ? w.startIndex + 1 : w.sinceIndex;
  const out: StoreEvent[] = [];
  for (const e of log) {
    const idx = eventIndex(e);
    if (idx < since) continue;
    const match = idx <= w.startIndex ? historyMatches(e, w.key, w.recursive) : liveMatches(e, w.key, w.recursive);
    if (!match) continue;
    out.push(e);
    if (!w.stream) break;
  }
  return out;
}

/**
 * Check every watcher; [] when all is well. `log` must be contiguous and
 * reach back to every watcher's first wanted index.
 */
export function checkWatchOrder(log: readonly StoreEvent[], watchers: readonly WatchRecord[]): WatchViolation[] {
  const out: WatchViolation[] = [];
  const known = new Set<number>(log.map(eventIndex));
  const first = log.length > 0 ? eventIndex(log[0] as StoreEvent) : 1;
  watchers.forEach((w, i) => {
    const since = w.sinceIndex === 0 ? w.startIndex + 1 : w.sinceIndex;
    if (since < first) {
      out.push({ watcher: i, kind: 'log-too-short', detail: `log starts at ${first}, watcher wants ${since}` });
      return;
    }
    const want = expectedEvents(log, w).map(eventIndex);
    const got = w.received.map(eventIndex);
    const seen = new Set<number>();
    const wantSet = new Set(want);
    for (let j = 0; j < got.length; j++) {
      const g = got[j] as number;
      const where = `${w.key}${w.recursive ? ' (recursive)' : ''}: event #${j} is index ${g}`;
      if (!known.has(g)) {
        out.push({ watcher: i, kind: 'unknown-event', detail: `${where}, not in the log` });
        return;
      }
      if (seen.has(g)) {
        out.push({ watcher: i, kind: 'duplicate', detail: `${where}, received twice` });
        return;
      }
      seen.add(g);
      if (!wantSet.has(g)) {
        out.push({ watcher: i, kind: 'unexpected', detail: `${where}, not meant for it` });
        return;
      }
      if (j > 0 && g < (got[j - 1] as number)) {
        out.push({ watcher: i, kind: 'out-of-order', detail: `${where}, after ${got[j - 1]}` });
        return;
      }
      if (want[j] !== g) {
        const late = got.indexOf(want[j] as number, j + 1) !== -1;
        out.push({ watcher: i, kind: late ? 'out-of-order' : 'missing', detail: `${where}, but ${want[j]} comes first` });
        return;
      }
      const ev = w.received[j] as StoreEvent;
      const ref = log[g - first] as StoreEvent;
      if (ev.action !== ref.action || ev.node.key !== ref.node.key) {
        out.push({ watcher: i, kind: 'unexpected', detail: `${where}, ${ev.action} ${ev.node.key} but the log has ${ref.action} ${ref.node.key}` });
        return;
      }
    }
    if (w.end === 'open' && got.length < want.length) {
      out.push({ watcher: i, kind: 'missing', detail: `${w.key}: got ${got.length} of ${want.length} events; next missing is index ${want[got.length]}` });
    }
  });
  return out;
}
