// A member that was down while 10,000 writes happened comes back and
// catches up by snapshot (the leader compacted its log past it), with the
// same keys, values and indexes as the others; then the whole cluster is
// stopped and started again and has exactly the state it had.
// Needs dist/ (npm test builds first).

import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type ClusterHandle, type MemberHandle } from '../helpers/cluster.js';

const WRITES = 10_000;
const CONCURRENCY = 64;
const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 2000 });
let c: ClusterHandle;

beforeAll(async () => {
  // Snapshots every 1000 entries; the leader keeps 5000 after each, so a
  // member 10,000 behind can only be brought back by a snapshot.
  c = await startCluster({ members: 3, extraArgs: ['--snapshot-count', '1000'] });
}, 60_000);

afterAll(async () => {
  await c?.destroy();
  await agent.close();
});

async function get(m: MemberHandle, path: string): Promise<{ status: number; json: unknown; index: number }> {
  const res = await request(`${m.clientUrl}${path}`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as unknown, index: Number(res.headers['x-etcd-index']) };
}

/** Every key and its value and modifiedIndex below /bulk, as one member answers a plain (local) read. */
async function dump(m: MemberHandle): Promise<string> {
  const r = await get(m, '/v2/keys/bulk?recursive=true&sorted=true');
  expect(r.status).toBe(200);
  const nodes = (r.json as { node: { nodes?: { key: string; value: string; modifiedIndex: number }[] } }).node.nodes ?? [];
  return nodes.map((n) => `${n.key}=${n.value}@${n.modifiedIndex}`).join('\n');
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('catching up, and a whole-cluster restart', () => {
  test('a member down for 10,000 writes catches up by snapshot', async () => {
    const leader = await c.leader();
    const down = c.members.find((m) => m !== leader)!;
    await down.kill9();

    let next = 0;
    let failed = 0;
    const t0 = Date.now();
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= WRITES) return;
        const res = await request(`${leader.clientUrl}/v2/keys/bulk/k${String(i % 2000).padStart(4, '0')}`, {
          method: 'PUT',
          body: `value=v${i}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          dispatcher: agent,
        });
        await res.body.dump();
        if (res.statusCode !== 200 && res.statusCode !== 201) failed++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ms = Date.now() - t0;
    expect(failed).toBe(0);
    console.log(`cluster-catchup: ${WRITES} writes in ${ms} ms (${Math.round((WRITES * 1000) / ms)}/s) with ${down.name} down`);

    const want = await get(leader, '/v2/keys/bulk?quorum=true');
    await down.start();
    await until(async () => (await get(down, '/v2/keys/bulk?quorum=true')).status === 200 && (await get(down, '/v2/keys/bulk')).index >= want.index, `${down.name} to catch up to index ${want.index}`);
    expect(down.output()).toMatch(/installed snapshot from the leader/);
    expect(await dump(down)).toBe(await dump(leader));
  }, 120_000);

  test('stop every member, start them again: the same state', async () => {
    const before = new Map<string, string>();
    for (const m of c.members) before.set(m.name, await dump(m));
    const leader = await c.leader();
    const index = (await get(leader, '/v2/keys/bulk?quorum=true')).index;
    await Promise.all(c.members.map((m) => m.stop()));
    for (const m of c.members) expect(m.alive()).toBe(false);
    await Promise.all(c.members.map((m) => m.start()));
    await c.leader(20_000);
    for (const m of c.members) {
      await until(async () => (await get(m, '/v2/keys/bulk?quorum=true')).status === 200, `${m.name} to serve quorum reads`);
      expect(await dump(m)).toBe(before.get(m.name));
      expect((await get(m, '/v2/keys/bulk')).index).toBe(index);
    }
  }, 90_000);
});
