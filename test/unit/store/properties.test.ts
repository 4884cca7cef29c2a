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
import type { KeyStore } from '../../../core-server/store/index.js';
import { NOW } from './helpers.js';
import { opsArb, type Op } from './arbitraries.js';

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
