// Starting a watch and re-checking watchers after the history jumps: etcd's
// watch semantics over an EventHistory and a WatcherHub, shared by the store
// and by the proxy's local watch hub (proxy/watch/), which drives the same
// two pieces with the events of its one upstream stream. One copy of the
// rules, so a watch served by a proxy cannot drift from one served by a member.

import type { EventHistory } from './event-history.js';
import { eventIndex } from './event-history.js';
import { checkKeyLength, cleanPath } from './key-path.js';
import type { WatchOptions } from './types.js';
import { Ecode, V2Error } from './v2-error.js';
import type { WatcherHub } from './watcher-hub.js';
import { StoreWatcher, historyMatches } from './watcher-hub.js';

/**
 * etcd's Watch at store index `storeIndex`: a start older than the oldest
 * kept event is 401; a start inside the history may already hold its
 * event(s) when this returns (a one-shot is then not registered; a stream
 * replays every later match and goes live); otherwise the watcher is
 * registered. The caller flushes the hub's wake-ups afterwards.
 */
export function startWatch(
  hub: WatcherHub,
  history: EventHistory,
  storeIndex: number,
  path: string,
  opts: WatchOptions,
): StoreWatcher | V2Error {
  const key = cleanPath(path);
  const tooLong = checkKeyLength(key, storeIndex);
  if (tooLong !== null) return tooLong;
  const since = opts.sinceIndex === 0 ? storeIndex + 1 : opts.sinceIndex;
  const h = history;
  // etcd: a start older than the oldest kept event is 401. If nothing is
  // kept at all but the index has moved (a restored image without
  // history), the past is just as gone.
  if (since <= storeIndex && (h.size === 0 ? true : since < h.startIndex)) {
    return h.size === 0
      ? new V2Error(Ecode.EventIndexCleared, `the requested history has been cleared [${storeIndex + 1}/${since}]`, storeIndex)
      : h.clearedError(since, storeIndex);
  }
  const w = new StoreWatcher(hub, key, opts.recursive, opts.stream, since, storeIndex);
  if (since <= h.lastIndex) {
    const first = hub.firstFromHistory(h, key, opts.recursive, since);
    if (first !== null) {
      // etcd hands out a copy stamped with the current index and does not
      // register the watcher: it has its one event.
      w.push({ ...first, etcdIndex: storeIndex }, hub.queueMax);
      if (!opts.stream) return w;
      // A stream goes on with every later match, then lives on.
      for (let i = eventIndex(first) + 1; i <= h.lastIndex && w.closed === null; i++) {
        const e = h.at(i);
        if (e !== undefined && historyMatches(e, key, opts.recursive)) w.push({ ...e, etcdIndex: storeIndex }, hub.queueMax);
      }
      if (w.closed !== null) return w;
      w.sinceIndex = storeIndex + 1;
    }
  }
  hub.register(w);
  return w;
}

/**
 * After the index jumps from oldIndex to newIndex without the events in
 * between passing through notify (a snapshot install; a proxy resync), no
 * registered watcher may wait while events it wanted pass it by. Each one's
 * next wanted index is after what it has seen and after oldIndex. If the
 * history still holds that point, the watcher gets the matching events from
 * it (what a re-watch with waitIndex would get); otherwise it is closed with
 * 'cleared' and etcd's 401, so its client re-reads. A jump backwards would
 * replay indexes the watcher has seen: those watchers are cleared too.
 */
export function reconcileWatchers(hub: WatcherHub, history: EventHistory, oldIndex: number, newIndex: number): void {
  if (newIndex === oldIndex) return;
  for (const w of hub.all()) {
    if (newIndex < oldIndex) {
      w.close('cleared', history.clearedError(oldIndex + 1, newIndex));
      continue;
    }
    const from = Math.max(w.sinceIndex, oldIndex + 1, w.lastIndex + 1);
    if (from > newIndex) continue;
    if (history.size === 0 || !history.reaches(from)) {
      w.close('cleared', history.clearedError(from, newIndex));
      continue;
    }
    for (let i = from; i <= newIndex && w.registered; i++) {
      const e = history.at(i);
      if (e === undefined || !historyMatches(e, w.key, w.recursive)) continue;
      if (w.push(e, hub.queueMax) && !w.stream) hub.unregister(w);
    }
  }
}
