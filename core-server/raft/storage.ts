// The log store Raft reads from; the driver writes to it. Like etcd's
// MemoryStorage: the driver appends each Ready's entries, sets its hard
// state and applies its snapshot here after (or as) it makes them durable,
// and Raft only ever reads.

import { assert } from './assert.js';
import { EMPTY_HARD_STATE, entriesBytes, type Entry, type HardState, type MemberId, type Snapshot } from './types.js';

export interface InitialState {
  hardState: HardState;
  /** Voters as of the storage's newest snapshot (or the bootstrap configuration). */
  voters: MemberId[];
}

/** Read side, what Raft needs. Every method is synchronous: reads come from memory (a cache of the WAL). */
export interface Storage {
  initialState(): InitialState;
  /**
   * Entries [lo, hi), cut to about `bytesMax` but never empty when lo < hi;
   * 'compacted' if lo was compacted away. Callers keep hi <= lastIndex() + 1.
   */
  entries(lo: number, hi: number, bytesMax: number): Entry[] | 'compacted';
  /** Term of entry i for i in [firstIndex() - 1, lastIndex()]; 'compacted' below. */
  term(i: number): number | 'compacted';
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/**
 * In-memory storage. ents[0] is a dummy standing for the snapshot's last
 * entry (its index and term), so term(firstIndex - 1) is always known: that
 * is what the consistency check of the first append after a snapshot needs.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  private ents: Entry[];

  /** `voters` is the bootstrap configuration of a brand-new member. */
  constructor(voters: readonly MemberId[] = []) {
    this.snap = { meta: { index: 0, term: 0, voters: [...voters] }, data: new Uint8Array(0) };
    this.ents = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, voters: [...this.snap.meta.voters] };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  term(i: number): number | 'compacted' {
    const offset = this.offset();
    if (i < offset) return 'compacted';
    const e = this.ents[i - offset];
    assert(e !== undefined, `storage.term(${i}) beyond lastIndex ${this.lastIndex()}`);
    return e.term;
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] | 'compacted' {
    const offset = this.offset();
    if (lo <= offset) return 'compacted';
    assert(hi <= this.lastIndex() + 1, `storage.entries hi ${hi} beyond lastIndex ${this.lastIndex()}`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), bytesMax);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Appends entries, first discarding any stored entries at or after the
   * first new index: a follower's uncommitted suffix that the leader overwrote.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.offset();
    const last = first.index + entries.length - 1;
    // Entries already covered by the snapshot are kept there; skip them.
    if (last <= offset) return;
    const fresh = first.index <= offset ? entries.slice(offset + 1 - first.index) : entries;
    const start = fresh[0]!.index;
    assert(start <= this.lastIndex() + 1, `storage.append gap: ${start} after lastIndex ${this.lastIndex()}`);
    // The common case extends the log in place: copying it on every append
    // would make a long log quadratic. Only a conflicting suffix is cut.
    if (start <= this.lastIndex()) this.ents.length = start - offset;
    for (const e of fresh) this.ents.push(e);
  }

  /** Replaces everything with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    assert(snap.meta.index >= this.snap.meta.index, `applySnapshot: ${snap.meta.index} older than ${this.snap.meta.index}`);
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 'normal', data: new Uint8Array(0) }];
  }

  /** Records a snapshot of applied state at `index` (the driver then may compact up to it). */
  createSnapshot(index: number, voters: readonly MemberId[], data: Uint8Array): Snapshot {
    const offset = this.offset();
    assert(index > this.snap.meta.index, `createSnapshot: ${index} not newer than ${this.snap.meta.index}`);
    assert(index <= this.lastIndex(), `createSnapshot: ${index} beyond lastIndex ${this.lastIndex()}`);
    const e = this.ents[index - offset]!;
    this.snap = { meta: { index, term: e.term, voters: [...voters] }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; entry compactIndex becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    assert(compactIndex <= this.lastIndex(), `compact: ${compactIndex} beyond lastIndex ${this.lastIndex()}`);
    const dummy = this.ents[compactIndex - offset]!;
    const head: Entry = { term: dummy.term, index: dummy.index, type: 'normal', data: new Uint8Array(0) };
    this.ents = [head, ...this.ents.slice(compactIndex - offset + 1)];
  }
}

/** Cuts entries to about `bytesMax`, always keeping the first so progress is never blocked by one big entry. */
export function limitSize(entries: Entry[], bytesMax: number): Entry[] {
  if (entries.length <= 1) return entries;
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += entriesBytes([entries[i]!]);
    if (i > 0 && size > bytesMax) return entries.slice(0, i);
  }
  return entries;
}
