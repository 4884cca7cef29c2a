// TTLs: deadlines as data, expiry only when a sync command is applied, the
// expire events watchers see, refresh, and clearing a TTL.
// Bodies marked "etcd 3.4.23" were checked against real etcd.

import { describe, expect, test } from 'vitest';
import { createStore, Ecode, V2Error } from '../../../core-server/store/index.js';
import type { KeyStore, Watcher } from '../../../core-server/store/index.js';
import { NOW, del, fails, ok, put, sync, wire } from './helpers.js';

const flat = { recursive: false, sorted: false };

function watcher(s: KeyStore, path: string, recursive = false, stream = false, sinceIndex = 0): Watcher {
  const w = s.watch(path, { recursive, stream, sinceIndex });
  if (w instanceof V2Error) throw new Error(w.toBody());
  return w;
}

describe('expiry', () => {
  test('nothing expires until a sync at or past the deadline is applied', () => {
    const s = createStore();
    ok(s, put('/t', 'v', { expireAtMs: NOW + 1_000 }));
    expect(s.nextDeadlineMs()).toBe(NOW + 1_000);
    // Reading long after the deadline still finds it: time only moves by sync.
    expect(s.get('/t', flat, NOW + 60_000)).not.toBeInstanceOf(V2Error);
    expect(s.apply(sync(NOW + 999))).toBeNull();
    expect(s.index).toBe(1);
    expect(s.apply(sync(NOW + 1_000))).toBeNull();
    expect(s.index).toBe(2);
    expect((s.get('/t', flat, NOW) as V2Error).errorCode).toBe(Ecode.KeyNotFound);
    expect(s.nextDeadlineMs()).toBeNull();
    expect(s.stats().expireCount).toBe(1);
  });

  test('a watcher sees the expire event: node without value, prevNode with it (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/e', '1', { expireAtMs: NOW + 1_000 }));
    const w = watcher(s, '/e');
    let woken = 0;
    w.onWake = () => woken++;
    s.apply(sync(NOW + 1_200));
    expect(woken).toBe(1);
    const [e, ...rest] = w.take();
    expect(rest).toEqual([]);
    expect(wire(e!)).toBe(
      '{"action":"expire","node":{"key":"/e","modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/e","value":"1","expiration":"2026-01-02T03:04:06Z","modifiedIndex":1,"createdIndex":1}}',
    );
    expect(e!.etcdIndex).toBe(2);
  });

  test('several keys expire in deadline order, then path order, one index each', () => {
    const s = createStore();
    ok(s, put('/c', '1', { expireAtMs: NOW + 3_000 }));
    ok(s, put('/b', '1', { expireAtMs: NOW + 1_000 }));
    ok(s, put('/a', '1', { expireAtMs: NOW + 1_000 }));
    ok(s, put('/keep', '1', { expireAtMs: NOW + 9_000 }));
    const w = watcher(s, '/', true, true);
    s.apply(sync(NOW + 5_000));
    const events = w.take();
    expect(events.map((e) => [e.action, e.node.key, e.node.modifiedIndex])).toEqual([
      ['expire', '/a', 5],
      ['expire', '/b', 6],
      ['expire', '/c', 7],
    ]);
    expect(s.index).toBe(7);
    expect(s.nextDeadlineMs()).toBe(NOW + 9_000);
  });

  test('a directory with a TTL expires with its children; their own TTLs go too', () => {
    const s = createStore();
    ok(s, put('/d', '', { dir: true, expireAtMs: NOW + 1_000 }));
    ok(s, put('/d/x', '1'));
    ok(s, put('/d/y', '1', { expireAtMs: NOW + 5_000 }));
    const child = watcher(s, '/d/x');
    s.apply(sync(NOW + 2_000));
    expect(s.index).toBe(4); // one expire event for the directory
    expect(s.nextDeadlineMs()).toBeNull(); // /d/y left the heap with its parent
    expect((s.get('/d/x', flat, NOW) as V2Error).errorCode).toBe(Ecode.KeyNotFound);
    // The watcher on a child hears the directory's expiry.
    const [e] = child.take();
    expect(e?.action).toBe('expire');
    expect(e?.node).toEqual({ key: '/d', dir: true, modifiedIndex: 4, createdIndex: 1 });
    s.apply(sync(NOW + 10_000));
    expect(s.index).toBe(4);
  });

  test('deadlines before 2000 mean no TTL on create/set, as in etcd', () => {
    const s = createStore();
    ok(s, put('/old', 'v', { expireAtMs: 1_000 }));
    expect(s.nextDeadlineMs()).toBeNull();
    expect(s.get('/old', flat, NOW)).toMatchObject({ node: { key: '/old', value: 'v' } });
  });

  test('deleting a key with a TTL removes its deadline', () => {
    const s = createStore();
    ok(s, put('/t', 'v', { expireAtMs: NOW + 1_000 }));
    ok(s, del('/t'));
    expect(s.nextDeadlineMs()).toBeNull();
    s.apply(sync(NOW + 2_000));
    expect(s.index).toBe(2);
  });
});

describe('changing TTLs', () => {
  test('set without a TTL clears it (etcd ttl= ) and shows the old one in prevNode (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/t', '1', { expireAtMs: NOW + 30_000 }));
    const e = ok(s, put('/t', '2', { expireAtMs: null }));
    expect(wire(e)).toBe(
      '{"action":"set","node":{"key":"/t","value":"2","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/t","value":"1","expiration":"2026-01-02T03:04:35Z","ttl":30,"modifiedIndex":1,"createdIndex":1}}',
    );
    expect(s.nextDeadlineMs()).toBeNull();
  });

  test('update adds, moves and clears a TTL (etcd 3.4.23: update without ttl makes the key permanent)', () => {
    const s = createStore();
    ok(s, put('/t', '2'));
    const add = ok(s, put('/t', '3', { prevExist: true, expireAtMs: NOW + 100_000 }));
    expect(add.node).toMatchObject({ expiration: '2026-01-02T03:05:45Z', ttl: 100 });
    expect(s.nextDeadlineMs()).toBe(NOW + 100_000);
    const clear = ok(s, put('/t', '4', { prevExist: true }));
    expect(clear.node.ttl).toBeUndefined();
    expect(clear.prevNode?.ttl).toBe(100);
    expect(s.nextDeadlineMs()).toBeNull();
  });

  test('a directory TTL can be set and cleared by update (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/a/b', '1'));
    const e = ok(s, put('/a', '', { prevExist: true, expireAtMs: NOW + 100_000 }));
    expect(wire(e)).toBe(
      '{"action":"update","node":{"key":"/a","dir":true,"expiration":"2026-01-02T03:05:45Z","ttl":100,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/a","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    );
    // The directory's own modifiedIndex does not move (etcd 3.4.23).
    expect(s.get('/a', flat, NOW)).toMatchObject({ node: { modifiedIndex: 1, ttl: 100 } });
    ok(s, put('/a', '', { prevExist: true }));
    expect(s.nextDeadlineMs()).toBeNull();
  });

  test('CAS can move a TTL', () => {
    const s = createStore();
    ok(s, put('/t', 'a', { expireAtMs: NOW + 1_000 }));
    ok(s, put('/t', 'b', { prevValue: 'a', expireAtMs: NOW + 50_000 }));
    expect(s.nextDeadlineMs()).toBe(NOW + 50_000);
    s.apply(sync(NOW + 2_000));
    expect(s.get('/t', flat, NOW)).toMatchObject({ node: { value: 'b' } });
  });
});

describe('refresh', () => {
  test('update refresh keeps the value, moves the TTL, is marked and not delivered (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/t', '1', { expireAtMs: NOW + 5_000 }));
    const w = watcher(s, '/t', false, true);
    const e = ok(s, put('/t', '', { prevExist: true, refresh: true, expireAtMs: NOW + 20_000 }));
    expect(e.refresh).toBe(true);
    expect(wire(e)).toBe(
      '{"action":"update","node":{"key":"/t","value":"1","expiration":"2026-01-02T03:04:25Z","ttl":20,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/t","value":"1","expiration":"2026-01-02T03:04:10Z","ttl":5,"modifiedIndex":1,"createdIndex":1}}',
    );
    expect(s.index).toBe(2);
    expect(w.take()).toEqual([]);
    s.apply(sync(NOW + 10_000));
    expect(s.get('/t', flat, NOW + 10_000)).toMatchObject({ node: { value: '1', ttl: 10 } });
    // The refresh is in the history but a watch from its index skips it.
    const late = watcher(s, '/t', false, false, 2);
    expect(late.take()).toEqual([]);
    ok(s, put('/t', 'x'));
    expect(late.take().map((x) => x.node.value)).toEqual(['x']);
  });

  test('set refresh keeps the value but re-creates the key (etcd 3.4.23: new createdIndex)', () => {
    const s = createStore();
    ok(s, put('/t', '1', { expireAtMs: NOW + 5_000 }));
    const e = ok(s, put('/t', '', { refresh: true, expireAtMs: NOW + 30_000 }));
    expect(wire(e)).toBe(
      '{"action":"set","node":{"key":"/t","value":"1","expiration":"2026-01-02T03:04:35Z","ttl":30,"modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/t","value":"1","expiration":"2026-01-02T03:04:10Z","ttl":5,"modifiedIndex":1,"createdIndex":1}}',
    );
    expect(e.refresh).toBe(true);
  });

  test('CAS refresh keeps the value', () => {
    const s = createStore();
    ok(s, put('/t', '1', { expireAtMs: NOW + 5_000 }));
    const e = ok(s, put('/t', '', { prevValue: '1', refresh: true, expireAtMs: NOW + 7_000 }));
    expect([e.action, e.node.value, e.node.ttl, e.refresh]).toEqual(['compareAndSwap', '1', 7, true]);
  });

  test('set refresh of a missing key fails with 100 and counts setsFail', () => {
    const s = createStore();
    const err = fails(s, put('/none', '', { refresh: true, expireAtMs: NOW + 5_000 }));
    expect([err.errorCode, err.cause]).toEqual([Ecode.KeyNotFound, '/none']);
    expect(s.stats().setsFail).toBe(1);
  });
});
