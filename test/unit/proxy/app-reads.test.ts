// The proxy's reads through inject(): edge validation with the member's own
// answers, the time-bounded cache and its headers, Cache-Control, 503 when no
// member answers, monotonic reads and read-your-writes, single-flight misses.

import { afterEach, describe, expect, test } from 'vitest';
import { createStore } from '../../../core-server/store/index.js';
import { toWriteRequest } from '../../../core-server/api/v2-request.js';
import { besideMember, FORM, makeProxy } from './app-harness.js';
import type { ProxyHarness, SideBySideRequest } from './app-harness.js';
import { FAKE_CLUSTER_ID, putReq } from './fake-upstream.js';

let h: ProxyHarness;
afterEach(async () => {
  await h?.app.close();
});

const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

describe('edge validation', () => {
  // Each malformed request, sent to a member and to the proxy: same status,
  // same body, same Allow/Location — and the proxy asks no member anything.
  const cases: SideBySideRequest[] = [
    { method: 'GET', url: '/v2/keys/a?wait=maybe' },
    { method: 'GET', url: '/v2/keys/a?recursive=yes' },
    { method: 'GET', url: '/v2/keys/a?waitIndex=-1' },
    { method: 'PUT', url: '/v2/keys/a?prevIndex=x' },
    { method: 'PUT', url: '/v2/keys/a', payload: 'value=1&ttl=abc' },
    { method: 'PUT', url: '/v2/keys/a', payload: 'prevValue=' },
    { method: 'PUT', url: '/v2/keys/a', payload: 'refresh=true&value=x' },
    { method: 'PUT', url: '/v2/keys/a', payload: 'refresh=true' },
    { method: 'PUT', url: '/v2/keys/a?wait=true', payload: 'value=1' },
    { method: 'PUT', url: '/v2/keys/a', payload: 'value=%zz' },
    { method: 'DELETE', url: '/v2/keys/a?prevExist=perhaps' },
    { method: 'PATCH', url: '/v2/keys/a' },
    { method: 'GET', url: '/v2/keys//a' },
    { method: 'GET', url: '/v2/keys/a?sorted=2&quorum=true' },
    { method: 'GET', url: '/v2/nothing' },
    { method: 'GET', url: '/v3nope' },
  ];

  test.each(cases)('$method $url is answered at the edge exactly as a member answers it', async (c) => {
    h = await makeProxy();
    await besideMember(h, async (send) => {
      const { want, got } = await send(c);
      expect(got.statusCode).toBe(want.statusCode);
      expect(got.body).toBe(want.body);
      for (const hdr of ['content-type', 'allow', 'location', 'x-etcd-index']) expect(got.headers[hdr], hdr).toBe(want.headers[hdr]);
      expect(h.up.calls).toMatchObject({ get: 0, quorumGet: 0, write: 0 });
    });
  });
});

describe('the time-bounded cache', () => {
  test('a miss reads through once; then hits carry X-Cache, Age, the ms staleness and X-Etcd-Index', async () => {
    h = await makeProxy();
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    const miss = await get('/v2/keys/a');
    expect(miss.statusCode).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['x-etcd-index']).toBe('1');
    expect(miss.headers['x-etcd-cluster-id']).toBe(FAKE_CLUSTER_ID);
    expect(miss.body).toBe('{"action":"get","node":{"key":"/a","value":"one","modifiedIndex":1,"createdIndex":1}}\n');
    h.clock.ms += 400;
    const hit = await get('/v2/keys/a');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['age']).toBe('0');
    expect(hit.headers['x-raftgate-staleness-ms']).toBe('400');
    expect(hit.headers['x-etcd-index']).toBe('1');
    expect(hit.headers['x-raft-index']).toMatch(/^\d+$/);
    expect(hit.body).toBe(miss.body);
    expect(h.up.calls.get).toBe(1);
  });

  test('cached answers stop once the view is older than the bound: read through, then 503 when no member answers', async () => {
    h = await makeProxy(['--max-staleness', '1s']);
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    await get('/v2/keys/a');
    // The stream goes silent: no events, no progress.
    h.clock.ms += 1000;
    expect((await get('/v2/keys/a')).headers['x-cache']).toBe('HIT');
    h.clock.ms += 1;
    const through = await get('/v2/keys/a');
    expect(through.headers['x-cache']).toBe('MISS');
    expect(h.up.calls.get).toBe(2);
    h.up.unreachable = true;
    h.clock.ms += 1500;
    const down = await get('/v2/keys/a');
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('1');
    expect(down.body).toBe('{"errorCode":300,"message":"Raft Internal Error","cause":"upstream_unreachable","index":1}\n');
  });

  test('a live stream keeps answers current: an event updates the entry, progress keeps it fresh', async () => {
    h = await makeProxy(['--max-staleness', '1s']);
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    await get('/v2/keys/a');
    for (let i = 0; i < 5; i++) {
      h.clock.ms += 900;
      h.up.pump(); // progress only
      expect((await get('/v2/keys/a')).headers['x-cache']).toBe('HIT');
    }
    // A write made directly on the core reaches the cache through the stream, not a read.
    h.up.direct(putReq('/a', 'two'));
    h.up.pump();
    const r = await get('/v2/keys/a');
    expect(r.headers['x-cache']).toBe('HIT');
    expect(JSON.parse(r.body).node.value).toBe('two');
    expect(r.headers['x-etcd-index']).toBe('2');
    expect(h.up.calls.get).toBe(1);
  });

  test('Cache-Control: max-stale loosens (within the ceiling), max-age=0 and no-cache read through, stale-if-error serves stale when no member answers', async () => {
    h = await makeProxy(['--max-staleness', '1s', '--max-staleness-ceiling', '5s', '--stale-if-error-ceiling', '30s']);
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    await get('/v2/keys/a');
    h.clock.ms += 3000;
    expect((await get('/v2/keys/a', { 'cache-control': 'max-stale=4' })).headers['x-cache']).toBe('HIT');
    expect((await get('/v2/keys/a', { 'cache-control': 'max-stale=2' })).headers['x-cache']).toBe('MISS');
    h.up.pump();
    expect((await get('/v2/keys/a')).headers['x-cache']).toBe('HIT');
    expect((await get('/v2/keys/a', { 'cache-control': 'max-age=0' })).headers['x-cache']).toBe('MISS');
    expect((await get('/v2/keys/a', { 'cache-control': 'no-cache' })).headers['x-cache']).toBe('MISS');
    // Asking for more than the ceiling gets the ceiling.
    h.clock.ms += 6000;
    expect((await get('/v2/keys/a', { 'cache-control': 'max-stale=600' })).headers['x-cache']).toBe('MISS');
    h.up.unreachable = true;
    h.clock.ms += 10_000;
    const stale = await get('/v2/keys/a', { 'cache-control': 'stale-if-error=60' });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(Number(stale.headers['age'])).toBeGreaterThanOrEqual(10);
    expect((await get('/v2/keys/a', { 'cache-control': 'stale-if-error=5' })).statusCode).toBe(503);
  });

  test('quorum=true always goes to a member and is never cached', async () => {
    h = await makeProxy();
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    for (let i = 0; i < 3; i++) {
      const r = await get('/v2/keys/a?quorum=true');
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-cache']).toBe('BYPASS');
    }
    expect(h.up.calls.quorumGet).toBe(3);
    expect((await get('/v2/keys/a')).headers['x-cache']).toBe('MISS');
  });

  test('--cache-bytes-max 0 turns the cache off', async () => {
    h = await makeProxy(['--cache-bytes-max', '0']);
    h.up.direct(putReq('/a', 'one'));
    h.up.pump();
    for (let i = 0; i < 3; i++) expect((await get('/v2/keys/a')).headers['x-cache']).toBe('MISS');
    expect(h.up.calls.get).toBe(3);
  });

  test('concurrent misses on one key make one upstream read', async () => {
    h = await makeProxy();
    h.up.direct(putReq('/hot', 'v'));
    h.up.pump();
    h.up.holdReads = true;
    const all = Array.from({ length: 50 }, () => get('/v2/keys/hot'));
    await new Promise((r) => setTimeout(r, 20));
    h.up.release();
    const res = await Promise.all(all);
    expect(h.up.calls.get).toBe(1);
    for (const r of res) {
      expect(r.statusCode).toBe(200);
      expect(JSON.parse(r.body).node.value).toBe('v');
    }
  });
});

describe('monotonic reads and read-your-writes', () => {
  test('after a write through the proxy returns index I, reads answer at index >= I even before the stream delivers it', async () => {
    h = await makeProxy();
    h.up.direct(putReq('/k', 'old'));
    h.up.pump();
    await get('/v2/keys/k'); // cached at index 1
    h.up.autoPump = false; // the stream lags behind the write
    const w = await h.app.inject({ method: 'PUT', url: '/v2/keys/k', headers: FORM, payload: 'value=new' });
    expect(w.statusCode).toBe(200);
    const wi = Number(w.headers['x-etcd-index']);
    const r = await get('/v2/keys/k');
    expect(JSON.parse(r.body).node.value).toBe('new');
    expect(Number(r.headers['x-etcd-index'])).toBeGreaterThanOrEqual(wi);
  });

  test('a lagging member is never allowed to move answers back in index', async () => {
    h = await makeProxy(['--upstream-timeout', '300ms']);
    const lagging = createStore();
    for (let i = 1; i <= 3; i++) {
      const req = toWriteRequest(putReq(`/x${i}`, 'v'), h.clock.ms);
      h.up.direct(putReq(`/x${i}`, 'v'));
      lagging.apply({ op: 'write', req });
    }
    h.up.pump();
    for (let i = 4; i <= 8; i++) h.up.direct(putReq(`/x${i}`, 'v'));
    h.up.pump();
    const first = await get('/v2/keys/x1');
    const seen = Number(first.headers['x-etcd-index']);
    expect(seen).toBe(8);
    // The proxy fails over to a member that is 5 writes behind, and its own stream stalls.
    h.up.readFrom = lagging;
    h.clock.ms += 5000;
    const r = await get('/v2/keys/x2');
    if (r.statusCode === 200) expect(Number(r.headers['x-etcd-index'])).toBeGreaterThanOrEqual(seen);
    else expect(JSON.parse(r.body)).toMatchObject({ errorCode: 300, cause: 'upstream_behind' });
    // Once the member catches up, reads flow again, still never below.
    h.up.readFrom = null;
    const ok = await get('/v2/keys/x2');
    expect(ok.statusCode).toBe(200);
    expect(Number(ok.headers['x-etcd-index'])).toBeGreaterThanOrEqual(seen);
  });
});
