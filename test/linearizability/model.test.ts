// The model's edges that the history tests reach only indirectly: reading
// etcd's wire format, and the set of indexes recorded writes took.

import { describe, expect, it } from 'vitest';
import { createStore } from '../../core-server/store/index.js';
import { apply } from './generate.js';
import { TakenIndexes, keyModel } from './model.js';
import { outputFromV2, v2 } from './ops.js';
import type { KeyState } from './model.js';
import type { Input, Output } from './ops.js';

describe('outputFromV2', () => {
  it('reads an event body and X-Etcd-Index', () => {
    const body = {
      action: 'compareAndSwap',
      node: { key: '/k', value: 'b', modifiedIndex: 8, createdIndex: 7 },
      prevNode: { key: '/k', value: 'a', modifiedIndex: 7, createdIndex: 7 },
    };
    expect(outputFromV2(body, '8')).toEqual({ ok: true, value: 'b', modifiedIndex: 8, prevValue: 'a', prevModifiedIndex: 7, index: 8 });
  });

  it('says a write had no previous node, and a get says nothing about one', () => {
    expect(outputFromV2({ action: 'set', node: { key: '/k', value: 'a', modifiedIndex: 3, createdIndex: 3 } })).toEqual({
      ok: true,
      value: 'a',
      modifiedIndex: 3,
      prevValue: null,
    });
    expect(outputFromV2({ action: 'get', node: { key: '/k', value: 'a', modifiedIndex: 3, createdIndex: 3 } }, 12)).toEqual({
      ok: true,
      value: 'a',
      modifiedIndex: 3,
      index: 12,
    });
  });

  it('reads an error body', () => {
    expect(outputFromV2({ errorCode: 101, message: 'Compare failed', cause: '[x != a]', index: 9 })).toEqual({
      ok: false,
      errorCode: 101,
      index: 9,
    });
  });

  it('refuses what is not an etcd keys response', () => {
    expect(() => outputFromV2('502 Bad Gateway')).toThrow(/not an etcd v2 keys response/);
    expect(() => outputFromV2({ action: 'set', node: { modifiedIndex: '3' } })).toThrow(/node.modifiedIndex/);
    expect(() => outputFromV2({ action: 'get', node: { value: 'a' } }, 'x')).toThrow(/X-Etcd-Index/);
  });

  it('agrees with the store: a delete reports the index it took and what it removed', () => {
    const store = createStore();
    expect(apply(store, v2.create('/k', 'a'))).toEqual({ ok: true, value: 'a', modifiedIndex: 1, prevValue: null, index: 1 });
    expect(apply(store, v2.delete('/k'))).toEqual({ ok: true, modifiedIndex: 2, prevValue: 'a', prevModifiedIndex: 1, index: 2 });
    expect(apply(store, v2.get('/k'))).toEqual({ ok: false, errorCode: 100, index: 2 });
  });
});

describe('TakenIndexes', () => {
  it('finds the first index no recorded write took', () => {
    const t = new TakenIndexes([3, 4, 5, 9]);
    expect([1, 3, 5, 6, 9].map((n) => t.firstFreeFrom(n))).toEqual([1, 6, 6, 6, 10]);
    expect([2, 3, 9, 10].map((n) => t.has(n))).toEqual([false, true, true, false]);
  });

  it('treats freed indexes (ops checked as unknown) as free', () => {
    const t = new TakenIndexes([3, 4, 5, 9], [4]);
    expect(t.has(4)).toBe(false);
    expect([3, 4, 5].map((n) => t.firstFreeFrom(n))).toEqual([4, 4, 6]);
  });
});

describe('the key model, one step at a time', () => {
  const model = keyModel(new TakenIndexes([7]));
  const at = (over: Partial<KeyState>): KeyState => ({ exists: true, value: 'a', mod: 5, modLo: 0, modHi: 0, floor: 6, ...over });
  const step = (s: KeyState, input: Input, out: Output | undefined): ReturnType<typeof model.step> =>
    model.step(s, { input, indexAtLeast: 0 }, out);

  it('never lets the etcd index go below what the key has seen', () => {
    expect(step(at({}), v2.get('/k'), { ok: true, value: 'a', modifiedIndex: 5, index: 5 })).toBeNull();
    expect(step(at({}), v2.get('/k'), { ok: true, value: 'a', modifiedIndex: 5, index: 6 })).toEqual(at({}));
    expect(step(at({}), v2.set('/k', 'b'), { ok: true, modifiedIndex: 6 })).toBeNull();
    expect(step(at({}), v2.set('/k', 'b'), { ok: true, modifiedIndex: 8 })).toEqual(at({ value: 'b', mod: 8, floor: 8 }));
  });

  it('gives an unknown write the first index no recorded write took', () => {
    expect(step(at({}), v2.set('/k', 'b'), undefined)).toEqual(at({ value: 'b', mod: 0, modLo: 8, modHi: Number.POSITIVE_INFINITY, floor: 8 }));
  });

  it('leaves both outcomes open for an unknown compare against an unknown index', () => {
    const s = at({ mod: 0, modLo: 8, modHi: 12, floor: 9 });
    expect(step(s, v2.cas('/k', 'c', { prevIndex: 10 }), undefined)).toEqual([
      s,
      at({ value: 'c', mod: 0, modLo: 11, modHi: Number.POSITIVE_INFINITY, floor: 11 }), // the node had 10; the CAS took a later one
    ]);
    // 7 was taken by a recorded write, 13 is past what the node can have: no match possible.
    expect(step(s, v2.cas('/k', 'c', { prevIndex: 7 }), undefined)).toBe(s);
    expect(step(s, v2.cas('/k', 'c', { prevIndex: 13 }), undefined)).toBe(s);
    // A definite answer settles it.
    expect(step(s, v2.cas('/k', 'c', { prevIndex: 10 }), { ok: true, modifiedIndex: 14 })).toEqual(at({ value: 'c', mod: 14, floor: 14 }));
  });
});
