// watchAll: the native protocol's upstream stream of every event — hidden
// keys, expiries and TTL refreshes included — replayed from the history, in
// index order, and closed with 401 when its reader falls out of the history.

import { describe, expect, test } from 'vitest';
import { createStore, Ecode, V2Error } from '../../../core-server/store/index.js';
import type { KeyStore, StoreEvent, Watcher } from '../../../core-server/store/index.js';
import { NOW, del, ok, put, sync } from './helpers.js';

function all(s: KeyStore, since = 0): Watcher {
  const w = s.watchAll(since);
  if (w instanceof V2Error) throw new Error(w.toBody());
  return w;
}

const idx = (es: StoreEvent[]): number[] => es.map((e) => e.node.modifiedIndex ?? -1);

describe('watchAll', () => {
  test('hears every key, hidden ones included, in index order', () => {
    const s = createStore();
    const w = all(s);
    ok(s, put('/a', '1'));
    ok(s, put('/_hidden', 'h'));
    ok(s, put('/d/_x/y', '2'));
    ok(s, del('/a'));
    const got = w.take();
    expect(got.map((e) => [e.action, e.node.key])).toEqual([
      ['set', '/a'],
      ['set', '/_hidden'],
      ['set', '/d/_x/y'],
      ['delete', '/a'],
    ]);
    expect(idx(got)).toEqual([1, 2, 3, 4]);
    expect(w.take()).toEqual([]);
  });

  test('hears TTL refreshes, marked, and expiries', () => {
    const s = createStore();
    ok(s, put('/t', 'v', { expireAtMs: NOW + 5000 }));
    const w = all(s);
    ok(s, put('/t', '', { refresh: true, prevExist: true, expireAtMs: NOW + 10_000 }));
    ok(s, put('/t', '', { refresh: true, expireAtMs: NOW + 20_000 }));
    s.apply(sync(NOW + 30_000));
    const got = w.take();
    expect(got.map((e) => [e.action, e.refresh === true])).toEqual([
      ['update', true],
      ['set', true],
      ['expire', false],
    ]);
    expect(idx(got)).toEqual([2, 3, 4]);
  });

  test('replays from sinceIndex, then goes live; onWake fires after each write', () => {
    const s = createStore();
    for (let i = 1; i <= 5; i++) ok(s, put(`/k${i}`, String(i)));
    const w = all(s, 3);
    expect(w.startIndex).toBe(5);
    let wakes = 0;
    w.onWake = () => wakes++;
    expect(idx(w.take())).toEqual([3, 4, 5]);
    ok(s, put('/k6', '6'));
    expect(wakes).toBe(1);
    expect(idx(w.take())).toEqual([6]);
  });

  test('a future sinceIndex waits for it; 0 means from the next event', () => {
    const s = createStore();
    ok(s, put('/a', '1'));
    const fromNow = all(s, 0);
    const future = all(s, 3);
    ok(s, put('/b', '2'));
    ok(s, put('/c', '3'));
    expect(idx(fromNow.take())).toEqual([2, 3]);
    expect(idx(future.take())).toEqual([3]);
  });

  test('a start older than the history is 401', () => {
    const s = createStore({ historyMax: 3 });
    for (let i = 1; i <= 5; i++) ok(s, put('/k', String(i)));
    const e = s.watchAll(2);
    expect(e).toBeInstanceOf(V2Error);
    expect((e as V2Error).errorCode).toBe(Ecode.EventIndexCleared);
    expect(idx(all(s, 3).take())).toEqual([3, 4, 5]);
  });

  test('a reader that falls more than the history behind is closed with 401, and woken', () => {
    const s = createStore({ historyMax: 3 });
    const w = all(s);
    let wakes = 0;
    w.onWake = () => wakes++;
    ok(s, put('/k', '1'));
    ok(s, put('/k', '2'));
    ok(s, put('/k', '3'));
    expect(w.closed).toBeNull();
    ok(s, put('/k', '4')); // index 1, still unread, leaves the ring
    expect(w.closed).toBe('cleared');
    expect(w.error?.errorCode).toBe(Ecode.EventIndexCleared);
    expect(w.take()).toEqual([]);
    expect(wakes).toBeGreaterThan(0);
  });

  test('a reader that keeps up is never cleared, however many events pass', () => {
    const s = createStore({ historyMax: 3 });
    const w = all(s);
    const seen: number[] = [];
    w.onWake = () => seen.push(...idx(w.take()));
    for (let i = 1; i <= 50; i++) ok(s, put(`/k${i % 7}`, String(i)));
    expect(w.closed).toBeNull();
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  test('remove() stops it; it does not count in stats.watchers', () => {
    const s = createStore();
    const w = all(s);
    expect(s.stats().watchers).toBe(0);
    w.remove();
    ok(s, put('/a', '1'));
    expect(w.closed).toBe('removed');
    expect(w.take()).toEqual([]);
  });

  test('snapshot restore: continues when the history still reaches, 401 when it does not', () => {
    const src = createStore();
    for (let i = 1; i <= 4; i++) ok(src, put(`/k${i}`, String(i)));
    const image = src.snapshot();

    const behind = createStore();
    ok(behind, put('/k1', '1'));
    const w = all(behind);
    behind.restore(image);
    expect(w.closed).toBeNull();
    expect(idx(w.take())).toEqual([2, 3, 4]);

    const small = createStore({ historyMax: 2 });
    const w2 = all(small);
    small.restore(image); // keeps events 3..4 only; w2 wants 1
    expect(w2.closed).toBe('cleared');
    expect(w2.error?.errorCode).toBe(Ecode.EventIndexCleared);

    const ahead = createStore();
    for (let i = 1; i <= 6; i++) ok(ahead, put('/z', String(i)));
    const w3 = all(ahead);
    ahead.restore(image); // index goes back: 401
    expect(w3.closed).toBe('cleared');
  });
});
