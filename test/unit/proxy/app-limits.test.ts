// Every limit of the proxy: reached, refused at once with the right status,
// Retry-After and a JSON body naming the limit, counted in /metrics — while
// the proxy keeps answering everyone else. Also /health, /ready and the
// metric names the dashboard and alerts are built on.

import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { http } from '../../helpers/http.js';
import { openClientWatch } from '../../helpers/proxy.js';
import { FORM, listenProxy, makeProxy, sample, until } from './app-harness.js';
import type { ProxyHarness } from './app-harness.js';
import { FAKE_MEMBER_ID, putReq } from './fake-upstream.js';
import type { ProxyStatus } from '../../../proxy/status.js';

let h: ProxyHarness;
let base = '';
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.app.close();
});

async function listen(argv: string[] = []): Promise<void> {
  const l = await listenProxy(argv);
  h = l;
  base = l.base;
}

/** A raw connection from `localAddress` (any 127.x.y.z is loopback), sending one request; resolves with the raw answer head+body once it stops arriving. */
function rawRequest(localAddress: string, request: string, keepOpen = false): Promise<{ socket: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(base).port);
    const s = connect({ host: '127.0.0.1', port, localAddress });
    sockets.push(s);
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('utf8')));
    s.on('error', reject);
    s.on('connect', () => {
      if (request !== '') s.write(request);
      resolve({ socket: s, text: () => text });
    });
    if (!keepOpen) s.on('end', () => undefined);
  });
}

const GET_KEY = 'GET /v2/keys/a HTTP/1.1\r\nHost: x\r\n\r\n';

describe('limits', () => {
  test('connections per client: the third connection from one address gets 429 naming the limit; another address is served', async () => {
    await listen(['--connections-per-client-max', '2', '--connections-max', '3']);
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    const held = [await rawRequest('127.0.0.1', ''), await rawRequest('127.0.0.1', '')];
    await until(() => h.app.raftgate.gate.limiter.open === 2, 2000, 'two connections held');
    const third = await rawRequest('127.0.0.1', GET_KEY);
    await until(() => third.text().includes('\r\n\r\n{'), 2000, 'refusal');
    expect(third.text()).toMatch(/^HTTP\/1\.1 429 /);
    expect(third.text()).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(third.text()).toMatch(/\r\nconnection: close\r\n/i);
    expect(third.text()).toContain('{"errorCode":300,"message":"Raft Internal Error","cause":"connections_per_client","index":1}');
    // Another client is served meanwhile, until the proxy as a whole is full.
    const other = await rawRequest('127.0.0.2', GET_KEY);
    await until(() => other.text().includes('"action":"get"'), 2000, 'other client served');
    const full = await rawRequest('127.0.0.3', GET_KEY);
    await until(() => full.text().includes('\r\n\r\n{'), 2000, 'refusal');
    expect(full.text()).toMatch(/^HTTP\/1\.1 503 /);
    expect(full.text()).toContain('"cause":"connections"');
    for (const x of held) x.socket.destroy();
    await until(() => h.app.raftgate.gate.limiter.open <= 1, 2000, 'slots released');
    const m = await http(base, { method: 'GET', path: '/metrics' });
    expect(sample(m.text, 'raftgate_proxy_refused_total', { limit: 'connections_per_client' })).toBe(1);
    expect(sample(m.text, 'raftgate_proxy_refused_total', { limit: 'connections' })).toBe(1);
  });

  test('in-flight requests: over the cap a request gets 503 + Retry-After at once; /health still answers', async () => {
    h = await makeProxy(['--inflight-max', '2']);
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    h.up.holdReads = true;
    const held = [h.app.inject({ method: 'GET', url: '/v2/keys/x1' }), h.app.inject({ method: 'GET', url: '/v2/keys/x2' })];
    await until(() => h.app.raftgate.inflight.open === 2, 2000, 'two requests in flight');
    const t0 = Date.now();
    const r = await h.app.inject({ method: 'GET', url: '/v2/keys/x3' });
    expect(Date.now() - t0).toBeLessThan(1000); // refused, not queued behind the held reads
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ errorCode: 300, message: 'Raft Internal Error', cause: 'inflight', index: 1 });
    expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    h.up.release();
    for (const x of await Promise.all(held)) expect(x.statusCode).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: '/v2/keys/a' })).statusCode).toBe(200);
    const m = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(sample(m.body, 'raftgate_proxy_refused_total', { limit: 'inflight' })).toBe(1);
  });

  test('watchers: over the cap a watch gets 503 naming the limit; watches do not use up in-flight slots', async () => {
    await listen(['--watchers-max', '3', '--inflight-max', '2']);
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    const held = await Promise.all(Array.from({ length: 3 }, () => openClientWatch(base, '/a')));
    for (const w of held) expect(w.status).toBe(200);
    const r = await http(base, { method: 'GET', path: '/v2/keys/a?wait=true' });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(JSON.parse(r.text)).toMatchObject({ errorCode: 300, cause: 'watchers' });
    // Three open watches, in-flight cap 2: plain reads still pass.
    expect((await http(base, { method: 'GET', path: '/v2/keys/a' })).status).toBe(200);
    const m = await http(base, { method: 'GET', path: '/metrics' });
    expect(sample(m.text, 'raftgate_proxy_refused_total', { limit: 'watchers' })).toBe(1);
    expect(sample(m.text, 'raftgate_proxy_watchers')).toBe(3);
    for (const w of held) w.abort();
  });

  test('request body: over --body-bytes-max is 413 naming the limit, without Retry-After (sending it again cannot succeed)', async () => {
    h = await makeProxy(['--body-bytes-max', '1KiB']);
    const r = await h.app.inject({ method: 'PUT', url: '/v2/keys/a', headers: FORM, payload: 'value=' + 'x'.repeat(2000) });
    expect(r.statusCode).toBe(413);
    expect(r.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(r.body)).toMatchObject({ errorCode: 300, cause: 'body_bytes' });
    expect(h.up.calls.write).toBe(0);
    const m = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(sample(m.body, 'raftgate_proxy_refused_total', { limit: 'body_bytes' })).toBe(1);
  });

  test('header time: a client that never finishes its headers is cut off after --header-timeout', async () => {
    await listen(['--header-timeout', '300ms']);
    const slow = await rawRequest('127.0.0.1', 'GET /v2/keys/a HTTP/1.1\r\nHost: x\r\n');
    let closed = false;
    slow.socket.on('close', () => (closed = true));
    await until(() => closed, 3000, 'slow-header connection closed');
    expect(slow.text()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('idle connections', () => {
  test('a keep-alive connection left idle is closed after --idle-timeout', async () => {
    await listen(['--idle-timeout', '1s']);
    const c = await rawRequest('127.0.0.1', 'GET /version HTTP/1.1\r\nHost: x\r\n\r\n');
    let closedAt = 0;
    c.socket.on('close', () => (closedAt = Date.now()));
    await until(() => c.text().includes('etcdserver'), 2000, 'the answer');
    const answeredAt = Date.now();
    await until(() => closedAt > 0, 5000, 'the idle connection closed');
    expect(closedAt - answeredAt).toBeGreaterThanOrEqual(900);
    expect(h.app.raftgate.gate.limiter.open).toBe(0);
  });
});

describe('/health, /ready, /metrics', () => {
  test('/ready only while the upstream watch is live and within the staleness bound; /health while a member answers', async () => {
    h = await makeProxy(['--max-staleness', '1s']);
    const r1 = await h.app.inject({ method: 'GET', url: '/ready' });
    expect(r1.statusCode).toBe(200);
    expect(JSON.parse(r1.body)).toMatchObject({ ready: true });
    h.clock.ms += 1500; // no progress
    const r2 = await h.app.inject({ method: 'GET', url: '/ready' });
    expect(r2.statusCode).toBe(503);
    expect(JSON.parse(r2.body).reason).toMatch(/stale/);
    h.up.pump();
    expect((await h.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/health' })).body).toBe('{"health":"true"}');
    h.up.unreachable = true;
    expect((await h.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    const hl = await h.app.inject({ method: 'GET', url: '/health' });
    expect(hl.statusCode).toBe(503);
    expect(hl.body).toBe('{"health":"false"}');
  });

  test('/ready needs both: a live watch with a fresh view, not one without the other', async () => {
    h = await makeProxy(['--max-staleness', '2s']);
    const ready = async () => {
      const r = await h.app.inject({ method: 'GET', url: '/ready' });
      return { code: r.statusCode, reason: (JSON.parse(r.body) as { reason: string }).reason };
    };
    expect(await ready()).toEqual({ code: 200, reason: 'ok' });
    // The member answers (healthy) and the view is fresh, but the stream is down.
    h.up.streamDown = true;
    expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(await ready()).toEqual({ code: 503, reason: 'upstream watch stream not live' });
    // The stream is live again, but it has said nothing for longer than the bound.
    h.up.streamDown = false;
    h.clock.ms += 2001;
    expect(await ready()).toMatchObject({ code: 503, reason: expect.stringMatching(/^view 2001 ms stale \(bound 2000 ms\)$/) });
    h.clock.ms -= 1; // exactly at the bound: still within it
    expect((await ready()).code).toBe(200);
    h.clock.ms += 1;
    h.up.pump(); // progress: current again
    expect(await ready()).toEqual({ code: 200, reason: 'ok' });
  });

  test('/ready with --max-staleness 0 (no cache) holds the view to 1 s', async () => {
    h = await makeProxy(['--max-staleness', '0']);
    expect((await h.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    h.clock.ms += 1001;
    expect(JSON.parse((await h.app.inject({ method: 'GET', url: '/ready' })).body)).toMatchObject({ ready: false, reason: 'view 1001 ms stale (bound 1000 ms)' });
  });

  const CONTRACT = [
    'raftgate_proxy_http_requests_total',
    'raftgate_proxy_http_request_duration_seconds',
    'raftgate_proxy_cache_hits_total',
    'raftgate_proxy_cache_misses_total',
    'raftgate_proxy_cache_bytes',
    'raftgate_proxy_cache_entries',
    'raftgate_proxy_staleness_seconds',
    'raftgate_proxy_max_staleness_seconds',
    'raftgate_proxy_view_index',
    'raftgate_proxy_watchers',
    'raftgate_proxy_upstream_watch_streams',
    'raftgate_proxy_watchers_dropped_total',
    'raftgate_proxy_connections',
    'raftgate_proxy_refused_total',
    'raftgate_proxy_upstream_request_duration_seconds',
    'raftgate_proxy_upstream_members_up',
    'raftgate_proxy_upstream_resyncs_total',
    'raftgate_proxy_cache_evictions_total',
    'raftgate_proxy_cache_invalidations_total',
    'raftgate_proxy_upstream_watch_lag_events',
    'raftgate_proxy_upstream_watch_reconnects_total',
    'raftgate_proxy_process_resident_memory_bytes',
  ];

  test('/metrics carries every name of the contract, with its labels, and counts what happened', async () => {
    h = await makeProxy(['--max-staleness', '2s']);
    h.up.direct(putReq('/a', '1'));
    h.up.pump();
    await h.app.inject({ method: 'GET', url: '/v2/keys/a' });
    await h.app.inject({ method: 'GET', url: '/v2/keys/a' });
    await h.app.inject({ method: 'PUT', url: '/v2/keys/b', headers: FORM, payload: 'value=2' });
    await h.app.inject({ method: 'GET', url: '/v2/keys/b?quorum=true' });
    h.clock.ms += 500;
    const m = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    const types = new Map([...m.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1], x[2]]));
    for (const name of CONTRACT) expect(types.has(name), name).toBe(true);
    expect(types.get('raftgate_proxy_http_request_duration_seconds')).toBe('histogram');
    expect(types.get('raftgate_proxy_upstream_request_duration_seconds')).toBe('histogram');
    expect(types.get('raftgate_proxy_refused_total')).toBe('counter');
    expect(sample(m, 'raftgate_proxy_http_requests_total', { route: 'keys', method: 'GET', code: '200' })).toBe(3);
    expect(sample(m, 'raftgate_proxy_http_requests_total', { route: 'keys', method: 'PUT', code: '201' })).toBe(1);
    expect(sample(m, 'raftgate_proxy_cache_hits_total')).toBe(1);
    expect(sample(m, 'raftgate_proxy_cache_misses_total')).toBe(1);
    expect(sample(m, 'raftgate_proxy_cache_entries')).toBe(1);
    expect(sample(m, 'raftgate_proxy_max_staleness_seconds')).toBe(2);
    expect(sample(m, 'raftgate_proxy_staleness_seconds')).toBeCloseTo(0.5, 5);
    expect(sample(m, 'raftgate_proxy_view_index')).toBe(2);
    expect(sample(m, 'raftgate_proxy_upstream_watch_streams')).toBe(1);
    expect(sample(m, 'raftgate_proxy_upstream_members_up')).toBe(1);
    for (const op of ['get', 'write', 'quorum_get']) expect(sample(m, 'raftgate_proxy_upstream_request_duration_seconds_count', { op, member: FAKE_MEMBER_ID })).toBe(1);
    expect(sample(m, 'raftgate_proxy_upstream_request_duration_seconds_sum', { op: 'write', member: FAKE_MEMBER_ID })).toBeCloseTo(h.up.attemptSeconds, 9);
    for (const name of ['cache_evictions_total', 'cache_invalidations_total', 'upstream_watch_lag_events', 'upstream_watch_reconnects_total']) {
      expect(sample(m, `raftgate_proxy_${name}`), name).toBe(0);
    }
    for (const limit of ['connections', 'connections_per_client', 'inflight', 'watchers', 'body_bytes']) expect(sample(m, 'raftgate_proxy_refused_total', { limit })).toBe(0);
    for (const reason of ['overflow', 'cleared']) expect(sample(m, 'raftgate_proxy_watchers_dropped_total', { reason })).toBe(0);
    const routes = new Set([...m.matchAll(/^raftgate_proxy_http_requests_total\{route="([^"]+)"/gm)].map((x) => x[1]));
    for (const r of routes) expect(['keys', 'keys_watch', 'version', 'health', 'ready', 'status', 'members', 'machines', 'stats', 'metrics', 'other']).toContain(r);
  });

  test('a tiny cache evicts, and an eviction is counted apart from an invalidation by an event', async () => {
    // Each answer is ~150 bytes; 1 KiB holds a handful.
    h = await makeProxy(['--max-staleness', '5s', '--cache-bytes-max', '1024']);
    for (let i = 0; i < 20; i++) h.up.direct(putReq(`/e/k${i}`, 'v'));
    h.up.pump();
    for (let i = 0; i < 20; i++) expect((await h.app.inject({ method: 'GET', url: `/v2/keys/e/k${i}` })).statusCode).toBe(200);
    const m1 = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    const st = h.app.raftgate.cache.stats();
    expect(st.entries).toBeLessThan(20);
    expect(st.evictions).toBe(20 - st.entries);
    expect(sample(m1, 'raftgate_proxy_cache_evictions_total')).toBe(20 - st.entries);
    expect(sample(m1, 'raftgate_proxy_cache_invalidations_total')).toBe(0);
    // A directory delete drops what is cached beneath it: invalidations, not evictions.
    h.up.direct({ kind: 'write', req: { method: 'DELETE', path: '/e', value: '', dir: true, prevExist: null, prevValue: '', prevIndex: 0, recursive: true, refresh: false }, ttl: undefined, noValueOnSuccess: false });
    h.up.pump();
    const m2 = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(m2, 'raftgate_proxy_cache_invalidations_total')).toBe(st.entries);
    expect(sample(m2, 'raftgate_proxy_cache_evictions_total')).toBe(20 - st.entries);
    expect(sample(m2, 'raftgate_proxy_cache_entries')).toBe(0);
  });

  test('upstream watch lag: > 0 while a write answer is ahead of the view, 0 once the stream delivers; reconnects mirror the upstream', async () => {
    h = await makeProxy();
    h.up.autoPump = false;
    const lag = async () => sample((await h.app.inject({ method: 'GET', url: '/metrics' })).body, 'raftgate_proxy_upstream_watch_lag_events');
    expect(await lag()).toBe(0);
    for (let i = 0; i < 3; i++) expect((await h.app.inject({ method: 'PUT', url: `/v2/keys/lag${i}`, headers: FORM, payload: 'value=1' })).statusCode).toBe(201);
    expect(h.app.raftgate.view.index).toBe(0);
    expect(await lag()).toBe(3);
    expect(h.app.raftgate.status().upstreamLagEvents).toBe(3);
    h.up.pump();
    expect(await lag()).toBe(0);
    h.up.watchReconnects = 2;
    expect(sample((await h.app.inject({ method: 'GET', url: '/metrics' })).body, 'raftgate_proxy_upstream_watch_reconnects_total')).toBe(2);
  });
});

describe('GET /raftgate/v1/status', () => {
  test('the proxy says what it knows as JSON: view, cache, watchers, lag and the members with the leader it believes in', async () => {
    h = await makeProxy(['--max-staleness', '3s']);
    h.up.direct(putReq('/s', '1'));
    h.up.pump();
    await h.app.inject({ method: 'GET', url: '/v2/keys/s' });
    await h.app.inject({ method: 'GET', url: '/v2/keys/s' });
    h.clock.ms += 250;
    const r = await h.app.inject({ method: 'GET', url: '/raftgate/v1/status' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const s = JSON.parse(r.body) as ProxyStatus;
    expect(s).toEqual({
      kind: 'proxy',
      mode: 'readwrite',
      stalenessMs: 250,
      maxStalenessMs: 3000,
      viewIndex: 1,
      watchers: 0,
      upstreamWatchStreams: 1,
      upstreamMembersUp: 1,
      cacheHits: 1,
      cacheMisses: 1,
      cacheEntries: 1,
      cacheBytes: h.app.raftgate.cache.stats().bytes,
      upstreamLagEvents: 0,
      members: [{ id: FAKE_MEMBER_ID, name: 'fake', clientURL: 'http://127.0.0.1:1', up: true, leader: true }],
    } satisfies ProxyStatus);
    expect(s.cacheBytes).toBeGreaterThan(0);
    // The same numbers as /metrics.
    const m = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(m, 'raftgate_proxy_cache_hits_total')).toBe(s.cacheHits);
    expect(sample(m, 'raftgate_proxy_http_requests_total', { route: 'status', method: 'GET', code: '200' })).toBe(1);
    // GET only, as on a member.
    expect((await h.app.inject({ method: 'POST', url: '/raftgate/v1/status' })).statusCode).toBe(405);
  });

  test('readonly: still answered (an operator GET, like /metrics), while a write gets 501', async () => {
    h = await makeProxy(['--mode', 'readonly']);
    const r = await h.app.inject({ method: 'GET', url: '/raftgate/v1/status' });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ kind: 'proxy', mode: 'readonly' });
    expect((await h.app.inject({ method: 'PUT', url: '/v2/keys/x', headers: FORM, payload: 'value=1' })).statusCode).toBe(501);
    expect((await h.app.inject({ method: 'POST', url: '/raftgate/v1/status' })).statusCode).toBe(405);
  });

  test('before the view was ever current, stalenessMs is null (JSON has no Infinity)', async () => {
    const { FakeUpstream } = await import('./fake-upstream.js');
    const up = new FakeUpstream();
    up.start = () => undefined; // never syncs
    h = await makeProxy([], { up });
    const s = JSON.parse((await h.app.inject({ method: 'GET', url: '/raftgate/v1/status' })).body) as ProxyStatus;
    expect(s.stalenessMs).toBeNull();
  });

  test.skipIf(!existsSync('/usr/bin/promtool'))('promtool check metrics accepts the exposition', async () => {
    h = await makeProxy();
    await h.app.inject({ method: 'GET', url: '/v2/keys/a' });
    const m = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    // Throws (non-zero exit) on any complaint.
    const out = execFileSync('promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
    expect(out.trim()).toBe('');
  });
});
