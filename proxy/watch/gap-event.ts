// A stand-in for an event the upstream stream cannot show the proxy.
//
// In front of real etcd the proxy's stream is a chain of v2 long polls, and
// etcd never hands a v2 watcher a TTL refresh (not live, not from history).
// The index still moves, and the proxy's event ring must stay contiguous for
// waitIndex to mean what it means on a member, so each such index is filled
// with a gap event: marked `refresh` (so no watcher ever matches it, as no
// etcd watcher matches a refresh) and with action 'get' (which no real event
// has), so the read cache can tell it apart and drop everything it holds —
// it cannot know which key's TTL moved.

import type { StoreEvent } from '../../core-server/store/types.js';

export function gapEvent(index: number): StoreEvent {
  return { action: 'get', node: { key: '/', modifiedIndex: index, createdIndex: index }, etcdIndex: index, refresh: true };
}

export function isGapEvent(e: StoreEvent): boolean {
  return e.action === 'get' && e.refresh === true;
}

/** Gap events for every index in [from, to]. */
export function gapEvents(from: number, to: number): StoreEvent[] {
  const out: StoreEvent[] = [];
  for (let i = from; i <= to; i++) out.push(gapEvent(i));
  return out;
}
