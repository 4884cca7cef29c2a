// The operator commands against a real cluster and a proxy: `raftgate
// status` (table and -w json), `raftgate snapshot save` from a member, and
// `raftgate snapshot restore` into a new cluster that serves the saved data
// — while a damaged snapshot file is refused without touching the data dir.
// Needs dist/ (npm test builds first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type ClusterHandle } from '../helpers/cluster.js';
import { http, waitForOk } from '../helpers/http.js';
import { freePorts, releasePort } from '../helpers/ports.js';
import { spawnManaged, type ManagedProcess } from '../helpers/process.js';
import { startRaftgateProxy, until, type ProxyHandle } from '../helpers/proxy.js';
import { raftgateBin, repoRoot } from '../helpers/raftgate.js';
import type { ProxyStatus } from '../../proxy/status.js';

let c: ClusterHandle;
let proxy: ProxyHandle;
const work = mkdtempSync(join(tmpdir(), 'raftgate-ops-'));
const restored: ManagedProcess[] = [];
const ports: number[] = [];

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [raftgateBin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  c = await startCluster({ members: 3 });
  for (let i = 0; i < 50; i++) {
    const r = await http(c.members[0]!.clientUrl, { method: 'PUT', path: `/v2/keys/ops/k${i}`, form: [['value', `v${i}`]] });
    expect(r.status).toBe(201);
  }
  proxy = await startRaftgateProxy({ endpoints: c.members.map((m) => m.clientUrl) });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all(restored.map((p) => p.kill9()));
  await c?.destroy();
  for (const p of ports) releasePort(p);
  rmSync(work, { recursive: true, force: true });
});

describe('raftgate status', () => {
  test('a row per member and per proxy, with one leader; the proxy row says which leader the proxy sees; -w json has the same facts', async () => {
    const leader = await c.leader();
    // The proxy learns the leader and the members' names from its health checks.
    const proxyStatus = async () => (await http(proxy.url, { method: 'GET', path: '/raftgate/v1/status' })).json as ProxyStatus;
    await until(async () => (await proxyStatus()).members.some((m) => m.leader && m.name === leader.name), 10_000, 'the proxy sees the leader by name');
    const endpoints = [...c.members.map((m) => m.clientUrl), proxy.url].join(',');
    const t = cli(['status', '--endpoints', endpoints]);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    const lines = t.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ENDPOINT\s+KIND\s+ID\s+NAME\s+LEADER\s+TERM\s+COMMIT\s+APPLIED/);
    expect(lines.filter((l) => / core /.test(l))).toHaveLength(3);
    expect(lines.filter((l) => /yes \(this one\)/.test(l))).toHaveLength(1);
    const proxyLine = lines.find((l) => l.startsWith(proxy.url));
    expect(proxyLine).toMatch(/proxy readwrite .* ms \(bound 1000 ms\)/);
    expect(proxyLine).toMatch(new RegExp(`sees leader ${leader.name}, 3/3 members up$`));

    const j = cli(['status', '--endpoints', endpoints, '-w', 'json']);
    expect(j.code).toBe(0);
    const rows = JSON.parse(j.stdout) as ({ kind: 'core'; id: string; name: string; isLeader: boolean; raftTerm: number; clientURL?: never } | ProxyStatus)[];
    const cores = rows.flatMap((r) => (r.kind === 'core' ? [r] : []));
    expect(cores.filter((r) => r.isLeader).map((r) => r.name)).toEqual([leader.name]);
    expect(new Set(cores.map((r) => r.raftTerm)).size).toBe(1);
    const p = rows.find((r): r is ProxyStatus => r.kind === 'proxy')!;
    expect(p.viewIndex).toBeGreaterThanOrEqual(50);
    expect(p).toMatchObject({ mode: 'readwrite', upstreamWatchStreams: 1, upstreamMembersUp: 3, upstreamLagEvents: 0 });
    // The proxy's members are the cluster's, by id and client URL, and it names the same leader.
    expect(p.members.map((m) => m.id).sort()).toEqual(cores.map((r) => r.id).sort());
    expect(p.members.map((m) => m.clientURL).sort()).toEqual(c.members.map((m) => m.clientUrl).sort());
    expect(p.members.filter((m) => m.leader).map((m) => m.id)).toEqual(cores.filter((r) => r.isLeader).map((r) => r.id));
  });

  test('an unreachable endpoint: exit 1, and the row says what to check', async () => {
    const [dead] = await freePorts(1);
    ports.push(dead!);
    const t = cli(['status', '--endpoints', `${c.members[0]!.clientUrl},http://127.0.0.1:${dead}`]);
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/unreachable \(ECONNREFUSED\); is a member or proxy running there\?/);
    expect(cli(['status', '--endpoints', 'not a url']).code).toBe(2);
  });
});

describe('raftgate snapshot', () => {
  const file = join(work, 'backup.snap');

  test('save writes a checked snapshot; restore refuses a damaged copy and an occupied data dir', async () => {
    const s = cli(['snapshot', 'save', file, '--endpoints', c.members.map((m) => m.clientUrl).join(',')]);
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/saved snapshot at index \d+ \(term \d+\), \d+ bytes, checksum ok/);
    expect(s.stderr).toMatch(/downloading from .*100%/);
    expect(cli(['snapshot', 'save', file]).stderr).toMatch(/exists; choose a new file name/);

    const bad = join(work, 'damaged.snap');
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(bad, bytes);
    const dir = join(work, 'never');
    const r = cli(['snapshot', 'restore', bad, '--data-dir', dir, '--name', 'x', '--initial-cluster', 'x=http://127.0.0.1:1', '--initial-advertise-peer-urls', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RG_ERR_SNAP_CORRUPT: .*damaged: payload checksum mismatch at byte offset 40; nothing was restored/);
    expect(existsSync(join(dir, 'member', 'wal'))).toBe(false);

    const occupied = cli(['snapshot', 'restore', file, '--data-dir', c.members[0]!.dataDir, '--name', 'x', '--initial-cluster', 'x=http://127.0.0.1:1', '--initial-advertise-peer-urls', 'http://127.0.0.1:1']);
    expect(occupied.code).toBe(2);
    expect(occupied.stderr).toMatch(/already holds a member's data/);
  }, 60_000);

  test('restore makes a new two-member cluster that serves the saved keys', async () => {
    const [c1, p1, n1, c2, p2, n2] = (await freePorts(6)) as [number, number, number, number, number, number];
    ports.push(c1, p1, n1, c2, p2, n2);
    const cluster = `r1=http://127.0.0.1:${p1},r2=http://127.0.0.1:${p2}`;
    const members = [
      { name: 'r1', client: c1, peer: p1, native: n1 },
      { name: 'r2', client: c2, peer: p2, native: n2 },
    ];
    for (const m of members) {
      const args = ['--data-dir', join(work, m.name), '--name', m.name, '--initial-cluster', cluster, '--initial-cluster-token', 'restored', '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`];
      const r = cli(['snapshot', 'restore', file, ...args]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`member ${m.name} \\([0-9a-f]+\\) of a new cluster [0-9a-f]+ with 2 member\\(s\\): r1, r2`));
      const p = spawnManaged(
        process.execPath,
        [raftgateBin, 'core', ...args, '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--listen-native-urls', `http://127.0.0.1:${m.native}`, '--heartbeat-interval', '50', '--election-timeout', '500'],
        { cwd: repoRoot },
      );
      restored.push(p);
    }
    for (const m of members) await waitForOk(`http://127.0.0.1:${m.client}`, '/health', { timeoutMs: 20_000 });
    const got = await http(`http://127.0.0.1:${c2}`, { method: 'GET', path: '/v2/keys/ops/k42?quorum=true' });
    expect((got.json as { node: { value: string } }).node.value).toBe('v42');
    const list = await http(`http://127.0.0.1:${c1}`, { method: 'GET', path: '/v2/members' });
    expect((list.json as { members: { name: string }[] }).members.map((m) => m.name).sort()).toEqual(['r1', 'r2']);
    // And it takes writes: the restored cluster is live, not a copy on the shelf.
    expect((await http(`http://127.0.0.1:${c1}`, { method: 'PUT', path: '/v2/keys/ops/after', form: [['value', 'x']] })).status).toBe(201);
  }, 60_000);
});
