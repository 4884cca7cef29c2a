// The Raft driver's write pipeline (core-server/node/driver.ts), over a log
// kept in memory: the next Ready is taken while the last is still being
// written, and a write is acknowledged only once its own entry is durable.

import { afterEach, expect, test } from 'vitest';
import { startMemoryMember, type MemoryMember } from '../../helpers/memory-member.js';
import type { WriteRequest } from '../../../core-server/store/types.js';
import { req } from '../store/helpers.js';

const set = (path: string, value: string): WriteRequest => req('PUT', path, { value, nowMs: 0 });

let m: MemoryMember | null = null;
afterEach(async () => {
  m?.log.release();
  await m?.node.stop();
  m = null;
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

test('a second write goes to the log while the first is still being written; neither is answered before its write lands', async () => {
  m = await startMemoryMember();
  const { node, log } = m;
  log.hang = true;
  const settled: string[] = [];
  const a = node.propose(set('/a', '1')).then(() => settled.push('a'));
  await until(() => log.heldWrites === 1, "a's write in flight");
  const b = node.propose(set('/b', '2')).then(() => settled.push('b'));
  // The loop did not wait for a's fsync: b's write is in flight too.
  await until(() => log.heldWrites === 2, "b's write handed over while a's is still held");
  await new Promise((r) => setTimeout(r, 20));
  expect(settled).toEqual([]);
  expect(node.store.index).toBe(0);
  log.release();
  await Promise.all([a, b]);
  expect(settled).toEqual(['a', 'b']);
  expect(node.store.index).toBe(2);
});

test('a failed write fails what waited on it with the disk\'s error, and the member takes no more writes', async () => {
  m = await startMemoryMember();
  const { node, log } = m;
  log.fail = Object.assign(new Error('EIO: disk on fire'), { code: 'EIO' });
  await expect(node.propose(set('/a', '1'))).rejects.toThrow('disk on fire');
  await expect(node.propose(set('/b', '2'))).rejects.toMatchObject({ errorCode: 301 });
  expect(node.store.index).toBe(0);
});

test('restarted with acknowledged writes above its last written commit, a member passes no quorum read before applying them', async () => {
  // The commit index rides with the next write of entries, so the "disk" a
  // crash leaves holds acknowledged writes above its last written commit.
  const first = await startMemoryMember();
  for (let i = 0; i < 5; i++) await first.node.propose(set(`/k${i}`, `v${i}`));
  const acked = first.node.store.index;
  await first.node.stop();
  expect(first.log.hardState!.commit).toBeLessThan(first.log.entries.at(-1)!.index);

  // The new term's no-op stays on its way to the disk until released.
  first.log.hang = true;
  m = await startMemoryMember({ restartFrom: first.log, waitReady: false });
  const { node, log } = m;
  await until(() => node.isLeader(), 'the restarted member to lead');
  let seen: unknown = 'not yet';
  const read = node.linearizableBarrier().then(() => (seen = node.store.get('/k4', { recursive: false, sorted: false }, 0)));
  await new Promise((r) => setTimeout(r, 20));
  expect(seen).toBe('not yet');
  log.release();
  await read;
  expect(seen).toMatchObject({ node: { value: 'v4' } });
  expect(node.store.index).toBeGreaterThanOrEqual(acked);
});
