// A 3-member (or larger) cluster of Raftgate core members or real etcd 3.4
// members on 127.0.0.1, started with the same etcd flags for both, for the
// benchmarks: who leads, kill -9 a member, restart it on its data.

import { loopbackInitialCluster } from '../../config/member-flags.js';
import { allocateMemberPorts, spawnMember, waitHealthy, type MemberPorts, type MemberSpec, type ServerHandle, type ServerKind } from './procs.js';

export interface BenchCluster {
  readonly kind: ServerKind;
  /** The current process of each member; restart() replaces an entry. */
  readonly members: ServerHandle[];
  /** `name=peerURL,...` as passed to --initial-cluster. */
  readonly initialCluster: string;
  /** Spawn to every member healthy, ms. */
  readonly readyMs: number;
  /** The member every live member names as leader (polls, bounded). */
  leader(timeoutMs?: number): Promise<ServerHandle>;
  /** Starts member i again on its ports and data dir (after kill9) and waits until it is healthy. */
  restart(i: number, timeoutMs?: number): Promise<void>;
  /** Stops every member and removes every data dir. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  size?: number;
  /** Flags for every member, e.g. the heartbeat and election timeout. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

interface StatsSelf {
  leaderInfo?: { leader?: string };
}
interface MembersList {
  members?: { id?: string; name?: string }[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** Spawns every member before waiting for any (a member alone has no quorum), then waits until all are healthy. */
export async function startCluster(kind: ServerKind, opts: ClusterOptions = {}): Promise<BenchCluster> {
  const size = opts.size ?? 3;
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const ports: MemberPorts[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < size; i++) ports.push(await allocateMemberPorts(taken));
  const initialCluster = loopbackInitialCluster(names.map((name, i) => ({ name, peerPort: ports[i]?.peer ?? 0 })));
  const clusterToken = `bench-${kind}-${process.pid}-${Date.now()}`;
  const specs: MemberSpec[] = names.map((name, i) => ({
    kind,
    name,
    ports: ports[i] as MemberPorts,
    initialCluster,
    clusterToken,
    extraArgs: opts.extraArgs ?? [],
  }));
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const started = Date.now();
  const members = specs.map((s) => spawnMember(s));

  const cluster: BenchCluster = {
    kind,
    members,
    initialCluster,
    readyMs: Number.NaN,
    async leader(waitMs = 20_000) {
      const deadline = Date.now() + waitMs;
      let last = '';
      while (Date.now() < deadline) {
        const live = members.filter((m) => !m.exited());
        try {
          const ids = await Promise.all(live.map(async (m) => (await getJson<StatsSelf>(`${m.clientUrl}/v2/stats/self`)).leaderInfo?.leader ?? ''));
          const id = ids[0] ?? '';
          if (id !== '' && id !== '0' && ids.every((x) => x === id)) {
            const list = await getJson<MembersList>(`${live[0]?.clientUrl ?? ''}/v2/members`);
            const name = list.members?.find((x) => x.id === id)?.name;
            const lead = live.find((m) => m.name === name);
            if (lead !== undefined) return lead;
            last = `leader id ${id} (${name ?? 'unknown name'}) is not a live member`;
          } else {
            last = `leaders named: ${ids.join(', ')}`;
          }
        } catch (err) {
          last = (err as Error).message;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${kind}: no leader agreed on within ${waitMs} ms (${last})`);
    },
    async restart(i, waitMs = timeoutMs) {
      const old = members[i];
      const spec = specs[i];
      if (old === undefined || spec === undefined) throw new RangeError(`restart: no member ${i}`);
      if (!old.exited()) throw new Error(`restart: ${old.label} is still running`);
      const h = spawnMember(spec, { rootDir: old.rootDir });
      members[i] = h;
      await waitHealthy(h, waitMs);
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop({ graceMs: 5000 })));
    },
  };
  try {
    await Promise.all(members.map((m) => waitHealthy(m, timeoutMs)));
    await cluster.leader();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return { ...cluster, readyMs: Date.now() - started };
}
