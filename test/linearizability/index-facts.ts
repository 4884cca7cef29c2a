// The cross-key facts: what partitioning by key gives up about the global
// etcd index, taken back where it is cheap. The index is one counter for the whole
// store, every mutation takes the next value, and a linearization extends
// real-time order, so for operations A and B on ANY keys where A returned
// before B was called:
//
//   B a mutation:      index(B) >  index(A)     (B took a later, new index)
//   B a read / error:  index(B) >= index(A)     (the index never goes back)
//
// and no two mutations take the same index. index(op) is the global index at
// the op's linearization point: exact for a mutation (its modifiedIndex) and
// for a read or error that carried X-Etcd-Index / `index`; a get without the
// header only gives a lower bound (the node's modifiedIndex). One O(n log n)
// sweep in call order, against the largest index of everything that has
// returned, checks all pairs at once, and gives each op `atCall`: a lower
// bound of the global index at any point after its call, which the per-key
// search uses too (an unknown write took an index above it). The same
// facts give the indexes recorded mutations took (`taken`).

import type { OpRecord } from './history.js';

export interface IndexViolation {
  readonly before: OpRecord;
  readonly after: OpRecord;
  readonly why: string;
}

interface Bounds {
  readonly rec: OpRecord;
  /** A lower bound of the global index at the op's point. */
  readonly lo: number | undefined;
  /** An upper bound of it. */
  readonly hi: number | undefined;
  readonly mutation: boolean;
}

function boundsOf(rec: OpRecord): Bounds | null {
  const out = rec.output;
  if (out === undefined) return null;
  if (!out.ok) return out.index === undefined ? null : { rec, lo: out.index, hi: out.index, mutation: false };
  if (rec.input.op === 'get') {
    const known = [out.modifiedIndex, out.index].filter((n): n is number => n !== undefined);
    return { rec, lo: known.length === 0 ? undefined : Math.max(...known), hi: out.index, mutation: false };
  }
  // A mutation: X-Etcd-Index only bounds it from above (see model.ts).
  return { rec, lo: out.modifiedIndex, hi: out.modifiedIndex ?? out.index, mutation: true };
}

export interface IndexFacts {
  /** Per record (same positions as the input): the global index is at least this after its call. */
  readonly atCall: readonly number[];
  /** The indexes successful mutations were recorded to take. */
  readonly taken: readonly number[];
  readonly violations: readonly IndexViolation[];
}

export function indexFacts(records: readonly OpRecord[], violationsMax = 3): IndexFacts {
  const violations: IndexViolation[] = [];
  const all = records.map(boundsOf);
  const bounds = all.filter((b): b is Bounds => b !== null);

  const byIndex = new Map<number, OpRecord>();
  for (const b of bounds) {
    if (!b.mutation || b.lo === undefined) continue;
    const other = byIndex.get(b.lo);
    if (other !== undefined && violations.length < violationsMax) {
      violations.push({ before: other, after: b.rec, why: `two mutations took etcd index ${b.lo}` });
    }
    byIndex.set(b.lo, b.rec);
  }

  const returned = bounds.filter((b) => b.lo !== undefined).sort((a, b) => a.rec.return - b.rec.return);
  const called = records.map((_, i) => i).sort((a, b) => (records[a] as OpRecord).call - (records[b] as OpRecord).call);
  const atCall = records.map(() => 0);
  let next = 0;
  let max: Bounds | null = null;
  for (const i of called) {
    const call = (records[i] as OpRecord).call;
    for (; next < returned.length && (returned[next] as Bounds).rec.return < call; next++) {
      const r = returned[next] as Bounds;
      if (max === null || (r.lo as number) > (max.lo as number)) max = r;
    }
    if (max === null) continue;
    atCall[i] = max.lo as number;
    const b = all[i];
    if (b === null || b === undefined || b.hi === undefined || violations.length >= violationsMax) continue;
    const hi = b.hi;
    const lo = max.lo as number;
    if (b.mutation ? hi <= lo : hi < lo) {
      violations.push({
        before: max.rec,
        after: b.rec,
        why: b.mutation
          ? `#${b.rec.id} took etcd index ${hi} after #${max.rec.id} had returned with index ${lo}`
          : `#${b.rec.id} saw etcd index ${hi} after #${max.rec.id} had returned with index ${lo}`,
      });
    }
  }
  return { atCall, taken: [...byIndex.keys()], violations };
}
