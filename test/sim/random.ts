// The one source of randomness of a simulation run. Everything the
// simulator decides (schedules, delays, losses, crash points, fsync
// latencies, each member's election jitter) is drawn from streams forked off
// one seed, so a seed replays the whole run. Never Math.random().

import { Mulberry32 } from '../../core-server/raft/rng.js';

export class SimRandom {
  private readonly prng: Mulberry32;

  constructor(seed: number) {
    this.prng = new Mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.prng.next();
  }

  /** An integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + this.prng.nextInt(hi - lo + 1);
  }

  /** A float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng.next();
  }

  chance(p: number): boolean {
    return this.prng.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.prng.nextInt(items.length)]!;
  }

  /** A new array with the items in random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.prng.nextInt(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** Picks a key with probability proportional to its weight (weights >= 0, not all 0). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let total = 0;
    for (const k in weights) total += weights[k];
    let x = this.prng.next() * total;
    let last: K | undefined;
    for (const k in weights) {
      if (weights[k] <= 0) continue;
      last = k;
      x -= weights[k];
      if (x < 0) return k;
    }
    if (last === undefined) throw new RangeError('weighted: all weights are zero');
    return last;
  }

  /** An independent stream (for a member's election jitter), itself determined by this one. */
  fork(): SimRandom {
    return new SimRandom(this.prng.nextInt(0x7fffffff) + 1);
  }

  /** The raw generator, for APIs that take the core's Rng. */
  rng(): Mulberry32 {
    return new Mulberry32(this.prng.nextInt(0x7fffffff) + 1);
  }
}
