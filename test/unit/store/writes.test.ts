// Every write action and every error the store can answer, as etcd 3.4 answers
// them. Expected bodies marked "etcd 3.4.23" were produced by running real
// etcd (--enable-v2) with curl and transposed to this store's indexes.

import { describe, expect, test } from 'vitest';
import { createStore, Ecode, KEY_LENGTH_MAX, V2Error } from '../../../core-server/store/index.js';
import type { Command, KeyStore } from '../../../core-server/store/index.js';
import { NOW, del, fails, ok, post, put, wire } from './helpers.js';

/** A store holding /a/b = "1" (index 1), like the etcd session the bodies come from. */
function seeded(): KeyStore {
  const s = createStore();
  ok(s, put('/a/b', '1'));
  return s;
}

describe('successful writes render like etcd', () => {
  const cases: { name: string; setup: Command[]; cmd: Command; body: string }[] = [
    {
      name: 'set creates a key and its parent directories',
      setup: [],
      cmd: put('/a/b', '1'),
      body: '{"action":"set","node":{"key":"/a/b","value":"1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'set over a key returns prevNode',
      setup: [put('/k', 'old')],
      cmd: put('/k', 'new'),
      body: '{"action":"set","node":{"key":"/k","value":"new","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/k","value":"old","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'set dir=true over a key replaces it with a directory (etcd 3.4.23)',
      setup: [put('/f', '1')],
      cmd: put('/f', '', { dir: true }),
      body: '{"action":"set","node":{"key":"/f","dir":true,"modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/f","value":"1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'create (prevExist=false) a directory',
      setup: [],
      cmd: put('/d', '', { prevExist: false, dir: true }),
      body: '{"action":"create","node":{"key":"/d","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'prevExist=false wins over prevValue (etcd 3.4.23)',
      setup: [],
      cmd: put('/g', '1', { prevExist: false, prevValue: 'x' }),
      body: '{"action":"create","node":{"key":"/g","value":"1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'update (prevExist=true) keeps createdIndex',
      setup: [put('/k', 'v1')],
      cmd: put('/k', 'v2', { prevExist: true }),
      body: '{"action":"update","node":{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'update of a directory without a value bumps only the event index (etcd 3.4.23)',
      setup: [put('/a/b', '1')],
      cmd: put('/a', '', { prevExist: true }),
      body: '{"action":"update","node":{"key":"/a","dir":true,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/a","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'compareAndSwap on prevValue',
      setup: [put('/k', 'v1')],
      cmd: put('/k', 'v2', { prevValue: 'v1' }),
      body: '{"action":"compareAndSwap","node":{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'compareAndSwap on prevIndex with prevExist=true',
      setup: [put('/k', 'v1')],
      cmd: put('/k', 'v2', { prevIndex: 1, prevExist: true }),
      body: '{"action":"compareAndSwap","node":{"key":"/k","value":"v2","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'delete a key',
      setup: [put('/k', 'v1')],
      cmd: del('/k'),
      body: '{"action":"delete","node":{"key":"/k","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'delete an empty directory with dir=true (etcd 3.4.23)',
      setup: [put('/f', '', { dir: true })],
      cmd: del('/f', { dir: true }),
      body: '{"action":"delete","node":{"key":"/f","dir":true,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/f","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'delete a full directory with recursive=true',
      setup: [put('/d/x/y', '1'), put('/d/z', '2')],
      cmd: del('/d', { recursive: true }),
      body: '{"action":"delete","node":{"key":"/d","dir":true,"modifiedIndex":3,"createdIndex":1},"prevNode":{"key":"/d","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'compareAndDelete on prevValue',
      setup: [put('/k', 'v1')],
      cmd: del('/k', { prevValue: 'v1' }),
      body: '{"action":"compareAndDelete","node":{"key":"/k","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/k","value":"v1","modifiedIndex":1,"createdIndex":1}}',
    },
    {
      name: 'POST creates an in-order key named by the new index, %020d (etcd 3.4.23)',
      setup: [put('/x', '1'), put('/y', '1'), put('/z', '1'), put('/w', '1'), put('/v', '1')],
      cmd: post('/q', '1'),
      body: '{"action":"create","node":{"key":"/q/00000000000000000006","value":"1","modifiedIndex":6,"createdIndex":6}}',
    },
    {
      name: 'POST on the root creates an in-order key at the top',
      setup: [],
      cmd: post('/', 'v'),
      body: '{"action":"create","node":{"key":"/00000000000000000001","value":"v","modifiedIndex":1,"createdIndex":1}}',
    },
  ];
  test.each(cases)('$name', ({ setup, cmd, body }) => {
    const s = createStore();
    for (const c of setup) ok(s, c);
    const before = s.index;
    const e = ok(s, cmd);
    expect(wire(e)).toBe(body);
    expect(e.etcdIndex).toBe(before + 1);
    expect(s.index).toBe(before + 1);
  });
});

describe('errors carry etcd code, cause and the current index', () => {
  // Each case starts from seeded(): /a/b = "1" at index 1 (/a is a directory).
  const cases: { name: string; cmd: Command; code: number; cause: string }[] = [
    { name: 'set on a directory', cmd: put('/a', 'x'), code: Ecode.NotFile, cause: '/a' },
    { name: 'set dir=true on a directory', cmd: put('/a', '', { dir: true }), code: Ecode.NotFile, cause: '/a' },
    { name: 'set through a key', cmd: put('/a/b/c', '1'), code: Ecode.NotDir, cause: '/a/b' },
    { name: 'create through a key', cmd: put('/a/b/c', '1', { prevExist: false }), code: Ecode.NotDir, cause: '/a/b' },
    { name: 'create an existing key', cmd: put('/a/b', '1', { prevExist: false }), code: Ecode.NodeExist, cause: '/a/b' },
    { name: 'create an existing dir', cmd: put('/a', '', { prevExist: false, dir: true }), code: Ecode.NodeExist, cause: '/a' },
    { name: 'update a missing key', cmd: put('/nope', 'x', { prevExist: true }), code: Ecode.KeyNotFound, cause: '/nope' },
    { name: 'update a directory with a value', cmd: put('/a', 'x', { prevExist: true }), code: Ecode.NotFile, cause: '/a' },
    { name: 'CAS value mismatch', cmd: put('/a/b', 'x', { prevValue: '2' }), code: Ecode.TestFailed, cause: '[2 != 1]' },
    { name: 'CAS index mismatch', cmd: put('/a/b', 'x', { prevIndex: 99 }), code: Ecode.TestFailed, cause: '[99 != 1]' },
    {
      name: 'CAS both mismatch',
      cmd: put('/a/b', 'x', { prevIndex: 99, prevValue: 'z' }),
      code: Ecode.TestFailed,
      cause: '[z != 1] [99 != 1]',
    },
    { name: 'CAS value ok, index mismatch', cmd: put('/a/b', 'x', { prevIndex: 9, prevValue: '1' }), code: Ecode.TestFailed, cause: '[9 != 1]' },
    { name: 'CAS on a directory', cmd: put('/a', 'x', { prevValue: 'z' }), code: Ecode.NotFile, cause: '/a' },
    { name: 'CAS on a missing key', cmd: put('/m', 'x', { prevValue: 'z' }), code: Ecode.KeyNotFound, cause: '/m' },
    { name: 'delete a missing key', cmd: del('/m'), code: Ecode.KeyNotFound, cause: '/m' },
    { name: 'delete a directory without dir', cmd: del('/a'), code: Ecode.NotFile, cause: '/a' },
    { name: 'delete a full directory with dir only', cmd: del('/a', { dir: true }), code: Ecode.DirNotEmpty, cause: '/a' },
    { name: 'delete below a key', cmd: del('/a/b/c'), code: Ecode.NotDir, cause: '/a/b' },
    { name: 'compareAndDelete mismatch', cmd: del('/a/b', { prevValue: 'zz' }), code: Ecode.TestFailed, cause: '[zz != 1]' },
    { name: 'compareAndDelete on a directory', cmd: del('/a', { prevValue: 'zz' }), code: Ecode.NotFile, cause: '/a' },
    { name: 'set the root', cmd: put('/', '1'), code: Ecode.RootROnly, cause: '/' },
    { name: 'set the root as dir', cmd: put('/', '', { dir: true }), code: Ecode.RootROnly, cause: '/' },
    { name: 'create the root', cmd: put('/', '', { prevExist: false }), code: Ecode.RootROnly, cause: '/' },
    { name: 'update the root', cmd: put('/', '', { prevExist: true }), code: Ecode.RootROnly, cause: '/' },
    { name: 'CAS the root', cmd: put('/', 'x', { prevValue: 'y' }), code: Ecode.RootROnly, cause: '/' },
    { name: 'delete the root', cmd: del('/', { recursive: true }), code: Ecode.RootROnly, cause: '/' },
    { name: 'POST below a key', cmd: post('/a/b', 'x'), code: Ecode.NotDir, cause: '/a/b' },
  ];
  test.each(cases)('$name → $code $cause', ({ cmd, code, cause }) => {
    const s = seeded();
    const before = JSON.stringify(s.snapshot());
    const err = fails(s, cmd);
    expect(err.errorCode).toBe(code);
    expect(err.cause).toBe(cause);
    expect(err.index).toBe(1);
    // A failed write changes nothing but the counters.
    const after = s.snapshot() as { nodes: unknown; index: number; history: unknown };
    const b = JSON.parse(before) as typeof after;
    expect(after.index).toBe(1);
    expect(after.nodes).toEqual(b.nodes);
    expect(after.history).toEqual(b.history);
  });

  test('the error body is byte-for-byte etcd (etcd 3.4.23)', () => {
    const s = seeded();
    expect(fails(s, put('/a/b', '1', { prevIndex: 99, prevValue: 'z' })).toBody()).toBe(
      '{"errorCode":101,"message":"Compare failed","cause":"[z != 1] [99 != 1]","index":1}\n',
    );
    expect(fails(s, del('/', { dir: true })).toBody()).toBe('{"errorCode":107,"message":"Root is read only","cause":"/","index":1}\n');
  });
});

describe('structure', () => {
  test('recursive delete removes the whole subtree and the index moves once', () => {
    const s = createStore();
    ok(s, put('/d/x/y', '1'));
    ok(s, put('/d/z', '2'));
    ok(s, put('/keep', '3'));
    ok(s, del('/d', { recursive: true }));
    expect(s.index).toBe(4);
    expect((s.get('/d/x/y', { recursive: false, sorted: false }, NOW) as V2Error).errorCode).toBe(Ecode.KeyNotFound);
    expect(s.get('/', { recursive: true, sorted: true }, NOW)).toMatchObject({ node: { nodes: [{ key: '/keep' }] } });
  });

  test('POST keys sort in creation order and live under the directory', () => {
    const s = createStore();
    const keys = [ok(s, post('/queue', 'a')), ok(s, put('/other', 'x')), ok(s, post('/queue', 'b'))].map((e) => e.node.key);
    expect(keys).toEqual(['/queue/00000000000000000001', '/other', '/queue/00000000000000000003']);
    const got = s.get('/queue', { recursive: false, sorted: true }, NOW);
    expect(got).toMatchObject({ node: { nodes: [{ value: 'a' }, { value: 'b' }] } });
  });

  test('keys are cleaned like Go path.Clean', () => {
    const s = createStore();
    ok(s, put('a//b/./c/../d/', 'v'));
    expect(s.get('/a/b/d', { recursive: false, sorted: false }, NOW)).toMatchObject({ node: { key: '/a/b/d', value: 'v' } });
  });

  test('a key over the length limit is refused with 209 and no side effect', () => {
    const s = createStore();
    const long = '/' + 'k'.repeat(KEY_LENGTH_MAX);
    const err = fails(s, put(long, 'v'));
    expect(err.errorCode).toBe(Ecode.InvalidField);
    expect(err.cause).toContain(String(KEY_LENGTH_MAX));
    expect(s.index).toBe(0);
    expect((s.get(long, { recursive: false, sorted: false }, NOW) as V2Error).errorCode).toBe(Ecode.InvalidField);
    expect(s.watch(long, { recursive: false, stream: false, sinceIndex: 0 })).toBeInstanceOf(V2Error);
  });

  test('the deepest key the limit allows works and deletes without recursion limits', () => {
    const s = createStore();
    const deep = '/a'.repeat(KEY_LENGTH_MAX / 2); // 4096 levels
    ok(s, put(deep, 'v'));
    expect(s.get(deep, { recursive: false, sorted: false }, NOW)).toMatchObject({ node: { value: 'v' } });
    const all = s.get('/', { recursive: true, sorted: true }, NOW);
    expect(all).not.toBeInstanceOf(V2Error);
    const image = JSON.parse(JSON.stringify(s.snapshot())) as unknown;
    const t = createStore();
    t.restore(image);
    expect(t.get(deep, { recursive: false, sorted: false }, NOW)).toMatchObject({ node: { value: 'v' } });
    ok(s, del('/a', { recursive: true }));
    expect(s.get('/', { recursive: true, sorted: false }, NOW)).toMatchObject({ node: { dir: true } });
  });
});
