// The native protocol end to end in one process: a NativeServer over
// the Raft driver of a one-member cluster with a memory log, NativeClient/NativePool over 127.0.0.1.
// Reads, writes, quorum reads, etcd errors, many requests in flight over a
// pool, limits, and what the core does with malformed input.

import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../../core-server/api/native/codec.js';
import type { ErrResponse, FailResponse, OkResponse } from '../../../core-server/api/native/messages.js';
import { NativeClient, NativePool } from '../../../proxy/upstream/native-client.js';
import type { NativeResponse } from '../../../proxy/upstream/native-client.js';
import { afterEachCleanups, CLUSTER_ID, MEMBER_ID, getParams, put, startCore, until } from './harness.js';
import type { Core } from './harness.js';

const cleanups = afterEachCleanups();

async function core(o: Parameters<typeof startCore>[0] = {}): Promise<Core> {
  const c = await startCore(o);
  cleanups.push(() => c.close());
  return c;
}

async function client(url: string, o: Partial<ConstructorParameters<typeof NativeClient>[0]> = {}): Promise<NativeClient> {
  const c = new NativeClient({ url, requestTimeoutMs: 3000, ...o });
  cleanups.push(() => c.close());
  await c.ready(3000);
  return c;
}

function ok(r: NativeResponse): OkResponse {
  if (!('ok' in r)) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}
function err(r: NativeResponse): ErrResponse {
  if (!('err' in r)) throw new Error(`expected err, got ${JSON.stringify(r)}`);
  return r;
}

/** A raw socket speaking frames, for what a well-behaved client never sends. */
async function raw(port: number): Promise<{ socket: net.Socket; msgs: unknown[]; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const msgs: unknown[] = [];
  const d = new FrameDecoder();
  socket.on('data', (c: Buffer) => msgs.push(...d.push(c)));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => void socket.destroy());
  return { socket, msgs, closed };
}

describe('native requests', () => {
  test('handshake names the member, cluster and leader', async () => {
    const c = await core();
    const cl = await client(c.url);
    expect(cl.hello).toMatchObject({ t: 'hello', version: 1, memberId: MEMBER_ID, clusterId: CLUSTER_ID, name: 'native-test', leaderId: MEMBER_ID });
  });

  test('write then get; quorum get; raft index and term ride along', async () => {
    const c = await core();
    const cl = await client(c.url);
    const raftBefore = c.node.raftIndex;
    const w = ok(await cl.write(put('/a/b', 'v1')));
    expect(w.ok).toMatchObject({ action: 'set', node: { key: '/a/b', value: 'v1', modifiedIndex: 1, createdIndex: 1 } });
    expect(w.etcdIndex).toBe(1);
    // The write's own log entry, in the member's current term.
    expect(w.raftIndex).toBe(raftBefore + 1);
    expect(w.raftTerm).toBe(c.node.raftTerm);
    const g = ok(await cl.get(getParams('/a', { recursive: true })));
    expect(g.ok).toEqual({ action: 'get', node: { key: '/a', dir: true, nodes: [{ key: '/a/b', value: 'v1', modifiedIndex: 1, createdIndex: 1 }], modifiedIndex: 1, createdIndex: 1 }, etcdIndex: 1 });
    const q = ok(await cl.get(getParams('/a/b', { quorum: true })));
    expect(q.ok.node.value).toBe('v1');
  });

  test('errors are etcd error objects', async () => {
    const c = await core();
    const cl = await client(c.url);
    expect(err(await cl.get(getParams('/missing'))).err).toEqual({ errorCode: 100, message: 'Key not found', cause: '/missing', index: 0 });
    ok(await cl.write(put('/k', '1')));
    expect(err(await cl.write(put('/k', '2', { prevExist: false }))).err).toEqual({ errorCode: 105, message: 'Key already exists', cause: '/k', index: 1 });
    expect(err(await cl.write(put('/k', '2', { prevValue: 'nope' }))).err).toMatchObject({ errorCode: 101, cause: '[nope != 1]' });
    expect(err(await cl.write({ ...put('/', 'x'), req: { ...put('/', 'x').req, method: 'DELETE' } })).err.errorCode).toBe(107);
  });

  test('the core computes the TTL deadline with its own clock', async () => {
    const c = await core();
    const cl = await client(c.url);
    const before = Date.now();
    const w = ok(await cl.write(put('/t', 'v', {}, 30)));
    const exp = Date.parse(w.ok.node.expiration ?? '');
    expect(exp).toBeGreaterThanOrEqual(before + 30_000 - 1);
    expect(exp).toBeLessThanOrEqual(Date.now() + 30_000 + 1);
    expect(w.ok.node.ttl).toBe(30);
  });

  test('1,000 concurrent requests over 4 connections are each answered correctly', async () => {
    const c = await core();
    const pool = new NativePool({ url: c.url, size: 4, requestTimeoutMs: 10_000 });
    cleanups.push(() => pool.close());
    await until(() => pool.readyCount === 4, 3000, 'pool ready');
    expect(c.server.connectionCount()).toBe(4);
    for (let i = 0; i < 500; i++) ok(await pool.write(put(`/pre/k${i}`, `p${i}`)));
    // 500 writes and 500 reads (half of them quorum) in flight at once.
    const writes = Array.from({ length: 500 }, (_, i) => pool.write(put(`/many/k${i}`, `v${i}`)));
    const reads = Array.from({ length: 500 }, (_, i) => pool.get(getParams(`/pre/k${i}`, { quorum: i % 2 === 0 })));
    // Spread across all four connections.
    expect(pool.clients.map((cl) => cl.inflight >= 200)).toEqual([true, true, true, true]);
    const [ws, rs] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
    ws.map(ok).forEach((r, i) => expect(r.ok.node).toMatchObject({ key: `/many/k${i}`, value: `v${i}` }));
    expect(new Set(ws.map((r) => ok(r).etcdIndex)).size).toBe(500);
    rs.map(ok).forEach((r, i) => expect(r.ok.node).toMatchObject({ key: `/pre/k${i}`, value: `p${i}` }));
    // The core counted each one.
    const served = await c.registry.getSingleMetricAsString('raftgate_core_native_requests_total');
    expect(served).toMatch(/raftgate_core_native_requests_total\{op="write",outcome="ok"\} 1000/);
    expect(served).toMatch(/raftgate_core_native_requests_total\{op="get",outcome="ok"\} 500/);
  });

  test('answers come back as they complete, out of order', async () => {
    const c = await core();
    const cl = await client(c.url);
    c.sink.hang = true;
    const slow = cl.write(put('/slow', '1'));
    await new Promise((r) => setTimeout(r, 20));
    const fast = ok(await cl.get(getParams('/', {})));
    expect(fast.ok.action).toBe('get');
    let slowDone = false;
    void slow.then(() => (slowDone = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(slowDone).toBe(false);
    c.sink.release();
    expect(ok(await slow).ok.node.key).toBe('/slow');
  });

  test('requests over the per-connection in-flight limit fail as overloaded (not run)', async () => {
    const c = await core({ inflightPerConnectionMax: 3 });
    const cl = await client(c.url);
    c.sink.hang = true;
    const rs = Array.from({ length: 5 }, (_, i) => cl.write(put(`/o${i}`, 'x')));
    await new Promise((r) => setTimeout(r, 50));
    c.sink.release();
    const out = await Promise.all(rs);
    const fails = out.filter((r): r is FailResponse => 'fail' in r);
    expect(fails.map((f) => f.fail)).toEqual(['overloaded', 'overloaded']);
    expect(out.filter((r) => 'ok' in r)).toHaveLength(3);
  });

  test('connections over the limit get a goaway', async () => {
    const c = await core({ connectionsMax: 2 });
    await client(c.url);
    await client(c.url);
    const r = await raw(c.server.port);
    await r.closed;
    expect(r.msgs).toEqual([{ t: 'goaway', code: 'RG_ERR_NATIVE_TOO_MANY_CONNECTIONS', message: 'more than 2 native connections' }]);
  });

  test('a frame over the limit, a wrong version or a malformed message closes the connection with a goaway naming it', async () => {
    const c = await core({ frameBytesMax: 1024 });
    const big = await raw(c.server.port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1 << 30, 0);
    big.socket.write(head);
    await big.closed;
    expect(big.msgs.at(-1)).toMatchObject({ t: 'goaway', code: 'RG_ERR_NATIVE_FRAME_TOO_LARGE' });

    const v = await raw(c.server.port);
    v.socket.write(encodeFrame({ t: 'hello', version: 99, client: 'x' }));
    await v.closed;
    expect(v.msgs.at(-1)).toMatchObject({ t: 'goaway', code: 'RG_ERR_NATIVE_VERSION' });

    const m = await raw(c.server.port);
    m.socket.write(encodeFrame({ t: 'hello', version: 1, client: 'x' }));
    m.socket.write(encodeFrame({ t: 'req', id: 1, op: 'get', path: 'no-slash' }));
    await m.closed;
    expect(m.msgs.at(-1)).toMatchObject({ t: 'goaway', code: 'RG_ERR_NATIVE_BAD_MESSAGE' });
  });

  test('ping is answered with pong', async () => {
    const c = await core();
    const r = await raw(c.server.port);
    r.socket.write(encodeFrame({ t: 'hello', version: 1, client: 'x' }));
    r.socket.write(encodeFrame({ t: 'ping', n: 7 }));
    await until(() => r.msgs.length >= 2, 2000, 'pong');
    expect(r.msgs[1]).toEqual({ t: 'pong', n: 7 });
  });

  test('metrics: connections gauge follows connections', async () => {
    const c = await core();
    const cl = await client(c.url);
    const gauge = async () => (await c.registry.getSingleMetric('raftgate_core_native_connections')?.get())?.values[0]?.value;
    expect(await gauge()).toBe(1);
    cl.close();
    await until(() => c.server.connectionCount() === 0, 2000, 'disconnect');
    expect(await gauge()).toBe(0);
  });
});
