// A three-member Raftgate cluster of real processes, used the way an etcd
// user would: writes on any member, reads on any member, quorum reads,
// membership changes through /v2/members, and the refusals a misconfigured
// member must get. Needs dist/ (npm test builds first).

import { cpSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type ClusterHandle, type MemberHandle } from '../helpers/cluster.js';
import { http } from '../helpers/http.js';

let c: ClusterHandle;

interface MemberJson {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

async function members(m: MemberHandle): Promise<MemberJson[]> {
  const r = await http(m.clientUrl, { method: 'GET', path: '/v2/members' });
  expect(r.status).toBe(200);
  return (r.json as { members: MemberJson[] }).members;
}

async function until<T>(f: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  c = await startCluster({ members: 3 });
}, 60_000);

afterAll(async () => {
  await c?.destroy();
});

describe('a three-member cluster', () => {
  test('every member lists all three, with names and client URLs once published', async () => {
    for (const m of c.members) {
      const list = await until(async () => {
        const l = await members(m);
        return l.every((x) => x.name !== '' && x.clientURLs.length === 1) ? l : undefined;
      }, `${m.name} to list published members`);
      expect(list.map((x) => x.name).sort()).toEqual(['m1', 'm2', 'm3']);
      expect(list.map((x) => x.clientURLs[0]).sort()).toEqual(c.members.map((y) => y.clientUrl).sort());
      // etcd lists members sorted by id.
      expect(list.map((x) => x.id)).toEqual([...list.map((x) => x.id)].sort());
    }
  });

  test('a write on a follower reaches the leader; a quorum read anywhere sees it at once', async () => {
    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    const w = await http(follower.clientUrl, { method: 'PUT', path: '/v2/keys/fw', form: [['value', 'from-follower']] });
    expect(w.status, w.text).toBe(201);
    const idx = (w.json as { node: { modifiedIndex: number } }).node.modifiedIndex;
    // The follower answers only once it has applied the write itself: its own plain read sees it.
    const own = await http(follower.clientUrl, { method: 'GET', path: '/v2/keys/fw' });
    expect((own.json as { node: { value: string } }).node.value).toBe('from-follower');
    for (const m of c.members) {
      const r = await http(m.clientUrl, { method: 'GET', path: '/v2/keys/fw?quorum=true' });
      expect(r.status).toBe(200);
      expect((r.json as { node: { value: string; modifiedIndex: number } }).node).toMatchObject({ value: 'from-follower', modifiedIndex: idx });
      expect(Number(r.headers['x-etcd-index'])).toBeGreaterThanOrEqual(idx);
    }
  });

  test('an in-order POST through a follower creates exactly one key', async () => {
    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    const p = await http(follower.clientUrl, { method: 'POST', path: '/v2/keys/q', form: [['value', 'job']] });
    expect(p.status, p.text).toBe(201);
    const q = await http(leader.clientUrl, { method: 'GET', path: '/v2/keys/q?quorum=true&recursive=true' });
    expect((q.json as { node: { nodes: unknown[] } }).node.nodes).toHaveLength(1);
  });

  test('stats/self names the same leader on every member; stats/leader answers only on the leader', async () => {
    const leader = await c.leader();
    const ids = new Set<string>();
    for (const m of c.members) {
      const r = await http(m.clientUrl, { method: 'GET', path: '/v2/stats/self' });
      const s = r.json as { state: string; leaderInfo: { leader: string } };
      ids.add(s.leaderInfo.leader);
      expect(s.state).toBe(m === leader ? 'StateLeader' : 'StateFollower');
      const l = await http(m.clientUrl, { method: 'GET', path: '/v2/stats/leader' });
      expect(l.status).toBe(m === leader ? 200 : 403);
    }
    expect(ids.size).toBe(1);
  });

  test('POST /v2/members adds a member that joins with --initial-cluster-state existing and catches up', async () => {
    const before = await members(c.members[0]!);
    const bad = await http(c.members[0]!.clientUrl, {
      method: 'POST',
      path: '/v2/members',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerURLs: [before[0]!.peerURLs[0]] }),
    });
    expect(bad.status).toBe(409);
    expect(bad.json).toEqual({ message: 'membership: peerURL exists' });
    const noUrls = await http(c.members[0]!.clientUrl, { method: 'POST', path: '/v2/members', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noUrls.status).toBe(400);
    expect(noUrls.json).toEqual({ message: 'no valid URLs given' });

    const m4 = await c.addMember('m4');
    const got = await until(async () => {
      const r = await http(m4.clientUrl, { method: 'GET', path: '/v2/keys/fw' });
      return r.status === 200 ? r : undefined;
    }, 'the new member to catch up');
    expect((got.json as { node: { value: string } }).node.value).toBe('from-follower');
    const list = await until(async () => {
      const l = await members(c.members[0]!);
      return l.length === 4 && l.every((x) => x.name !== '') ? l : undefined;
    }, 'four published members');
    expect(list.map((x) => x.name).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
  }, 60_000);

  test('DELETE /v2/members/<id> removes a member: 204, it stops, and its id is gone for good', async () => {
    const m4 = c.members.find((m) => m.name === 'm4')!;
    const list = await members(c.members[0]!);
    const id = list.find((x) => x.name === 'm4')!.id;
    const r = await http(c.members[0]!.clientUrl, { method: 'DELETE', path: `/v2/members/${id}` });
    expect(r.status, r.text).toBe(204);
    await until(async () => (m4.alive() ? undefined : true), 'the removed member to exit');
    expect(m4.output()).toMatch(/removed from the cluster/);
    expect((await members(c.members[0]!)).map((x) => x.name).sort()).toEqual(['m1', 'm2', 'm3']);
    const again = await http(c.members[0]!.clientUrl, { method: 'DELETE', path: `/v2/members/${id}` });
    expect(again.status).toBe(410);
    const missing = await http(c.members[0]!.clientUrl, { method: 'DELETE', path: '/v2/members/1234' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ message: 'No such member: 1234' });
    c.members.splice(c.members.indexOf(m4), 1);
  }, 30_000);

  test('a data dir copied from another member is refused: the data dir owns its identity', async () => {
    const m2 = c.members.find((m) => m.name === 'm2')!;
    const m3 = c.members.find((m) => m.name === 'm3')!;
    await m2.stop();
    const saved = `${m2.dataDir}.saved`;
    cpSync(m2.dataDir, saved, { recursive: true });
    rmSync(m2.dataDir, { recursive: true, force: true });
    cpSync(m3.dataDir, m2.dataDir, { recursive: true }); // a "cloned machine"
    const p = m2.spawn();
    await until(async () => (p.alive() ? undefined : true), 'the cloned member to exit', 20_000);
    expect(p.output.text()).toMatch(/RG_ERR_MEMBER_MISMATCH.*copied from another member/);
    // m3 is untouched and the cluster still serves.
    expect((await http(m3.clientUrl, { method: 'GET', path: '/v2/keys/fw?quorum=true' })).status).toBe(200);
    // Put m2's own data back: it rejoins as itself.
    rmSync(m2.dataDir, { recursive: true, force: true });
    cpSync(saved, m2.dataDir, { recursive: true });
    rmSync(saved, { recursive: true, force: true });
    await m2.start();
    await until(async () => {
      const r = await http(m2.clientUrl, { method: 'GET', path: '/v2/keys/fw?quorum=true' });
      return r.status === 200 ? true : undefined;
    }, 'm2 to serve quorum reads again');
  }, 60_000);

  test('a member whose data dir belongs to another cluster is refused, naming both cluster ids', async () => {
    // m2 loses its data dir and is started as a new cluster of its own token:
    // same name and URLs, another cluster id. Its peers must refuse it.
    const m2 = c.members.find((m) => m.name === 'm2')!;
    await m2.stop();
    rmSync(m2.dataDir, { recursive: true, force: true });
    const p = m2.spawn([], { token: 'some-other-cluster' });
    await until(async () => (p.alive() ? undefined : true), 'the foreign member to exit', 20_000);
    const out = p.output.text();
    expect(out).toMatch(/RG_ERR_CLUSTER_MISMATCH/);
    expect(out).toMatch(/belongs to cluster [0-9a-f]+, but the data dir .* belongs to cluster [0-9a-f]+/);
    expect(p.child.exitCode).toBe(1);
  }, 60_000);
});
