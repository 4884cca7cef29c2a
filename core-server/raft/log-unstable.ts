// Entries and a snapshot Raft has accepted but the driver has not yet
// confirmed durable. entries[i] has index offset + i. A snapshot here is
// always older than the entries (it is what they follow).

import { assert } from './assert.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** Only a pending snapshot moves the first index. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.meta.index;
    return undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /**
   * The driver made entries up to (i, t) durable. The term check matters:
   * if a newer leader overwrote index i after that Ready was taken, the
   * entry now at i is a different one and is not yet durable.
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      // Directly after what we hold: append.
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      // Replaces everything unstable; older stable entries are truncated by the driver's storage.append.
      this.offset = after;
      this.entries = [...ents];
    } else {
      // Keep [offset, after), replace the rest.
      this.entries = this.slice(this.offset, after).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi, `unstable.slice: lo ${lo} > hi ${hi}`);
    assert(lo >= this.offset, `unstable.slice: lo ${lo} < offset ${this.offset}`);
    assert(hi <= this.offset + this.entries.length, `unstable.slice: hi ${hi} beyond ${this.offset + this.entries.length}`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
