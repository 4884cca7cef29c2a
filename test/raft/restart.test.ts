// Restarting from durable state that a crash left in an awkward but valid
// shape. Each case is a state the deterministic simulator (test/sim/) reached.

import { describe, expect, it } from 'vitest';
import { RawNode } from '../../core-server/raft/raw-node.js';
import { Mulberry32 } from '../../core-server/raft/rng.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import type { Entry } from '../../core-server/raft/types.js';
import { Cluster, bytes, ids } from './network.js';

function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: 'normal', data: bytes(data) };
}

describe('restart from durable state', () => {
  // Found by test/sim seed 25 (3 members): a member snapshots at its applied
  // index 118; the snapshot file is fsynced on its own, while the hard state
  // carrying commit >= 118 was written without fsync (commit-only). A crash
  // keeps the snapshot and loses that hard state: durable commit 83 < 118.
  it('starts at the snapshot index when the durable commit trails the snapshot', () => {
    const [a, b, c] = ids(3) as [string, string, string];
    const storage = new MemoryStorage([a, b, c]);
    storage.applySnapshot({ meta: { index: 10, term: 2, voters: [a, b, c] }, data: bytes('image@10') });
    storage.append([entry(11, 2), entry(12, 2)]);
    storage.setHardState({ term: 2, vote: b, commit: 5 });
    const raw = new RawNode({ id: a, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1) });
    const st = raw.status();
    expect(st.commit).toBe(10);
    expect(st.applied).toBe(10);
    // Term and vote come from the hard state: they were fsynced before anything depended on them.
    expect(st.term).toBe(2);
    expect(st.vote).toBe(b);
    // Nothing below the snapshot is handed out to apply again.
    const rd = raw.hasReady() ? raw.ready() : undefined;
    expect(rd?.committedEntries ?? []).toEqual([]);
  });

  it('still refuses a hard state whose commit is beyond the durable log', () => {
    const [a, b, c] = ids(3) as [string, string, string];
    const storage = new MemoryStorage([a, b, c]);
    storage.append([entry(1, 1), entry(2, 1)]);
    storage.setHardState({ term: 1, vote: '', commit: 3 });
    expect(() => new RawNode({ id: a, storage, electionTicks: 10, heartbeatTicks: 1, rng: new Mulberry32(1) })).toThrow(/commit 3/);
  });

  it('a member restarted that way rejoins and converges', () => {
    const members = ids(3);
    const c = new Cluster(members, { seed: 3 });
    const [a] = members as [string];
    c.campaign(a);
    c.stabilize();
    for (let i = 0; i < 12; i++) c.propose(a, `v${i}`);
    c.stabilize();
    const follower = c.node(members[2]!);
    // Snapshot at the applied index, then "lose" the newer commit on disk.
    expect(c.compact(follower.id)).toBe(true);
    const snapIndex = follower.storage.snapshot().meta.index;
    const hs = follower.storage.initialState().hardState;
    follower.storage.setHardState({ ...hs, commit: snapIndex - 4 });
    c.restart(follower.id);
    expect(follower.raw.status().commit).toBeGreaterThanOrEqual(snapIndex);
    c.propose(a, 'after');
    c.stabilize();
    expect(c.appliedData(follower.id)).toEqual(c.appliedData(a));
    c.checkLogs();
  });
});
