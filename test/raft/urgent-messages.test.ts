// takeUrgentMessages: what a driver may send while a slow fsync holds a Ready
// back. The point is that a leader whose disk stalls keeps its followers'
// election timers reset, without ever telling them to commit something the
// leader itself has not made durable.

import { describe, expect, it } from 'vitest';
import type { Message } from '../../core-server/raft/types.js';
import { Cluster, bytes, ids } from './network.js';

function electFirst(): { c: Cluster; leader: string; followers: string[] } {
  const members = ids(3);
  const c = new Cluster(members, { seed: 7 });
  c.campaign(members[0]!);
  c.stabilize();
  expect(c.role(members[0]!)).toBe('leader');
  return { c, leader: members[0]!, followers: members.slice(1) };
}

describe('RawNode.takeUrgentMessages', () => {
  it('hands out heartbeats during an outstanding Ready, with commit cut to that Ready', () => {
    const { c, leader, followers } = electFirst();
    const n = c.node(leader);
    // A proposal the leader is "still writing": its Ready is outstanding.
    n.raw.propose(bytes('slow'));
    const rd = n.raw.ready();
    const commitAtReady = rd.hardState?.commit ?? n.raw.raft.raftLog.committed;
    const appended = rd.entries[rd.entries.length - 1]!.index;
    // Followers get the append (sent in parallel with the write) and ack it.
    for (const m of rd.messages) c.queue.push(m);
    for (let i = 0; i < 50 && c.queue.length > 0; i++) {
      const m = c.queue.shift()!;
      if (m.to === leader) n.raw.step(m);
      else {
        c.node(m.to).raw.step(m);
        c.processReady(c.node(m.to));
      }
    }
    // Raft now counts the leader's unwritten entry in its quorum...
    expect(n.raw.raft.raftLog.committed).toBe(appended);
    // ...and the heartbeats it generates carry that commit.
    n.raw.tick(); // heartbeatTicks is 1: one round of heartbeats
    const urgent = n.raw.takeUrgentMessages();
    const beats = urgent.filter((m): m is Extract<Message, { type: 'heartbeat' }> => m.type === 'heartbeat');
    expect(beats.map((m) => m.to).sort()).toEqual([...followers].sort());
    // The urgent copies never tell a follower to commit past the outstanding Ready's commit.
    for (const m of beats) expect(m.commit).toBeLessThanOrEqual(commitAtReady);
    expect(commitAtReady).toBeLessThan(appended);
    // Nothing but heartbeats and their responses leaves early; they are gone from the next Ready.
    expect(urgent.every((m) => m.type === 'heartbeat' || m.type === 'heartbeatResp')).toBe(true);
    // The write finishes: persist as the driver would, then the next Ready.
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    n.raw.advance(rd);
    const next = n.raw.ready();
    expect(next.messages.some((m) => m.type === 'heartbeat')).toBe(false);
    n.raw.advance(next);
  });

  it('lets a follower answer heartbeats while its own write is outstanding', () => {
    const { c, leader, followers } = electFirst();
    const f = c.node(followers[0]!);
    // Deliver the append to the follower but keep its Ready (the write) outstanding.
    const lead = c.node(leader);
    lead.raw.propose(bytes('x'));
    const rdL = lead.raw.ready();
    lead.storage.append(rdL.entries);
    lead.raw.advance(rdL);
    const app = rdL.messages.find((m) => m.to === f.id && m.type === 'app');
    expect(app).toBeDefined();
    f.raw.step(app!);
    const rdF = f.raw.ready();
    f.raw.step({ type: 'heartbeat', from: leader, to: f.id, term: lead.raw.raft.term, commit: 0, context: '' });
    const urgent = f.raw.takeUrgentMessages();
    expect(urgent).toEqual([{ type: 'heartbeatResp', from: f.id, to: leader, term: lead.raw.raft.term, context: '' }]);
    // The append's acknowledgement is NOT urgent: it waits until the write is durable.
    expect(rdF.messages.some((m) => m.type === 'appResp')).toBe(true);
    f.storage.append(rdF.entries);
    if (rdF.hardState) f.storage.setHardState(rdF.hardState);
    f.raw.advance(rdF);
  });
});
