// The shared L2 cache against a real redis-server (started here on a free
// port): two proxy processes in front of one member share answers through
// Redis — a key one proxy read is an L2 hit at the other, with no member
// read — and an L2 answer is refused once the key changed.
// Needs dist/ (npm test builds first) and /usr/bin/redis-server.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { http } from '../helpers/http.js';
import { freePort, releasePort } from '../helpers/ports.js';
import { spawnManaged } from '../helpers/process.js';
import type { ManagedProcess } from '../helpers/process.js';
import { sample, startRaftgateProxy } from '../helpers/proxy.js';
import type { ProxyHandle } from '../helpers/proxy.js';
import { startRaftgateCore } from '../helpers/raftgate.js';
import type { RaftgateHandle } from '../helpers/raftgate.js';

const REDIS = '/usr/bin/redis-server';
let redis: ManagedProcess;
let redisPort = 0;
let redisDir = '';
let member: RaftgateHandle;
let a: ProxyHandle;
let b: ProxyHandle;

async function redisUp(port: number, deadlineMs: number): Promise<void> {
  while (Date.now() < deadlineMs) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on ${port}\n${redis.describe()}`);
}

describe.skipIf(!existsSync(REDIS))('L2 cache in a real redis-server', () => {
  beforeAll(async () => {
    redisPort = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), 'redis-test-'));
    redis = spawnManaged(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir]);
    await redisUp(redisPort, Date.now() + 10_000);
    member = await startRaftgateCore({ name: 'l2-it' });
    const args = ['--l2-redis-url', `redis://127.0.0.1:${redisPort}`];
    [a, b] = await Promise.all([startRaftgateProxy({ endpoints: [member.clientUrl], extraArgs: args }), startRaftgateProxy({ endpoints: [member.clientUrl], extraArgs: args })]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await member?.stop();
    await redis?.stop();
    if (redisDir !== '') rmSync(redisDir, { recursive: true, force: true });
    releasePort(redisPort);
  });

  test('a key one proxy read is an L2 hit at another proxy, with no member read; a changed key is not', async () => {
    await http(member.clientUrl, { method: 'PUT', path: '/v2/keys/l2/k', form: [['value', 'v1']] });
    await new Promise((r) => setTimeout(r, 200)); // both views at the write
    const getsOf = async () => sample((await http(member.clientUrl, { method: 'GET', path: '/metrics' })).text, 'raftgate_core_native_requests_total', { op: 'get', outcome: 'ok' }) ?? 0;
    const ra = await http(a.url, { method: 'GET', path: '/v2/keys/l2/k' });
    expect(ra.headers['x-cache']).toBe('MISS');
    await new Promise((r) => setTimeout(r, 100)); // the write to Redis is fire-and-forget
    const before = await getsOf();
    const rb = await http(b.url, { method: 'GET', path: '/v2/keys/l2/k' });
    expect(rb.headers['x-cache']).toBe('L2-HIT');
    expect(rb.text).toBe(ra.text);
    expect(await getsOf()).toBe(before);

    // The key changes: b's own ring shows it, so Redis's older answer is refused.
    await http(member.clientUrl, { method: 'PUT', path: '/v2/keys/l2/j', form: [['value', 'x']] });
    await http(a.url, { method: 'GET', path: '/v2/keys/l2/j' });
    await http(member.clientUrl, { method: 'PUT', path: '/v2/keys/l2/j', form: [['value', 'y']] });
    await new Promise((r) => setTimeout(r, 200));
    const rj = await http(b.url, { method: 'GET', path: '/v2/keys/l2/j' });
    expect(rj.headers['x-cache']).toBe('MISS');
    expect(JSON.parse(rj.text).node.value).toBe('y');
  });
});
