// Start a Raftgate cluster of real `raftgate core` processes on free loopback
// ports, as an operator would; kill, freeze, restart and add members. The
// package must have been built (`npm test` builds first).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, waitForOk } from './http.js';
import { freePorts, releasePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { assertBuilt, raftgateBin, repoRoot } from './raftgate.js';
import { loopbackInitialCluster, loopbackMemberFlags, loopbackUrl } from '../../config/member-flags.js';

export interface ClusterOptions {
  members?: number;
  /** Extra flags for every member (e.g. --snapshot-count 100). */
  extraArgs?: readonly string[];
  /** Defaults suited to tests: 50 ms heartbeats, 500 ms election timeout. */
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  env?: Readonly<Record<string, string>>;
  startTimeoutMs?: number;
  token?: string;
}

export interface MemberHandle {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly nativeUrl: string;
  readonly dataDir: string;
  readonly pid: number;
  alive(): boolean;
  describe(): string;
  /** Output (stdout + stderr tail) of the current process. */
  output(): string;
  kill9(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  freeze(): void;
  thaw(): void;
  /** Starts the member again on its ports and data dir (after kill9/stop). */
  start(extraArgs?: readonly string[]): Promise<void>;
  /** Spawns without waiting for it to be ready (for tests that expect a refusal); `token` overrides the cluster token. */
  spawn(extraArgs?: readonly string[], over?: { token?: string }): ManagedProcess;
}

export interface ClusterHandle {
  readonly members: MemberHandle[];
  readonly initialCluster: string;
  readonly token: string;
  /** The member every live member agrees leads (polls, bounded). */
  leader(timeoutMs?: number): Promise<MemberHandle>;
  /** A new member added with POST /v2/members and started with --initial-cluster-state existing. */
  addMember(name: string): Promise<MemberHandle>;
  /** Kill every process, remove every data dir, release ports. */
  destroy(): Promise<void>;
}

interface Ports {
  client: number;
  peer: number;
  native: number;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<ClusterHandle> {
  assertBuilt();
  const n = opts.members ?? 3;
  const token = opts.token ?? `test-${process.pid}-${Date.now()}`;
  const parent = mkdtempSync(join(tmpdir(), 'raftgate-cluster-'));
  const ports: Ports[] = [];
  const allPorts: number[] = [];
  for (let i = 0; i < n; i++) {
    const [client, peer, native] = (await freePorts(3)) as [number, number, number];
    ports.push({ client, peer, native });
    allPorts.push(client, peer, native);
  }
  const names = Array.from({ length: n }, (_, i) => `m${i + 1}`);
  /** Grows as addMember adds members: each is started with every member known so far. */
  const peers = names.map((name, i) => ({ name, peerPort: ports[i]!.peer }));
  const timing = ['--heartbeat-interval', String(opts.heartbeatMs ?? 50), '--election-timeout', String(opts.electionTimeoutMs ?? 500)];
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  const env = { ...process.env, ...opts.env };

  const makeMember = (name: string, p: Ports, state: 'new' | 'existing'): MemberHandle => {
    const clientUrl = loopbackUrl(p.client);
    const peerUrl = loopbackUrl(p.peer);
    const nativeUrl = loopbackUrl(p.native);
    const dataDir = join(parent, name);
    let proc: ManagedProcess | null = null;
    const args = (extra: readonly string[], over: { token?: string } = {}) => [
      raftgateBin, 'core',
      ...loopbackMemberFlags({ name, dataDir, clientPort: p.client, peerPort: p.peer, nativePort: p.native, initialCluster: loopbackInitialCluster(peers) }),
      '--initial-cluster-state', state,
      '--initial-cluster-token', over.token ?? token,
      ...timing,
      ...(opts.extraArgs ?? []),
      ...extra,
    ];
    const m: MemberHandle = {
      name,
      clientUrl,
      peerUrl,
      nativeUrl,
      dataDir,
      get pid() {
        return proc?.pid ?? -1;
      },
      alive: () => proc?.alive() ?? false,
      describe: () => proc?.describe() ?? `${name}: not started`,
      output: () => proc?.output.text() ?? '',
      kill9: async () => {
        await proc?.kill9();
      },
      stop: async () => {
        await proc?.stop();
      },
      freeze: () => proc?.signal('SIGSTOP'),
      thaw: () => proc?.signal('SIGCONT'),
      spawn: (extra = [], over = {}) => {
        proc = spawnManaged(process.execPath, args(extra, over), { cwd: repoRoot, env });
        return proc;
      },
      start: async (extra = []) => {
        const p2 = m.spawn(extra);
        // /version answers as soon as the API listens; the cluster may still be electing.
        await waitForOk(clientUrl, '/version', { timeoutMs, isAlive: p2.alive, describe: p2.describe });
      },
    };
    return m;
  };

  const members = names.map((name, i) => makeMember(name, ports[i]!, 'new'));
  const cluster: ClusterHandle = {
    members,
    get initialCluster() {
      return loopbackInitialCluster(peers);
    },
    token,
    async leader(waitMs = 10_000) {
      const deadline = Date.now() + waitMs;
      let last = '';
      while (Date.now() < deadline) {
        const seen = new Map<string, number>();
        const live = members.filter((m) => m.alive());
        for (const m of live) {
          try {
            const r = await http(m.clientUrl, { method: 'GET', path: '/v2/stats/self', timeoutMs: 500 });
            const lead = (r.json as { leaderInfo?: { leader?: string } }).leaderInfo?.leader;
            if (lead !== undefined && lead !== '0' && lead !== '') seen.set(lead, (seen.get(lead) ?? 0) + 1);
          } catch (err) {
            last = String(err);
          }
        }
        for (const [id, count] of seen) {
          if (count !== live.length) continue;
          const r = await http(live[0]!.clientUrl, { method: 'GET', path: '/v2/members', timeoutMs: 500 }).catch(() => null);
          const info = (r?.json as { members?: { id: string; name: string }[] } | undefined)?.members?.find((x) => x.id === id);
          const leader = members.find((m) => m.name === info?.name);
          if (leader !== undefined && leader.alive()) return leader;
        }
        last = `leaders seen: ${JSON.stringify([...seen])}`;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no leader agreed on within ${waitMs} ms (${last})\n${members.map((m) => m.describe()).join('\n')}`);
    },
    async addMember(name) {
      const [client, peer, native] = (await freePorts(3)) as [number, number, number];
      allPorts.push(client, peer, native);
      const p: Ports = { client, peer, native };
      const peerUrl = loopbackUrl(peer);
      const lead = await cluster.leader();
      const res = await http(lead.clientUrl, {
        method: 'POST',
        path: '/v2/members',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ peerURLs: [peerUrl] }),
        timeoutMs: 10_000,
      });
      if (res.status !== 201) throw new Error(`POST /v2/members answered ${res.status}: ${res.text}`);
      peers.push({ name, peerPort: peer });
      const m = makeMember(name, p, 'existing');
      members.push(m);
      await m.start();
      return m;
    },
    async destroy() {
      await Promise.all(members.map((m) => (m.alive() ? (m.thaw(), m.kill9()) : Promise.resolve())));
      rmSync(parent, { recursive: true, force: true });
      for (const port of allPorts) releasePort(port);
    },
  };

  try {
    await Promise.all(members.map((m) => m.start()));
    await cluster.leader(timeoutMs);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
