// A real `raftgate proxy` process in front of a real `raftgate core` member:
// the claims of issue 4 with numbers a user would notice.
//
//   - 5,000 concurrent client watchers → exactly 1 upstream watch stream (counted
//     on the core's raftgate_core_native_watch_streams); every watcher gets
//     each event meant for it exactly once, in order — also across a kill -9
//     and restart of the member (checkWatchOrder);
//   - concurrent misses on one key → 1 upstream read (the core's
//     raftgate_core_native_requests_total{op="get"});
//   - cut from the core: no cached answer older than the bound, then 503;
//     a write made directly on the core is visible through the proxy within
//     the bound;
//   - a POST whose outcome is unknown is never retried (one in-order key);
//   - etcdctl v2 works through the proxy; /metrics passes promtool.
// Needs dist/ (npm test builds first).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkWatchOrder } from '../../proxy/watch/watch-order.js';
import { http } from '../helpers/http.js';
import { historyLog, openClientWatch, sample, startRaftgateProxy, until, watchRecord } from '../helpers/proxy.js';
import type { ClientWatch, ProxyHandle } from '../helpers/proxy.js';
import { startRaftgateCore } from '../helpers/raftgate.js';
import type { RaftgateHandle } from '../helpers/raftgate.js';

let member: RaftgateHandle;
let proxy: ProxyHandle;

// The number; RG_PROXY_WATCHERS overrides it when hunting a problem.
const WATCHERS = Number(process.env['RG_PROXY_WATCHERS'] ?? 5000);

beforeAll(async () => {
  member = await startRaftgateCore({ name: 'proxy-it', dataDirParent: existsSync('/dev/shm') ? '/dev/shm' : undefined });
  proxy = await startRaftgateProxy({
    endpoints: [member.clientUrl],
    extraArgs: ['--connections-max', '20000', '--connections-per-client-max', '20000', '--watchers-max', '20000', '--max-staleness', '1s', '--health-check-interval', '200ms'],
  });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await member?.stop();
});

const coreMetrics = async (): Promise<string> => (await http(member.clientUrl, { method: 'GET', path: '/metrics' })).text;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const untilUp = (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => until(cond, timeoutMs, what, () => `${proxy.describe()}\n${member.describe()}`);

async function write(base: string, key: string, value: string): Promise<number> {
  const r = await http(base, { method: 'PUT', path: `/v2/keys${key}`, form: [['value', value]] });
  if (r.status !== 200 && r.status !== 201) throw new Error(`PUT ${key} answered ${r.status} ${r.text}`);
  return Number(r.headers['x-etcd-index']);
}

describe('proxy in front of a real member', () => {
  test(`${WATCHERS} concurrent client watchers ride ONE upstream watch stream; each gets its events exactly once, in order — across a kill -9 and restart of the member`, async () => {
    const first = await write(proxy.url, '/w/warm', '0');
    await untilUp(async () => Number((await http(proxy.url, { method: 'GET', path: '/v2/keys/w/warm' })).headers['x-etcd-index']) >= first, 5000, 'proxy view at the warm-up write');
    const kinds = [
      { key: '/w/k0', recursive: false, stream: true },
      { key: '/w/k1', recursive: false, stream: true },
      { key: '/w/k2', recursive: false, stream: false },
      { key: '/w', recursive: true, stream: true },
      { key: '/w/sub', recursive: true, stream: true },
      { key: '/w/sub/k3', recursive: false, stream: false },
      { key: '/', recursive: true, stream: true },
      { key: '/w/_hidden', recursive: false, stream: true },
    ];
    const watches: ClientWatch[] = [];
    const batch = 100;
    for (let i = 0; i < WATCHERS; i += batch) {
      watches.push(...(await Promise.all(Array.from({ length: batch }, (_, j) => kinds[(i + j) % kinds.length]!).map((k) => openClientWatch(proxy.url, k.key, k)))));
    }
    const m0 = await coreMetrics();
    expect(sample(m0, 'raftgate_core_native_watch_streams')).toBe(1);
    expect(sample(await proxy.metrics(), 'raftgate_proxy_watchers')).toBe(WATCHERS);
    // The core sees the proxy's pooled connections only (4 by default), never one per client.
    expect(sample(m0, 'raftgate_core_native_connections')).toBeLessThanOrEqual(4);

    const keys = ['/w/k0', '/w/k1', '/w/k2', '/w/sub/k3', '/w/sub/deep/k4', '/w/_hidden', '/elsewhere', '/w/k0'];
    let last = first;
    const writeSome = async (round: number): Promise<void> => {
      for (const [i, k] of keys.entries()) last = await write(i % 2 === 0 ? member.clientUrl : proxy.url, k, `${round}-${i}`);
    };
    await writeSome(1);
    await member.kill9();
    await member.restart();
    await writeSome(2);
    await untilUp(async () => sample(await coreMetrics(), 'raftgate_core_native_watch_streams') === 1, 10_000, 'the stream back on the restarted member');
    await writeSome(3);
    // Every stream watcher on "/" has heard the last write: the stream has delivered everything.
    await untilUp(() => watches.filter((w) => w.key === '/' && w.stream).every((w) => w.events().at(-1)?.node.modifiedIndex === last), 15_000, 'root watchers at the last write');
    await sleep(100);
    expect(sample(await coreMetrics(), 'raftgate_core_native_watch_streams')).toBe(1);

    const log = await historyLog(member.clientUrl, first + 1, last);
    const records = watches.map((w) => watchRecord(w));
    for (const w of watches) w.abort();
    await Promise.all(watches.map((w) => w.done));
    expect(records.every((r) => r.startIndex === first)).toBe(true);
    expect(checkWatchOrder(log, records)).toEqual([]);
    const total = records.reduce((n, r) => n + r.received.length, 0);
    console.log(`[proxy-core] ${WATCHERS} watchers, 1 upstream stream, ${total} events delivered across a member kill -9 + restart, no loss or repeat`);
  }, 180_000);

  test('concurrent misses on one key make ONE upstream read', async () => {
    await write(member.clientUrl, '/sf/hot', 'v');
    await sleep(100);
    const getsOf = (m: string) => sample(m, 'raftgate_core_native_requests_total', { op: 'get', outcome: 'ok' }) ?? 0;
    const before = getsOf(await coreMetrics());
    const answers = await Promise.all(Array.from({ length: 200 }, () => http(proxy.url, { method: 'GET', path: '/v2/keys/sf/hot' })));
    const after = getsOf(await coreMetrics());
    expect(after - before).toBe(1);
    for (const a of answers) expect(JSON.parse(a.text).node.value).toBe('v');
    expect(answers.filter((a) => a.headers['x-cache'] === 'MISS').length).toBeGreaterThanOrEqual(1);
    console.log(`[proxy-core] 200 concurrent misses on one key: ${after - before} upstream read`);
  });

  test('a write made directly on the core is visible through the proxy within the bound', async () => {
    await write(member.clientUrl, '/vis/k', 'old');
    await http(proxy.url, { method: 'GET', path: '/v2/keys/vis/k' });
    const t0 = Date.now();
    await write(member.clientUrl, '/vis/k', 'new');
    let seenMs = -1;
    while (Date.now() - t0 < 1000) {
      const r = await http(proxy.url, { method: 'GET', path: '/v2/keys/vis/k' });
      if (JSON.parse(r.text).node.value === 'new') {
        seenMs = Date.now() - t0;
        break;
      }
      await sleep(5);
    }
    // After the bound the old value can no longer be served, whatever the timing.
    const after = await http(proxy.url, { method: 'GET', path: '/v2/keys/vis/k' });
    expect(JSON.parse(after.text).node.value).toBe('new');
    console.log(`[proxy-core] a direct write was visible through the proxy after ${seenMs} ms (bound 1000 ms)`);
  });

  test('a POST whose outcome is unknown is not retried: exactly one in-order key', async () => {
    // Freeze the member: the proxy sends the POST, hears nothing, drops the
    // connection (3 s without a byte) and must not send it again elsewhere.
    process.kill(member.pid, 'SIGSTOP');
    let r;
    try {
      r = await http(proxy.url, { method: 'POST', path: '/v2/keys/q', form: [['value', 'once']], timeoutMs: 20_000 });
    } finally {
      process.kill(member.pid, 'SIGCONT');
    }
    expect(r.status).toBe(500);
    expect(JSON.parse(r.text)).toMatchObject({ errorCode: 300, cause: 'upstream_outcome_unknown' });
    await sleep(300);
    const list = await http(member.clientUrl, { method: 'GET', path: '/v2/keys/q?recursive=true&quorum=true' });
    expect((JSON.parse(list.text) as { node: { nodes?: unknown[] } }).node.nodes ?? []).toHaveLength(1);
    // And once the member is back, writes flow again.
    await untilUp(async () => (await http(proxy.url, { method: 'POST', path: '/v2/keys/q', form: [['value', 'twice']] })).status === 201, 10_000, 'writes flow again');
  }, 60_000);

  test('cut from the core: no cached answer older than the bound, then 503 etcd-style', async () => {
    await write(member.clientUrl, '/cut/k', 'v');
    await untilUp(async () => (await http(proxy.url, { method: 'GET', path: '/v2/keys/cut/k' })).headers['x-cache'] === 'HIT', 5000, 'a cached answer');
    const reconnectsBefore = sample(await proxy.metrics(), 'raftgate_proxy_upstream_watch_reconnects_total') ?? NaN;
    await member.kill9();
    const t0 = Date.now();
    let lastHitMs = 0;
    let firstRefusalMs = -1;
    let maxAge = 0;
    while (Date.now() - t0 < 5000) {
      const r = await http(proxy.url, { method: 'GET', path: '/v2/keys/cut/k' });
      if (r.headers['x-cache'] === 'HIT') {
        lastHitMs = Date.now() - t0;
        maxAge = Math.max(maxAge, Number(r.headers['x-raftgate-staleness-ms']));
      } else {
        expect(r.status).toBe(503);
        expect(JSON.parse(r.text)).toMatchObject({ errorCode: 300, cause: 'upstream_unreachable' });
        firstRefusalMs = Date.now() - t0;
        break;
      }
      await sleep(10);
    }
    expect(firstRefusalMs).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(1000);
    // ... unless the client asks for stale-if-error.
    const stale = await http(proxy.url, { method: 'GET', path: '/v2/keys/cut/k', headers: { 'cache-control': 'stale-if-error=30' } });
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect((await http(proxy.url, { method: 'GET', path: '/ready' })).status).toBe(503);
    console.log(`[proxy-core] member killed: last cached answer at +${lastHitMs} ms (age ≤ ${maxAge} ms), first 503 at +${firstRefusalMs} ms (bound 1000 ms)`);
    await member.restart();
    await untilUp(async () => (await http(proxy.url, { method: 'GET', path: '/ready' })).status === 200, 10_000, 'ready again');
    // The stream came back on the restarted member: a reconnect, and a view that is current again.
    const m = await proxy.metrics();
    expect(sample(m, 'raftgate_proxy_upstream_watch_reconnects_total')).toBeGreaterThan(reconnectsBefore);
    expect(sample(m, 'raftgate_proxy_upstream_watch_lag_events')).toBe(0);
  }, 60_000);

  test('etcdctl (v2) works through the proxy, including its endpoint sync', () => {
    const env = { ...process.env, ETCDCTL_API: '2' };
    const ctl = (...args: string[]) => spawnSync('/usr/bin/etcdctl', ['--endpoints', proxy.url, ...args], { env, encoding: 'utf8', timeout: 10_000 });
    expect(ctl('set', '/ctl/a', 'one').stdout).toBe('one\n');
    expect(ctl('get', '/ctl/a').stdout).toBe('one\n');
    expect(ctl('ls', '/ctl').stdout).toBe('/ctl/a\n');
    expect(ctl('member', 'list').stdout).toContain(`clientURLs=${proxy.url}`);
    const missing = ctl('get', '/ctl/nope');
    expect(missing.status).toBe(4);
    expect(missing.stderr).toMatch(/^Error: {2}100: Key not found \(\/ctl\/nope\) \[\d+\]/);
  });

  test.skipIf(!existsSync('/usr/bin/promtool'))('a live /metrics passes promtool check metrics', async () => {
    const text = await proxy.metrics();
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out.trim()).toBe('');
    expect(sample(text, 'raftgate_proxy_upstream_members_up')).toBe(1);
  });
});
