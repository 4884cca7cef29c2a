// A disk that takes seconds to fsync (seed 000, slide 19: 1.5 s on EBS, 6 s
// on spinning OpenStack volumes) slows the cluster but does not cost the
// leader its office. Once the cluster has formed (an election itself needs
// durable votes, so it must fit in the election timeout), every member's
// WAL fsync turns 5x slower than the election timeout (the walBeforeFsync
// failpoint); writes still complete, and the leader and the term do not
// change while they do.
// Needs dist/ (npm test builds first).

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type ClusterHandle } from '../helpers/cluster.js';
import { http } from '../helpers/http.js';

const ELECTION_MS = 500;
const FSYNC_MS = 5 * ELECTION_MS;
/** Each member's disk turns slow this long after it started: after the first election. */
const DISK_TURNS_SLOW_MS = 8000;
let c: ClusterHandle;

beforeAll(async () => {
  const started = Date.now();
  c = await startCluster({
    members: 3,
    heartbeatMs: 50,
    electionTimeoutMs: ELECTION_MS,
    env: { RAFTGATE_FAILPOINTS: `walBeforeFsync=sleep(${FSYNC_MS})`, RAFTGATE_FAILPOINTS_DELAY_MS: String(DISK_TURNS_SLOW_MS) },
  });
  // Let the disks turn slow under the elected leader: probe until a write
  // takes most of a slow fsync (bounded).
  const leader = await c.leader();
  for (let i = 0; i < 100; i++) {
    const t = Date.now();
    await http(leader.clientUrl, { method: 'PUT', path: '/v2/keys/slow/probe', form: [['value', String(i)]], timeoutMs: 20_000 });
    if (Date.now() - t >= FSYNC_MS / 2) break;
    if (Date.now() - started > DISK_TURNS_SLOW_MS + 20_000) throw new Error('the disks never turned slow');
    await new Promise((r) => setTimeout(r, 200));
  }
}, 90_000);

afterAll(async () => {
  await c?.destroy();
});

async function stat(url: string, name: string): Promise<number> {
  const r = await http(url, { method: 'GET', path: '/metrics' });
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(line.lastIndexOf(' ') + 1));
}

describe(`fsync taking ${FSYNC_MS} ms (5x the election timeout)`, () => {
  test('writes are slow but complete, and the leader keeps its office', async () => {
    const leader = await c.leader(30_000);
    const term = await stat(leader.clientUrl, 'raftgate_core_raft_term');
    const changes = await Promise.all(c.members.map((m) => stat(m.clientUrl, 'raftgate_core_leader_changes_total')));
    const t0 = Date.now();
    // Concurrent writers, as under load: they share the slow fsyncs.
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const out: number[] = [];
        for (let j = 0; j < 3; j++) {
          const r = await http(leader.clientUrl, { method: 'PUT', path: `/v2/keys/slow/w${i}`, form: [['value', String(j)]], timeoutMs: 20_000 });
          out.push(r.status);
        }
        return out;
      }),
    );
    const ms = Date.now() - t0;
    const statuses = results.flat();
    console.log(`slow-disk: ${statuses.length} writes in ${ms} ms with every fsync delayed ${FSYNC_MS} ms`);
    expect(statuses.every((s) => s === 200 || s === 201), JSON.stringify(statuses)).toBe(true);
    // Each round of writes waited for at least one slow fsync: the delay was real.
    expect(ms).toBeGreaterThanOrEqual(3 * FSYNC_MS);
    // No election happened: same leader, same term, no leader change anywhere.
    expect((await c.leader()).name).toBe(leader.name);
    expect(await stat(leader.clientUrl, 'raftgate_core_raft_term')).toBe(term);
    expect(await Promise.all(c.members.map((m) => stat(m.clientUrl, 'raftgate_core_leader_changes_total')))).toEqual(changes);
  }, 120_000);
});
