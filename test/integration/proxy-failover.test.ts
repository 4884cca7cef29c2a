// Failover through a proxy in front of a real 3-member Raftgate cluster:
// kill -9 the leader (which carries the proxy's one watch stream) while
// clients write, read and watch through the proxy. Reads, writes and the
// watch move to the surviving members; no client watcher loses or repeats
// an event (checkWatchOrder against a survivor's history); answers never go
// back in index; no POST creates two in-order keys. The times to recover
// are measured and printed, not asserted (timing is noisy here).
// Needs dist/ (npm test builds first).

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkWatchOrder } from '../../proxy/watch/watch-order.js';
import { startCluster } from '../helpers/cluster.js';
import type { ClusterHandle, MemberHandle } from '../helpers/cluster.js';
import { http } from '../helpers/http.js';
import { historyLog, openClientWatch, sample, startRaftgateProxy, until, watchRecord } from '../helpers/proxy.js';
import type { ProxyHandle } from '../helpers/proxy.js';
import { raftgateEntry } from '../helpers/raftgate.js';

/** The capability check: a core build that still refuses multi-member clusters says so in its server. */
function coreRunsClusters(): boolean {
  try {
    return !readFileSync(raftgateEntry.replace(/cli[/\\]main\.js$/, 'core-server/server.js'), 'utf8').includes('single-member clusters only');
  } catch {
    return false;
  }
}

let cluster: ClusterHandle;
let proxy: ProxyHandle;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!coreRunsClusters())('failover through a proxy in front of 3 members', () => {
  beforeAll(async () => {
    cluster = await startCluster({ members: 3 });
    // One endpoint is enough: the proxy finds the others through /v2/members.
    // It is the leader's, so the stream (opened on the first member known,
    // the leader when known) and the writes are both on the member killed.
    const leader = await cluster.leader();
    proxy = await startRaftgateProxy({
      endpoints: [leader.clientUrl],
      extraArgs: ['--health-check-interval', '200ms', '--connections-per-client-max', '5000', '--watchers-max', '5000', '--max-staleness', '1s'],
    });
    await until(async () => sample(await proxy.metrics(), 'raftgate_proxy_upstream_members_up') === 3, 10_000, 'all three members up');
  }, 90_000);

  afterAll(async () => {
    await proxy?.stop();
    await cluster?.destroy();
  });

  test('kill -9 the leader: reads, writes and the watch move; no watcher loses an event; no answer goes back; no POST twice', async () => {
    const leader = await cluster.leader();
    const survivors = cluster.members.filter((m) => m !== leader);
    const streamsOn = async (m: MemberHandle) => sample((await http(m.clientUrl, { method: 'GET', path: '/metrics', timeoutMs: 1000 })).text, 'raftgate_core_native_watch_streams') ?? 0;
    await until(async () => (await streamsOn(leader)) === 1, 10_000, 'the stream on the leader');
    const first = Number((await http(proxy.url, { method: 'PUT', path: '/v2/keys/f/warm', form: [['value', '0']] })).headers['x-etcd-index']);
    await until(async () => Number((await http(proxy.url, { method: 'GET', path: '/v2/keys/f/warm' })).headers['x-etcd-index']) >= first, 5000, 'view at the warm-up');

    const kinds = [
      { key: '/f/k', recursive: false, stream: true },
      { key: '/f', recursive: true, stream: true },
      { key: '/f/q', recursive: true, stream: true },
      { key: '/', recursive: true, stream: true },
    ];
    const watches = await Promise.all(Array.from({ length: 200 }, (_, i) => openClientWatch(proxy.url, kinds[i % kinds.length]!.key, kinds[i % kinds.length]!)));

    // Clients: one writer (PUTs and POSTs, unique values), one reader.
    let stop = false;
    const writes: { started: number; t: number; status: number; value: string }[] = [];
    const reads: { t: number; status: number; index: number }[] = [];
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const value = `w${i}`;
        const post = i % 2 === 1;
        const started = Date.now();
        const r = await http(proxy.url, { method: post ? 'POST' : 'PUT', path: post ? '/v2/keys/f/q' : '/v2/keys/f/k', form: [['value', value]], timeoutMs: 10_000 }).catch(() => ({ status: -1 }));
        writes.push({ started, t: Date.now(), status: r.status, value });
        await sleep(10);
      }
    })();
    const reader = (async () => {
      while (!stop) {
        const r = await http(proxy.url, { method: 'GET', path: '/v2/keys/f/k', timeoutMs: 10_000 }).catch(() => null);
        if (r !== null) reads.push({ t: Date.now(), status: r.status, index: Number(r.headers['x-etcd-index'] ?? 0) });
        await sleep(5);
      }
    })();

    await sleep(1000);
    const killedAt = Date.now();
    await leader.kill9();
    const deadAt = Date.now(); // the process has exited: nothing it sent can still be a fresh answer
    // The stream moves to a survivor, and writes flow again on the new leader.
    await until(async () => (await Promise.all(survivors.map(streamsOn))).reduce((a, b) => a + b, 0) === 1, 15_000, 'the stream on a survivor');
    const streamMovedMs = Date.now() - killedAt;
    await until(() => writes.some((w) => w.started > deadAt && (w.status === 200 || w.status === 201)), 20_000, 'a write sent after the kill');
    await sleep(1500);
    stop = true;
    await Promise.all([writer, reader]);

    const firstWriteOk = writes.find((w) => w.started > deadAt && (w.status === 200 || w.status === 201));
    const failedWrites = writes.filter((w) => w.t > killedAt && w.status !== 200 && w.status !== 201);
    const firstReadOk = reads.find((r) => r.t > killedAt && r.status === 200);
    console.log(
      `[proxy-failover] leader killed: stream on a survivor after ≤${streamMovedMs} ms (polled), first write sent after the kill answered ok at +${(firstWriteOk?.t ?? 0) - killedAt} ms, ` +
        `first read ok +${(firstReadOk?.t ?? 0) - killedAt} ms, writes failed during failover: ${failedWrites.length} (${[...new Set(failedWrites.map((w) => w.status))].join(',')})`,
    );

    // A write sent after the kill was placed on the new leader before the
    // proxy's upstream timeout (5 s) ran out — 10x the cluster's election
    // timeout, so only a proxy that cannot find the new leader misses it.
    expect(firstWriteOk).toBeDefined();
    expect((firstWriteOk?.t ?? Infinity) - killedAt).toBeLessThan(5000);

    // Monotonic reads across the failover.
    const ok = reads.filter((r) => r.status === 200);
    for (let i = 1; i < ok.length; i++) expect(ok[i]!.index, `read ${i}`).toBeGreaterThanOrEqual(ok[i - 1]!.index);

    // No POST created two in-order keys: each value at most once; every acknowledged POST is there.
    const last = Number((await http(survivors[0]!.clientUrl, { method: 'GET', path: '/v2/keys/f/q?recursive=true&quorum=true' })).headers['x-etcd-index']);
    const q = JSON.parse((await http(survivors[0]!.clientUrl, { method: 'GET', path: '/v2/keys/f/q?recursive=true&quorum=true' })).text) as { node: { nodes?: { value: string }[] } };
    const values = (q.node.nodes ?? []).map((n) => n.value);
    expect(new Set(values).size).toBe(values.length);
    for (const w of writes.filter((x) => x.status === 201 && Number(x.value.slice(1)) % 2 === 1)) expect(values).toContain(w.value);

    // Every watcher got every event meant for it, once, in order, through the failover.
    await until(() => watches.filter((w) => w.key === '/').every((w) => w.text().includes(`"modifiedIndex":${last}`)), 10_000, 'root watchers at the end', proxy.describe);
    await sleep(500);
    const log = await historyLog(survivors[0]!.clientUrl, first + 1, last);
    const records = watches.map((w) => watchRecord(w));
    for (const w of watches) w.abort();
    await Promise.all(watches.map((w) => w.done));
    expect(records.some((r) => r.received.length > 10)).toBe(true);
    expect(checkWatchOrder(log, records)).toEqual([]);
    await leader.start();
  }, 120_000);

  test('SIGSTOP the member carrying the stream: the silent stream is abandoned for another member, and no watcher loses an event', async () => {
    const streamsOn = async (m: MemberHandle) => sample((await http(m.clientUrl, { method: 'GET', path: '/metrics', timeoutMs: 1000 }).catch(() => ({ text: '' }))).text, 'raftgate_core_native_watch_streams') ?? 0;
    await until(async () => sample(await proxy.metrics(), 'raftgate_proxy_upstream_members_up') === 3, 15_000, 'all three members up again');
    let carrier: MemberHandle | undefined;
    await until(async () => {
      for (const m of cluster.members) if ((await streamsOn(m)) === 1) carrier = m;
      return carrier !== undefined;
    }, 10_000, 'the member carrying the stream');
    const c = carrier as MemberHandle;
    const others = cluster.members.filter((m) => m !== c);
    const first = Number((await http(proxy.url, { method: 'PUT', path: '/v2/keys/s/warm', form: [['value', '0']], timeoutMs: 10_000 })).headers['x-etcd-index']);
    await until(async () => Number((await http(proxy.url, { method: 'GET', path: '/v2/keys/s/warm' })).headers['x-etcd-index']) >= first, 5000, 'view at the warm-up');
    const watches = await Promise.all(Array.from({ length: 50 }, (_, i) => openClientWatch(proxy.url, i % 2 ? '/s' : '/', { recursive: true, stream: true })));
    c.freeze();
    const frozenAt = Date.now();
    let movedMs = -1;
    try {
      await until(async () => (await Promise.all(others.map(streamsOn))).reduce((a, b) => a + b, 0) === 1, 15_000, 'the stream on another member');
      movedMs = Date.now() - frozenAt;
      let last = first;
      for (let i = 0; i < 10; i++) {
        const r = await http(proxy.url, { method: 'PUT', path: `/v2/keys/s/k${i % 3}`, form: [['value', String(i)]], timeoutMs: 10_000 });
        if (r.status === 200 || r.status === 201) last = Number(r.headers['x-etcd-index']);
      }
      await until(() => watches.every((w) => w.text().includes(`"modifiedIndex":${last}`)), 10_000, 'watchers at the last write', proxy.describe);
      const log = await historyLog(others[0]!.clientUrl, first + 1, last);
      const records = watches.map((w) => watchRecord(w));
      expect(checkWatchOrder(log, records)).toEqual([]);
    } finally {
      c.thaw();
      for (const w of watches) w.abort();
    }
    console.log(`[proxy-failover] stream member frozen (SIGSTOP): stream on another member after ≤${movedMs} ms (polled)`);
  }, 90_000);
});
