// When the connection or the core goes away: reconnect with back-off, and
// every request still waiting rejects saying whether it was SENT (outcome
// unknown: a write must not be retried) or NOT SENT (safe to retry).

import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { encodeFrame } from '../../../core-server/api/native/codec.js';
import { NativeClient, NativeRequestError } from '../../../proxy/upstream/native-client.js';
import type { NativeResponse, NativeWatchEnd } from '../../../proxy/upstream/native-client.js';
import { afterEachCleanups, CLUSTER_ID, MEMBER_ID, getParams, put, startCore, until } from './harness.js';

const cleanups = afterEachCleanups();

function newClient(url: string, o: Partial<ConstructorParameters<typeof NativeClient>[0]> = {}): NativeClient {
  const c = new NativeClient({ url, requestTimeoutMs: 5000, reconnectDelayMsMin: 20, reconnectDelayMsMax: 200, ...o });
  cleanups.push(() => c.close());
  return c;
}

type Settled = { ok: NativeResponse } | { error: NativeRequestError };
function settle(p: Promise<NativeResponse>): Promise<Settled> {
  return p.then(
    (ok) => ({ ok }),
    (error: unknown) => {
      if (!(error instanceof NativeRequestError)) throw error;
      return { error };
    },
  );
}

describe('native failures', () => {
  test('the client reconnects after the server restarts, and works again', async () => {
    const c = await startCore();
    cleanups.push(() => c.close());
    const cl = newClient(c.url);
    await cl.ready(3000);
    expect(cl.connects).toBe(1);
    const w: NativeWatchEnd[] = [];
    cl.watch(0, () => {}, () => {}, (e) => w.push(e));
    await c.restart();
    await until(() => cl.connects === 2 && cl.isReady, 5000, 'reconnect');
    // The old stream ended (the core said it was stopping, or the connection dropped).
    expect(w).toHaveLength(1);
    expect(['stopping', 'disconnected']).toContain(w[0]?.reason);
    const r = await cl.write(put('/after', 'restart'));
    expect('ok' in r && r.ok.node.value).toBe('restart');
  });

  test('a request made while disconnected rejects at once as NOT SENT', async () => {
    const c = await startCore();
    const cl = newClient(c.url);
    await cl.ready(3000);
    await c.close();
    await until(() => !cl.isReady, 3000, 'disconnect');
    const s = await settle(cl.write(put('/x', '1')));
    expect('error' in s && s.error.sent).toBe(false);
    expect('error' in s && s.error.code).toBe('RG_ERR_NATIVE_NOT_CONNECTED');
  });

  test('a write the core received but never answered rejects as SENT when the core dies', async () => {
    const c = await startCore({ closeGraceMs: 50 });
    const cl = newClient(c.url);
    await cl.ready(3000);
    c.sink.hang = true; // the write is proposed but never becomes durable
    const pending = settle(cl.write(put('/unknown', '1')));
    await until(() => c.server.connectionCount() === 1, 1000);
    await new Promise((r) => setTimeout(r, 30));
    await c.server.close();
    const s = await pending;
    expect('error' in s).toBe(true);
    if ('error' in s) {
      expect(s.error.sent).toBe(true);
      expect(s.error.code).toBe('RG_ERR_NATIVE_DISCONNECTED');
      expect(s.error.message).toMatch(/SENT \(outcome unknown/);
    }
    c.sink.release();
    await c.node.stop();
  });

  test('when the connection drops with a backlog, written requests reject as SENT and queued ones as NOT SENT', async () => {
    // A stand-in core that shakes hands and then stops reading, so the
    // client's socket buffer fills and requests wait in its own queue.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      s.write(encodeFrame({ t: 'hello', version: 1, clusterId: CLUSTER_ID, memberId: MEMBER_ID, name: 'stuck', leaderId: MEMBER_ID, etcdIndex: 0 }));
      s.pause();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const cl = newClient(`http://127.0.0.1:${port}`, { writeBufferBytesMax: 256 << 10, idleTimeoutMs: 60_000 });
    await cl.ready(3000);
    const big = 'x'.repeat(128 << 10);
    const all = Array.from({ length: 400 }, (_, i) => settle(cl.write(put(`/b/${i}`, big))));
    await new Promise((r) => setTimeout(r, 200));
    for (const s of sockets) s.destroy();
    const out = await Promise.all(all);
    const errors = out.map((o) => ('error' in o ? o.error : null));
    expect(errors.every((e) => e !== null && e.code === 'RG_ERR_NATIVE_DISCONNECTED')).toBe(true);
    const sent = errors.filter((e) => e?.sent === true).length;
    const notSent = errors.filter((e) => e?.sent === false).length;
    expect(sent).toBeGreaterThan(0);
    expect(notSent).toBeGreaterThan(0);
    expect(sent + notSent).toBe(400);
    // Sent ones are a prefix: frames leave in request order.
    const firstNotSent = errors.findIndex((e) => e?.sent === false);
    expect(errors.slice(firstNotSent).every((e) => e?.sent === false)).toBe(true);
  });

  test('a request that times out says whether it was sent', async () => {
    const c = await startCore();
    cleanups.push(() => c.close());
    const cl = newClient(c.url);
    await cl.ready(3000);
    c.sink.hang = true;
    const s = await settle(cl.write(put('/slow', '1'), 100));
    expect('error' in s && s.error.code).toBe('RG_ERR_NATIVE_TIMEOUT');
    expect('error' in s && s.error.sent).toBe(true);
    c.sink.release();
    // The write lands once the disk lets it, and the connection is still usable.
    await until(() => c.node.store.index > 0, 5000, 'the held write to land');
    const g = await cl.get(getParams('/slow'));
    expect('ok' in g).toBe(true);
  });

  test('a client that cannot reach the core keeps retrying with capped back-off, then connects', async () => {
    const c0 = await startCore();
    const port = c0.server.port;
    await c0.close();
    const cl = newClient(`http://127.0.0.1:${port}`, { reconnectDelayMsMin: 10, reconnectDelayMsMax: 80 });
    await new Promise((r) => setTimeout(r, 300));
    expect(cl.isReady).toBe(false);
    const c = await startCore({ port });
    cleanups.push(() => c.close());
    await cl.ready(2000);
    expect(cl.hello?.memberId).toBe(MEMBER_ID);
  });

  test('a core that sends garbage is dropped and the client reconnects', async () => {
    let n = 0;
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      s.on('error', () => {});
      sockets.push(s);
      n++;
      s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const cl = newClient(`http://127.0.0.1:${port}`, { reconnectDelayMsMin: 10, reconnectDelayMsMax: 20 });
    await until(() => n >= 3, 3000, 'reconnect attempts');
    expect(cl.isReady).toBe(false);
    cl.close();
    // (These sockets never read, so they would not notice the client leaving.)
    for (const s of sockets) s.destroy();
  });
});
