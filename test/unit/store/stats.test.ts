// /v2/stats/store counters. Each expectation was checked as a delta on real
// etcd 3.4.23 (its counters include etcd's own internal writes, so deltas),
// quirks included: some errors count as successes, exactly as etcd counts them.

import { expect, test } from 'vitest';
import { createStore } from '../../../core-server/store/index.js';
import type { Command, StoreStats } from '../../../core-server/store/index.js';
import { NOW, del, ok, put, sync } from './helpers.js';

type Delta = Partial<Omit<StoreStats, 'watchers'>>;

// Every case starts from: /a/b = "1" (so /a is a directory).
test.each<[string, Command, Delta]>([
  ['set ok', put('/k', 'v'), { setsSuccess: 1 }],
  ['set on a dir (102)', put('/a', 'v'), { setsFail: 1 }],
  ['set through a key (104)', put('/a/b/c', 'v'), { setsFail: 1 }],
  ['set on the root (107)', put('/', 'v'), { setsFail: 1 }],
  ['create ok', put('/k', 'v', { prevExist: false }), { createSuccess: 1 }],
  ['create existing (105)', put('/a/b', 'v', { prevExist: false }), { createFail: 1 }],
  ['create through a key (104) also counts setsFail', put('/a/b/c', 'v', { prevExist: false }), { createFail: 1, setsFail: 1 }],
  ['update ok', put('/a/b', 'v', { prevExist: true }), { updateSuccess: 1 }],
  ['update missing (100)', put('/nope', 'v', { prevExist: true }), { updateFail: 1 }],
  ['update dir with value (102) counts success', put('/a', 'v', { prevExist: true }), { updateSuccess: 1 }],
  ['update root (107) counts success', put('/', '', { prevExist: true }), { updateSuccess: 1 }],
  ['CAS ok', put('/a/b', 'v', { prevValue: '1' }), { compareAndSwapSuccess: 1 }],
  ['CAS mismatch (101)', put('/a/b', 'v', { prevValue: 'x' }), { compareAndSwapFail: 1 }],
  ['CAS on a dir (102)', put('/a', 'v', { prevValue: 'x' }), { compareAndSwapFail: 1 }],
  ['CAS on root (107) counts success', put('/', 'v', { prevValue: 'x' }), { compareAndSwapSuccess: 1 }],
  ['delete ok', del('/a/b'), { deleteSuccess: 1 }],
  ['delete missing (100)', del('/nope'), { deleteFail: 1 }],
  ['delete dir without dir (102)', del('/a'), { deleteFail: 1 }],
  ['delete full dir (108)', del('/a', { dir: true }), { deleteFail: 1 }],
  ['delete root (107) counts success', del('/', { recursive: true }), { deleteSuccess: 1 }],
  ['compareAndDelete ok', del('/a/b', { prevValue: '1' }), { compareAndDeleteSuccess: 1 }],
  ['compareAndDelete missing (100)', del('/nope', { prevValue: '1' }), { compareAndDeleteFail: 1 }],
  ['compareAndDelete mismatch (101) counts success', del('/a/b', { prevValue: 'zz' }), { compareAndDeleteSuccess: 1 }],
  ['compareAndDelete on a dir (102) counts success', del('/a', { prevValue: 'zz' }), { compareAndDeleteSuccess: 1 }],
])('%s', (_name, cmd, delta) => {
  const s = createStore();
  ok(s, put('/a/b', '1'));
  const before = s.stats();
  s.apply(cmd);
  const after = s.stats();
  const moved: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - before[k as keyof StoreStats];
    if (d !== 0) moved[k] = d;
  }
  expect(moved).toEqual(delta);
});

test('expireCount counts every expired key; watchers counts live watchers', () => {
  const s = createStore();
  ok(s, put('/x', '1', { expireAtMs: NOW + 1 }));
  ok(s, put('/y', '1', { expireAtMs: NOW + 2 }));
  const w1 = s.watch('/z', { recursive: false, stream: false, sinceIndex: 0 });
  s.watch('/z', { recursive: false, stream: true, sinceIndex: 0 });
  expect(s.stats().watchers).toBe(2);
  s.apply(sync(NOW + 10));
  expect(s.stats().expireCount).toBe(2);
  if (!(w1 instanceof Error)) w1.remove();
  expect(s.stats().watchers).toBe(1);
  // The stats object has etcd's field order (it is served as JSON).
  expect(Object.keys(s.stats())).toEqual([
    'getsSuccess', 'getsFail', 'setsSuccess', 'setsFail', 'deleteSuccess', 'deleteFail', 'updateSuccess', 'updateFail',
    'createSuccess', 'createFail', 'compareAndSwapSuccess', 'compareAndSwapFail', 'compareAndDeleteSuccess',
    'compareAndDeleteFail', 'expireCount', 'watchers',
  ]);
});
