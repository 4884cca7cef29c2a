// The recorder: what a fault test gets when it records ops, and the mistakes
// it refuses to record (a clock going back, an op completed twice, an
// indefinite error filed as an answer).

import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import { History } from './history.js';
import { v2 } from './ops.js';

function steppingClock(times: number[]): () => number {
  let i = 0;
  return () => {
    const t = times[i++];
    if (t === undefined) throw new Error('clock ran out');
    return t;
  };
}

describe('History', () => {
  it('stamps call and return, and keeps unknown and unfinished ops open', () => {
    const h = new History({ clock: steppingClock([10, 20, 30, 40, 50, 60]) });
    const a = h.invoke('c1', v2.set('/k', 'a')); // call 10
    const b = h.invoke('c2', v2.get('/k')); // call 20
    a.ok({ ok: true, modifiedIndex: 4 }); // return 30
    const c = h.invoke('c3', v2.set('/k', 'b')); // call 40
    b.ok({ ok: true, value: 'a', modifiedIndex: 4 }); // return 50
    c.unknown();
    h.invoke('c1', v2.delete('/k')); // call 60, never completed
    expect(h.records()).toEqual([
      { id: 0, client: 'c1', input: v2.set('/k', 'a'), call: 10, output: { ok: true, modifiedIndex: 4 }, return: 30 },
      { id: 1, client: 'c2', input: v2.get('/k'), call: 20, output: { ok: true, value: 'a', modifiedIndex: 4 }, return: 50 },
      { id: 2, client: 'c3', input: v2.set('/k', 'b'), call: 40, output: undefined, return: Number.POSITIVE_INFINITY },
      { id: 3, client: 'c1', input: v2.delete('/k'), call: 60, output: undefined, return: Number.POSITIVE_INFINITY },
    ]);
  });

  it('counts by default, so one process records events in the order they happened', () => {
    const h = new History();
    const a = h.invoke(1, v2.set('/k', 'a'));
    const b = h.invoke(2, v2.get('/k'));
    b.fail({ ok: false, errorCode: 100 });
    a.ok({ ok: true });
    expect(h.records().map((r) => [r.call, r.return])).toEqual([
      [1, 4],
      [2, 3],
    ]);
    // The get returned before the set did, so it may have gone first.
    expect(checkHistory(h.records()).verdict).toBe('linearizable');
  });

  it('refuses a second completion, a clock that goes back, and an error that is not an outcome', () => {
    const h = new History({ clock: steppingClock([5, 6, 7, 3]) });
    const a = h.invoke(1, v2.set('/k', 'a'));
    a.ok({ ok: true });
    expect(() => a.unknown()).toThrow(/RG_ERR_LIN_TWICE/);
    const b = h.invoke(1, v2.cas('/k', 'b', { prevValue: 'a' }));
    // 300 (raft internal) may have committed after all: it must be recorded unknown.
    expect(() => b.fail({ ok: false, errorCode: 300 })).toThrow(/RG_ERR_LIN_INDEFINITE.*unknown\(\)/);
    expect(() => h.invoke(1, v2.get('/k'))).toThrow(/RG_ERR_LIN_CLOCK/);
  });

  it('has a limit on the ops it records', () => {
    const h = new History({ opsMax: 2 });
    h.invoke(1, v2.get('/k'));
    h.invoke(1, v2.get('/k'));
    expect(() => h.invoke(1, v2.get('/k'))).toThrow(/RG_ERR_LIN_OPS_MAX/);
  });

  it('builds only compares etcd would treat as compares', () => {
    expect(() => v2.cas('/k', 'v', {})).toThrow(/prevValue or prevIndex/);
    expect(() => v2.cas('/k', 'v', { prevValue: '' })).toThrow(/no compare/);
    expect(() => v2.cad('/k', { prevIndex: 0 })).toThrow(/positive integer/);
    expect(v2.cad('/k', { prevIndex: 7 })).toEqual({ op: 'cad', key: '/k', prevIndex: 7 });
  });
});
