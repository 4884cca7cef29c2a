// Snapshot images: a faithful round trip, refusal of damaged images, and what
// restore does to watchers that are waiting (DESIGN.md: never left waiting
// while events pass them by).

import { describe, expect, test } from 'vitest';
import { createStore, Ecode, V2Error } from '../../../core-server/store/index.js';
import type { KeyStore, Watcher } from '../../../core-server/store/index.js';
import { NOW, del, ok, post, put, sync } from './helpers.js';

const all = { recursive: true, sorted: false };

function busyStore(): KeyStore {
  const s = createStore();
  ok(s, put('/a/b', '1'));
  ok(s, put('/a/_hidden', 'h'));
  ok(s, put('/t', 'v', { expireAtMs: NOW + 5_000 }));
  ok(s, put('/d', '', { dir: true, expireAtMs: NOW + 9_000 }));
  ok(s, put('/d/x', 'x', { expireAtMs: NOW + 7_000 }));
  ok(s, post('/q', 'one'));
  ok(s, put('/a/b', '2', { prevValue: '1' }));
  ok(s, del('/q', { recursive: true }));
  s.apply(put('/a', 'x')); // a failure, counted in stats
  s.get('/a', all, NOW);
  return s;
}

function through(image: unknown): unknown {
  return JSON.parse(JSON.stringify(image)) as unknown;
}

function watcher(s: KeyStore, path: string, recursive = false, stream = false, sinceIndex = 0): Watcher {
  const w = s.watch(path, { recursive, stream, sinceIndex });
  if (w instanceof V2Error) throw new Error(w.toBody());
  return w;
}

describe('round trip', () => {
  test('restore(snapshot()) through JSON reproduces tree, index, TTLs, history and stats', () => {
    const s = busyStore();
    const image = through(s.snapshot());
    const t = createStore();
    t.restore(image);
    expect(JSON.stringify(t.snapshot())).toBe(JSON.stringify(s.snapshot()));
    expect(t.index).toBe(s.index);
    expect(t.nextDeadlineMs()).toBe(s.nextDeadlineMs());
    expect(t.stats()).toEqual(s.stats());
    expect(t.get('/', all, NOW)).toEqual(s.get('/', all, NOW));
    // History came along: a watch from index 1 is answered from it.
    expect(watcher(t, '/a', true, false, 1).take()[0]?.node.value).toBe('1');
    // And TTLs still fire after restore, identically on both.
    s.apply(sync(NOW + 8_000));
    t.apply(sync(NOW + 8_000));
    expect(JSON.stringify(t.snapshot())).toBe(JSON.stringify(s.snapshot()));
    expect(t.nextDeadlineMs()).toBe(NOW + 9_000);
  });

  test('restore replaces state that was there before', () => {
    const s = busyStore();
    const t = createStore();
    ok(t, put('/stale', 'x', { expireAtMs: NOW + 1 }));
    t.restore(through(s.snapshot()));
    expect((t.get('/stale', all, NOW) as V2Error).errorCode).toBe(Ecode.KeyNotFound);
    expect(t.nextDeadlineMs()).toBe(s.nextDeadlineMs());
  });

  test('a smaller historyMax keeps the newest events of the image', () => {
    const s = busyStore();
    const t = createStore({ historyMax: 2 });
    t.restore(through(s.snapshot()));
    expect(t.watch('/', { recursive: true, stream: false, sinceIndex: s.index - 2 })).toBeInstanceOf(V2Error);
    expect(watcher(t, '/', true, false, s.index - 1).take()).toHaveLength(1);
  });

  test.each<[string, (img: Record<string, unknown>) => void]>([
    ['wrong version', (img) => (img.version = 99)],
    ['negative index', (img) => (img.index = -1)],
    ['child before parent', (img) => (img.nodes as unknown[]).reverse()],
    ['node newer than the image', (img) => ((img.nodes as unknown[][])[0]![1] = 1e6)],
    ['history gap', (img) => (img.history as unknown[]).splice(1, 1)],
    ['history short of the index', (img) => (img.history as unknown[]).pop()],
    ['missing counter', (img) => delete (img.stats as Record<string, unknown>).setsFail],
  ])('a damaged image (%s) is refused and the store is left as it was', (_why, damage) => {
    const img = through(busyStore().snapshot()) as Record<string, unknown>;
    damage(img);
    const t = createStore();
    ok(t, put('/mine', 'x'));
    const before = JSON.stringify(t.snapshot());
    expect(() => t.restore(img)).toThrow(/RG_ERR_SNAPSHOT_INVALID/);
    expect(JSON.stringify(t.snapshot())).toBe(before);
  });
});

describe('restore and waiting watchers', () => {
  test('events the watcher missed are delivered from the restored history', () => {
    const leader = createStore();
    ok(leader, put('/k', '0'));
    const follower = createStore();
    follower.restore(through(leader.snapshot()));
    const w = watcher(follower, '/k', false, true);
    ok(leader, put('/other', '1'));
    ok(leader, put('/k', '1'));
    ok(leader, put('/k', '2'));
    let woken = 0;
    w.onWake = () => woken++;
    follower.restore(through(leader.snapshot()));
    expect(w.closed).toBeNull();
    expect(w.take().map((e) => e.node.value)).toEqual(['1', '2']);
    expect(woken).toBe(1);
    ok(leader, put('/k', '3'));
    follower.restore(through(leader.snapshot()));
    expect(w.take().map((e) => e.node.value)).toEqual(['3']);
  });

  test('a watcher whose missed range is no longer in history is closed with 401', () => {
    const leader = createStore({ historyMax: 3 });
    const follower = createStore({ historyMax: 3 });
    ok(leader, put('/k', '0'));
    follower.restore(through(leader.snapshot()));
    const w = watcher(follower, '/k');
    const idle = watcher(follower, '/unrelated', false, true);
    let woken = 0;
    w.onWake = () => woken++;
    for (let i = 1; i <= 5; i++) ok(leader, put('/x', String(i))); // indexes 2..6, history keeps 4..6
    follower.restore(through(leader.snapshot()));
    expect(w.closed).toBe('cleared');
    expect(woken).toBe(1);
    expect(w.error?.errorCode).toBe(Ecode.EventIndexCleared);
    expect(w.error?.cause).toBe('the requested history has been cleared [4/2]');
    expect(w.error?.index).toBe(6);
    // Any watcher may have missed something in the gap, not only ones on written keys.
    expect(idle.closed).toBe('cleared');
    expect(follower.stats().watchers).toBe(0);
  });

  test('restoring the same index leaves watchers alone; going back clears them', () => {
    const s = createStore();
    ok(s, put('/k', '0'));
    const same = s.snapshot();
    ok(s, put('/k', '1'));
    const ahead = through(s.snapshot());
    const w = watcher(s, '/k', false, true);
    s.restore(ahead);
    expect(w.closed).toBeNull();
    s.restore(through(same));
    expect(w.closed).toBe('cleared');
    expect(w.error?.errorCode).toBe(Ecode.EventIndexCleared);
  });
});
