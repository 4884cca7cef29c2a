// Goal: an acknowledged write survives `kill -9`, and a write whose outcome
// the client never learned is either wholly there or wholly absent.
//
// One member with a small --snapshot-count and small WAL segments, so that
// snapshots are written and old WAL segments released while the load runs.
// Many concurrent clients PUT unique keys (256-byte values), overwrite their
// own keys, compare-and-swap them and POST in-order keys. Every response is
// recorded: acknowledged (key, value, modifiedIndex) or unknown (the
// connection died under it). At a seeded random moment the member is killed;
// after each restart the whole keyspace is read back and checked against the
// record. Then the same is done with the process killed from inside, at the
// named failpoints (RAFTGATE_FAILPOINTS=...=exit).
//
// Reproduce a run with RAFTGATE_FAULT_SEED=<seed printed below>. Timing is
// not deterministic (real processes), but the choice of operations, keys,
// values and kill delays is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mulberry32 } from '../../core-server/raft/rng.js';
import { http } from '../helpers/http.js';
import { clientUrl, launchMember, releasePorts, reservePorts, waitExit, waitHealthy, type MemberPorts, type MemberRun } from './member-process.js';

const CLIENTS = 24;
const SIGKILL_ROUNDS = 12;
const VALUE_BYTES = 256;
const LOAD_MS_MIN = 150;
const LOAD_MS_MAX = 1_200;
/** Caps keep the read-back (one recursive GET) small and the test fast. */
const KEYS_PER_CLIENT_MAX = 400;
const POSTS_PER_CLIENT_MAX = 200;
const FAILPOINT_WAIT_MS_MAX = 20_000;
const SAMPLE_GETS = 40;
const MEMBER_ARGS = ['--snapshot-count', '500', '--wal-segment-bytes', '262144', '--max-request-bytes', '65536'];

// ---- seeded randomness --------------------------------------------------

function mulberry32(seed: number): () => number {
  const prng = new Mulberry32(seed);
  return () => prng.next();
}

const seedEnv = process.env['RAFTGATE_FAULT_SEED'];
const SEED = seedEnv !== undefined && seedEnv !== '' ? Number(seedEnv) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const rng = mulberry32(SEED);
const intIn = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

// ---- the record of what clients saw -------------------------------------

interface KeyState {
  /** Last value the member acknowledged (or that a read-back resolved), null if never. */
  value: string | null;
  modifiedIndex: number;
  createdIndex: number;
  /** A write whose outcome is unknown, issued after `value` was acknowledged. */
  pending: string | null;
}

interface QueueItem {
  /** Set once acknowledged (or seen in a read-back). */
  key: string | null;
  modifiedIndex: number;
  unknown: boolean;
}

interface Client {
  id: number;
  rng: () => number;
  keys: string[];
  nextKey: number;
  nextValue: number;
  nextPost: number;
}

const keys = new Map<string, KeyState>();
const queue = new Map<string, QueueItem>(); // by value (values are unique)
const violations: string[] = [];
const stats = { acked: 0, ackedPut: 0, ackedCas: 0, ackedPost: 0, unknown: 0, refused: 0, kills: 0, failpointExits: 0, checkedKeys: 0, checkedQueue: 0, sampleGets: 0, unknownFoundApplied: 0, unknownFoundAbsent: 0 };
let maxAckedIndex = 0;
let lastSeenStoreIndex = 0;

function violation(msg: string): void {
  if (violations.length < 50) violations.push(msg);
}

function errCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? String(err);
}

function makeValue(c: Client): string {
  const head = `c${c.id}-v${c.nextValue++}-`;
  let body = '';
  while (body.length < VALUE_BYTES - head.length) body += Math.floor(c.rng() * 36).toString(36);
  return head + body;
}

interface EtcdNode {
  key?: string;
  value?: string;
  dir?: boolean;
  nodes?: EtcdNode[];
  modifiedIndex?: number;
  createdIndex?: number;
}

// ---- the load -------------------------------------------------------------

interface Round {
  stopped: boolean;
  url: string;
}

async function clientLoop(c: Client, round: Round): Promise<void> {
  while (!round.stopped) {
    const p = c.rng();
    const certain = c.keys.filter((k) => keys.get(k)?.pending === null && keys.get(k)?.value !== null);
    let ok: boolean;
    if (p < 0.12 && c.nextPost < POSTS_PER_CLIENT_MAX) ok = await doPost(c, round);
    else if (p < 0.24 && certain.length > 0) ok = await doPut(c, round, certain[Math.floor(c.rng() * certain.length)]!, true);
    else if ((p < 0.45 || c.keys.length >= KEYS_PER_CLIENT_MAX) && c.keys.length > 0) {
      // Overwrite one of our keys (any state).
      ok = await doPut(c, round, c.keys[Math.floor(c.rng() * c.keys.length)]!, false);
    } else {
      const key = `/load/c${c.id}/k${c.nextKey++}`;
      c.keys.push(key);
      keys.set(key, { value: null, modifiedIndex: 0, createdIndex: 0, pending: null });
      ok = await doPut(c, round, key, false);
    }
    if (!ok) return; // the member is gone; this client waits for the next round
  }
}

/** Returns false once the member stops answering. */
async function doPut(c: Client, round: Round, key: string, cas: boolean): Promise<boolean> {
  const st = keys.get(key)!;
  const value = makeValue(c);
  const form: [string, string][] = [['value', value]];
  if (cas) form.push(['prevValue', st.value!]);
  let res;
  try {
    res = await http(round.url, { method: 'PUT', path: `/v2/keys${key}`, form });
  } catch (err) {
    const code = errCode(err);
    if (code === 'ECONNREFUSED') {
      stats.refused++;
    } else {
      // The request may or may not have been applied before the kill. If an
      // earlier unknown write is still open it is superseded only by an ack;
      // keep the newest unknown (writes to a key are sequential per client).
      st.pending = value;
      stats.unknown++;
    }
    return false;
  }
  const body = res.json as { action?: string; node?: EtcdNode; errorCode?: number; message?: string; cause?: string } | undefined;
  if ((res.status === 200 || res.status === 201) && body?.node?.value === value && typeof body.node.modifiedIndex === 'number') {
    if (cas && body.action !== 'compareAndSwap') violation(`${key}: CAS answered action ${body.action}`);
    if (body.node.modifiedIndex <= st.modifiedIndex) violation(`${key}: ack index ${body.node.modifiedIndex} not after the previous ack ${st.modifiedIndex}`);
    st.value = value;
    st.modifiedIndex = body.node.modifiedIndex;
    st.createdIndex = body.node.createdIndex ?? 0;
    st.pending = null;
    maxAckedIndex = Math.max(maxAckedIndex, st.modifiedIndex);
    stats.acked++;
    if (cas) stats.ackedCas++;
    else stats.ackedPut++;
    return true;
  }
  violation(`${cas ? 'CAS' : 'PUT'} ${key} (last acked index ${st.modifiedIndex}): unexpected ${res.status} ${res.text.slice(0, 200)}`);
  return true;
}

async function doPost(c: Client, round: Round): Promise<boolean> {
  const value = `q-c${c.id}-${c.nextPost++}`;
  const item: QueueItem = { key: null, modifiedIndex: 0, unknown: false };
  queue.set(value, item);
  let res;
  try {
    res = await http(round.url, { method: 'POST', path: `/v2/keys/queue/c${c.id}`, form: [['value', value]] });
  } catch (err) {
    if (errCode(err) === 'ECONNREFUSED') {
      queue.delete(value);
      stats.refused++;
    } else {
      item.unknown = true;
      stats.unknown++;
    }
    return false;
  }
  const body = res.json as { action?: string; node?: EtcdNode } | undefined;
  if (res.status === 201 && body?.action === 'create' && body.node?.value === value && typeof body.node.key === 'string' && typeof body.node.modifiedIndex === 'number') {
    item.key = body.node.key;
    item.modifiedIndex = body.node.modifiedIndex;
    maxAckedIndex = Math.max(maxAckedIndex, item.modifiedIndex);
    stats.acked++;
    stats.ackedPost++;
    return true;
  }
  queue.delete(value);
  violation(`POST /queue/c${c.id}: unexpected ${res.status} ${res.text.slice(0, 200)}`);
  return true;
}

function runLoad(clients: Client[], url: string): { round: Round; done: Promise<void> } {
  const round: Round = { stopped: false, url };
  const done = Promise.all(clients.map((c) => clientLoop(c, round))).then(() => undefined);
  return { round, done };
}

// ---- the read-back ----------------------------------------------------------

function flatten(node: EtcdNode | undefined, out: Map<string, EtcdNode>): void {
  for (const n of node?.nodes ?? []) {
    if (n.dir === true) flatten(n, out);
    else if (n.key !== undefined) out.set(n.key, n);
  }
}

async function readTree(url: string, dir: string): Promise<{ nodes: Map<string, EtcdNode>; index: number }> {
  const res = await http(url, { method: 'GET', path: `/v2/keys${dir}?recursive=true&sorted=true`, timeoutMs: 30_000 });
  const index = Number(res.headers['x-etcd-index']);
  const nodes = new Map<string, EtcdNode>();
  if (res.status === 404) return { nodes, index };
  expect(res.status, `GET ${dir}: ${res.text.slice(0, 300)}`).toBe(200);
  flatten((res.json as { node?: EtcdNode }).node, nodes);
  return { nodes, index };
}

async function verify(url: string, label: string): Promise<void> {
  const load = await readTree(url, '/load');
  const storeIndex = load.index;
  if (!(Number.isSafeInteger(storeIndex) && storeIndex >= maxAckedIndex)) {
    violation(`${label}: X-Etcd-Index ${storeIndex} is below the largest acknowledged index ${maxAckedIndex}`);
  }
  if (storeIndex < lastSeenStoreIndex) violation(`${label}: X-Etcd-Index went back from ${lastSeenStoreIndex} to ${storeIndex}`);
  lastSeenStoreIndex = Math.max(lastSeenStoreIndex, storeIndex);

  for (const [key, st] of keys) {
    const n = load.nodes.get(key);
    stats.checkedKeys++;
    const matchesAck = st.value === null ? n === undefined : n?.value === st.value && n.modifiedIndex === st.modifiedIndex;
    if (st.pending === null) {
      if (!matchesAck) {
        violation(`${label}: ${key} should be ${st.value === null ? 'absent' : `the acknowledged value c..${st.value.slice(0, 12)} at index ${st.modifiedIndex}`}, found ${n === undefined ? 'nothing' : `${n.value?.slice(0, 12)} at index ${n.modifiedIndex}`}`);
      }
      continue;
    }
    // An unknown-outcome write: whole or absent, never half.
    if (matchesAck) {
      stats.unknownFoundAbsent++;
    } else if (n !== undefined && n.value === st.pending) {
      const mi = n.modifiedIndex ?? -1;
      if (!(mi > st.modifiedIndex && mi <= storeIndex)) violation(`${label}: ${key} holds its unknown-outcome value at index ${mi}, outside (${st.modifiedIndex}, ${storeIndex}]`);
      if (st.value === null && n.createdIndex !== mi) violation(`${label}: new key ${key} has createdIndex ${n.createdIndex} != modifiedIndex ${mi}`);
      st.value = n.value;
      st.modifiedIndex = mi;
      st.createdIndex = n.createdIndex ?? 0;
      stats.unknownFoundApplied++;
    } else {
      violation(`${label}: ${key} holds neither its acknowledged value (index ${st.modifiedIndex}) nor its unknown-outcome value: found ${n === undefined ? 'nothing' : `${n.value?.slice(0, 16)} at ${n.modifiedIndex}`}`);
    }
    st.pending = null;
  }
  for (const key of load.nodes.keys()) if (!keys.has(key)) violation(`${label}: ${key} exists but no client ever wrote it`);

  // In-order keys: each value at most once; acknowledged ones exactly once, where they were acknowledged.
  const q = await readTree(url, '/queue');
  const seen = new Map<string, EtcdNode[]>();
  for (const n of q.nodes.values()) {
    const v = n.value ?? '';
    seen.set(v, [...(seen.get(v) ?? []), n]);
    if (!queue.has(v)) violation(`${label}: in-order key ${n.key} holds ${v}, which no client posted`);
  }
  for (const [value, item] of queue) {
    const found = seen.get(value) ?? [];
    stats.checkedQueue++;
    if (found.length > 1) violation(`${label}: POST value ${value} appears ${found.length} times: ${found.map((n) => n.key).join(', ')}`);
    const n = found[0];
    if (!item.unknown) {
      if (n === undefined || n.key !== item.key || n.modifiedIndex !== item.modifiedIndex) {
        violation(`${label}: acknowledged POST ${value} (key ${item.key} index ${item.modifiedIndex}) found as ${n === undefined ? 'nothing' : `${n.key} at ${n.modifiedIndex}`}`);
      }
    } else {
      if (n !== undefined) {
        const mi = n.modifiedIndex ?? -1;
        if (mi > storeIndex || n.createdIndex !== mi) violation(`${label}: unknown-outcome POST ${value} half-applied: ${JSON.stringify(n).slice(0, 200)}`);
        item.key = n.key ?? null;
        item.modifiedIndex = mi;
        item.unknown = false;
        stats.unknownFoundApplied++;
      } else {
        queue.delete(value);
        stats.unknownFoundAbsent++;
      }
    }
  }

  // A few individual GETs, as a client would read one key.
  const certain = [...keys].filter(([, st]) => st.value !== null);
  for (let i = 0; i < SAMPLE_GETS && certain.length > 0; i++) {
    const [key, st] = certain[Math.floor(rng() * certain.length)]!;
    const res = await http(url, { method: 'GET', path: `/v2/keys${key}` });
    const node = (res.json as { node?: EtcdNode } | undefined)?.node;
    stats.sampleGets++;
    if (res.status !== 200 || node?.value !== st.value || node.modifiedIndex !== st.modifiedIndex) {
      violation(`${label}: GET ${key} answered ${res.status} ${node?.value?.slice(0, 12)}@${node?.modifiedIndex}, expected index ${st.modifiedIndex}`);
    }
  }
}

// ---- the test ---------------------------------------------------------------

describe('kill -9 durability', () => {
  let dataParent = '';
  let dataDir = '';
  let ports: MemberPorts;
  let run: MemberRun | null = null;
  const clients: Client[] = [];

  beforeAll(async () => {
    console.log(`kill9-durability: seed ${SEED} (rerun with RAFTGATE_FAULT_SEED=${SEED})`);
    dataParent = mkdtempSync(join(tmpdir(), 'raftgate-kill9-'));
    dataDir = join(dataParent, 'data');
    ports = await reservePorts();
    for (let i = 0; i < CLIENTS; i++) clients.push({ id: i, rng: mulberry32(SEED + 7919 * (i + 1)), keys: [], nextKey: 0, nextValue: 0, nextPost: 0 });
  });

  afterAll(async () => {
    if (run !== null) await run.proc.kill9();
    releasePorts(ports);
    rmSync(dataParent, { recursive: true, force: true });
  });

  const failHint = (): string => `seed ${SEED}; stats ${JSON.stringify(stats)}\n${violations.join('\n')}\n--- member ---\n${run?.proc.describe() ?? ''}`;

  async function startHealthy(env?: Record<string, string>): Promise<MemberRun> {
    const r = launchMember(dataDir, ports, { extraArgs: MEMBER_ARGS, ...(env ? { env } : {}) });
    run = r;
    await waitHealthy(r, ports);
    return r;
  }

  it(`keeps every acknowledged write across ${SIGKILL_ROUNDS} SIGKILLs at random moments`, { timeout: 120_000 }, async () => {
    const url = clientUrl(ports);
    await startHealthy();
    for (let round = 1; round <= SIGKILL_ROUNDS; round++) {
      const loadMs = intIn(rng, LOAD_MS_MIN, LOAD_MS_MAX);
      const load = runLoad(clients, url);
      await new Promise((r) => setTimeout(r, loadMs));
      await run!.proc.kill9();
      stats.kills++;
      load.round.stopped = true;
      await load.done;
      const before = run!.proc.describe();
      try {
        await startHealthy();
      } catch (err) {
        throw new Error(`round ${round}: member did not restart after kill -9 (${(err as Error).message})\n--- previous run ---\n${before}`);
      }
      await verify(url, `after SIGKILL ${round} (load ${loadMs} ms)`);
      expect(violations, failHint()).toEqual([]);
    }
    expect(stats.ackedPut).toBeGreaterThan(0);
    expect(stats.ackedCas).toBeGreaterThan(0);
    expect(stats.ackedPost).toBeGreaterThan(0);

    // The test is only worth something if snapshots and WAL release happened under it.
    const snaps = readdirSync(join(dataDir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
    const segs = readdirSync(join(dataDir, 'member', 'wal')).filter((f) => f.endsWith('.wal')).sort();
    console.log(`kill9-durability: seed ${SEED}: ${stats.kills} SIGKILLs, ${stats.acked} acknowledged writes (${stats.ackedPut} PUT, ${stats.ackedCas} CAS, ${stats.ackedPost} POST), ${stats.unknown} unknown (${stats.unknownFoundApplied} found applied, ${stats.unknownFoundAbsent} absent), ${stats.refused} refused; checked ${stats.checkedKeys} key states, ${stats.checkedQueue} in-order items, ${stats.sampleGets} single GETs; index ${lastSeenStoreIndex}; snapshots on disk ${snaps.length}, WAL segments ${segs.length} (oldest ${segs[0]})`);
    expect(snaps.length).toBeGreaterThan(0);
    expect(segs[0], 'no WAL segment was ever released').not.toMatch(/^0{16}-/);
  });

  // The WAL failpoints fire at the first WAL fsync, which is the new segment's
  // header during start-up; the snapshot failpoints fire at the first snapshot,
  // which the load reaches within --snapshot-count writes.
  for (const fp of ['walBeforeFsync', 'walAfterFsync', 'snapBeforeRename', 'snapAfterRename'] as const) {
    it(`keeps every acknowledged write when the process exits at failpoint ${fp}`, { timeout: 60_000 }, async () => {
      const url = clientUrl(ports);
      if (run === null || !run.proc.alive()) await startHealthy();
      // Some load on a healthy member first, then a kill, so the failpoint run recovers real state.
      const warm = runLoad(clients, url);
      await new Promise((r) => setTimeout(r, intIn(rng, LOAD_MS_MIN, LOAD_MS_MAX)));
      await run!.proc.kill9();
      stats.kills++;
      warm.round.stopped = true;
      await warm.done;

      const armed = launchMember(dataDir, ports, { extraArgs: MEMBER_ARGS, env: { RAFTGATE_FAILPOINTS: `${fp}=exit` } });
      run = armed;
      let load: ReturnType<typeof runLoad> | null = null;
      if (fp.startsWith('snap')) {
        // Usually the load reaches the next snapshot. A member whose log
        // already runs --snapshot-count past its last snapshot takes one
        // while it re-applies that log at start-up, before it is healthy:
        // the failpoint may fire there too, which is just as good a test.
        const healthy = await waitHealthy(armed, ports).then(
          () => true,
          () => false,
        );
        if (healthy) load = runLoad(clients, url);
      }
      const exit = await waitExit(armed, FAILPOINT_WAIT_MS_MAX);
      if (load !== null) {
        load.round.stopped = true;
        await load.done;
      }
      expect(exit.timedOut, `${fp}=exit never fired within ${FAILPOINT_WAIT_MS_MAX} ms\n${armed.proc.describe()}`).toBe(false);
      expect(exit.code, armed.proc.describe()).toBe(137);
      stats.failpointExits++;

      await startHealthy();
      await verify(url, `after failpoint ${fp}`);
      expect(violations, failHint()).toEqual([]);
      console.log(`kill9-durability: failpoint ${fp}: exit 137; totals ${stats.acked} acknowledged, ${stats.failpointExits} failpoint exits, ${stats.kills} SIGKILLs`);
    });
  }
});
