// Scenario tests for the Raft core over the in-memory network. Each opens
// with its goal.

import { describe, expect, it } from 'vitest';
import { Cluster, bytes, ids } from './network.js';
import { RawNode } from '../../core-server/raft/raw-node.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import { Mulberry32 } from '../../core-server/raft/rng.js';
import type { Entry, Message } from '../../core-server/raft/types.js';

const [A, B, C, D, E] = ids(5) as [string, string, string, string, string];

/** A 3- or 5-member cluster with A elected leader. */
function withLeader(n: 3 | 5, opts: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const c = new Cluster(ids(n), { checkEveryStep: true, ...opts });
  c.campaign(A);
  c.stabilize();
  expect(c.role(A)).toBe('leader');
  return c;
}

describe('election', () => {
  it('a single member elects itself and commits on append', () => {
    // Goal: a one-voter cluster is its own quorum, with no messages at all.
    const c = new Cluster([A]);
    c.runUntil(() => c.role(A) === 'leader', 30);
    const res = c.propose(A, 'x');
    expect(res.ok).toBe(true);
    expect(c.appliedData(A)).toEqual(['x']);
    expect(c.queue).toEqual([]);
  });

  it('in a single-member Ready, committed entries overlap the entries to persist', () => {
    // Goal: pin the documented rule that a driver persists rd.entries before applying rd.committedEntries.
    const storage = new MemoryStorage([A]);
    const raw = new RawNode({ id: A, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1) });
    raw.campaign();
    const rd = raw.ready();
    expect(rd.softState?.role).toBe('leader');
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(rd.mustSync).toBe(true);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    raw.advance(rd);
    expect(raw.hasReady()).toBe(false);
    expect(() => raw.advance(rd)).toThrow(/advance\(\) without ready/);
  });

  it.each([3, 5] as const)('%i members elect exactly one leader by timeout', (n) => {
    // Goal: with randomized timeouts, ticking alone produces one leader that all others follow.
    const c = new Cluster(ids(n), { seed: n });
    c.runUntil(() => c.leader() !== undefined, 200);
    const leader = c.leader()!;
    c.runUntil(() => [...c.nodes.values()].every((x) => x.raw.raft.lead === leader.id), 50);
    expect([...c.nodes.values()].filter((x) => x.raw.raft.role === 'leader')).toHaveLength(1);
    // The no-op of the new term commits everywhere.
    c.runUntil(() => [...c.nodes.values()].every((x) => x.raw.raft.raftLog.committed === leader.raw.raft.raftLog.lastIndex()), 20);
  });

  it('election timeout is randomized in [electionTicks, 2 * electionTicks)', () => {
    // Goal: the jitter range etcd uses, so split votes resolve.
    const seen = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const raw = new RawNode({ id: A, storage: new MemoryStorage([A, B, C]), electionTicks: 5, heartbeatTicks: 1, rng: new Mulberry32(seed) });
      let t = 0;
      while (raw.raft.role === 'follower') {
        raw.tick();
        t++;
      }
      seen.add(t);
    }
    expect(Math.min(...seen)).toBe(5);
    expect(Math.max(...seen)).toBe(9);
  });

  it('pre-vote keeps a rejoining partitioned member from disrupting the leader', () => {
    // Goal: a member cut off long enough to time out many times comes back
    // without raising any term: its pre-votes fail, so the leader stays.
    const c = withLeader(3);
    const term = c.node(A).raw.raft.term;
    c.isolate(C);
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node(C).raw.raft.term).toBe(term);
    expect(c.role(C)).toBe('preCandidate');
    c.heal();
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.role(A)).toBe('leader');
    expect(c.node(A).raw.raft.term).toBe(term);
    expect(c.node(C).raw.raft.lead).toBe(A);
  });

  it('without pre-vote the same rejoin does disrupt (the control)', () => {
    // Goal: show the test above tests something.
    const c = withLeader(3, { preVote: false, checkQuorum: false });
    const term = c.node(A).raw.raft.term;
    c.isolate(C);
    for (let i = 0; i < 40; i++) c.tickAll();
    c.queue = [];
    expect(c.node(C).raw.raft.term).toBeGreaterThan(term);
    c.heal();
    c.runUntil(() => c.leader() !== undefined && c.leader()!.raw.raft.term > term, 100);
  });

  it('check-quorum: an isolated leader steps down within an election timeout', () => {
    // Goal: a leader that hears from no quorum stops acting as leader (so it stops serving reads as one).
    const c = withLeader(3);
    c.isolate(A);
    for (let i = 0; i < 21; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.role(A)).toBe('follower');
    // The majority side elects a new leader at a higher term.
    c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== A, 100);
  });

  it('leader lease: a follower with a live leader ignores a vote request of a higher term', () => {
    // Goal: check-quorum's lease means a disruptive candidate moves neither term nor vote.
    const c = withLeader(3);
    const term = c.node(B).raw.raft.term;
    const m: Message = { type: 'vote', from: C, to: B, term: term + 5, index: 100, logTerm: term + 4, transfer: false };
    c.node(B).raw.step(m);
    c.processReady(c.node(B));
    expect(c.node(B).raw.raft.term).toBe(term);
    expect(c.node(B).raw.raft.vote).not.toBe(C);
  });

  it('a stale leader learns the new term from the first follower it contacts', () => {
    // Goal: with pre-vote on, an old leader's append gets a reply at the newer term so it steps down.
    const c = withLeader(3, { checkQuorum: false });
    c.isolate(A);
    c.campaign(B);
    c.stabilize();
    expect(c.role(B)).toBe('leader');
    c.heal();
    c.propose(A, 'stale');
    c.stabilize();
    expect(c.role(A)).toBe('follower');
    c.runUntil(() => c.node(A).raw.raft.lead === B, 5);
    expect(c.appliedData(A)).not.toContain('stale');
  });
});

describe('replication', () => {
  it('replicates and commits proposals on all members', () => {
    // Goal: the basic path, with the pipeline in replicate state.
    const c = withLeader(5);
    for (let i = 0; i < 20; i++) c.propose(A, `v${i}`);
    c.stabilize();
    c.runUntil(() => ids(5).every((id) => c.appliedData(id).length === 20), 5);
    for (const id of ids(5)) expect(c.appliedData(id)).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(c.node(A).raw.status().progress?.[B]?.state).toBe('replicate');
  });

  it('proposals on a follower are refused with ERR_PROPOSAL_DROPPED', () => {
    const c = withLeader(3);
    expect(c.propose(B, 'x')).toEqual({ ok: false, code: 'ERR_PROPOSAL_DROPPED' });
  });

  it('limits messages by bytes and inflight count, and catches up after losses', () => {
    // Goal: maxSizePerMsg splits batches; maxInflightMsgs pauses the pipeline; lost appends are repaired by probing.
    const c = withLeader(3, { maxSizePerMsg: 1, maxInflightMsgs: 2 });
    c.isolate(C);
    for (let i = 0; i < 10; i++) c.propose(A, `v${i}`);
    c.stabilize();
    c.heal();
    for (let i = 0; i < 10; i++) c.propose(A, `w${i}`);
    const apps = c.queue.filter((m) => m.type === 'app' && m.to === C);
    for (const m of apps) if (m.type === 'app') expect(m.entries.length).toBeLessThanOrEqual(1);
    c.runUntil(() => c.appliedData(C).length === 20, 50);
    expect(c.appliedData(C)).toEqual(c.appliedData(A));
  });

  it('overwrites a follower’s divergent uncommitted entries', () => {
    // Goal: conflict resolution. A leads term t and appends entries only it
    // holds; B wins a later term and commits others; A's suffix is replaced.
    const c = withLeader(3);
    c.stabilize();
    c.isolate(A);
    c.propose(A, 'lost1');
    c.propose(A, 'lost2');
    c.propose(A, 'lost3');
    c.queue = [];
    // B and C time out (A's lease on them expires) and elect one of them.
    c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== A, 100);
    const l = c.leader()!.id;
    c.propose(l, 'kept1');
    c.propose(l, 'kept2');
    c.stabilize();
    c.heal();
    c.runUntil(() => c.node(A).raw.raft.lead === l && c.appliedData(A).length === 2, 100);
    expect(c.appliedData(A)).toEqual(['kept1', 'kept2']);
    c.checkLogs();
    const la = c.node(A).raw.raft.raftLog;
    const lb = c.node(l).raw.raft.raftLog;
    expect(la.lastIndex()).toBe(lb.lastIndex());
  });

  it('figure 8 through the cluster: an old-term entry on a majority is not committed, and is later overwritten', () => {
    // Goal: the Raft paper's figure 8 (terms shifted down by one, since our
    // first leader is of term 1). If S1 committed index 2 in step (c), step
    // (d) would overwrite a committed entry; the harness would see two
    // different entries applied at index 2 and fail.
    const [S1, S2, S3, S4, S5] = ids(5) as [string, string, string, string, string];
    const c = new Cluster(ids(5), { checkEveryStep: true, preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
    c.campaign(S1);
    c.stabilize();
    // (a) S1 leads term 1; index 2 reaches S2 only.
    c.partition([S1, S2], [S3, S4, S5]);
    c.propose(S1, 'a');
    c.stabilize();
    // (b) S1 is down; S5 wins term 2 with S3, S4 and appends index 2 (its no-op) only locally.
    c.node(S1).stopped = true;
    c.partition([S1], [S2], [S3, S4, S5]);
    c.campaign(S5);
    while (c.role(S5) !== 'leader') c.deliverAt(0);
    c.isolate(S5);
    c.stabilize();
    expect(c.node(S5).raw.raft.raftLog.term(2)).toBe(2);
    // (c) S5 is down; S1 is back and wins term 3 with S2, S3. Index 2
    // (term 1) reaches S3, so it sits on S1, S2, S3; S1's own no-op
    // (index 3, term 3) reaches no one.
    c.node(S5).stopped = true;
    c.node(S1).stopped = false;
    c.restart(S1);
    c.partition([S1, S2, S3], [S4], [S5]);
    // Index 3 must reach no one; S3's first probe (prev 2, which it lacks) is refused anyway, so let it through.
    c.dropIf = (m) =>
      m.type === 'app' &&
      m.from === S1 &&
      m.entries.some((e) => e.index >= 3) &&
      (m.to !== S3 || c.node(S3).raw.raft.raftLog.lastIndex() >= 2);
    c.campaign(S1);
    c.stabilize();
    if (c.role(S1) !== 'leader') {
      c.campaign(S1);
      c.stabilize();
    }
    expect(c.role(S1)).toBe('leader');
    const termS1 = c.node(S1).raw.raft.term;
    expect(termS1).toBe(3);
    // S2 acknowledges index 2 (it holds it): what an empty append at prev 2 would make it say.
    c.node(S1).raw.step({ type: 'appResp', from: S2, to: S1, term: termS1, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    c.processReady(c.node(S1));
    c.stabilize();
    for (const id of [S1, S2, S3]) expect(c.node(id).raw.raft.raftLog.term(2)).toBe(1);
    const prs = c.node(S1).raw.raft.prs;
    expect([prs.get(S2)!.match, prs.get(S3)!.match]).toEqual([2, 2]);
    // The rule: replicated on a majority, but of an older term: not committed.
    expect(c.node(S1).raw.raft.raftLog.committed).toBe(1);
    // (d) S1 is down again; S5 returns and wins term 4 with S2, S3, S4 (its
    // last term, 2, beats their 1) and overwrites index 2 everywhere.
    c.dropIf = undefined;
    c.node(S1).stopped = true;
    c.node(S5).stopped = false;
    c.restart(S5);
    c.partition([S1], [S2, S3, S4, S5]);
    // Term 3 is taken (S2, S3 voted for S1 in it): S5 needs a second round.
    for (let round = 0; round < 2 && c.role(S5) !== 'leader'; round++) {
      c.campaign(S5);
      c.stabilize();
    }
    expect(c.role(S5)).toBe('leader');
    expect(c.node(S5).raw.raft.term).toBe(4);
    c.propose(S5, 'e');
    c.stabilize();
    for (const id of [S2, S3, S4, S5]) expect(c.appliedData(id)).toEqual(['e']);
    expect(c.appliedGlobal.get(2)).toBe('2:normal:');
  });

  it('figure 8, direct: counting only matches at an old-term index never commits it', () => {
    // Goal: the pure rule with the message flow controlled by hand. Leader
    // of term 3 holds index 1 from term 1 and its own no-op at 2; an ack up
    // to 1 from a majority must not commit index 1; an ack up to 2 commits both.
    const storage = new MemoryStorage([A, B, C]);
    storage.append([{ term: 1, index: 1, type: 'normal', data: bytes('old') }]);
    storage.setHardState({ term: 2, vote: '', commit: 0 });
    const raw = new RawNode({ id: A, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(3), preVote: false });
    raw.campaign();
    const term = raw.raft.term;
    raw.step({ type: 'voteResp', from: B, to: A, term, reject: false });
    expect(raw.raft.role).toBe('leader');
    expect(raw.raft.raftLog.lastIndex()).toBe(2);
    raw.step({ type: 'appResp', from: B, to: A, term, index: 1, reject: false, rejectHint: 0, logTerm: 0 });
    raw.step({ type: 'appResp', from: C, to: A, term, index: 1, reject: false, rejectHint: 0, logTerm: 0 });
    expect(raw.raft.raftLog.committed).toBe(0);
    raw.step({ type: 'appResp', from: B, to: A, term, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    expect(raw.raft.raftLog.committed).toBe(2);
  });
});

describe('ReadIndex', () => {
  it('on the leader: answered after a heartbeat round, at the commit index', () => {
    // Goal: a read point is released only once a quorum confirmed leadership.
    const c = withLeader(3);
    c.propose(A, 'x');
    c.stabilize();
    const a = c.node(A);
    a.raw.readIndex('r1');
    c.processReady(a);
    expect(a.readStates).toEqual([]);
    c.stabilize();
    expect(a.readStates).toEqual([{ index: a.raw.raft.raftLog.committed, requestCtx: 'r1' }]);
  });

  it('on the leader: not answered without a quorum', () => {
    const c = withLeader(3);
    c.isolate(A);
    c.node(A).raw.readIndex('r1');
    c.processReady(c.node(A));
    c.stabilize();
    expect(c.node(A).readStates).toEqual([]);
  });

  it('on a new leader: waits for the first commit of its term', () => {
    // Goal: the commit index of a fresh leader may be stale until its no-op commits.
    const c = new Cluster(ids(3));
    const a = c.node(A);
    c.campaign(A);
    // Deliver only the votes, not the appends of the no-op.
    while (c.role(A) !== 'leader') c.deliverAt(0);
    a.raw.readIndex('early');
    c.processReady(a);
    expect(a.readStates).toEqual([]);
    c.stabilize();
    expect(a.readStates.map((r) => r.requestCtx)).toEqual(['early']);
    expect(a.readStates[0]!.index).toBe(1);
  });

  it('via a follower: forwarded to the leader and answered to the follower', () => {
    const c = withLeader(5);
    c.propose(A, 'x');
    c.propose(A, 'y');
    c.stabilize();
    const b = c.node(B);
    b.raw.readIndex('rb');
    c.processReady(b);
    c.stabilize();
    expect(b.readStates).toEqual([{ index: c.node(A).raw.raft.raftLog.committed, requestCtx: 'rb' }]);
  });
});

describe('snapshots and compaction', () => {
  it('a far-behind follower catches up by snapshot after the leader compacted', () => {
    // Goal: entries the follower needs are gone from the leader's log, so it gets a snapshot, then appends.
    const c = withLeader(3);
    c.isolate(C);
    for (let i = 0; i < 30; i++) c.propose(A, `v${i}`);
    c.stabilize();
    expect(c.compact(A, 5)).toBe(true);
    expect(c.node(A).storage.firstIndex()).toBeGreaterThan(2);
    c.heal();
    const sent: Message[] = [];
    c.runUntil(() => {
      sent.push(...c.queue);
      return c.node(C).raw.raft.raftLog.committed === c.node(A).raw.raft.raftLog.committed;
    }, 50);
    c.propose(A, 'after');
    c.stabilize();
    const node = c.node(C);
    expect(node.storage.snapshot().meta.index).toBeGreaterThan(25);
    expect(node.storage.snapshot().meta.voters).toEqual([A, B, C]);
    expect(c.appliedData(C)).toContain('after');
    expect(node.appliedIndex).toBe(c.node(A).appliedIndex);
    expect(c.node(A).raw.status().progress?.[C]?.state).toBe('replicate');
  });

  it('a lost snapshot is retried after reportSnapshot(failure)', () => {
    const c = withLeader(3);
    c.isolate(C);
    for (let i = 0; i < 10; i++) c.propose(A, `v${i}`);
    c.stabilize();
    c.compact(A, 0);
    c.heal();
    // Drop the first snapshot on the wire.
    let dropped = 0;
    c.dropIf = (m) => m.type === 'snap' && dropped++ === 0;
    c.runUntil(() => c.node(C).appliedIndex === c.node(A).appliedIndex, 50);
    expect(dropped).toBe(2);
  });

  it('storage compaction keeps terms and refuses compacted reads', () => {
    const s = new MemoryStorage([A]);
    const ents: Entry[] = [1, 2, 3, 4, 5].map((i) => ({ term: i < 3 ? 1 : 2, index: i, type: 'normal', data: bytes(`${i}`) }));
    s.append(ents);
    s.createSnapshot(3, [A], bytes('s'));
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.term(3)).toBe(2);
    expect(s.term(2)).toBe('compacted');
    expect(s.entries(3, 5, Infinity)).toBe('compacted');
    expect((s.entries(4, 6, Infinity) as Entry[]).map((e) => e.index)).toEqual([4, 5]);
    // A conflicting append truncates the suffix.
    s.append([{ term: 3, index: 5, type: 'normal', data: bytes('x') }]);
    expect(s.term(5)).toBe(3);
    expect(s.lastIndex()).toBe(5);
  });
});

describe('membership', () => {
  it('adds a member: it catches up and counts in the quorum', () => {
    // Goal: one voter added through a committed confChange entry.
    const c = withLeader(3);
    c.propose(A, 'before');
    c.stabilize();
    const res = c.node(A).raw.proposeConfChange({ type: 'addNode', id: D });
    expect(res.ok).toBe(true);
    // Only one change at a time.
    expect(c.node(A).raw.proposeConfChange({ type: 'addNode', id: E })).toEqual({ ok: false, code: 'ERR_CONF_CHANGE_PENDING' });
    c.processReady(c.node(A));
    c.addNode(D, [A, B, C, D]);
    c.stabilize();
    expect(c.node(A).raw.status().voters).toEqual([A, B, C, D]);
    c.propose(A, 'after');
    c.runUntil(() => c.appliedData(D).includes('after'), 20);
    expect(c.appliedData(D)).toEqual(['before', 'after']);
    // With four voters, two cannot commit.
    c.partition([A, B], [C, D]);
    c.propose(A, 'minority');
    c.stabilize();
    expect(c.appliedData(A)).not.toContain('minority');
    // And the next change is allowed now that the first is applied.
    c.heal();
    c.stabilize();
    expect(c.node(A).raw.proposeConfChange({ type: 'addNode', id: E }).ok).toBe(true);
  });

  it('removes a member: the rest commit without it', () => {
    const c = withLeader(3);
    c.node(A).raw.proposeConfChange({ type: 'removeNode', id: C });
    c.processReady(c.node(A));
    c.stabilize();
    expect(c.node(A).raw.status().voters).toEqual([A, B]);
    c.node(C).stopped = true;
    c.propose(A, 'two');
    c.stabilize();
    expect(c.appliedData(B)).toContain('two');
  });

  it('removing the leader: it steps down and the rest elect a new one', () => {
    const c = withLeader(3);
    c.node(A).raw.proposeConfChange({ type: 'removeNode', id: A });
    c.processReady(c.node(A));
    c.stabilize();
    expect(c.role(A)).toBe('follower');
    c.node(A).stopped = true;
    c.runUntil(() => c.leader() !== undefined, 100);
    const l = c.leader()!;
    expect(l.id).not.toBe(A);
    expect(l.raw.status().voters).toEqual([B, C]);
  });
});

describe('leader transfer', () => {
  it('hands leadership to an up-to-date follower at once', () => {
    // Goal: transferLeader → timeoutNow → the target campaigns without pre-vote and wins through the lease.
    const c = withLeader(3);
    const term = c.node(A).raw.raft.term;
    c.node(A).raw.transferLeader(B);
    c.processReady(c.node(A));
    c.stabilize();
    expect(c.role(B)).toBe('leader');
    expect(c.node(B).raw.raft.term).toBe(term + 1);
    expect(c.role(A)).toBe('follower');
  });

  it('brings a lagging target up to date first; proposals are dropped meanwhile', () => {
    const c = withLeader(3);
    c.isolate(C);
    for (let i = 0; i < 5; i++) c.propose(A, `v${i}`);
    c.stabilize();
    c.heal();
    c.node(A).raw.transferLeader(C);
    c.processReady(c.node(A));
    expect(c.node(A).raw.propose(bytes('during'))).toEqual({ ok: false, code: 'ERR_PROPOSAL_DROPPED' });
    c.runUntil(() => c.role(C) === 'leader', 30);
    expect(c.appliedData(C)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('a transfer requested on a follower is forwarded to the leader', () => {
    const c = withLeader(3);
    c.node(B).raw.transferLeader(B);
    c.processReady(c.node(B));
    c.stabilize();
    expect(c.role(B)).toBe('leader');
  });

  it('an unreachable target: the transfer aborts after an election timeout', () => {
    const c = withLeader(3);
    c.isolate(C);
    c.propose(A, 'x');
    c.stabilize();
    c.node(A).raw.transferLeader(C);
    c.processReady(c.node(A));
    expect(c.node(A).raw.status().leadTransferee).toBe(C);
    for (let i = 0; i < 10; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node(A).raw.status().leadTransferee).toBe('');
    expect(c.propose(A, 'y').ok).toBe(true);
  });
});

describe('restart', () => {
  it('a member restarted from its storage keeps term, vote and log and catches up', () => {
    // Goal: what the driver persists from each Ready is enough to restart.
    const c = withLeader(3);
    c.propose(A, 'x');
    c.stabilize();
    const before = c.node(B).raw.status();
    c.node(B).stopped = true;
    c.propose(A, 'y');
    c.stabilize();
    c.node(B).stopped = false;
    c.restart(B);
    const after = c.node(B).raw.status();
    expect([after.term, after.vote, after.commit, after.applied]).toEqual([before.term, before.vote, before.commit, before.applied]);
    c.runUntil(() => c.appliedData(B).includes('y'), 20);
    expect(c.appliedData(B)).toEqual(['x', 'y']);
  });

  it('a restarted leader comes back as a follower and the cluster keeps committing', () => {
    const c = withLeader(3);
    c.propose(A, 'x');
    c.stabilize();
    c.restart(A);
    expect(c.role(A)).toBe('follower');
    c.runUntil(() => c.leader() !== undefined, 100);
    c.propose(c.leader()!.id, 'z');
    c.stabilize();
    c.runUntil(() => c.appliedData(A).includes('z'), 20);
  });
});

describe('assertions', () => {
  it('crash with code RG_ERR_ASSERT on an invariant violation', () => {
    const raw = new RawNode({ id: A, storage: new MemoryStorage([A]), electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1) });
    let err: unknown;
    try {
      raw.raft.raftLog.commitTo(5);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('RG_ERR_ASSERT');
    expect(() => raw.readIndex('')).toThrow(/context/);
  });
});
