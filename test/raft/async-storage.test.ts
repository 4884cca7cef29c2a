// asyncStorageWrites (the pipelining driver, core-server/node/driver.ts): the
// leader counts its own log in the quorum only up to what reportDurable said
// is on disk. Each case is a state the deterministic simulator reached with
// the pipelined driver (test/sim, --driver pipelined).

import { describe, expect, it } from 'vitest';
import { RawNode } from '../../core-server/raft/raw-node.js';
import { Mulberry32 } from '../../core-server/raft/rng.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import type { Entry, Message } from '../../core-server/raft/types.js';
import { bytes } from './network.js';

const [A, B, C] = ['a', 'b', 'c'] as const;

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: bytes(`e${index}t${term}`) };
}

/** Member a of {a, b, c}: entries 1..5 of term 1 on disk, a follower of b in term 1. */
function restarted(): RawNode {
  const storage = new MemoryStorage([A, B, C]);
  storage.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
  storage.setHardState({ term: 1, vote: B, commit: 2 });
  return new RawNode({ id: A, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1), preVote: false, asyncStorageWrites: true });
}

/** Takes the Ready as a pipelining driver does: into memory at once, advance at once, the write still in flight. */
function takeReady(raw: RawNode, storage: MemoryStorage): Message[] {
  const rd = raw.ready();
  storage.append(rd.entries);
  if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
  raw.advance(rd);
  return rd.messages;
}

/**
 * a takes term 2's entry 3 over its own 3..5 (in flight, not durable), then
 * leads term 3 with votes from b and c and appends its no-op at 4; b has
 * acknowledged it. Nothing a wrote since the overwrite has been reported.
 */
function leaderAfterOverwrite(): RawNode {
  const raw = restarted();
  const storage = raw.raft.raftLog.storage as MemoryStorage;
  raw.step({ type: 'app', from: C, to: A, term: 2, index: 2, logTerm: 1, entries: [entry(3, 2)], commit: 2 });
  takeReady(raw, storage);
  expect(raw.raft.raftLog.lastIndex()).toBe(3);
  raw.campaign();
  takeReady(raw, storage);
  raw.step({ type: 'voteResp', from: B, to: A, term: 3, reject: false });
  expect(raw.status().role).toBe('leader');
  takeReady(raw, storage);
  expect(raw.raft.raftLog.lastIndex()).toBe(4);
  raw.step({ type: 'appResp', from: B, to: A, term: 3, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
  return raw;
}

describe('asyncStorageWrites: what the leader counts as its own durable log', () => {
  // Found by test/sim seed 34 (3 members, --driver pipelined): a follower's
  // durable suffix was overwritten by a newer leader; later, as leader, the
  // first write that landed made Raft count itself up to the old durable
  // index, so it committed entries held on disk by one member of three.
  it('an append that overwrites durable entries lowers what counts as durable', () => {
    const raw = leaderAfterOverwrite();
    expect(raw.status().progress?.[A]?.match).toBe(2);
    // The write of the overwrite's predecessors (up to 2) lands: nothing after 2 is durable here.
    raw.reportDurable(2, 1);
    expect(raw.status().progress?.[A]?.match).toBe(2);
    expect(raw.status().commit).toBe(2);
    // The overwrite and the no-op land: now a and b hold 4 on disk.
    raw.reportDurable(4, 3);
    expect(raw.status().progress?.[A]?.match).toBe(4);
    expect(raw.status().commit).toBe(4);
  });

  // The pipelining driver's loop runs after the input that causes it
  // (setImmediate), so a write can land after Raft took an overwrite and
  // before the driver saw it: that write reports entries that are gone.
  it('a report naming an entry that has since been replaced is ignored', () => {
    const raw = leaderAfterOverwrite();
    // The old write of 1..5 (term 1) lands late: index 4 now holds the no-op of term 3.
    raw.reportDurable(4, 1);
    expect(raw.status().progress?.[A]?.match).toBe(2);
    expect(raw.status().commit).toBe(2);
    raw.reportDurable(5, 1);
    expect(raw.status().commit).toBe(2);
  });

  it('a snapshot that replaces the log lowers what counts as durable to its index', () => {
    const raw = restarted();
    const storage = raw.raft.raftLog.storage as MemoryStorage;
    // A leader of term 2 sends a snapshot at 3 whose term differs from a's entry 3.
    raw.step({ type: 'snap', from: C, to: A, term: 2, snapshot: { meta: { index: 3, term: 2, voters: [A, B, C] }, data: bytes('image@3') } });
    const rd = raw.ready();
    expect(rd.snapshot?.meta.index).toBe(3);
    storage.applySnapshot(rd.snapshot!);
    raw.advance(rd);
    raw.reportDurable(3, 2);
    raw.campaign();
    takeReady(raw, storage);
    raw.step({ type: 'voteResp', from: B, to: A, term: 3, reject: false });
    expect(raw.status().role).toBe('leader');
    takeReady(raw, storage);
    // The no-op at 4 is not durable yet: a's stale entries 4..5 of term 1 must not count for it.
    raw.step({ type: 'appResp', from: B, to: A, term: 3, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
    raw.reportDurable(3, 2);
    expect(raw.status().commit).toBe(3);
    raw.reportDurable(4, 3);
    expect(raw.status().commit).toBe(4);
  });
});

describe('asyncStorageWrites: a read on a restarted single member', () => {
  // Found by test/fault/kill9-durability (seed 24592948, CI): the commit
  // index is written with the next entries, so after kill -9 a single member
  // restarts with a durable commit below entries it had acknowledged. A
  // ReadIndex answered at that commit let /health pass and quorum reads miss
  // acknowledged writes until the new term's no-op committed them.
  it('waits for the no-op of its term, and answers at or above every entry on disk', () => {
    const storage = new MemoryStorage([A]);
    storage.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
    storage.setHardState({ term: 1, vote: A, commit: 2 });
    const raw = new RawNode({ id: A, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1), preVote: false, asyncStorageWrites: true });
    raw.campaign();
    expect(raw.status().role).toBe('leader');
    raw.readIndex('after-restart');
    // The no-op at 6 is in flight: no read point yet, and none at the stale commit 2.
    const rd = raw.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([6]);
    expect(rd.readStates).toEqual([]);
    storage.append(rd.entries);
    raw.advance(rd);
    expect(raw.status().commit).toBe(2);
    raw.reportDurable(6, 2);
    expect(raw.ready().readStates).toEqual([{ index: 6, requestCtx: 'after-restart' }]);
  });
});
