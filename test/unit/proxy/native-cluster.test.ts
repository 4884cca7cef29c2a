// The native upstream's write placement, against in-process members (a real
// store and Raft driver, native server and HTTP API each, on ephemeral ports):
// a write is retried elsewhere only when it provably did not run or never
// left the proxy, so a POST cannot create two in-order keys.

import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { buildCoreApp } from '../../../core-server/api/app.js';
import { startNativeServer } from '../../../core-server/api/native/server.js';
import type { NativeServer } from '../../../core-server/api/native/server.js';
import type { RaftNode } from '../../../core-server/node/driver.js';
import { isProxyError } from '../../../proxy/errors.js';
import { HttpClient } from '../../../proxy/upstream/http-client.js';
import { NativeCluster } from '../../../proxy/upstream/native-cluster.js';
import type { ViewSink } from '../../../proxy/upstream/types.js';
import { ProxySink } from '../../../proxy/app.js';
import { UpstreamView } from '../../../proxy/watch/upstream-view.js';
import { V2Error } from '../../../core-server/store/v2-error.js';
import { startMemoryMember, type MemoryLog } from '../../helpers/memory-member.js';
import { silent, until } from './app-harness.js';
import { putReq } from './fake-upstream.js';

const CLUSTER = 'c0ffee00c0ffee00';

/** A member whose idea of the leader the test sets (as an election would). */
type Node = RaftNode & {
  /** undefined: itself (a single member); null: no leader (an election). */
  leader: string | null | undefined;
};

function withLeaderOverride(raft: RaftNode): Node {
  const node = raft as Node;
  const own = raft.leaderId.bind(raft);
  node.leader = undefined;
  node.leaderId = () => (node.leader === undefined ? own() : node.leader);
  return node;
}

interface Member {
  id: string;
  node: Node;
  sink: MemoryLog;
  native: NativeServer;
  http: FastifyInstance;
  registry: Registry;
  clientUrl: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function member(id: string, historyMax = 1000): Promise<Member> {
  const registry = new Registry();
  const started = await startMemoryMember({ memberId: id, clusterId: CLUSTER, name: id, store: { historyMax }, registry });
  const node = withLeaderOverride(started.node);
  const sink = started.log;
  const native = await startNativeServer({ node, listen: { host: '127.0.0.1', port: 0 }, logger: silent, registry, connectionsMax: 64, inflightPerConnectionMax: 64, closeGraceMs: 50 });
  const http = buildCoreApp({ node, registry, bodyBytesMax: 1 << 20, watchersMax: 100, nativeUrls: [`http://127.0.0.1:${native.port}`] });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const a = http.server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  const m: Member = { id, node, sink, native, http, registry, clientUrl: `http://127.0.0.1:${a.port}` };
  cleanups.push(async () => {
    sink.release();
    await m.native.close(); // the current one: a test may have restarted it
    await http.close();
    await node.stop();
  });
  return m;
}

function cluster(endpoints: string[], sink: ViewSink = { index: 0, synced: false, events: () => {}, progress: () => {}, resync: () => {} }): NativeCluster {
  const http = new HttpClient({ connectionsPerOrigin: 4 });
  const c = new NativeCluster({ endpoints, http, logger: silent, connectionsPerMember: 2, healthCheckIntervalMs: 100, requestTimeoutMs: 3000, historyMax: 1000 });
  c.start(sink);
  cleanups.push(async () => {
    await c.close();
    await http.close();
  });
  return c;
}

const writesAt = async (m: Member, outcome: 'ok' | 'fail') => (await m.registry.getSingleMetricAsString('raftgate_core_native_requests_total')).match(new RegExp(`op="write",outcome="${outcome}"\\} (\\d+)`))?.[1] ?? '0';

describe('native upstream: where a write goes', () => {
  test('a follower answers not-leader (it ran nothing); the write is placed once, on the leader it names', async () => {
    const [a, b] = await Promise.all([member('aaaaaaaaaaaaaaaa'), member('bbbbbbbbbbbbbbbb')]);
    a.node.leader = a.id;
    b.node.leader = a.id;
    const c = cluster([a.clientUrl, b.clientUrl]);
    await until(() => c.status().membersUp === 2 && c.status().leaderId === a.id, 5000, 'both members up, leader a');
    // Leadership moves to b; the proxy has not heard yet.
    a.node.leader = b.id;
    b.node.leader = b.id;
    const r = await c.write(putReq('/q', 'once'));
    expect(r.kind).toBe('event');
    expect(await writesAt(a, 'fail')).toBe('1');
    expect(await writesAt(b, 'ok')).toBe('1');
    expect(a.node.store.index).toBe(0);
    expect(b.node.store.index).toBe(1);
  });

  test('while no member is the leader, a write waits (never sent anywhere it would run) and lands once when one is elected', async () => {
    const [a, b] = await Promise.all([member('aaaaaaaaaaaaaaaa'), member('bbbbbbbbbbbbbbbb')]);
    a.node.leader = a.id;
    b.node.leader = a.id;
    const c = cluster([a.clientUrl, b.clientUrl]);
    await until(() => c.status().membersUp === 2, 5000, 'both members up');
    await a.native.close(); // the leader goes away
    await until(() => c.status().membersUp === 1, 5000, 'a down');
    b.node.leader = null;
    const pending = c.write(putReq('/q', 'once'));
    await new Promise((r) => setTimeout(r, 200));
    b.node.leader = b.id; // elected
    const r = await pending;
    expect(r.kind).toBe('event');
    expect(b.node.store.index).toBe(1);
    expect(Number(await writesAt(b, 'ok'))).toBe(1);
  });

  test('during an election, members that said "not me" are asked again once another names them the leader', async () => {
    const [a, b, c3] = await Promise.all([member('aaaaaaaaaaaaaaaa'), member('bbbbbbbbbbbbbbbb'), member('cccccccccccccccc')]);
    for (const m of [a, b, c3]) m.node.leader = a.id;
    const c = cluster([a.clientUrl, b.clientUrl, c3.clientUrl]);
    await until(() => c.status().membersUp === 3 && c.status().leaderId === a.id, 5000, 'three members up, leader a');
    await a.native.close(); // the leader dies
    await until(() => c.status().membersUp === 2, 5000, 'a down');
    b.node.leader = null; // b is campaigning: "not me, no leader"
    const t0 = Date.now();
    const pending = c.write(putReq('/q', 'once'));
    await new Promise((r) => setTimeout(r, 150));
    // b wins; c (which had been saying "a") now says "b".
    b.node.leader = b.id;
    c3.node.leader = b.id;
    const r = await pending;
    expect(r.kind).toBe('event');
    expect(Date.now() - t0).toBeLessThan(2500); // not the 3 s upstream timeout
    expect(b.node.store.index).toBe(1);
    expect(c3.node.store.index).toBe(0);
  });

  test('a write that reached a member which then died is not retried elsewhere: outcome unknown', async () => {
    const [a, b] = await Promise.all([member('aaaaaaaaaaaaaaaa'), member('bbbbbbbbbbbbbbbb')]);
    a.node.leader = a.id;
    b.node.leader = a.id;
    const c = cluster([a.clientUrl, b.clientUrl]);
    await until(() => c.status().membersUp === 2 && c.status().leaderId === a.id, 5000, 'both members up, leader a');
    b.node.leader = b.id; // b would accept the write now: it must still not get it
    a.sink.hang = true; // a takes the write and never makes it durable
    const logged = a.sink.entries.length;
    const pending = c.write(putReq('/q', 'once')).then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 100)); // the frame is on a's socket, the write proposed
    expect(a.sink.heldWrites).toBeGreaterThan(0);
    expect(a.sink.entries).toHaveLength(logged);
    await a.native.close();
    const err = await pending;
    expect(isProxyError(err, 'RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN')).toBe(true);
    expect(isProxyError(err) && err.sent).toBe(true);
    expect(b.node.store.index).toBe(0);
    expect(await writesAt(b, 'ok')).toBe('0');
  });
});

describe('native upstream: the stream', () => {
  test('a stream that cannot resume (the member\'s history no longer reaches the view) resyncs, and watchers that may have missed events get 401', async () => {
    const a = await member('aaaaaaaaaaaaaaaa', 5);
    a.node.leader = a.id;
    const view = new UpstreamView();
    const sink = new ProxySink(view, { nowMs: () => Date.now() }, 100);
    const c = cluster([a.clientUrl], sink);
    await until(() => sink.synced && c.status().watchStreams === 1, 5000, 'stream live');
    await c.write(putReq('/k', '1'));
    await until(() => view.index === 1, 5000, 'event 1 in the view');
    const w = view.watch('/k', { recursive: false, stream: true, sinceIndex: 0 });
    if (w instanceof V2Error) throw w;
    // The proxy is cut off while 10 writes pass: the member keeps only 5.
    const port = a.native.port;
    await a.native.close();
    await until(() => c.status().watchStreams === 0, 5000, 'stream down');
    for (let i = 0; i < 10; i++) await a.node.propose({ method: 'PUT', path: '/k', value: String(i), dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, expireAtMs: null, nowMs: Date.now() });
    a.native = await startNativeServer({ node: a.node, listen: { host: '127.0.0.1', port }, logger: silent, registry: new Registry(), connectionsMax: 64, inflightPerConnectionMax: 64, closeGraceMs: 50 });
    await until(() => view.index === 11, 10_000, 'the view resynced at 11');
    expect(w.closed).toBe('cleared');
    expect(w.error?.errorCode).toBe(401);
    expect(sink.resyncs).toBe(1);
    // ... and the stream goes on from there.
    await c.write(putReq('/k', 'after'));
    await until(() => view.index === 12, 5000, 'event 12');
  });
});

describe('native upstream: what the metrics and /raftgate/v1/status are read from', () => {
  type Attempt = { op: string; member: string };
  function recording(endpoints: string[], sink?: ViewSink): { c: NativeCluster; attempts: Attempt[] } {
    const attempts: Attempt[] = [];
    const http = new HttpClient({ connectionsPerOrigin: 4 });
    const c = new NativeCluster({ endpoints, http, logger: silent, connectionsPerMember: 2, healthCheckIntervalMs: 100, requestTimeoutMs: 3000, historyMax: 1000 });
    c.start(sink ?? { index: 0, synced: false, events: () => {}, progress: () => {}, resync: () => {} }, { attempt: (op, member) => attempts.push({ op, member }) });
    cleanups.push(async () => {
      await c.close();
      await http.close();
    });
    return { c, attempts };
  }

  test('each attempt is timed against the member it went to: a write a follower refuses is one attempt there and one on the leader', async () => {
    const [a, b] = await Promise.all([member('aaaaaaaaaaaaaaaa'), member('bbbbbbbbbbbbbbbb')]);
    a.node.leader = a.id;
    b.node.leader = a.id;
    const { c, attempts } = recording([a.clientUrl, b.clientUrl]);
    await until(() => c.status().membersUp === 2 && c.status().leaderId === a.id, 5000, 'both members up, leader a');
    // The members as the proxy sees them: names from the native hello, the leader it believes in.
    const ms = c.members();
    expect(ms.map((m) => ({ id: m.id, name: m.name, up: m.up, leader: m.leader }))).toEqual([
      { id: a.id, name: a.id, up: true, leader: true },
      { id: b.id, name: b.id, up: true, leader: false },
    ]);
    expect(ms.map((m) => m.clientURL)).toEqual([a.clientUrl, b.clientUrl]);
    a.node.leader = b.id; // leadership moved; the proxy has not heard
    b.node.leader = b.id;
    expect((await c.write(putReq('/q', 'once'))).kind).toBe('event');
    expect(attempts).toEqual([
      { op: 'write', member: a.id },
      { op: 'write', member: b.id },
    ]);
    attempts.length = 0;
    await c.get({ path: '/q', recursive: false, sorted: false, quorum: true });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.op).toBe('quorum_get');
  });

  test('the newest index heard from members (the stream, write answers) runs ahead of a view held back: that difference is the watch lag', async () => {
    const a = await member('aaaaaaaaaaaaaaaa');
    a.node.leader = a.id;
    for (let i = 0; i < 4; i++) await a.node.propose({ method: 'PUT', path: '/pre', value: String(i), dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, expireAtMs: null, nowMs: Date.now() });
    // A view the test holds back (a stream far behind what members answer).
    const view = new UpstreamView();
    const inner = new ProxySink(view, { nowMs: () => Date.now() }, 100);
    let hold = false;
    const sink: ViewSink = {
      get index() {
        return inner.index;
      },
      get synced() {
        return inner.synced;
      },
      events: (e) => {
        if (!hold) inner.events(e);
      },
      progress: (i) => {
        if (!hold) inner.progress(i);
      },
      resync: (i) => inner.resync(i),
    };
    const { c } = recording([a.clientUrl], sink);
    await until(() => sink.synced && c.status().watchStreams === 1 && view.index === 4, 5000, 'stream live at 4');
    expect(c.status().etcdIndexSeen).toBe(4);
    hold = true;
    for (let i = 0; i < 3; i++) await c.write(putReq('/k', String(i)));
    expect(c.status().etcdIndexSeen).toBe(7);
    expect(view.index).toBe(4);
    hold = false;
    await until(() => view.index === 7, 5000, 'the view catches up');
    expect(c.status().etcdIndexSeen).toBe(7);
  });

  test('a member restarted under the stream: one stream again, and the reopen counted as a reconnect (the first stream is not)', async () => {
    const a = await member('aaaaaaaaaaaaaaaa');
    a.node.leader = a.id;
    const view = new UpstreamView();
    const sink = new ProxySink(view, { nowMs: () => Date.now() }, 100);
    const { c } = recording([a.clientUrl], sink);
    await until(() => sink.synced && c.status().watchStreams === 1, 5000, 'stream live');
    expect(c.status().watchReconnects).toBe(0);
    const port = a.native.port;
    await a.native.close();
    await until(() => c.status().watchStreams === 0, 5000, 'stream down');
    a.native = await startNativeServer({ node: a.node, listen: { host: '127.0.0.1', port }, logger: silent, registry: new Registry(), connectionsMax: 64, inflightPerConnectionMax: 64, closeGraceMs: 50 });
    await until(() => c.status().watchStreams === 1, 10_000, 'stream live again');
    expect(c.status().watchReconnects).toBeGreaterThanOrEqual(1);
    await c.write(putReq('/after', '1'));
    await until(() => view.index === 1, 5000, 'events flow again');
    expect(sink.resyncs).toBe(0); // resumed, not resynced
  });
});
