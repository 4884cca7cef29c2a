// A real `raftgate proxy` in front of REAL etcd 3.4 (--enable-v2): there is
// no native protocol, so the proxy speaks v2 HTTP to etcd (reads, writes)
// and keeps its one upstream stream as a chain of v2 long polls. Reads,
// writes and watches through the proxy must give etcd's own answers; etcd
// must see one watcher for any number of client watchers; the readonly mode
// must answer as etcd's own readonly proxy (`etcd --proxy readonly`) does.
// Needs dist/ (npm test builds first) and /usr/bin/etcd.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkWatchOrder } from '../../proxy/watch/watch-order.js';
import { etcdBinary, startEtcd } from '../helpers/etcd.js';
import type { EtcdHandle } from '../helpers/etcd.js';
import { http, waitForOk } from '../helpers/http.js';
import { freePort, releasePort } from '../helpers/ports.js';
import { spawnManaged } from '../helpers/process.js';
import { historyLog, openClientWatch, sample, startRaftgateProxy, until, watchRecord } from '../helpers/proxy.js';
import type { ClientWatch, ProxyHandle } from '../helpers/proxy.js';
import type { ProxyStatus } from '../../proxy/status.js';

const dataDirParent = existsSync('/dev/shm') ? '/dev/shm' : undefined;
let etcd: EtcdHandle;
let proxy: ProxyHandle;
let readonly: ProxyHandle;

beforeAll(async () => {
  etcd = await startEtcd({ dataDirParent });
  [proxy, readonly] = await Promise.all([
    startRaftgateProxy({ endpoints: [etcd.clientUrl], extraArgs: ['--connections-per-client-max', '5000', '--watchers-max', '5000', '--health-check-interval', '200ms'] }),
    startRaftgateProxy({ endpoints: [etcd.clientUrl], mode: 'readonly' }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([proxy?.stop(), readonly?.stop()]);
  await etcd?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('proxy in front of real etcd 3.4', () => {
  test('the endpoint is detected as etcd; reads and writes through the proxy give etcd\'s own answers', async () => {
    const steps: { method: string; path: string; form?: [string, string][] }[] = [
      { method: 'PUT', path: '/v2/keys/e/a', form: [['value', 'one']] },
      { method: 'GET', path: '/v2/keys/e/a' },
      { method: 'PUT', path: '/v2/keys/e/a?prevExist=false', form: [['value', 'two']] },
      { method: 'PUT', path: '/v2/keys/e/a?prevValue=one', form: [['value', 'three']] },
      { method: 'GET', path: '/v2/keys/e/a' },
      { method: 'GET', path: '/v2/keys/e/a?quorum=true' },
      { method: 'POST', path: '/v2/keys/e/q', form: [['value', 'x']] },
      { method: 'PUT', path: '/v2/keys/e/d/f', form: [['value', 'y']] },
      { method: 'GET', path: '/v2/keys/e?recursive=true&sorted=true' },
      { method: 'DELETE', path: '/v2/keys/e/d' },
      { method: 'DELETE', path: '/v2/keys/e/d?recursive=true' },
      { method: 'GET', path: '/v2/keys/e/d' },
      { method: 'GET', path: '/v2/keys/e/nope/deeper' },
      { method: 'PUT', path: '/v2/keys/e/n', form: [['value', 'v'], ['ttl', 'x']] },
    ];
    for (const s of steps) {
      const viaProxy = await http(proxy.url, { method: s.method, path: s.path, form: s.form });
      // Ask etcd the same read straight after, at the same index (writes: compare with what etcd now holds).
      if (s.method === 'GET' || s.form?.[1]?.[0] === 'ttl') {
        const direct = await http(etcd.clientUrl, { method: s.method, path: s.path, form: s.form });
        expect(viaProxy.status, `${s.method} ${s.path}`).toBe(direct.status);
        expect(viaProxy.text, `${s.method} ${s.path}`).toBe(direct.text);
        expect(viaProxy.headers['x-etcd-index'], `${s.method} ${s.path}`).toBe(direct.headers['x-etcd-index']);
        expect(viaProxy.headers['x-etcd-cluster-id']).toBe(direct.headers['x-etcd-cluster-id']);
      } else {
        expect([200, 201, 403, 404, 412], `${s.method} ${s.path}: ${viaProxy.text}`).toContain(viaProxy.status);
      }
    }
    // What the writes did is what etcd holds.
    const a = await http(etcd.clientUrl, { method: 'GET', path: '/v2/keys/e/a' });
    expect(JSON.parse(a.text).node.value).toBe('three');
  });

  test('200 client watchers cost etcd ONE watcher per proxy; each gets its events exactly once, in order', async () => {
    const first = Number((await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/ew/warm', form: [['value', '0']] })).headers['x-etcd-index']);
    await until(async () => Number((await http(proxy.url, { method: 'GET', path: '/v2/keys/ew/warm' })).headers['x-etcd-index']) >= first, 5000, 'proxy at the warm-up write', proxy.describe);
    const kinds = [
      { key: '/ew/k0', recursive: false, stream: true },
      { key: '/ew', recursive: true, stream: true },
      { key: '/ew/k1', recursive: false, stream: false },
      { key: '/ew/_h', recursive: false, stream: true },
    ];
    const watches: ClientWatch[] = [];
    for (let i = 0; i < 200; i++) {
      const k = kinds[i % kinds.length]!;
      watches.push(await openClientWatch(proxy.url, k.key, k));
    }
    // Two proxies run in front of this etcd (this one and the readonly one): one long poll each.
    const stats = JSON.parse((await http(etcd.clientUrl, { method: 'GET', path: '/v2/stats/store' })).text) as { watchers: number };
    expect(stats.watchers).toBeLessThanOrEqual(2);
    let last = first;
    for (const [i, k] of ['/ew/k0', '/ew/k1', '/ew/_h', '/ew/x/y', '/ew/k0', '/ew/_h'].entries()) {
      last = Number((await http(i % 2 ? etcd.clientUrl : proxy.url, { method: 'PUT', path: `/v2/keys${k}`, form: [['value', String(i)]] })).headers['x-etcd-index']);
    }
    // Hidden keys reach the proxy's watchers via etcd's history: at the next poll, within the re-arm interval.
    await until(() => watches.filter((w) => w.key === '/ew/_h').every((w) => w.events().length === 2), 5000, 'hidden-key watchers', proxy.describe);
    await until(() => watches.filter((w) => w.key === '/ew').every((w) => w.text().includes(`"modifiedIndex":${last - 1}`)), 5000, 'recursive watchers', proxy.describe);
    const log = await historyLog(etcd.clientUrl, first + 1, last);
    const records = watches.map((w) => watchRecord(w));
    for (const w of watches) w.abort();
    await Promise.all(watches.map((w) => w.done));
    expect(checkWatchOrder(log, records)).toEqual([]);
  }, 60_000);

  test('the proxy caches in front of etcd, kept current by the long-poll stream', async () => {
    await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/ec/k', form: [['value', 'one']] });
    await sleep(100);
    expect((await http(proxy.url, { method: 'GET', path: '/v2/keys/ec/k' })).headers['x-cache']).toBe('MISS');
    expect((await http(proxy.url, { method: 'GET', path: '/v2/keys/ec/k' })).headers['x-cache']).toBe('HIT');
    await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/ec/k', form: [['value', 'two']] });
    await until(async () => JSON.parse((await http(proxy.url, { method: 'GET', path: '/v2/keys/ec/k' })).text).node.value === 'two', 2000, 'the new value', proxy.describe);
    // A refresh is invisible to v2 watchers: the proxy drops its cache rather than show a stale TTL.
    await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/ec/t', form: [['value', 'x'], ['ttl', '100']] });
    await sleep(100);
    await http(proxy.url, { method: 'GET', path: '/v2/keys/ec/t' });
    await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/ec/t', form: [['ttl', '500'], ['refresh', 'true'], ['prevExist', 'true']] });
    await until(async () => {
      const r = await http(proxy.url, { method: 'GET', path: '/v2/keys/ec/t' });
      return (JSON.parse(r.text) as { node: { ttl: number } }).node.ttl > 200;
    }, 3000, 'the refreshed TTL through the proxy', proxy.describe);
    const m = await proxy.metrics();
    expect(m).toMatch(/^raftgate_proxy_upstream_watch_streams 1$/m);
  });

  test("GET /raftgate/v1/status in front of etcd: etcd's member by its id and name, seen as the leader; upstream latency by that member; lag back to 0", async () => {
    const self = (await http(etcd.clientUrl, { method: 'GET', path: '/v2/stats/self' })).json as { id: string; name: string };
    const status = async () => (await http(proxy.url, { method: 'GET', path: '/raftgate/v1/status' })).json as ProxyStatus;
    await until(async () => (await status()).members.some((m) => m.leader), 5000, 'the proxy knows the leader', proxy.describe);
    const w = await http(proxy.url, { method: 'PUT', path: '/v2/keys/es/k', form: [['value', 'v']] });
    expect(w.status).toBe(201);
    const s = await status();
    expect(s).toMatchObject({ kind: 'proxy', mode: 'readwrite', upstreamWatchStreams: 1, upstreamMembersUp: 1 });
    expect(s.members).toEqual([{ id: self.id, name: self.name, clientURL: etcd.clientUrl, up: true, leader: true }]);
    expect(sample(await proxy.metrics(), 'raftgate_proxy_upstream_request_duration_seconds_count', { op: 'write', member: self.id })).toBeGreaterThanOrEqual(1);
    // Once the long poll has delivered the write, the view is not behind anything etcd said.
    await until(async () => sample(await proxy.metrics(), 'raftgate_proxy_upstream_watch_lag_events') === 0, 5000, 'lag 0', proxy.describe);
    expect((await status()).viewIndex).toBeGreaterThanOrEqual(Number(w.headers['x-etcd-index']));
  });

  test('readonly: every non-GET is answered as `etcd --proxy readonly` answers it', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(dataDirParent ?? tmpdir(), 'etcd-ro-'));
    const etcdProxyUrl = `http://127.0.0.1:${port}`;
    const p = spawnManaged(etcdBinary, ['--proxy', 'readonly', '--data-dir', dir, '--listen-client-urls', etcdProxyUrl, '--initial-cluster', `etcd=${etcd.peerUrl}`, '--enable-v2']);
    try {
      await waitForOk(etcdProxyUrl, '/v2/keys/', { timeoutMs: 20_000, isAlive: p.alive, describe: p.describe });
      for (const req of [
        { method: 'PUT', path: '/v2/keys/ro', form: [['value', '1']] as [string, string][] },
        { method: 'POST', path: '/v2/keys/ro', form: [['value', '1']] as [string, string][] },
        { method: 'DELETE', path: '/v2/keys/ro' },
        { method: 'OPTIONS', path: '/v2/keys/ro' },
        { method: 'PUT', path: '/v2/members/abc' },
        { method: 'PUT', path: '/nothing' },
      ]) {
        const want = await http(etcdProxyUrl, req);
        const got = await http(readonly.url, req);
        expect(got.status, `${req.method} ${req.path}`).toBe(want.status);
        expect(got.text).toBe(want.text);
        expect(got.headers['content-type']).toBe(want.headers['content-type']);
        expect(got.headers['content-length']).toBe(want.headers['content-length']);
      }
      expect((await http(readonly.url, { method: 'GET', path: '/v2/keys/e/a' })).status).toBe(200);
    } finally {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
      releasePort(port);
    }
  }, 60_000);
});
