// The last N events as a ring (etcd's event_history.go + event_queue.go).
//
// Every event the store records has index = previous + 1 (each successful
// write or expiry bumps the store index by one and records one event, a
// refresh included), so the ring is contiguous and the event at index i sits
// at offset i - startIndex: a watch finds its starting point in O(1).

import type { StoreEvent } from './types.js';
import { Ecode, V2Error } from './v2-error.js';

/** The index of an event: its node's modifiedIndex (etcd's Event.Index()). */
export function eventIndex(e: StoreEvent): number {
  return e.node.modifiedIndex ?? 0;
}

export class EventHistory {
  readonly capacity: number;
  private readonly ring: (StoreEvent | undefined)[];
  private front = 0; // slot of the oldest event
  private count = 0;
  /** Index of the oldest kept event (0 while empty, as in etcd). */
  startIndex = 0;
  /** Index of the newest kept event (0 while empty). */
  lastIndex = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('RG_ERR_STORE_CONFIG: historyMax must be a positive integer');
    this.capacity = capacity;
    this.ring = new Array<StoreEvent | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(e: StoreEvent): void {
    const idx = eventIndex(e);
    if (this.count > 0 && idx !== this.lastIndex + 1) {
      throw new Error(`RG_ERR_STORE_ASSERT: history must be contiguous (last ${this.lastIndex}, adding ${idx})`);
    }
    if (this.count < this.capacity) {
      this.ring[(this.front + this.count) % this.capacity] = e;
      this.count++;
    } else {
      this.ring[this.front] = e;
      this.front = (this.front + 1) % this.capacity;
    }
    this.lastIndex = idx;
    this.startIndex = eventIndex(this.ring[this.front] as StoreEvent);
  }

  /** The event with this index, if kept. */
  at(index: number): StoreEvent | undefined {
    if (this.count === 0 || index < this.startIndex || index > this.lastIndex) return undefined;
    return this.ring[(this.front + (index - this.startIndex)) % this.capacity];
  }

  /** etcd's 401 for a start index older than the oldest kept event; `storeIndex` is the error's index. */
  clearedError(requested: number, storeIndex: number): V2Error {
    return new V2Error(
      Ecode.EventIndexCleared,
      `the requested history has been cleared [${this.startIndex}/${requested}]`,
      storeIndex,
    );
  }

  /** Whether events from `index` on are all still kept (etcd: index >= StartIndex). */
  reaches(index: number): boolean {
    return index >= this.startIndex;
  }

  /** Events oldest first (for snapshots). */
  toArray(): StoreEvent[] {
    const out: StoreEvent[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.front + i) % this.capacity] as StoreEvent);
    return out;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.front = 0;
    this.count = 0;
    this.startIndex = 0;
    this.lastIndex = 0;
  }
}
