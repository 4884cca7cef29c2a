// Properties of the checker on generated histories (generate.ts): clients run
// against Raftgate's real pure store, each op taking effect at one instant
// inside its [call, return], so every generated history is linearizable by
// construction, with or without lost answers, with or without indexes.
//   - the checker accepts every one of them (no false alarm);
//   - turning one read's answer into a value nobody wrote makes the checker
//     reject it (no blind spot), and blame that key.
// A failing case prints its seed and options; replay it with simulate().

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import type { CheckOptions, KeyFailure } from './checker.js';
import { formatResult } from './format.js';
import { seededRand, simulate } from './generate.js';
import type { SimOptions } from './generate.js';
import type { OpRecord } from './history.js';

// Histories with indexes (what outputFromV2 records) and, less often, the
// classic values-only kind. Values-only histories with many lost answers are
// exponential to refute (no index pins an unknown write down), so they are
// kept to the rates a fault test sees.
const simOptions: fc.Arbitrary<SimOptions> = fc.oneof(
  fc.record({
    clients: fc.integer({ min: 1, max: 6 }),
    keys: fc.integer({ min: 1, max: 3 }),
    moves: fc.integer({ min: 1, max: 150 }),
    unknownPercent: fc.constantFrom(0, 0, 5, 20),
  }),
  fc.record({
    clients: fc.integer({ min: 1, max: 6 }),
    keys: fc.integer({ min: 1, max: 3 }),
    moves: fc.integer({ min: 1, max: 150 }),
    unknownPercent: fc.constantFrom(0, 2),
    valuesOnly: fc.constant(true),
  }),
);

const checkOptions: fc.Arbitrary<CheckOptions> = fc.record({ crossKeyIndex: fc.boolean() });

// Small histories: a budget this size is never the limit, so "timed-out" is a failure too.
const budget: CheckOptions = { stepsMaxPerKey: 5_000_000, stepsMaxTotal: 20_000_000 };

describe('generated linearizable histories', () => {
  it('are accepted', () => {
    fc.assert(
      fc.property(fc.integer(), simOptions, checkOptions, (seed, sim, opts) => {
        const h = simulate(seededRand(seed), sim);
        const r = checkHistory(h, { ...budget, ...opts });
        expect(r.verdict, formatResult(r)).toBe('linearizable');
      }),
      { numRuns: 300 },
    );
  });

  it('are rejected once one read returns a value never written', () => {
    fc.assert(
      fc.property(fc.integer(), simOptions, checkOptions, fc.nat(), (seed, sim, opts, pick) => {
        const h = simulate(seededRand(seed), sim);
        const reads = h.filter((r) => r.input.op === 'get' && r.output?.ok === true);
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length] as OpRecord;
        const mutated = h.map((r) => (r === victim ? { ...r, output: { ...r.output, ok: true as const, value: 'never-written' } } : r));
        const r = checkHistory(mutated, { ...budget, ...opts });
        expect(r.verdict, formatResult(r)).toBe('not-linearizable');
        const keyFailures = r.failures.filter((f): f is KeyFailure => f.kind === 'key');
        expect(keyFailures.map((f) => f.key)).toEqual([victim.input.key]);
        // The narrowing never blames an op after the corrupted read's return.
        const culprit = keyFailures[0]?.culprit;
        if (culprit !== undefined) expect(culprit.return).toBeLessThanOrEqual(victim.return);
      }),
      { numRuns: 300 },
    );
  });
});
