// The checker's budget on histories the size a fault test records: 20
// clients × 2,000 ops each, with answers lost at about the rate of a run that
// kills the leader now and then. The assertion is on the search budget (the
// verdict is "linearizable", not "timed-out"), never on wall-clock time; the
// steps are printed so a slowdown shows before it becomes a timeout.

import { describe, expect, it } from 'vitest';
import { checkDefaults, checkHistory } from './checker.js';
import { formatResult } from './format.js';
import { seededRand, simulate } from './generate.js';

const clients = 20;
const opsPerClient = 2_000;

describe('a 20-client × 2,000-op history checks within the step budget', () => {
  for (const { keys, unknownPercent, seed } of [
    { keys: 10, unknownPercent: 1, seed: 1 },
    { keys: 1, unknownPercent: 1, seed: 2 }, // one hot key: all 20 clients overlap all the time
  ]) {
    it(`${keys} key(s), ${unknownPercent}% answers lost (seed ${seed})`, () => {
      // Each op takes three moves of its client: call, effect, return.
      const h = simulate(seededRand(seed), { clients, keys, moves: 3 * clients * opsPerClient, unknownPercent });
      expect(h.length).toBeGreaterThan(0.95 * clients * opsPerClient);
      const r = checkHistory(h);
      console.log(`${keys} key(s): ${formatResult(r)}; most steps on one key: ${Math.max(...r.keys.map((k) => k.steps))}`);
      expect(r.verdict, formatResult(r)).toBe('linearizable');
      expect(r.keys.every((k) => k.steps < checkDefaults.stepsMaxPerKey)).toBe(true);
    });
  }
});
