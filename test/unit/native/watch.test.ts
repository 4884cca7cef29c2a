// The native watch stream: every event of the store, in index order, with no
// gaps or repeats, progress notifications while idle, 401 when the history no
// longer reaches, refreshes and hidden keys included, and backpressure.

import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../../core-server/api/native/codec.js';
import type { StoreEvent } from '../../../core-server/store/types.js';
import { NativeClient, NativePool } from '../../../proxy/upstream/native-client.js';
import type { NativeWatchEnd } from '../../../proxy/upstream/native-client.js';
import { afterEachCleanups, put, startCore, until } from './harness.js';
import type { Core } from './harness.js';

const cleanups = afterEachCleanups();

async function core(o: Parameters<typeof startCore>[0] = {}): Promise<Core> {
  const c = await startCore(o);
  cleanups.push(() => c.close());
  return c;
}

async function client(url: string): Promise<NativeClient> {
  const c = new NativeClient({ url, requestTimeoutMs: 5000 });
  cleanups.push(() => c.close());
  await c.ready(3000);
  return c;
}

interface Recorder {
  events: StoreEvent[];
  progress: { etcdIndex: number; atMs: number }[];
  end: NativeWatchEnd | null;
}

function record(cl: NativeClient, since: number): Recorder & { cancel(): void } {
  const r: Recorder = { events: [], progress: [], end: null };
  const h = cl.watch(
    since,
    (es) => r.events.push(...es),
    (etcdIndex) => r.progress.push({ etcdIndex, atMs: Date.now() }),
    (end) => (r.end = end),
  );
  return Object.assign(r, { cancel: () => h.cancel() });
}

const indexes = (es: StoreEvent[]): number[] => es.map((e) => e.node.modifiedIndex ?? -1);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('native watch', () => {
  test('from 0 and from a given index: every event in order, no gaps or repeats, while writes run concurrently', async () => {
    const c = await core();
    const pool = new NativePool({ url: c.url, size: 4 });
    cleanups.push(() => pool.close());
    await pool.ready(3000);
    for (let i = 0; i < 50; i++) await pool.write(put(`/pre/${i}`, 'x'));
    const cl = await client(c.url);
    const fromNow = record(cl, 0);
    const fromPast = record(cl, 20);
    await until(() => fromNow.progress.length > 0, 2000, 'watch live');
    const n = 600;
    await Promise.all(Array.from({ length: n }, (_, i) => pool.write(put(`/w/${i % 37}`, String(i)))));
    await until(() => fromNow.events.length >= n && fromPast.events.length >= n + 31, 5000, 'all events');
    expect(indexes(fromNow.events)).toEqual(range(51, 50 + n));
    expect(indexes(fromPast.events)).toEqual(range(20, 50 + n));
    expect(fromNow.end).toBeNull();
    // The progress that follows the burst says the stream is current.
    await until(() => (fromNow.progress.at(-1)?.etcdIndex ?? 0) === 50 + n, 2000, 'progress at the end');
  });

  test('hidden keys, TTL refreshes (marked) and deletes all arrive', async () => {
    const c = await core();
    const cl = await client(c.url);
    const w = record(cl, 0);
    await until(() => w.progress.length > 0, 2000, 'watch live');
    await cl.write(put('/_hidden/x', 'h'));
    await cl.write(put('/t', 'v', {}, 60));
    await cl.write(put('/t', '', { refresh: true, prevExist: true }, 120));
    await cl.write({ ...put('/t', ''), req: { ...put('/t', '').req, method: 'DELETE' } });
    await until(() => w.events.length >= 4, 2000, 'events');
    expect(w.events.map((e) => [e.action, e.node.key, e.refresh === true])).toEqual([
      ['set', '/_hidden/x', false],
      ['set', '/t', false],
      ['update', '/t', true],
      ['delete', '/t', false],
    ]);
  });

  test('progress notifications arrive at least every 100 ms while idle', async () => {
    const c = await core();
    const cl = await client(c.url);
    await cl.write(put('/a', '1'));
    const w = record(cl, 0);
    await new Promise((r) => setTimeout(r, 700));
    w.cancel();
    expect(w.progress.length).toBeGreaterThanOrEqual(6);
    const gaps = w.progress.slice(1).map((p, i) => p.atMs - (w.progress[i] as { atMs: number }).atMs);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(100);
    expect(w.progress.every((p) => p.etcdIndex === 1)).toBe(true);
  });

  test('a watch from an index older than the 1000-event history ends with 401', async () => {
    const c = await core();
    const cl = await client(c.url);
    for (let i = 0; i < 1005; i++) await cl.write(put('/k', String(i)));
    const old = record(cl, 3);
    await until(() => old.end !== null, 2000, 'watch end');
    expect(old.end).toEqual({
      reason: 'cleared',
      err: { errorCode: 401, message: 'The event in requested index is outdated and cleared', cause: 'the requested history has been cleared [6/3]', index: 1005 },
    });
    const inside = record(cl, 6);
    await until(() => inside.events.length === 1000, 2000, 'replay');
    expect(indexes(inside.events)).toEqual(range(6, 1005));
  });

  test('cancel stops the stream and frees it on the core', async () => {
    const c = await core();
    const cl = await client(c.url);
    const w = record(cl, 0);
    const streams = async () => (await c.registry.getSingleMetric('raftgate_core_native_watch_streams')?.get())?.values[0]?.value;
    await until(() => w.progress.length > 0, 2000, 'watch live');
    expect(await streams()).toBe(1);
    w.cancel();
    await cl.write(put('/after', '1'));
    await new Promise((r) => setTimeout(r, 50));
    expect(await streams()).toBe(0);
    expect(w.events).toEqual([]);
    expect(w.end).toBeNull(); // no callback after cancel
  });

  test('a reader that stops reading is paused, then its watch is ended (slow) instead of buffering without bound', async () => {
    const c = await core({ watchBufferBytesSoft: 64 << 10, watchBufferBytesHard: 1 << 30, watchStallMsMax: 200 });
    const writer = await client(c.url);
    const socket = net.connect({ host: '127.0.0.1', port: c.server.port });
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((r) => socket.once('connect', r));
    socket.write(encodeFrame({ t: 'hello', version: 1, client: 'stuck' }));
    socket.write(encodeFrame({ t: 'watch', id: 1, sinceIndex: 0 }));
    await new Promise((r) => setTimeout(r, 50));
    socket.pause(); // stop reading: the core's socket buffer fills
    const big = 'x'.repeat(256 << 10);
    for (let i = 0; i < 60; i++) await writer.write(put(`/big/${i % 3}`, big));
    const streams = async () => (await c.registry.getSingleMetric('raftgate_core_native_watch_streams')?.get())?.values[0]?.value;
    const deadline = Date.now() + 5000;
    while ((await streams()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await streams()).toBe(0);
    // Reading again, the stream shows events in order, then the end.
    const d = new FrameDecoder();
    const msgs: { t: string; reason?: string; events?: StoreEvent[] }[] = [];
    socket.on('data', (ch: Buffer) => msgs.push(...(d.push(ch) as typeof msgs)));
    socket.resume();
    await until(() => msgs.some((m) => m.t === 'watchEnd'), 5000, 'watchEnd');
    const end = msgs.find((m) => m.t === 'watchEnd');
    expect(end?.reason).toBe('slow');
    const got = msgs.filter((m) => m.t === 'events').flatMap((m) => indexes(m.events ?? []));
    expect(got).toEqual(range(1, got.length));
    expect(got.length).toBeLessThan(60);
  });

  test('an event or answer too large for a frame: the answer becomes etcd error 300, the watch ends; the core lives on', async () => {
    const c = await core({ frameBytesMax: 4096 });
    const cl = await client(c.url);
    const w = record(cl, 0);
    await until(() => w.progress.length > 0, 2000, 'watch live');
    // Written straight to the node: the client's own frame would be refused.
    const big = await c.node.propose({ ...put('/big', 'x'.repeat(8000)).req, expireAtMs: null, nowMs: Date.now() });
    expect('action' in big.result).toBe(true);
    await until(() => w.end !== null, 2000, 'watch end');
    expect(w.end?.reason).toBe('slow');
    const g = await cl.get({ path: '/big', recursive: false, sorted: false, quorum: false });
    expect('err' in g && g.err.errorCode).toBe(300);
    const small = await cl.write(put('/small', 'ok'));
    expect('ok' in small).toBe(true);
  });
});
