// Watches through the proxy over real sockets (the app listening on an
// ephemeral port, fed by a FakeUpstream): headers flushed at registration,
// many client watchers on ONE upstream stream each getting exactly their
// events, history and 401s with etcd's semantics, and a slow watcher cut off
// without slowing the others.

import { afterEach, describe, expect, test } from 'vitest';
import { checkWatchOrder } from '../../../proxy/watch/watch-order.js';
import { http, open } from '../../helpers/http.js';
import { openClientWatch, watchRecord } from '../../helpers/proxy.js';
import type { ClientWatch } from '../../helpers/proxy.js';
import { listenProxy, sample, until } from './app-harness.js';
import type { ProxyHarness } from './app-harness.js';
import { putReq } from './fake-upstream.js';

let h: ProxyHarness;
let base = '';
afterEach(async () => {
  await h?.app.close();
});

async function listen(argv: string[] = []): Promise<void> {
  const l = await listenProxy(argv);
  h = l;
  base = l.base;
}

describe('watches', () => {
  test('headers arrive as soon as the watch is registered, before any event; the event follows', async () => {
    await listen();
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    const w = await openClientWatch(base, '/a');
    expect(w.status).toBe(200);
    expect(w.headers['x-etcd-index']).toBe('1');
    expect(w.text()).toBe('');
    h.up.direct(putReq('/a', '2'));
    h.up.pump();
    await w.done;
    expect(JSON.parse(w.text())).toMatchObject({ action: 'set', node: { key: '/a', value: '2', modifiedIndex: 2 } });
  });

  test('300 client watchers over overlapping keys and prefixes share ONE upstream stream; each gets exactly its events, in order', async () => {
    await listen(['--connections-per-client-max', '1000']);
    h.up.direct(putReq('/warm', '0'));
    h.up.pump();
    const specs = [
      { path: '/k1', recursive: false, stream: true },
      { path: '/k2', recursive: false, stream: true },
      { path: '/d', recursive: true, stream: true },
      { path: '/d/sub', recursive: true, stream: true },
      { path: '/', recursive: true, stream: true },
      { path: '/k1', recursive: false, stream: false },
    ];
    const opened: ClientWatch[] = [];
    for (let i = 0; i < 300; i++) {
      const spec = specs[i % specs.length]!;
      opened.push(await openClientWatch(base, spec.path, { recursive: spec.recursive, stream: spec.stream }));
    }
    expect(h.up.calls.start).toBe(1);
    const writes = ['/k1', '/k2', '/d/x', '/d/sub/y', '/other', '/k1', '/d/sub/z', '/_hidden', '/d/_h/q'];
    for (const [i, p] of writes.entries()) {
      h.up.direct(putReq(p, String(i)));
      if (i % 3 === 0) h.up.pump();
    }
    h.up.pump();
    const metrics = await http(base, { method: 'GET', path: '/metrics' });
    expect(sample(metrics.text, 'raftgate_proxy_upstream_watch_streams')).toBe(1);
    expect(sample(metrics.text, 'raftgate_proxy_watchers')).toBe(250); // the 50 one-shots already have their event
    await until(() => opened.every((o) => o.stream || o.text() !== ''), 5000, 'one-shot watchers answered');
    await new Promise((r) => setTimeout(r, 50));
    const records = opened.map((o) => watchRecord(o));
    for (const o of opened) o.abort();
    await Promise.all(opened.map((o) => o.done));
    expect(checkWatchOrder(h.up.log, records)).toEqual([]);
    // and the checker is not vacuous: every recursive root stream saw every visible write
    expect(records.find((r) => r.key === '/' && r.recursive)?.received.map((e) => e.node.key)).toEqual(writes.filter((p) => !p.includes('/_')));
  });

  test('waitIndex in the past is served from the proxy\'s ring; older than the ring is etcd\'s 401', async () => {
    await listen(['--event-history-max', '5']);
    for (let i = 1; i <= 8; i++) h.up.direct(putReq('/r', String(i)));
    h.up.pump();
    const ok = await http(base, { method: 'GET', path: '/v2/keys/r?wait=true&waitIndex=5' });
    expect(JSON.parse(ok.text)).toMatchObject({ action: 'set', node: { value: '5', modifiedIndex: 5 } });
    const gone = await http(base, { method: 'GET', path: '/v2/keys/r?wait=true&waitIndex=2' });
    expect(gone.status).toBe(400);
    expect(JSON.parse(gone.text)).toEqual({ errorCode: 401, message: 'The event in requested index is outdated and cleared', cause: 'the requested history has been cleared [4/2]', index: 8 });
  });

  test('when the upstream history no longer reaches back, the proxy resyncs and answers affected watchers 401 — never silence', async () => {
    await listen();
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    const w = await openClientWatch(base, '/a', { stream: true });
    // The stream loses events 2..4 and reports progress at 4: the view cannot vouch for them.
    for (let i = 0; i < 3; i++) h.up.direct(putReq('/a', `lost${i}`));
    h.up.sink?.resync(h.up.store.index);
    await w.done;
    expect(JSON.parse(w.text())).toMatchObject({ errorCode: 401 });
    const m = await http(base, { method: 'GET', path: '/metrics' });
    expect(sample(m.text, 'raftgate_proxy_watchers_dropped_total', { reason: 'cleared' })).toBe(1);
    expect(sample(m.text, 'raftgate_proxy_upstream_resyncs_total')).toBe(1);
  });

  test('a stream watcher that stops reading is closed and counted once its queue overflows; the others get every event', async () => {
    await listen(['--watcher-buffer-max', '20']);
    h.up.direct(putReq('/big', 'x'));
    h.up.pump();
    // The slow one: a raw request whose response is never read.
    const { connect } = await import('node:net');
    const port = Number(new URL(base).port);
    const slow = connect({ host: '127.0.0.1', port });
    slow.pause();
    slow.write('GET /v2/keys/big?wait=true&stream=true HTTP/1.1\r\nHost: x\r\n\r\n');
    const fast: { n: number; bytes: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await open(base, { method: 'GET', path: '/v2/keys/big?wait=true&stream=true', timeoutMs: 60_000 });
      const f = { n: 0, bytes: 0 };
      fast.push(f);
      void (async () => {
        for await (const c of res.body) {
          const b = Buffer.from(c as Uint8Array);
          f.bytes += b.length;
          for (const x of b) if (x === 10) f.n++;
        }
      })().catch(() => {});
    }
    await until(() => h.app.raftgate.keys.watchers() === 6, 5000, 'six watchers registered');
    const value = 'v'.repeat(32 * 1024);
    const n = 400; // 13 MiB per watcher: more than the kernel's socket buffers hold for a reader that stopped
    for (let i = 0; i < n; i++) {
      h.up.direct(putReq('/big', value + i));
      if (i % 5 === 4) {
        h.up.pump();
        // Paced by the readers that do read: on a loaded machine they must
        // not fall a queue behind themselves; only the one that stopped may.
        await until(() => fast.every((f) => f.n >= i + 1), 10_000, `fast watchers at event ${i + 1}`);
      }
    }
    h.up.pump();
    await until(() => fast.every((f) => f.n === n), 30_000, 'fast watchers got every event');
    expect(h.app.raftgate.keys.watchers()).toBe(5);
    const m = await http(base, { method: 'GET', path: '/metrics' });
    expect(sample(m.text, 'raftgate_proxy_watchers_dropped_total', { reason: 'overflow' })).toBe(1);
    slow.destroy();
  }, 60_000);
});
