// The single-member driver hands a batch to the WAL while the previous one's
// fsync is still in flight. Goal: pipelining changes only when work starts,
// never what is acknowledged: each write resolves after an fsync that covers
// it, and writes are applied and answered strictly in log order.

import { expect, test } from 'vitest';
import { SingleNode } from '../../../core-server/node/index.js';
import type { LogEntry, LogSink } from '../../../core-server/node/index.js';
import { createStore } from '../../../core-server/store/index.js';
import type { WriteRequest } from '../../../core-server/store/types.js';
import type { Disk } from '../../../core-server/wal/disk.js';
import { MemoryDisk } from '../../../core-server/wal/memory-disk.js';
import { openWal } from '../../../core-server/wal/wal.js';

const NOW = Date.UTC(2026, 10, 22);

function put(key: string, value: string): WriteRequest {
  return { method: 'PUT', path: key, value, dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, expireAtMs: null, nowMs: NOW };
}

/** A MemoryDisk whose file fsyncs, once `hold` is set, wait until the test lets them through one by one. */
function holdingDisk(): { disk: Disk; mem: MemoryDisk; held: () => number; releaseOne: () => void; setHold: (h: boolean) => void } {
  const mem = new MemoryDisk();
  let hold = false;
  const waiting: (() => void)[] = [];
  const disk: Disk = {
    mkdirp: (d) => mem.mkdirp(d),
    readdir: (d) => mem.readdir(d),
    readFile: (p) => mem.readFile(p),
    size: (p) => mem.size(p),
    truncate: (p, n) => mem.truncate(p, n),
    copyFile: (a, b) => mem.copyFile(a, b),
    rename: (a, b) => mem.rename(a, b),
    unlink: (p) => mem.unlink(p),
    fsyncDir: (d) => mem.fsyncDir(d),
    async create(path) {
      const h = await mem.create(path);
      return {
        writev: (c, p) => h.writev(c, p),
        async sync() {
          if (hold) await new Promise<void>((r) => waiting.push(r));
          await h.sync();
        },
        close: () => h.close(),
      };
    },
  };
  return {
    disk,
    mem,
    held: () => waiting.length,
    releaseOne: () => waiting.shift()!(),
    setHold: (h) => {
      hold = h;
    },
  };
}

/** Lets every pending microtask and immediate run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function nodeOver(sink: LogSink): SingleNode {
  return new SingleNode({
    store: createStore(),
    sink,
    clock: { nowMs: () => NOW },
    memberId: '00000000000000aa',
    clusterId: '00000000000000bb',
    name: 'p',
    peerURLs: [],
    clientURLs: [],
    lastIndex: 0,
    term: 1,
  });
}

test('batches proposed during an fsync reach the WAL at once but are acknowledged only after the fsync covering them, in log order', async () => {
  const d = holdingDisk();
  const { wal } = await openWal('/wal', { disk: d.disk, metadata: { memberId: '00000000000000aa', clusterId: '00000000000000bb' } });
  const sink: LogSink = { append: (ents: LogEntry[]) => wal.append(ents.map((e) => ({ type: 'entry' as const, ...e }))) };
  const node = nodeOver(sink);
  d.setHold(true);
  const synced = (): number => d.mem.counts.fileSyncs;
  const acked: Array<[string, number, number]> = [];
  const track = (name: string, p: Promise<{ raftIndex: number }>): Promise<void> =>
    p.then((o) => {
      acked.push([name, o.raftIndex, synced()]);
    });

  const a = track('a', node.propose(put('/a', '1')));
  await settle();
  expect(d.held()).toBe(1); // a's fsync is in flight
  const b = track('b', node.propose(put('/b', '2')));
  await settle();
  const c = track('c', node.propose(put('/c', '3')));
  await settle();
  // Pipelined: b and c were handed to the WAL (as their own batches) without waiting for a's fsync.
  expect(wal.lastIndex()).toBe(3);
  expect(wal.stats().appendCalls).toBe(3);
  expect(acked).toEqual([]);
  expect(node.raftIndex).toBe(0);
  expect(node.store.index).toBe(0);

  const syncsBefore = synced();
  d.releaseOne();
  await a;
  await settle();
  // a's fsync covered only a; b and c wait for the next one, which is already in flight.
  expect(acked).toEqual([['a', 1, syncsBefore + 1]]);
  expect(node.raftIndex).toBe(1);
  expect(d.held()).toBe(1);

  d.releaseOne();
  await Promise.all([b, c]);
  expect(acked).toEqual([
    ['a', 1, syncsBefore + 1],
    ['b', 2, syncsBefore + 2],
    ['c', 3, syncsBefore + 2],
  ]);
  expect(node.raftIndex).toBe(3);
  expect(node.store.get('/c', { recursive: false, sorted: false }, NOW)).toMatchObject({ node: { value: '3', modifiedIndex: 3 } });

  // What was acknowledged survives a crash.
  d.setHold(false);
  await node.stop();
  d.mem.crash();
  const again = await openWal('/wal', { disk: d.disk });
  expect(again.recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
  await again.wal.close();
});

test('a batch the sink reports durable early is applied only after the batches before it', async () => {
  const resolvers: Array<() => void> = [];
  const sink: LogSink = { append: () => new Promise<void>((r) => resolvers.push(r)) };
  const node = nodeOver(sink);
  const order: string[] = [];
  const a = node.propose(put('/a', '1')).then((o) => order.push(`a@${o.raftIndex}`));
  await settle();
  const b = node.propose(put('/b', '2')).then((o) => order.push(`b@${o.raftIndex}`));
  await settle();
  expect(resolvers).toHaveLength(2);
  resolvers[1]!();
  await settle();
  expect(order).toEqual([]);
  expect(node.raftIndex).toBe(0);
  resolvers[0]!();
  await Promise.all([a, b]);
  expect(order).toEqual(['a@1', 'b@2']);
});

test('when the log fails, no batch still in flight is applied or acknowledged', async () => {
  const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const sink: LogSink = { append: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })) };
  const node = nodeOver(sink);
  const a = node.propose(put('/a', '1'));
  await settle();
  const b = node.propose(put('/b', '2'));
  await settle();
  expect(calls).toHaveLength(2);
  calls[0]!.reject(new Error('disk on fire'));
  await expect(a).rejects.toThrow('disk on fire');
  await expect(b).rejects.toThrow('disk on fire');
  // A late success for the later batch changes nothing: the member has stopped.
  calls[1]!.resolve();
  await settle();
  expect(node.raftIndex).toBe(0);
  expect(node.store.index).toBe(0);
  expect(node.leaderId()).toBeNull();
  await expect(node.propose(put('/c', '3'))).rejects.toMatchObject({ errorCode: 301 }) // LeaderElect;
});
