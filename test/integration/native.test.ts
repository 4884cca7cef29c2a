// The native protocol against a real member process: a proxy-side client
// that knows only the member's client URL discovers the native address at
// GET /raftgate/v1/native, then reads, writes and watches over it.
// Needs dist/ (npm test builds first).

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { NativeDiscovery } from '../../core-server/api/native/discovery.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import { NativePool } from '../../proxy/upstream/native-client.js';
import type { NativeResponse } from '../../proxy/upstream/native-client.js';
import { startRaftgateCore } from '../helpers/raftgate.js';
import type { RaftgateHandle } from '../helpers/raftgate.js';

let member: RaftgateHandle;
let pool: NativePool | null = null;

beforeAll(async () => {
  member = await startRaftgateCore({ name: 'native-it' });
}, 30_000);

afterAll(async () => {
  pool?.close();
  await member?.stop();
});

function okOf(r: NativeResponse) {
  if (!('ok' in r)) throw new Error(JSON.stringify(r));
  return r;
}

describe('native protocol against a member process', () => {
  test('discovery, then get, write, quorum get and a watch stream', async () => {
    const res = await fetch(`${member.clientUrl}/raftgate/v1/native`);
    expect(res.status).toBe(200);
    const d = (await res.json()) as NativeDiscovery;
    expect(d.nativeUrls).toEqual([member.nativeUrl]);
    expect(d.memberId).toMatch(/^[0-9a-f]{16}$/);
    expect(d.clusterId).toMatch(/^[0-9a-f]{16}$/);

    pool = new NativePool({ url: d.nativeUrls[0] as string, size: 4 });
    const hello = await pool.ready(5000);
    expect(hello.memberId).toBe(d.memberId);
    expect(hello.clusterId).toBe(d.clusterId);

    const events: StoreEvent[] = [];
    const progress: number[] = [];
    pool.watch(0, (es) => events.push(...es), (i) => progress.push(i), () => {});

    const base = {
      kind: 'write' as const,
      req: { method: 'PUT' as const, path: '/it/a', value: 'one', dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false },
      ttl: undefined,
      noValueOnSuccess: false,
    };
    const w = okOf(await pool.write(base));
    expect(w.ok).toMatchObject({ action: 'set', node: { key: '/it/a', value: 'one' } });
    const g = okOf(await pool.get({ path: '/it/a', recursive: false, sorted: false, quorum: true }));
    expect(g.ok.node.value).toBe('one');
    expect(g.etcdIndex).toBe(w.etcdIndex);

    // The HTTP API sees the same store.
    const http = await fetch(`${member.clientUrl}/v2/keys/it/a`);
    expect(((await http.json()) as { node: { value: string } }).node.value).toBe('one');

    const deadline = Date.now() + 5000;
    while (events.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(events.map((e) => e.node.key)).toEqual(['/it/a']);
    expect(progress.length).toBeGreaterThan(0);

    const metrics = await (await fetch(`${member.clientUrl}/metrics`)).text();
    expect(metrics).toMatch(/^raftgate_core_native_connections 4$/m);
    expect(metrics).toMatch(/^raftgate_core_native_watch_streams 1$/m);
  }, 20_000);
});
