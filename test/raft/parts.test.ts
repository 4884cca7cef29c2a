// Unit tests of the pieces under Raft: log, unstable log, progress, quorum,
// read-only queue, rng.

import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../core-server/raft/log.js';
import { Unstable } from '../../core-server/raft/log-unstable.js';
import { Progress, Inflights } from '../../core-server/raft/progress.js';
import { committedIndex, voteResult } from '../../core-server/raft/quorum.js';
import { ReadOnly } from '../../core-server/raft/read-only.js';
import { Mulberry32 } from '../../core-server/raft/rng.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import { decodeConfChange, encodeConfChange } from '../../core-server/raft/conf-change.js';
import type { Entry } from '../../core-server/raft/types.js';

function ents(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: new Uint8Array(0) }));
}

function at(index: number, term: number): Entry {
  return { term, index, type: 'normal', data: new Uint8Array(0) };
}

describe('RaftLog', () => {
  it('findConflict returns the first index whose term differs, 0 if none', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 2, 3));
    expect(log.findConflict([at(1, 1), at(2, 2)])).toBe(0);
    expect(log.findConflict([at(2, 2), at(3, 4)])).toBe(3);
    expect(log.findConflict([at(3, 3), at(4, 4)])).toBe(4);
  });

  it('maybeAppend truncates a conflicting suffix and commits only what matched', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 1, 2, 2));
    expect(log.maybeAppend(1, 1, 10, [at(2, 1), at(3, 3)])).toBe(3);
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(3);
    expect(log.committed).toBe(3);
    // Consistency-check miss.
    expect(log.maybeAppend(3, 2, 10, [])).toBeUndefined();
  });

  it('refuses to overwrite committed entries', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 1, 1));
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 3, [at(2, 5)])).toThrow(/conflicts with committed/);
  });

  it('findConflictByTerm skips back to the last entry of a term <= the probe term', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 1, 4, 4, 4, 5));
    expect(log.findConflictByTerm(6, 3)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(6, 4)).toEqual({ index: 5, term: 4 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('isUpToDate compares last term first, then last index', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 2, 2));
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('maybeCommit commits only entries of the given term', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 2));
    expect(log.maybeCommit(1, 2)).toBe(false);
    expect(log.maybeCommit(2, 2)).toBe(true);
    expect(log.committed).toBe(2);
  });

  it('slices across storage and unstable with a byte limit, and reports compaction', () => {
    const s = new MemoryStorage();
    s.append(ents(1, 1, 1, 1, 1));
    s.createSnapshot(2, [], new Uint8Array(0));
    s.compact(2);
    const log = new RaftLog(s, Infinity);
    log.append([at(6, 2), at(7, 2)]);
    expect((log.slice(3, 8, Infinity) as Entry[]).map((e) => e.index)).toEqual([3, 4, 5, 6, 7]);
    expect((log.slice(3, 8, 50) as Entry[]).map((e) => e.index)).toEqual([3, 4]);
    expect(log.slice(2, 4, Infinity)).toBe('compacted');
    expect(log.term(2)).toBe(1);
    expect(log.term(1)).toBeUndefined();
    // Committed and applied start at the snapshot.
    expect(log.committed).toBe(2);
    expect(log.applied).toBe(2);
  });

  it('nextEnts hands out committed, unapplied entries', () => {
    const log = new RaftLog(new MemoryStorage(), Infinity);
    log.append(ents(1, 1, 1));
    log.commitTo(2);
    expect(log.nextEnts().map((e) => e.index)).toEqual([1, 2]);
    log.appliedTo(2);
    expect(log.hasNextEnts()).toBe(false);
    expect(() => log.appliedTo(3)).toThrow(/beyond committed/);
  });
});

describe('Unstable', () => {
  it('stableTo ignores an entry that was overwritten since the Ready was taken', () => {
    const u = new Unstable(1);
    u.truncateAndAppend([at(1, 1), at(2, 1)]);
    u.truncateAndAppend([at(2, 2)]);
    u.stableTo(2, 1);
    expect(u.entries.length).toBe(2);
    u.stableTo(2, 2);
    expect(u.entries.length).toBe(0);
    expect(u.offset).toBe(3);
  });

  it('truncateAndAppend before the offset replaces everything', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([at(5, 1), at(6, 1)]);
    u.truncateAndAppend([at(4, 2)]);
    expect(u.offset).toBe(4);
    expect(u.entries.map((e) => e.term)).toEqual([2]);
  });
});

describe('Progress', () => {
  it('probe: one message at a time; an accepted append moves to replicate', () => {
    const pr = new Progress(5, 4, 0);
    pr.sentEntries(2, 10);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(6)).toBe(true);
    pr.becomeReplicate();
    expect(pr.next).toBe(7);
  });

  it('replicate: pipelines until the inflight window is full; acks free it', () => {
    const pr = new Progress(1, 2, 0);
    pr.becomeReplicate();
    pr.sentEntries(3, 10);
    pr.sentEntries(3, 10);
    expect(pr.next).toBe(7);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(3);
    pr.inflights.freeLE(3);
    expect(pr.isPaused()).toBe(false);
  });

  it('maybeDecrTo: stale rejections are ignored; a probe rejection uses the hint', () => {
    const pr = new Progress(10, 4, 0);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // not the probe we sent (next - 1 = 9)
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    pr.match = 3;
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(2, 0)).toBe(false);
    expect(pr.maybeDecrTo(6, 0)).toBe(true);
    expect(pr.next).toBe(4);
  });

  it('snapshot state pauses; becomeProbe resumes after the pending snapshot', () => {
    const pr = new Progress(1, 4, 0);
    pr.becomeSnapshot(20);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(21);
  });

  it('Inflights honours a byte limit', () => {
    const inf = new Inflights(10, 100);
    inf.add(1, 60);
    expect(inf.full()).toBe(false);
    inf.add(2, 60);
    expect(inf.full()).toBe(true);
    inf.freeLE(1);
    expect(inf.full()).toBe(false);
    expect(inf.count()).toBe(1);
  });
});

describe('quorum', () => {
  it('committedIndex is the majority-matched index', () => {
    const m = new Map([['a', 5], ['b', 3], ['c', 1]]);
    expect(committedIndex(['a', 'b', 'c'], (id) => m.get(id))).toBe(3);
    expect(committedIndex(['a', 'b', 'c', 'd'], (id) => m.get(id))).toBe(1);
  });

  it('voteResult is pending until decided', () => {
    const v = new Map<string, boolean>([['a', true]]);
    expect(voteResult(['a', 'b', 'c'], v)).toBe('pending');
    v.set('b', false);
    expect(voteResult(['a', 'b', 'c'], v)).toBe('pending');
    v.set('c', true);
    expect(voteResult(['a', 'b', 'c'], v)).toBe('won');
    expect(voteResult(['a', 'b', 'c'], new Map([['b', false], ['c', false]]))).toBe('lost');
  });
});

describe('ReadOnly', () => {
  it('a quorum ack for one request releases it and every older one', () => {
    const ro = new ReadOnly();
    ro.addRequest(5, { from: 'a', context: 'x' });
    ro.addRequest(6, { from: 'b', context: 'y' });
    expect(ro.lastPendingRequestCtx()).toBe('y');
    expect(ro.advance('y').map((r) => [r.req.context, r.index])).toEqual([
      ['x', 5],
      ['y', 6],
    ]);
    expect(ro.pendingCount()).toBe(0);
    expect(ro.recvAck('a', 'x')).toBeUndefined();
  });
});

describe('misc', () => {
  it('Mulberry32 is deterministic per seed and in range', () => {
    const a = new Mulberry32(42);
    const b = new Mulberry32(42);
    const xs = Array.from({ length: 100 }, () => a.nextInt(7));
    expect(xs).toEqual(Array.from({ length: 100 }, () => b.nextInt(7)));
    expect(xs.every((x) => x >= 0 && x < 7)).toBe(true);
    expect(new Set(xs).size).toBe(7);
  });

  it('ConfChange round-trips and rejects garbage', () => {
    expect(decodeConfChange(encodeConfChange({ type: 'addNode', id: 'ab' }))).toEqual({ type: 'addNode', id: 'ab' });
    expect(() => decodeConfChange(new TextEncoder().encode('{"type":"x","id":"a"}'))).toThrow(/bad type/);
  });
});
