// The Raft log as one member sees it: what is in Storage (durable), what is
// in Unstable (accepted, not yet durable), how far it is committed and how
// far the driver has applied it.
//
//   firstIndex ... applied ... committed ... (storage lastIndex) ... lastIndex
//   invariant: firstIndex - 1 <= applied <= committed <= lastIndex

import { assert } from './assert.js';
import { Unstable } from './log-unstable.js';
import { limitSize, type Storage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;
  /**
   * Every entry up to here is known durable on this member's disk (kept
   * for asyncStorageWrites: Raft.reportDurable raises it). An append that
   * rewrites entries at or below it, or a snapshot that replaces the log,
   * lowers it: the entries now at those indexes were never written.
   */
  durable: number;
  /** Cap on the bytes of committed entries handed out in one Ready. */
  private readonly nextEntsBytesMax: number;

  constructor(storage: Storage, nextEntsBytesMax: number) {
    this.storage = storage;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1);
    // Everything up to the storage's snapshot is committed and applied by definition.
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
    // What storage holds at start is on disk (the driver loaded it from there).
    this.durable = lastIndex;
    this.nextEntsBytesMax = nextEntsBytesMax;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'term of lastIndex unknown');
    return t;
  }

  /** Term of entry i; undefined if i was compacted away or is beyond the log. */
  term(i: number): number | undefined {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return undefined;
    const ut = this.unstable.maybeTerm(i);
    if (ut !== undefined) return ut;
    const st = this.storage.term(i);
    return st === 'compacted' ? undefined : st;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: a log is at least as up to date if its last term is higher, or equal with an index at least as high. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of an append: if our log holds (index, logTerm), take
   * `entries` after it (truncating at the first conflict) and commit up to
   * min(commit, last new index). Returns the last new index, or undefined on
   * a consistency-check miss.
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + entries.length;
    const ci = this.findConflict(entries);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(entries.slice(ci - (index + 1)));
    }
    // Only up to what this message proves matches: beyond it our log may still diverge.
    this.commitTo(Math.min(commit, lastNewIndex));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index - 1 >= this.committed, `append at ${first.index} would overwrite committed ${this.committed}`);
    if (first.index <= this.durable) this.durable = first.index - 1;
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * The index of the first entry whose term differs from ours (or which we
   * lack); 0 if all of them match. Entries must be contiguous.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term.
   * Used on append rejection so one round trip skips a whole divergent term
   * (etcd's findConflictByTerm). If the term is unknown (compacted), returns (index, 0).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet applied, capped in bytes. */
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= off) return [];
    const ents = this.slice(off, this.committed + 1, this.nextEntsBytesMax);
    assert(ents !== 'compacted', `committed entries from ${off} compacted before being applied`);
    return ents;
  }

  hasNextEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return; // never decrease
    assert(toCommit <= this.lastIndex(), `commit ${toCommit} beyond lastIndex ${this.lastIndex()}`);
    this.committed = toCommit;
  }

  /** Leader: commit maxIndex only if it is of the current term (Raft §5.4.2: never by counting older-term replicas). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(i <= this.committed, `applied ${i} beyond committed ${this.committed}`);
    assert(i >= this.applied, `applied ${i} goes back from ${this.applied}`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    // Nothing after the snapshot survives it; the snapshot itself is committed.
    if (this.durable > s.meta.index) this.durable = s.meta.index;
    this.unstable.restore(s);
  }

  /** Entries from i on, up to bytesMax; 'compacted' if i is gone (the caller sends a snapshot). */
  entries(i: number, bytesMax: number): Entry[] | 'compacted' {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, bytesMax);
  }

  slice(lo: number, hi: number, bytesMax: number): Entry[] | 'compacted' {
    assert(lo <= hi, `slice: lo ${lo} > hi ${hi}`);
    if (lo < this.firstIndex()) return 'compacted';
    assert(hi <= this.lastIndex() + 1, `slice: hi ${hi} beyond lastIndex ${this.lastIndex()}`);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      const stored = this.storage.entries(lo, Math.min(hi, uoff), bytesMax);
      if (stored === 'compacted') return 'compacted';
      // Storage cut the batch short: stop here rather than leave a gap.
      if (stored.length < Math.min(hi, uoff) - lo) return stored;
      ents = stored;
    }
    if (hi > uoff) {
      ents = ents.concat(this.unstable.slice(Math.max(lo, uoff), hi));
    }
    return limitSize(ents, bytesMax);
  }
}
