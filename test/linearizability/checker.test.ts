// The checker on small histories made by hand: every classic anomaly must be
// rejected (with the key and the op to blame), and histories that are
// linearizable only through a non-obvious order, or through an unknown op
// taking effect (or not), must be accepted.
//
// Times are small integers; [call, return] of each op is written out, and
// `null` as the return means the answer was lost (unknown).

import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import type { CheckResult, KeyFailure } from './checker.js';
import { formatResult } from './format.js';
import type { OpRecord } from './history.js';
import { v2 } from './ops.js';
import type { Input, OkOutput, Output } from './ops.js';

type Row = [client: number, input: Input, call: number, ret: number | null, output?: Output];

function history(...rows: Row[]): OpRecord[] {
  return rows.map(([client, input, call, ret, output], id) => ({
    id,
    client,
    input,
    call,
    output: ret === null ? undefined : output,
    return: ret ?? Number.POSITIVE_INFINITY,
  }));
}

const ok = (o: Omit<OkOutput, 'ok'> = {}): Output => ({ ok: true, ...o });
const err = (errorCode: number, index?: number): Output => (index === undefined ? { ok: false, errorCode } : { ok: false, errorCode, index });

/** Rejected; unless `crossKeyOnly`, also by each key's check alone, with nothing known across keys. */
function rejected(h: OpRecord[], crossKeyOnly = false): CheckResult {
  const r = checkHistory(h);
  expect(r.verdict, formatResult(r)).toBe('not-linearizable');
  const alone = checkHistory(h, { crossKeyIndex: false });
  expect(alone.verdict, formatResult(alone)).toBe(crossKeyOnly ? 'linearizable' : 'not-linearizable');
  return r;
}

function accepted(h: OpRecord[]): CheckResult {
  const r = checkHistory(h);
  expect(r.verdict, formatResult(r)).toBe('linearizable');
  const alone = checkHistory(h, { crossKeyIndex: false });
  expect(alone.verdict, formatResult(alone)).toBe('linearizable');
  return r;
}

function keyFailure(r: CheckResult): KeyFailure {
  const f = r.failures.find((x): x is KeyFailure => x.kind === 'key');
  if (f === undefined) throw new Error(`no key failure in:\n${formatResult(r)}`);
  return f;
}

describe('rejects non-linearizable histories', () => {
  it('a stale read after a completed write', () => {
    const r = rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 4 })],
        [1, v2.set('/k', 'b'), 2, 3, ok({ modifiedIndex: 5 })],
        [2, v2.get('/k'), 4, 5, ok({ value: 'a' })],
      ),
    );
    const f = keyFailure(r);
    expect(f.key).toBe('/k');
    expect(f.culprit?.id).toBe(2);
    expect(formatResult(r)).toMatch(/first unexplainable answer: #2 c2 get\(\/k\) -> ok "a"/);
  });

  it('two creates of one key both succeeding, even when concurrent', () => {
    const r = rejected(
      history(
        [1, v2.create('/k', 'a'), 0, 3, ok({ modifiedIndex: 1 })],
        [2, v2.create('/k', 'b'), 1, 4, ok({ modifiedIndex: 2 })],
      ),
    );
    expect(keyFailure(r).culprit?.id).toBe(1);
  });

  it('a CAS succeeding against a value that was never current', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok()],
        [2, v2.set('/k', 'b'), 0, 5, ok()], // concurrent, but never "c"
        [3, v2.cas('/k', 'd', { prevValue: 'c' }), 2, 3, ok()],
      ),
    );
  });

  it('a read that sees a value, then an older one', () => {
    const r = rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok()],
        [1, v2.set('/k', 'b'), 2, 20, ok()], // still in flight while both reads run
        [2, v2.get('/k'), 3, 4, ok({ value: 'b' })],
        [3, v2.get('/k'), 5, 6, ok({ value: 'a' })],
      ),
    );
    expect(keyFailure(r).culprit?.id).toBe(3);
  });

  it('a lost update: two CASes from the same value both succeed', () => {
    rejected(
      history(
        [1, v2.set('/k', '0'), 0, 1, ok()],
        [2, v2.cas('/k', '1', { prevValue: '0' }), 2, 5, ok()],
        [3, v2.cas('/k', '2', { prevValue: '0' }), 3, 6, ok()],
      ),
    );
  });

  it('a lost update seen through prevValue: two sets both replaced the same value', () => {
    rejected(
      history(
        [1, v2.set('/k', '0'), 0, 1, ok({ prevValue: null })],
        [2, v2.set('/k', '1'), 2, 5, ok({ prevValue: '0' })],
        [3, v2.set('/k', '2'), 3, 6, ok({ prevValue: '0' })],
      ),
    );
  });

  it("a read whose modifiedIndex goes backwards although the value is the same", () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 5 })],
        [1, v2.set('/k', 'a'), 2, 20, ok({ modifiedIndex: 7 })],
        [2, v2.get('/k'), 3, 4, ok({ value: 'a', modifiedIndex: 7 })],
        [3, v2.get('/k'), 5, 6, ok({ value: 'a', modifiedIndex: 5 })],
      ),
    );
  });

  it('a read returning an index no write of the key took', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 5 })],
        [2, v2.get('/k'), 2, 3, ok({ value: 'a', modifiedIndex: 6 })],
      ),
    );
  });

  it('the etcd index of one key going backwards (X-Etcd-Index of reads and errors)', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 5, index: 5 })],
        [2, v2.get('/k'), 2, 3, ok({ value: 'a', modifiedIndex: 5, index: 9 })],
        [3, v2.create('/k', 'b'), 4, 5, err(105, 8)],
      ),
    );
  });

  it('a write taking an index below one already seen on the key', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 5 })],
        [2, v2.get('/k'), 2, 3, ok({ value: 'a', modifiedIndex: 5, index: 9 })],
        [3, v2.set('/k', 'b'), 4, 5, ok({ modifiedIndex: 8 })],
      ),
    );
  });

  it('the etcd index going backwards across keys, which no single key shows', () => {
    const r = rejected(
      history(
        [1, v2.set('/a', 'x'), 0, 1, ok({ modifiedIndex: 10 })],
        [2, v2.set('/b', 'y'), 2, 3, ok({ modifiedIndex: 9 })],
      ),
      true,
    );
    expect(r.failures.map((f) => f.kind)).toContain('index-order');
    expect(formatResult(r)).toMatch(/#1 took etcd index 9 after #0 had returned with index 10/);
  });

  it('two writes to different keys taking the same index', () => {
    const r = rejected(
      history(
        [1, v2.set('/a', 'x'), 0, 5, ok({ modifiedIndex: 3 })],
        [2, v2.set('/b', 'y'), 1, 6, ok({ modifiedIndex: 3 })],
      ),
      true,
    );
    expect(formatResult(r)).toMatch(/two mutations took etcd index 3/);
  });

  it('a CAS on prevIndex succeeding against an index that is not the current one', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 3 })],
        [1, v2.set('/k', 'b'), 2, 3, ok({ modifiedIndex: 4 })],
        [2, v2.cas('/k', 'c', { prevIndex: 3 }), 4, 5, ok({ modifiedIndex: 6 })],
      ),
    );
  });

  it('a compare that failed although it must have matched', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok()],
        [2, v2.cas('/k', 'b', { prevValue: 'a' }), 2, 3, err(101)],
      ),
    );
  });

  it('a delete of a key that was there reporting 100, and a get finding a deleted key', () => {
    rejected(history([1, v2.set('/k', 'a'), 0, 1, ok()], [2, v2.delete('/k'), 2, 3, err(100)]));
    rejected(history([1, v2.set('/k', 'a'), 0, 1, ok()], [1, v2.delete('/k'), 2, 3, ok()], [2, v2.get('/k'), 4, 5, ok({ value: 'a' })]));
  });

  it('an unknown write cannot explain a value it did not write', () => {
    rejected(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok()],
        [2, v2.set('/k', 'b'), 2, null],
        [3, v2.get('/k'), 3, 4, ok({ value: 'c' })],
      ),
    );
  });

  it('an unknown write revealed to have taken an index a write of another key took', () => {
    rejected(
      history(
        [2, v2.set('/k', 'b'), 0, null],
        [3, v2.set('/other', 'z'), 1, 2, ok({ modifiedIndex: 4 })],
        [4, v2.get('/k'), 3, 4, ok({ value: 'b', modifiedIndex: 4 })],
      ),
      true,
    );
  });

  it('an unknown write cannot take effect before its call', () => {
    rejected(
      history(
        [1, v2.get('/k'), 0, 1, ok({ value: 'b' })],
        [2, v2.set('/k', 'b'), 2, null],
      ),
    );
  });
});

describe('accepts linearizable histories', () => {
  it('concurrent writes in either order', () => {
    for (const seen of ['a', 'b']) {
      accepted(
        history(
          [1, v2.set('/k', 'a'), 0, 3, ok()],
          [2, v2.set('/k', 'b'), 1, 4, ok()],
          [3, v2.get('/k'), 5, 6, ok({ value: seen })],
        ),
      );
    }
  });

  it('reads concurrent with a write see the old value, then the new one', () => {
    accepted(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 2 })],
        [1, v2.set('/k', 'b'), 2, 20, ok({ modifiedIndex: 7 })],
        [2, v2.get('/k'), 3, 4, ok({ value: 'a', modifiedIndex: 2, index: 6 })],
        [3, v2.get('/k'), 5, 6, ok({ value: 'b', modifiedIndex: 7, index: 7 })],
        [2, v2.get('/k'), 7, 8, ok({ value: 'b', modifiedIndex: 7, index: 9 })],
      ),
    );
  });

  it('an order that only works with the later-called op first', () => {
    // The CAS must go before the set that was called earlier.
    accepted(
      history(
        [1, v2.set('/k', 'x'), 0, 1, ok()],
        [2, v2.set('/k', 'a'), 2, 10, ok()],
        [3, v2.cas('/k', 'y', { prevValue: 'x' }), 3, 4, ok({ prevValue: 'x' })],
        [4, v2.get('/k'), 11, 12, ok({ value: 'a' })],
      ),
    );
  });

  it('an unknown write that took effect', () => {
    accepted(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 3 })],
        [2, v2.set('/k', 'b'), 2, null],
        [3, v2.get('/k'), 30, 31, ok({ value: 'b', modifiedIndex: 8 })],
        [3, v2.cas('/k', 'c', { prevIndex: 8 }), 32, 33, ok({ modifiedIndex: 9 })],
      ),
    );
  });

  it('an unknown write that took effect much later, after other writes', () => {
    accepted(
      history(
        [2, v2.set('/k', 'late'), 0, null],
        [1, v2.set('/k', 'a'), 1, 2, ok()],
        [1, v2.set('/k', 'b'), 3, 4, ok()],
        [3, v2.get('/k'), 5, 6, ok({ value: 'b' })],
        [3, v2.get('/k'), 7, 8, ok({ value: 'late' })],
      ),
    );
  });

  it('an unknown write that never took effect', () => {
    accepted(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok()],
        [2, v2.set('/k', 'b'), 2, null],
        [2, v2.delete('/k'), 3, null],
        [3, v2.get('/k'), 5, 6, ok({ value: 'a' })],
        [3, v2.get('/k'), 7, 8, ok({ value: 'a' })],
      ),
    );
  });

  it('an unknown write that must go before an op that does not need it', () => {
    // The create fails either way, but the get shows the unknown write took
    // index 6, below the create's 10: so it went first.
    accepted(
      history(
        [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 3, index: 3 })],
        [2, v2.set('/k', 'b'), 2, null],
        [3, v2.create('/k', 'c'), 3, 4, err(105, 10)],
        [4, v2.get('/k'), 5, 6, ok({ value: 'b', modifiedIndex: 6, index: 11 })],
      ),
    );
  });

  it('an unknown create that explains a 105', () => {
    accepted(
      history(
        [1, v2.create('/k', 'a'), 0, null],
        [2, v2.create('/k', 'b'), 1, 2, err(105)],
        [3, v2.delete('/k'), 3, 4, ok({ prevValue: 'a' })],
      ),
    );
  });

  it('a failed CAS, consistent with one order of the concurrent writes', () => {
    accepted(
      history(
        [1, v2.set('/k', 'x'), 0, 1, ok()],
        [2, v2.set('/k', 'a'), 2, 10, ok()],
        [3, v2.cas('/k', 'c', { prevValue: 'a' }), 3, 4, err(101)], // went before the set of "a"
        [4, v2.get('/k'), 11, 12, ok({ value: 'a' })],
      ),
    );
  });

  it('a CAS on a missing key fails with 100, on a wrong value with 101', () => {
    accepted(
      history(
        [1, v2.cas('/k', 'a', { prevValue: 'z' }), 0, 1, err(100)],
        [1, v2.cad('/k', { prevIndex: 3 }), 2, 3, err(100)],
        [1, v2.create('/k', 'b'), 4, 5, ok({ modifiedIndex: 3 })],
        [1, v2.cad('/k', { prevIndex: 2 }), 6, 7, err(101)],
        [1, v2.cad('/k', { prevIndex: 3 }), 8, 9, ok({ prevValue: 'b', prevModifiedIndex: 3, modifiedIndex: 4 })],
        [1, v2.get('/k'), 10, 11, err(100, 4)],
      ),
    );
  });

  it('a CAS on prevIndex whose outcome is unknown, against an index that is not known either', () => {
    // The unknown set of "b" took some index the history only learns later;
    // the unknown CAS may or may not have matched it. Both readings must be open.
    for (const last of ['b', 'c']) {
      accepted(
        history(
          [1, v2.set('/k', 'a'), 0, 1, ok({ modifiedIndex: 3 })],
          [2, v2.set('/k', 'b'), 2, null],
          [3, v2.cas('/k', 'c', { prevIndex: 5 }), 3, null],
          [4, v2.get('/k'), 10, 11, ok({ value: last })],
        ),
      );
    }
  });

  it('a key that is written, deleted and created again', () => {
    accepted(
      history(
        [1, v2.create('/k', 'a'), 0, 1, ok({ modifiedIndex: 1, prevValue: null })],
        [2, v2.delete('/k'), 2, 3, ok({ modifiedIndex: 2, prevValue: 'a', prevModifiedIndex: 1 })],
        [3, v2.get('/k'), 4, 5, err(100, 2)],
        [1, v2.create('/k', 'b'), 6, 7, ok({ modifiedIndex: 4 })],
        [2, v2.get('/k'), 8, 9, ok({ value: 'b', modifiedIndex: 4, index: 6 })],
      ),
    );
  });

  it('equal timestamps count as concurrent', () => {
    accepted(
      history(
        [1, v2.set('/k', 'a'), 0, 5, ok()],
        [2, v2.get('/k'), 5, 6, err(100)], // called as the set returned: may go first
      ),
    );
  });
});

describe('budget and report', () => {
  it('a search that runs out of steps says "timed-out", not "not-linearizable"', () => {
    const rows: Row[] = [];
    for (let c = 0; c < 12; c++) rows.push([c, v2.set('/k', `v${c}`), 0, null]);
    rows.push([99, v2.get('/k'), 1, 2, ok({ value: 'never' })]);
    const h = history(...rows);
    const r = checkHistory(h, { stepsMaxPerKey: 50 });
    expect(r.verdict).toBe('timed-out');
    expect(r.keys[0]?.limit).toBe('steps');
    expect(r.failures).toEqual([]);
    expect(formatResult(r)).toMatch(/TIMED OUT .*\n.*key "\/k": 13 ops \(12 unknown\), stopped by the steps limit/);
    // With room to finish, the same history is refuted.
    expect(checkHistory(h).verdict).toBe('not-linearizable');
  });

  it('a failure deep in a long history is narrowed to the first bad answer', () => {
    const rows: Row[] = [];
    let t = 0;
    for (let i = 1; i <= 200; i++) {
      rows.push([1, v2.set('/k', `v${i}`), t++, t++, ok({ modifiedIndex: i })]);
      rows.push([2, v2.get('/k'), t++, t++, ok({ value: `v${i}`, modifiedIndex: i })]);
    }
    rows[301] = [2, v2.get('/k'), 301 * 2, 301 * 2 + 1, ok({ value: 'v150' })]; // should be v151
    const r = rejected(history(...rows));
    const f = keyFailure(r);
    expect(f.culprit?.id).toBe(301);
    expect(f.linearizedCount).toBe(301);
    expect(f.stuck.map((o) => o.id)).toEqual([301]);
    const text = formatResult(r);
    expect(text).toMatch(/longest linearization found: 301 ops, the last 10/);
    expect(text).toMatch(/=> "v151"@151/);
    expect(text).toMatch(/timeline/);
  });

  it('other keys are still checked when one key fails', () => {
    const r = checkHistory(
      history(
        [1, v2.set('/bad', 'a'), 0, 1, ok()],
        [1, v2.get('/bad'), 2, 3, ok({ value: 'b' })],
        [2, v2.set('/good', 'a'), 0, 1, ok()],
        [2, v2.get('/good'), 2, 3, ok({ value: 'a' })],
      ),
    );
    expect(r.keys.map((k) => [k.key, k.verdict])).toEqual([
      ['/bad', 'not-linearizable'],
      ['/good', 'linearizable'],
    ]);
  });
});
