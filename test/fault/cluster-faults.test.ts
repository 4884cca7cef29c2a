// Correctness under faults, measured: a three-member cluster of real
// processes under 20 concurrent clients doing set / compare-and-swap /
// quorum get, while the leader is killed with SIGKILL again and again, a
// random member is killed, and one is frozen with SIGSTOP. Then:
//   - the recorded history is checked for linearizability (test/linearizability);
//   - after every leader kill, a new leader served a write within 2x the
//     election timeout;
//   - watchers (recursive stream watches that move to another member when
//     theirs dies, resuming at waitIndex = last seen + 1, as a client does)
//     saw every event exactly once, in index order, and agree with each other.
// Needs dist/ (npm test builds first).

import { request, Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCluster, type ClusterHandle, type MemberHandle } from '../helpers/cluster.js';
import { History, checkHistory, formatResult, outputFromV2, v2 } from '../linearizability/index.js';
import { Mulberry32 } from '../../core-server/raft/rng.js';

const ELECTION_MS = 500;
const CLIENTS = 20;
const KEYS = ['/lin/a', '/lin/b', '/lin/c', '/lin/d', '/lin/e', '/lin/f'];
const LEADER_KILLS = 10;
const REQUEST_MS = 2000;

const seed = Number(process.env.RAFTGATE_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rng = new Mulberry32(seed);
const agent = new Agent({ keepAliveTimeout: 500, connections: 64, connect: { timeout: 1000 } });

let c: ClusterHandle;

beforeAll(async () => {
  console.log(`cluster-faults: seed ${seed} (rerun with RAFTGATE_FAULT_SEED=${seed})`);
  c = await startCluster({ members: 3, heartbeatMs: 50, electionTimeoutMs: ELECTION_MS });
}, 60_000);

afterAll(async () => {
  await c?.destroy();
  await agent.close();
});

interface Answer {
  status: number;
  json: unknown;
  etcdIndex: string | undefined;
}

async function call(m: MemberHandle, method: string, path: string, form?: Record<string, string>, timeoutMs = REQUEST_MS): Promise<Answer> {
  const body = form === undefined ? undefined : new URLSearchParams(form).toString();
  const res = await request(`${m.clientUrl}${path}`, {
    method: method as 'GET',
    body,
    headers: form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
    dispatcher: agent,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const h = res.headers['x-etcd-index'];
  return { status: res.statusCode, json, etcdIndex: Array.isArray(h) ? h[0] : h };
}

/** A definite answer the model can check: success, or an etcd error that proves the write did not apply. */
function definite(a: Answer): boolean {
  if (a.status === 200 || a.status === 201) return true;
  const code = (a.json as { errorCode?: number } | undefined)?.errorCode;
  return code === 100 || code === 101 || code === 105;
}

function pick<T>(xs: readonly T[]): T {
  return xs[rng.nextInt(xs.length)]!;
}

describe('a three-member cluster under kill -9, SIGSTOP and 20 clients', () => {
  test('stays linearizable, fails over within 2x the election timeout, and watchers miss nothing', async () => {
    const history = new History();
    let stop = false;
    let seq = 0;
    const counts = { ok: 0, definiteErrors: 0, unknown: 0 };
    const causes = new Map<string, number>();
    /** Ops whose connection was refused: no byte was sent, so they cannot have applied. */
    const neverSent = new Set<number>();

    const client = async (id: number): Promise<void> => {
      const lastSeen = new Map<string, string>();
      while (!stop) {
        const live = c.members.filter((m) => m.alive());
        if (live.length === 0) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const m = pick(live);
        const key = pick(KEYS);
        const roll = rng.nextInt(10);
        let input;
        let method: string;
        let path: string;
        let form: Record<string, string> | undefined;
        if (roll < 4) {
          const value = `c${id}-${++seq}`;
          input = v2.set(key, value);
          method = 'PUT';
          path = `/v2/keys${key}`;
          form = { value };
        } else if (roll < 7) {
          const value = `c${id}-${++seq}`;
          const prev = lastSeen.get(key) ?? 'none';
          input = v2.cas(key, value, { prevValue: prev });
          method = 'PUT';
          path = `/v2/keys${key}?prevValue=${encodeURIComponent(prev)}`;
          form = { value };
        } else {
          input = v2.get(key);
          method = 'GET';
          path = `/v2/keys${key}?quorum=true`;
        }
        const op = history.invoke(id, input);
        try {
          const a = await call(m, method, path, form);
          if (definite(a)) {
            op.ok(outputFromV2(a.json, a.etcdIndex));
            const node = (a.json as { node?: { value?: string } }).node;
            if (node?.value !== undefined) lastSeen.set(key, node.value);
            if (a.status < 300) counts.ok++;
            else counts.definiteErrors++;
          } else {
            op.unknown();
            counts.unknown++;
            const k = `http ${a.status} ${(a.json as { errorCode?: number } | undefined)?.errorCode ?? ''}`;
            causes.set(k, (causes.get(k) ?? 0) + 1);
          }
        } catch (err) {
          op.unknown();
          counts.unknown++;
          const code = (err as { code?: string; name?: string }).code ?? (err as Error).name;
          if (code === 'ECONNREFUSED') neverSent.add(op.id);
          causes.set(code, (causes.get(code) ?? 0) + 1);
        }
      }
    };

    // Watchers: a recursive stream watch of the whole keyspace that resumes
    // on another member at last+1 when its member dies or freezes.
    interface Seen {
      index: number;
      sig: string;
    }
    const watchers: { seen: Seen[]; errors: string[]; reconnects: number }[] = [];
    let watchStop = false;
    const watcher = async (w: (typeof watchers)[number], first: number): Promise<void> => {
      let next = 1;
      let turn = first;
      while (!watchStop) {
        const live = c.members.filter((m) => m.alive());
        const m = live[turn++ % Math.max(1, live.length)];
        if (m === undefined) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        try {
          const res = await request(`${m.clientUrl}/v2/keys/?recursive=true&wait=true&stream=true&waitIndex=${next}`, {
            dispatcher: agent,
            headersTimeout: REQUEST_MS,
            bodyTimeout: REQUEST_MS,
          });
          if (res.statusCode !== 200) {
            const text = await res.body.text();
            w.errors.push(`${m.name}: ${res.statusCode} ${text}`);
            if ((JSON.parse(text) as { errorCode?: number }).errorCode === 401) return;
            continue;
          }
          let buf = '';
          for await (const chunk of res.body) {
            buf += (chunk as Buffer).toString('utf8');
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim() === '') continue;
              const e = JSON.parse(line) as { action: string; node: { key: string; value?: string; modifiedIndex: number } };
              w.seen.push({ index: e.node.modifiedIndex, sig: `${e.action} ${e.node.key}=${e.node.value ?? ''}` });
              next = e.node.modifiedIndex + 1;
            }
            if (watchStop) break;
          }
        } catch {
          // member died or froze: resume elsewhere
        }
        w.reconnects++;
      }
    };

    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i + 1));
    for (let i = 0; i < 3; i++) watchers.push({ seen: [], errors: [], reconnects: 0 });
    const watching = watchers.map((w, i) => watcher(w, i));

    // The fault schedule.
    const failoversMs: number[] = [];
    let followerKills = 0;
    let freezes = 0;
    const probe = async (exclude: MemberHandle): Promise<number> => {
      const t0 = Date.now();
      for (let i = 0; Date.now() - t0 < 10_000; i++) {
        const live = c.members.filter((m) => m.alive() && m !== exclude);
        try {
          const a = await call(pick(live), 'PUT', '/v2/keys/probe', { value: String(i) }, 300);
          if (a.status === 200 || a.status === 201) return Date.now() - t0;
        } catch {
          // not yet
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no write succeeded within 10 s of the leader kill');
    };
    for (let round = 0; round < LEADER_KILLS; round++) {
      await new Promise((r) => setTimeout(r, 700));
      const leader = await c.leader(15_000);
      await leader.kill9();
      failoversMs.push(await probe(leader));
      await leader.start();
      if (round % 3 === 1) {
        // A random member, killed and brought back.
        await new Promise((r) => setTimeout(r, 300));
        const victim = pick(c.members);
        await victim.kill9();
        followerKills++;
        await new Promise((r) => setTimeout(r, 400));
        await victim.start();
      }
      if (round % 4 === 2) {
        // A frozen member: no crash, just silence, then it wakes up.
        const frozen = pick(c.members);
        frozen.freeze();
        freezes++;
        await new Promise((r) => setTimeout(r, 1200));
        frozen.thaw();
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(clients);

    // The final index, then let the watchers catch up to it.
    const leader = await c.leader(15_000);
    const fin = await call(leader, 'GET', '/v2/keys/lin/a?quorum=true');
    const finalIndex = Number(fin.etcdIndex);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && watchers.some((w) => (w.seen[w.seen.length - 1]?.index ?? 0) < finalIndex)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    watchStop = true;
    // Nudge long polls so the watcher loops notice `stop`.
    await call(leader, 'PUT', '/v2/keys/zz-end', { value: 'x' });
    await Promise.all(watching);

    const records = history.records().filter((r) => !neverSent.has(r.id));
    console.log(`cluster-faults: unknown outcomes by cause ${JSON.stringify([...causes])}`);
    const result = checkHistory(records);
    console.log(
      `cluster-faults: seed ${seed}: ${records.length} ops (${counts.ok} ok, ${counts.definiteErrors} definite errors, ${counts.unknown} unknown) from ${CLIENTS} clients; ` +
        `${LEADER_KILLS} leader kills, ${followerKills} random kills, ${freezes} freezes; failover ms ${JSON.stringify(failoversMs)}; ` +
        `final index ${finalIndex}; watchers saw ${watchers.map((w) => w.seen.length).join('/')} events with ${watchers.map((w) => w.reconnects).join('/')} reconnects; verdict ${result.verdict}`,
    );
    expect(result.verdict, formatResult(result)).toBe('linearizable');
    expect(counts.ok).toBeGreaterThan(500);

    // Every leader kill was followed by a served write within 2x the election timeout.
    for (const ms of failoversMs) expect(ms).toBeLessThanOrEqual(2 * ELECTION_MS);

    // Watchers: every index from 1 to the final one, exactly once, in order; all agree.
    const bySig = new Map<number, string>();
    for (const w of watchers) {
      expect(w.errors.filter((e) => e.includes('"errorCode":401')), w.errors.join('\n')).toEqual([]);
      const upTo = w.seen.filter((s) => s.index <= finalIndex);
      expect(upTo.map((s) => s.index)).toEqual(Array.from({ length: finalIndex }, (_, i) => i + 1));
      for (const s of upTo) {
        const prev = bySig.get(s.index);
        if (prev === undefined) bySig.set(s.index, s.sig);
        else expect(s.sig, `watchers disagree at index ${s.index}`).toBe(prev);
      }
    }
  }, 180_000);
});
