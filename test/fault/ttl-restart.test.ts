// TTL deadlines are absolute times carried in the log, so a restart (even a
// kill -9) restores them exactly: the expiration a client was told does not
// move, and a key whose deadline passed while the member was down expires
// as soon as it is back, as an ordinary `expire` event with its own index.

import { afterAll, beforeAll, expect, test } from 'vitest';
import { http } from '../helpers/http.js';
import { startRaftgateCore, type RaftgateHandle } from '../helpers/raftgate.js';

let rg: RaftgateHandle;
beforeAll(async () => {
  rg = await startRaftgateCore({ name: 'ttl' });
});
afterAll(async () => {
  await rg?.stop();
});

type NodeBody = { node: { key: string; value?: string; expiration?: string; ttl?: number; modifiedIndex: number } };

test('expirations survive kill -9, and keys due while down expire on return', async () => {
  const long = await http(rg.clientUrl, { method: 'PUT', path: '/v2/keys/ttl/long', form: [['value', 'a'], ['ttl', '600']] });
  expect(long.status).toBe(201);
  const before = (long.json as NodeBody).node;
  expect(before.expiration).toBeDefined();

  const short = await http(rg.clientUrl, { method: 'PUT', path: '/v2/keys/ttl/short', form: [['value', 'b'], ['ttl', '1']] });
  expect(short.status).toBe(201);
  const indexBefore = Number(short.headers['x-etcd-index']);

  await rg.kill9();
  await new Promise((r) => setTimeout(r, 1_500)); // /ttl/short is due while the member is down
  await rg.restart();

  const after = await http(rg.clientUrl, { method: 'GET', path: '/v2/keys/ttl/long' });
  expect(after.status).toBe(200);
  const node = (after.json as NodeBody).node;
  expect(node.expiration).toBe(before.expiration);
  expect(node.modifiedIndex).toBe(before.modifiedIndex);
  expect(node.ttl).toBeGreaterThan(590);
  expect(node.ttl).toBeLessThanOrEqual(600);

  // Expiry is a proposed command, so give the member a bounded moment to propose it.
  let gone = await http(rg.clientUrl, { method: 'GET', path: '/v2/keys/ttl/short' });
  for (let i = 0; i < 30 && gone.status !== 404; i++) {
    await new Promise((r) => setTimeout(r, 100));
    gone = await http(rg.clientUrl, { method: 'GET', path: '/v2/keys/ttl/short' });
  }
  expect(gone.status).toBe(404);
  // The expiry is an event of its own: a watcher from just after the set sees it.
  const w = await http(rg.clientUrl, {
    method: 'GET',
    path: '/v2/keys/ttl/short',
    query: [['wait', 'true'], ['waitIndex', String(indexBefore + 1)]],
    timeoutMs: 5_000,
  });
  expect((w.json as { action: string }).action).toBe('expire');
});
