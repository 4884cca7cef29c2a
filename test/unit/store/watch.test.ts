// Watches: who hears which event, the history window and its 401, one-shot
// versus stream watchers, overflow, removal and the watcher count.
// Cases marked "etcd 3.4.23" were checked with curl long-polls on real etcd.

import { describe, expect, test } from 'vitest';
import { createStore, Ecode, V2Error } from '../../../core-server/store/index.js';
import type { KeyStore, Watcher } from '../../../core-server/store/index.js';
import { del, ok, put, wire } from './helpers.js';

function watcher(s: KeyStore, path: string, o: { recursive?: boolean; stream?: boolean; since?: number } = {}): Watcher {
  const w = s.watch(path, { recursive: o.recursive ?? false, stream: o.stream ?? false, sinceIndex: o.since ?? 0 });
  if (w instanceof V2Error) throw new Error(w.toBody());
  return w;
}

const keysOf = (w: Watcher): (string | undefined)[] => w.take().map((e) => e.node.key);

describe('who hears what', () => {
  test.each([
    // [watch path, recursive, event key, heard]
    ['/foo', false, '/foo', true],
    ['/foo', false, '/foo/bar', false],
    ['/foo', true, '/foo/bar', true],
    ['/foo', true, '/foobar', false],
    ['/', true, '/any/thing', true],
    ['/', false, '/any', false],
    ['/h', true, '/h/_s', false], // hidden below a recursive watch (etcd 3.4.23)
    ['/h', true, '/h/_d/x', false],
    ['/h/_s', false, '/h/_s', true], // a watch on the hidden key itself hears it (etcd 3.4.23)
    ['/_d', true, '/_d/x', true], // hidden above the watch point does not matter
  ] as const)('watch %s recursive=%s, set %s → %s', (path, recursive, key, heard) => {
    const s = createStore();
    const w = watcher(s, path, { recursive });
    ok(s, put(key, 'v'));
    expect(keysOf(w)).toEqual(heard ? [key] : []);
    expect(s.stats().watchers).toBe(heard ? 0 : 1);
  });

  test('deleting a directory notifies watchers of everything inside it (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/w/x/y', '1'));
    const onKey = watcher(s, '/w/x/y');
    const onParent = watcher(s, '/w', { recursive: true });
    const nonRecursiveParent = watcher(s, '/w');
    const e = ok(s, del('/w/x', { recursive: true }));
    const body =
      '{"action":"delete","node":{"key":"/w/x","dir":true,"modifiedIndex":2,"createdIndex":1},"prevNode":{"key":"/w/x","dir":true,"modifiedIndex":1,"createdIndex":1}}';
    expect(wire(e)).toBe(body);
    expect(onKey.take().map(wire)).toEqual([body]);
    expect(onParent.take().map(wire)).toEqual([body]);
    expect(nonRecursiveParent.take()).toEqual([]);
  });

  test('a one-shot watcher fires once and is removed; a stream keeps hearing', () => {
    const s = createStore();
    const once = watcher(s, '/k');
    const stream = watcher(s, '/k', { stream: true });
    expect(s.stats().watchers).toBe(2);
    ok(s, put('/k', '1'));
    ok(s, put('/k', '2'));
    expect(once.take().map((e) => e.node.value)).toEqual(['1']);
    expect(stream.take().map((e) => e.node.value)).toEqual(['1', '2']);
    expect(s.stats().watchers).toBe(1);
    expect(once.closed).toBeNull();
  });

  test('a stream watcher on a deleted key hears the delete once (etcd would send it twice)', () => {
    const s = createStore();
    ok(s, put('/k', '1'));
    const stream = watcher(s, '/k', { stream: true });
    ok(s, del('/k'));
    expect(stream.take().map((e) => e.action)).toEqual(['delete']);
  });

  test('onWake runs after the write is fully applied, so re-watching inside it is safe', () => {
    const s = createStore();
    const seen: { index: number; again: number[] }[] = [];
    const w = watcher(s, '/k');
    let again: Watcher | null = null;
    w.onWake = () => {
      const events = w.take();
      again = watcher(s, '/k');
      seen.push({ index: s.index, again: again.take().map((e) => e.etcdIndex) });
      expect(events).toHaveLength(1);
    };
    ok(s, put('/k', '1', { prevExist: false }));
    ok(s, put('/k', '2', { prevExist: true }));
    // The re-armed watcher did not get the update it was created during.
    expect(seen).toEqual([{ index: 1, again: [] }]);
    expect(again!.take().map((e) => e.node.value)).toEqual(['2']);
  });

  test('remove() frees the watcher at once and is idempotent', () => {
    const s = createStore();
    const w = watcher(s, '/k', { stream: true });
    expect(s.stats().watchers).toBe(1);
    w.remove();
    w.remove();
    expect(w.closed).toBe('removed');
    expect(s.stats().watchers).toBe(0);
    ok(s, put('/k', '1'));
    expect(w.take()).toEqual([]);
  });

  test('a full queue closes the watcher with overflow and frees it; queued events stay readable', () => {
    const s = createStore({ watcherQueueMax: 3 });
    const w = watcher(s, '/k', { stream: true });
    let wakes = 0;
    w.onWake = () => wakes++;
    for (let i = 1; i <= 5; i++) ok(s, put('/k', String(i)));
    expect(w.closed).toBe('overflow');
    expect(s.stats().watchers).toBe(0);
    expect(w.take().map((e) => e.node.value)).toEqual(['1', '2', '3']);
    expect(wakes).toBe(4); // three deliveries and the close
  });

  test('a watcher at sinceIndex in the future waits for it', () => {
    const s = createStore();
    const w = watcher(s, '/k', { since: 3 });
    ok(s, put('/k', '1'));
    ok(s, put('/k', '2'));
    expect(w.take()).toEqual([]);
    ok(s, put('/k', '3'));
    expect(w.take().map((e) => e.node.modifiedIndex)).toEqual([3]);
  });

  test('startIndex is the store index when watching', () => {
    const s = createStore();
    ok(s, put('/x', '1'));
    expect(watcher(s, '/k').startIndex).toBe(1);
  });
});

describe('history', () => {
  test('a watch from the past gets the first matching event, stamped with the current index (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/w/x/y', '1'));
    ok(s, put('/other', '1'));
    ok(s, put('/w/x/y', '2'));
    const w = watcher(s, '/w', { recursive: true, since: 1 });
    const [e, ...rest] = w.take();
    expect(rest).toEqual([]);
    expect(e?.node).toMatchObject({ key: '/w/x/y', value: '1', modifiedIndex: 1 });
    expect(e?.etcdIndex).toBe(3);
    expect(s.stats().watchers).toBe(0); // answered from history, never registered
    const second = watcher(s, '/w/x/y', { since: 2 });
    expect(second.take().map((x) => x.node.value)).toEqual(['2']);
  });

  test('a past directory delete matches watches inside it, by string prefix like etcd', () => {
    const s = createStore();
    ok(s, put('/foo/a', '1'));
    ok(s, del('/foo', { recursive: true }));
    expect(keysOf(watcher(s, '/foo/a/deeper', { since: 2 }))).toEqual(['/foo']);
    expect(keysOf(watcher(s, '/foobar', { since: 2 }))).toEqual(['/foo']); // etcd's HasPrefix quirk
  });

  test('a stream watch from the past replays every match, then goes live', () => {
    const s = createStore();
    ok(s, put('/k', '1'));
    ok(s, put('/x', '1'));
    ok(s, put('/k', '2'));
    const w = watcher(s, '/k', { stream: true, since: 1 });
    expect(w.take().map((e) => e.node.value)).toEqual(['1', '2']);
    expect(s.stats().watchers).toBe(1);
    ok(s, put('/k', '3'));
    expect(w.take().map((e) => e.node.value)).toEqual(['3']);
  });

  test('history keeps historyMax events; older starts get 401 with etcd cause', () => {
    const s = createStore({ historyMax: 5 });
    for (let i = 1; i <= 8; i++) ok(s, put('/k', String(i)));
    // Oldest kept is index 4.
    const err = s.watch('/k', { recursive: false, stream: false, sinceIndex: 3 });
    expect(err).toBeInstanceOf(V2Error);
    const v = err as V2Error;
    expect(v.errorCode).toBe(Ecode.EventIndexCleared);
    expect(v.toBody()).toBe(
      '{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [4/3]","index":8}\n',
    );
    expect(watcher(s, '/k', { since: 4 }).take().map((e) => e.node.value)).toEqual(['4']);
  });

  test('the default history is 1000 events', () => {
    const s = createStore();
    for (let i = 1; i <= 1001; i++) ok(s, put('/k', String(i)));
    expect(s.watch('/k', { recursive: false, stream: false, sinceIndex: 1 })).toBeInstanceOf(V2Error);
    expect(watcher(s, '/k', { since: 2 }).take()).toHaveLength(1);
  });
});
