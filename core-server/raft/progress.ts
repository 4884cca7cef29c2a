// The leader's view of one follower's log. See design.md for the state diagram.
//
//   probe:     we do not know where the follower's log matches; send one
//              append per heartbeat round and wait for the answer.
//   replicate: we know; stream appends optimistically (Next runs ahead of
//              Match), at most maxInflightMsgs unacknowledged at a time.
//   snapshot:  the entries the follower needs are compacted; a snapshot is
//              on its way and nothing else is sent until it lands or fails.

import { assert } from './assert.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * A bounded window of unacknowledged appends: (last index, bytes) of each
 * in flight. Flow control so a slow follower cannot make the leader buffer
 * without limit (limits on everything).
 */
export class Inflights {
  private readonly items: { index: number; bytes: number }[] = [];
  private bytesInflight = 0;

  constructor(
    readonly countMax: number,
    readonly bytesMax: number,
  ) {
    assert(countMax > 0, 'maxInflightMsgs must be positive');
  }

  add(index: number, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    const last = this.items[this.items.length - 1];
    assert(last === undefined || index > last.index, `inflights: index ${index} not increasing`);
    this.items.push({ index, bytes });
    this.bytesInflight += bytes;
  }

  /** The follower acknowledged everything up to `to`. */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n]!.index <= to) {
      this.bytesInflight -= this.items[n]!.bytes;
      n++;
    }
    this.items.splice(0, n);
  }

  full(): boolean {
    return this.items.length >= this.countMax || (this.bytesMax > 0 && this.bytesInflight >= this.bytesMax);
  }

  count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytesInflight = 0;
  }
}

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. In replicate it runs ahead of match (pipelining). */
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight (snapshot state only). */
  pendingSnapshot = 0;
  /** Heard from within the current check-quorum window. */
  recentActive = false;
  /**
   * Probe: an append is out, wait for its answer or the next heartbeat.
   * Replicate: the inflight window is full.
   */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;

  constructor(next: number, inflightCountMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightCountMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      // The snapshot may well have landed: probe just after it.
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Bookkeeping after sending an append of `entryCount` entries ending at next - 1. */
  sentEntries(entryCount: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next += entryCount;
        this.inflights.add(this.next - 1, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      this.msgAppFlowPaused = true;
    } else {
      assert(false, `sentEntries in state ${this.state}`);
    }
  }

  /** An accepted append up to n. Returns whether match moved (stale acks are ignored). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejected append at `rejected`; `matchHint` is the follower's guess of
   * the last index that may match. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Stale: we already know a match at or past it.
      if (rejected <= this.match) return false;
      // A pipelined append was lost or refused: fall back to match + 1.
      this.next = this.match + 1;
      return true;
    }
    // Probe: only the answer to the probe we sent (at next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.msgAppFlowPaused;
  }
}
