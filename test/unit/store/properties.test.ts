// Properties over random command sequences (fast-check prints the seed and the
// shrunk sequence on failure):
// 1. determinism: two fresh stores fed the same commands hold the same image
//    and answered the same results, so every Raft member agrees;
// 2. snapshot transparency: snapshot → JSON → restore at any point, then
//    continuing, answers exactly what the uninterrupted store answers;
// 3. the index moves by one per successful write and per expired key, never
//    on a failure or a read.

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { createStore, V2Error } from '../../../core-server/store/index.js';
import type { Command, KeyStore, WriteRequest } from '../../../core-server/store/index.js';
import { NOW, req } from './helpers.js';

type Op = { kind: 'cmd'; cmd: Command } | { kind: 'get'; path: string; recursive: boolean; sorted: boolean };

const paths = ['/', '/a', '/a/b', '/a/b/c', '/a/_h', '/b', '/_x/y', '/c/d'];
const values = ['', 'v1', 'v2'];

const writeArb: fc.Arbitrary<Op> = fc
  .record({
    method: fc.constantFrom<WriteRequest['method']>('PUT', 'PUT', 'PUT', 'POST', 'DELETE', 'DELETE'),
    path: fc.constantFrom(...paths),
    value: fc.constantFrom(...values),
    dir: fc.boolean(),
    prevExist: fc.constantFrom<boolean | null>(null, null, true, false),
    prevValue: fc.constantFrom('', '', 'v1'),
    prevIndex: fc.constantFrom(0, 0, 0, 1, 2, 3),
    recursive: fc.boolean(),
    refresh: fc.boolean(),
    ttlS: fc.constantFrom<number | null>(null, null, 1, 3),
    atS: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ ttlS, atS, ...r }) => {
    const nowMs = NOW + atS * 1000;
    const cmd: Command = { op: 'write', req: req(r.method, r.path, { ...r, nowMs, expireAtMs: ttlS === null ? null : nowMs + ttlS * 1000 }) };
    return { kind: 'cmd', cmd } as const;
  });

const syncArb: fc.Arbitrary<Op> = fc
  .integer({ min: 0, max: 25_000 })
  .map((dt) => ({ kind: 'cmd', cmd: { op: 'sync', nowMs: NOW + dt } }) as const);

const getArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('get' as const),
  path: fc.constantFrom(...paths),
  recursive: fc.boolean(),
  sorted: fc.boolean(),
});

const opsArb = fc.array(fc.oneof({ arbitrary: writeArb, weight: 6 }, { arbitrary: syncArb, weight: 1 }, { arbitrary: getArb, weight: 1 }), {
  maxLength: 60,
});

/** Apply one op and describe its result as JSON (errors by their body). */
function run(s: KeyStore, op: Op): string {
  const r = op.kind === 'cmd' ? s.apply(op.cmd) : s.get(op.path, { recursive: op.recursive, sorted: op.sorted }, NOW);
  if (r instanceof V2Error) return r.toBody();
  return JSON.stringify(r);
}

const image = (s: KeyStore): string => JSON.stringify(s.snapshot());
const params = { numRuns: 300 };

test('determinism: the same commands give the same results and the same image', () => {
  fc.assert(
    fc.property(opsArb, (ops) => {
      const a = createStore();
      const b = createStore();
      for (const op of ops) expect(run(b, op)).toBe(run(a, op));
      expect(image(b)).toBe(image(a));
      expect(b.nextDeadlineMs()).toBe(a.nextDeadlineMs());
    }),
    params,
  );
});

test('snapshot → restore → continue is indistinguishable from never snapshotting', () => {
  fc.assert(
    fc.property(opsArb, fc.nat(), (ops, cut0) => {
      const cut = ops.length === 0 ? 0 : cut0 % (ops.length + 1);
      const straight = createStore();
      const first = createStore();
      for (const op of ops.slice(0, cut)) {
        run(straight, op);
        run(first, op);
      }
      const resumed = createStore();
      resumed.restore(JSON.parse(image(first)) as unknown);
      for (const op of ops.slice(cut)) expect(run(resumed, op)).toBe(run(straight, op));
      expect(image(resumed)).toBe(image(straight));
    }),
    params,
  );
});

test('the index moves once per successful write and once per expired key', () => {
  fc.assert(
    fc.property(opsArb, (ops) => {
      const s = createStore();
      for (const op of ops) {
        const before = s.index;
        const expiredBefore = s.stats().expireCount;
        if (op.kind === 'get') {
          s.get(op.path, { recursive: op.recursive, sorted: op.sorted }, NOW);
          expect(s.index).toBe(before);
          continue;
        }
        const r = s.apply(op.cmd);
        if (op.cmd.op === 'sync') {
          expect(r).toBeNull();
          expect(s.index - before).toBe(s.stats().expireCount - expiredBefore);
        } else if (r instanceof V2Error) {
          expect(s.index).toBe(before);
          expect(r.index).toBe(before);
        } else {
          expect(s.index).toBe(before + 1);
          expect(r?.etcdIndex).toBe(before + 1);
          expect(r?.node.modifiedIndex).toBe(before + 1);
        }
      }
    }),
    params,
  );
});
