// The node-etcd npm client (a real etcd v2 client) against a Raftgate member,
// used the way an application uses it: callbacks with (err, body, headers),
// etcd's error object on failure, and its watcher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { startRaftgateCore } from '../helpers/raftgate.js';
import { startEtcd } from '../helpers/etcd.js';

// NODE_ETCD_TARGET=etcd runs the same file against real etcd 3.4, to check
// that every expectation below is etcd's behaviour.
const againstEtcd = process.env['NODE_ETCD_TARGET'] === 'etcd';

type Callback = (err: EtcdError | null, body: Body, headers: Record<string, string>) => void;
type Opts = Record<string, unknown>;

interface Watcher extends EventEmitter {
  stop(): void;
}

interface EtcdClient {
  set(key: string, value: string, opts: Opts, cb: Callback): unknown;
  get(key: string, opts: Opts, cb: Callback): unknown;
  del(key: string, opts: Opts, cb: Callback): unknown;
  mkdir(dir: string, opts: Opts, cb: Callback): unknown;
  rmdir(dir: string, opts: Opts, cb: Callback): unknown;
  post(dir: string, value: string, opts: Opts, cb: Callback): unknown;
  compareAndSwap(key: string, value: string, oldValue: string, opts: Opts, cb: Callback): unknown;
  compareAndDelete(key: string, oldValue: string, opts: Opts, cb: Callback): unknown;
  watcher(key: string, index?: number | null, opts?: Opts): Watcher;
}

interface EtcdNode {
  key: string;
  value?: string;
  dir?: boolean;
  nodes?: EtcdNode[];
  createdIndex: number;
  modifiedIndex: number;
  ttl?: number;
  expiration?: string;
}

interface Body {
  action: string;
  node: EtcdNode;
  prevNode?: EtcdNode;
}

interface EtcdError extends Error {
  errorCode?: number;
  error?: { errorCode: number; message: string; cause: string; index: number };
}

const require = createRequire(import.meta.url);
const Etcd = require('node-etcd') as new (hosts: string | string[], options?: Opts) => EtcdClient;

interface Reply {
  body: Body;
  headers: Record<string, string>;
}

function call(fn: (cb: Callback) => unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    fn((err, body, headers) => (err ? reject(err) : resolve({ body, headers })));
  });
}

async function callErr(fn: (cb: Callback) => unknown): Promise<EtcdError> {
  try {
    const r = await call(fn);
    throw new Error(`expected an etcd error, got ${JSON.stringify(r.body)}`);
  } catch (err) {
    return err as EtcdError;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`node-etcd against ${againstEtcd ? 'etcd 3.4' : 'Raftgate'}`, () => {
  let server: { clientUrl: string; stop(): Promise<void> } | undefined;
  let etcd: EtcdClient;

  beforeAll(async () => {
    server = againstEtcd ? await startEtcd() : await startRaftgateCore();
    etcd = new Etcd(server.clientUrl);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('set, get and del a key', async () => {
    const set = await call((cb) => etcd.set('/ne/a', 'one', {}, cb));
    expect(set.body.action).toBe('set');
    expect(set.body.node).toMatchObject({ key: '/ne/a', value: 'one' });
    expect(set.body.node.createdIndex).toBe(set.body.node.modifiedIndex);
    expect(Number(set.headers['x-etcd-index'])).toBe(set.body.node.modifiedIndex);

    const get = await call((cb) => etcd.get('/ne/a', {}, cb));
    expect(get.body).toEqual({ action: 'get', node: { key: '/ne/a', value: 'one', createdIndex: set.body.node.createdIndex, modifiedIndex: set.body.node.modifiedIndex } });

    const del = await call((cb) => etcd.del('/ne/a', {}, cb));
    expect(del.body.action).toBe('delete');
    expect(del.body.prevNode?.value).toBe('one');
    expect(del.body.node.modifiedIndex).toBeGreaterThan(set.body.node.modifiedIndex);

    const err = await callErr((cb) => etcd.get('/ne/a', {}, cb));
    expect(err.errorCode).toBe(100);
    expect(err.error).toEqual({ errorCode: 100, message: 'Key not found', cause: '/ne/a', index: del.body.node.modifiedIndex });
  });

  it('mkdir and rmdir; rmdir of a non-empty directory fails with 108', async () => {
    const mk = await call((cb) => etcd.mkdir('/ne/dir', {}, cb));
    expect(mk.body.action).toBe('set');
    expect(mk.body.node).toMatchObject({ key: '/ne/dir', dir: true });
    expect(mk.body.node.value).toBeUndefined();

    const again = await callErr((cb) => etcd.mkdir('/ne/dir', { prevExist: false }, cb));
    expect(again.errorCode).toBe(105);

    await call((cb) => etcd.set('/ne/dir/x', '1', {}, cb));
    const notEmpty = await callErr((cb) => etcd.rmdir('/ne/dir', {}, cb));
    expect(notEmpty.errorCode).toBe(108);
    expect(notEmpty.error).toMatchObject({ message: 'Directory not empty', cause: '/ne/dir' });

    await call((cb) => etcd.del('/ne/dir/x', {}, cb));
    const rm = await call((cb) => etcd.rmdir('/ne/dir', {}, cb));
    expect(rm.body.action).toBe('delete');
    expect(rm.body.node).toMatchObject({ key: '/ne/dir', dir: true });
    expect((await callErr((cb) => etcd.get('/ne/dir', {}, cb))).errorCode).toBe(100);

    const fileAsDir = await callErr((cb) => etcd.rmdir('/ne/file', {}, cb));
    expect(fileAsDir.errorCode).toBe(100);
    await call((cb) => etcd.set('/ne/file', 'f', {}, cb));
    // etcd's dir=true delete also removes a plain key (a quirk clients rely on).
    const fileGone = await call((cb) => etcd.rmdir('/ne/file', {}, cb));
    expect(fileGone.body.action).toBe('delete');
    expect(fileGone.body.prevNode?.value).toBe('f');
  });

  it('compareAndSwap succeeds on the current value and fails with 101 otherwise', async () => {
    const first = await call((cb) => etcd.set('/ne/cas', 'v1', {}, cb));
    const ok = await call((cb) => etcd.compareAndSwap('/ne/cas', 'v2', 'v1', {}, cb));
    expect(ok.body.action).toBe('compareAndSwap');
    expect(ok.body.node.value).toBe('v2');
    expect(ok.body.prevNode?.value).toBe('v1');
    expect(ok.body.prevNode?.modifiedIndex).toBe(first.body.node.modifiedIndex);

    const bad = await callErr((cb) => etcd.compareAndSwap('/ne/cas', 'v3', 'v1', {}, cb));
    expect(bad.errorCode).toBe(101);
    expect(bad.error).toEqual({ errorCode: 101, message: 'Compare failed', cause: '[v1 != v2]', index: ok.body.node.modifiedIndex });
    expect((await call((cb) => etcd.get('/ne/cas', {}, cb))).body.node.value).toBe('v2');

    const badIndex = await callErr((cb) => etcd.set('/ne/cas', 'v3', { prevIndex: first.body.node.modifiedIndex }, cb));
    expect(badIndex.errorCode).toBe(101);
    expect(badIndex.error?.cause).toBe(`[${first.body.node.modifiedIndex} != ${ok.body.node.modifiedIndex}]`);

    const missing = await callErr((cb) => etcd.compareAndSwap('/ne/cas-missing', 'x', 'y', {}, cb));
    expect(missing.errorCode).toBe(100);
  });

  it('compareAndDelete succeeds on the current value and fails with 101 otherwise', async () => {
    await call((cb) => etcd.set('/ne/cad', 'keep', {}, cb));
    const bad = await callErr((cb) => etcd.compareAndDelete('/ne/cad', 'other', {}, cb));
    expect(bad.errorCode).toBe(101);
    expect(bad.error).toMatchObject({ message: 'Compare failed', cause: '[other != keep]' });
    expect((await call((cb) => etcd.get('/ne/cad', {}, cb))).body.node.value).toBe('keep');

    const ok = await call((cb) => etcd.compareAndDelete('/ne/cad', 'keep', {}, cb));
    expect(ok.body.action).toBe('compareAndDelete');
    expect(ok.body.prevNode?.value).toBe('keep');
    expect((await callErr((cb) => etcd.get('/ne/cad', {}, cb))).errorCode).toBe(100);
  });

  it('a key set with a ttl reports it and expires', async () => {
    const set = await call((cb) => etcd.set('/ne/ttl', 'brief', { ttl: 1 }, cb));
    expect(set.body.node.ttl).toBe(1);
    expect(typeof set.body.node.expiration).toBe('string');
    expect(Date.parse(set.body.node.expiration!)).toBeGreaterThan(Date.now() - 5_000);

    const long = await call((cb) => etcd.set('/ne/ttl-long', 'stays', { ttl: 60 }, cb));
    expect(long.body.node.ttl).toBe(60);
    const got = await call((cb) => etcd.get('/ne/ttl-long', {}, cb));
    expect(got.body.node.ttl).toBeGreaterThanOrEqual(59);
    expect(got.body.node.ttl).toBeLessThanOrEqual(60);

    let err: EtcdError | null = null;
    for (let i = 0; i < 50 && err === null; i++) {
      await sleep(100);
      try {
        await call((cb) => etcd.get('/ne/ttl', {}, cb));
      } catch (e) {
        err = e as EtcdError;
      }
    }
    expect(err?.errorCode, 'a 1 s TTL should expire within about 5 s').toBe(100);
    expect((await call((cb) => etcd.get('/ne/ttl-long', {}, cb))).body.node.value).toBe('stays');
  });

  it('post creates in-order keys named by their index', async () => {
    const made: EtcdNode[] = [];
    for (const v of ['first', 'second', 'third']) {
      const r = await call((cb) => etcd.post('/ne/queue', v, {}, cb));
      expect(r.body.action).toBe('create');
      made.push(r.body.node);
    }
    for (const n of made) {
      expect(n.key).toBe(`/ne/queue/${String(n.createdIndex).padStart(20, '0')}`);
    }
    expect(made[1]!.createdIndex).toBeGreaterThan(made[0]!.createdIndex);
    expect(made[2]!.createdIndex).toBeGreaterThan(made[1]!.createdIndex);

    const list = await call((cb) => etcd.get('/ne/queue', { sorted: true }, cb));
    expect(list.body.node.dir).toBe(true);
    expect(list.body.node.nodes?.map((n) => n.value)).toEqual(['first', 'second', 'third']);
    expect(list.body.node.nodes?.map((n) => n.key)).toEqual(made.map((n) => n.key));
  });

  it('recursive get returns the whole subtree', async () => {
    await call((cb) => etcd.set('/ne/tree/a', 'A', {}, cb));
    await call((cb) => etcd.set('/ne/tree/sub/b', 'B', {}, cb));
    await call((cb) => etcd.mkdir('/ne/tree/empty', {}, cb));

    const flat = await call((cb) => etcd.get('/ne/tree', { sorted: true }, cb));
    const sub = flat.body.node.nodes?.find((n) => n.key === '/ne/tree/sub');
    expect(sub?.dir).toBe(true);
    expect(sub?.nodes, 'a non-recursive get does not descend').toBeUndefined();

    const r = await call((cb) => etcd.get('/ne/tree', { recursive: true, sorted: true }, cb));
    const strip = (n: EtcdNode): unknown => ({ key: n.key, ...(n.dir ? { dir: true } : { value: n.value }), ...(n.nodes ? { nodes: n.nodes.map(strip) } : {}) });
    expect(strip(r.body.node)).toEqual({
      key: '/ne/tree',
      dir: true,
      nodes: [
        { key: '/ne/tree/a', value: 'A' },
        { key: '/ne/tree/empty', dir: true },
        { key: '/ne/tree/sub', dir: true, nodes: [{ key: '/ne/tree/sub/b', value: 'B' }] },
      ],
    });
  });

  it('a watcher emits change (and the action) for a set, and nothing after stop', async () => {
    const w = etcd.watcher('/ne/watched');
    const changes: Body[] = [];
    const errors: unknown[] = [];
    w.on('change', (b: Body) => changes.push(b));
    w.on('error', (e: unknown) => errors.push(e));
    const sets: Body[] = [];
    w.on('set', (b: Body) => sets.push(b));
    try {
      // The watcher's request may not have reached the server yet; a set that
      // lands before it is not an event for it, so set again (bounded).
      let written: Reply | null = null;
      for (let i = 0; i < 20 && changes.length === 0; i++) {
        await sleep(150);
        written = await call((cb) => etcd.set('/ne/watched', `v${i}`, {}, cb));
        for (let j = 0; j < 10 && changes.length === 0; j++) await sleep(50);
      }
      expect(changes.length, 'the watcher saw no change').toBeGreaterThan(0);
      const seen = changes[changes.length - 1]!;
      expect(seen.action).toBe('set');
      expect(seen.node.key).toBe('/ne/watched');
      expect(seen.node.value).toBe(written!.body.node.value);
      expect(seen.node.modifiedIndex).toBe(written!.body.node.modifiedIndex);
      expect(sets.length).toBe(changes.length);

      // It keeps watching from the next index: a second write is seen too, in order.
      const second = await call((cb) => etcd.set('/ne/watched', 'next', {}, cb));
      for (let j = 0; j < 40 && changes[changes.length - 1]!.node.value !== 'next'; j++) await sleep(50);
      expect(changes[changes.length - 1]!.node).toMatchObject({ value: 'next', modifiedIndex: second.body.node.modifiedIndex });
    } finally {
      const stopped = new Promise<void>((r) => w.once('stop', () => r()));
      w.stop();
      await stopped;
    }
    const count = changes.length;
    await call((cb) => etcd.set('/ne/watched', 'after-stop', {}, cb));
    await sleep(300);
    expect(changes.length, 'no change after stop()').toBe(count);
    expect(errors).toEqual([]);
  });
});
