// The pure model the checker searches with: a generic Model interface (all
// the search knows about any sequential object), and the one model checked
// here, a single key of the etcd v2 keyspace (ops.ts has its inputs and
// outputs).
//
// Histories are PARTITIONED BY KEY, so the model sees one key's operations.
// The keys are not independent objects: the etcd index is one counter shared
// by every key. Each rule below holds for the projection onto one key of ANY
// legal run of the whole store, so a correct store is never rejected:
//
//   - value and existence: a get returns the value of the last write, or
//     100 when there is none; create fails with 105 exactly when the key
//     exists; cas / cad fail with 100 when it is missing and 101 exactly when
//     the compare fails; delete fails with 100 exactly when it is missing; a
//     write's prevValue is the value it replaced (null: there was none).
//   - modifiedIndex: a mutation takes a global index above every index the
//     key has seen so far (`floor`), so the key's indexes strictly increase
//     along the linearization; a write's returned index IS the new node's;
//     a get (or a write's prevModifiedIndex) sees exactly the live node's; a
//     prevIndex compare succeeds iff prevIndex equals it.
//   - etcd index (X-Etcd-Index, or an error's `index`): for a read or a failed
//     op it is the global index at its point: never below the floor, and a
//     later write of the key takes one above it.
//   - a write whose outcome is unknown takes some index: its node's index is
//     unknown but bounded (above the floor, at or below any etcd index seen
//     after it) and is learnt when a get or prevModifiedIndex reveals it.
//
// Two facts from the other keys come in, each a necessary condition for the
// whole store (index-facts.ts): an op's index is at least that of any op of
// any key that returned before it was called (KeyOp.indexAtLeast), and an
// unknown write took none of the indexes recorded writes took
// (TakenIndexes): so it took the first free one above the floor, or later.
//
// What it cannot check: that the gaps between one key's indexes are filled
// by other keys' writes in an order those keys agree with; the cross-key
// facts are only bounds. Not modelled: directories, TTLs and expiry,
// `update` (prevExist=true), in-order POST keys, createdIndex. Every key
// starts absent (use fresh keys, or record the writes that seed them).

import type { Compare, ErrorOutput, Input, OkOutput, Output } from './ops.js';

/**
 * A sequential object the search can check histories against. `step` is
 * total on (state, input, output) and pure. `output` is undefined for an
 * operation whose outcome is unknown: the model must then allow every
 * outcome the input could have had.
 */
export interface Model<S, I, O> {
  init(): S;
  /**
   * The state after applying `input` in `state` and answering `output`; null
   * when that answer is impossible in that state. An array lists every
   * possible next state when (state, input, output) does not determine it
   * (the search tries each); S itself must therefore not be an array.
   */
  step(state: S, input: I, output: O | undefined): S | readonly S[] | null;
  /**
   * A hint for the search, never a rule: where the op probably sits in the
   * linearization (smaller first). Candidates are tried in this order.
   */
  order?(input: I, output: O | undefined): number;
  /**
   * False only when the op can be linearized in no state reachable from
   * this one (so the search backtracks at once instead of finding out at
   * the op's return). Omitted: always true.
   */
  viable?(state: S, input: I, output: O | undefined): boolean;
  /**
   * False when no op with an unknown outcome that changes the state can be
   * linearized before this (completed) op from this state on without it
   * failing. When that holds for every candidate, the search does not try
   * unknown ops there. Omitted: always true.
   */
  unknownMayPrecede?(state: S, input: I, output: O | undefined): boolean;
  equal(a: S, b: S): boolean;
  /** Any 32-bit integer; equal states must hash equal. */
  hash(state: S): number;
}
// ---- the v2 key: what the other keys tell ----------------------------------

/**
 * The etcd indexes that recorded successful mutations took (on any key). An
 * index is taken by exactly one mutation, so a write whose index was not
 * recorded (unknown outcome) took none of these: it took the first free one
 * above the floor, or later. In a history where nearly every write answered,
 * that pins an unknown write close to where it really happened.
 */
export class TakenIndexes {
  static readonly none = new TakenIndexes([]);

  /** Runs of consecutive taken indexes, [first, last] pairs, ascending. */
  private readonly runs: readonly (readonly [number, number])[];
  private readonly freed: ReadonlySet<number>;

  /** `freed`: indexes in `taken` to treat as free (the ops that took them are being checked as unknown). */
  constructor(taken: Iterable<number>, freed: Iterable<number> = []) {
    const sorted = [...new Set(taken)].sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const n of sorted) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === n - 1) last[1] = n;
      else runs.push([n, n]);
    }
    this.runs = runs;
    this.freed = new Set(freed);
  }

  private run(n: number): readonly [number, number] | undefined {
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.runs[mid] as readonly [number, number];
      if (n < r[0]) hi = mid - 1;
      else if (n > r[1]) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  has(n: number): boolean {
    return !this.freed.has(n) && this.run(n) !== undefined;
  }

  /** The smallest index >= n that is not taken. */
  firstFreeFrom(n: number): number {
    const r = this.run(n);
    if (r === undefined || this.freed.has(n)) return n;
    let free = r[1] + 1;
    for (const f of this.freed) if (f >= n && f < free) free = f;
    return free;
  }
}

/**
 * One operation as the key model steps it: the v2 input, and a lower bound
 * of the global etcd index at any point after its call, from every op (of
 * any key) that returned before that call (index-facts.ts).
 */
export interface KeyOp {
  readonly input: Input;
  readonly indexAtLeast: number;
}
// ---- the v2 key: state and step --------------------------------------------

/**
 * One key's state at a point of the linearization. `mod` is 0 when the live
 * node's modifiedIndex is not known (etcd never gives a node index 0); it is
 * then somewhere in [modLo, modHi] and not taken. `floor` is a lower bound
 * on the GLOBAL etcd index at this point. Fields that do not apply are 0 so
 * that equal states are equal field by field.
 */
export interface KeyState {
  readonly exists: boolean;
  readonly value: string;
  readonly mod: number;
  readonly modLo: number;
  readonly modHi: number;
  readonly floor: number;
}

const ABSENT: KeyState = { exists: false, value: '', mod: 0, modLo: 0, modHi: 0, floor: 0 };

function absent(floor: number): KeyState {
  return { ...ABSENT, floor };
}

type Step = KeyState | readonly KeyState[] | null;

/** The key model, given the indexes other ops are known to have taken. */
class KeyModel {
  constructor(
    private readonly taken: TakenIndexes,
    private readonly trackIndexes: boolean,
  ) {}

  /** A read or a failed operation saw global index x at its point. */
  observeIndex(s: KeyState, x: number | undefined): KeyState | null {
    if (x === undefined) return s;
    if (x < s.floor) return null;
    if (s.exists && s.mod === 0) {
      const modHi = Math.min(s.modHi, x);
      if (modHi < s.modLo) return null;
      return { ...s, modHi, floor: x };
    }
    return x === s.floor ? s : { ...s, floor: x };
  }

  /**
   * The floor never goes down and every new node takes an index above it,
   * so an op that needs an index (its own, or the node's it saw or replaced)
   * that is no longer possible is dead for good.
   */
  viable(s: KeyState, op: KeyOp, out: Output | undefined): boolean {
    if (out === undefined) return true;
    if (!out.ok || op.input.op === 'get') {
      if (out.index !== undefined && out.index < s.floor) return false;
    } else if (out.modifiedIndex !== undefined && out.modifiedIndex <= s.floor) return false;
    const seen = this.seenMod(op.input, out);
    if (seen === undefined || seen > s.floor) return true;
    return s.exists && (s.mod === seen || (s.mod === 0 && this.mayBeMod(s, seen)));
  }

  /**
   * Any unknown op that changes the state is a mutation and takes an index
   * at or above the first free one after the floor. An op whose own index is
   * below that, or that must see the live node (whose index is at most the
   * floor: a new node's is above), cannot come after one.
   */
  unknownMayPrecede(s: KeyState, op: KeyOp, out: Output | undefined): boolean {
    if (!this.trackIndexes || out === undefined) return true;
    const slot = this.taken.firstFreeFrom(s.floor + 1);
    if (!out.ok || op.input.op === 'get') {
      if (out.index !== undefined && out.index < slot) return false;
    } else if (out.modifiedIndex !== undefined && out.modifiedIndex <= slot) return false;
    const seen = this.seenMod(op.input, out);
    return seen === undefined || seen > s.floor;
  }

  /** The live node's index an op needs to see: read by a get, replaced by a write, compared by prevIndex. */
  private seenMod(input: Input, out: Output): number | undefined {
    if (!out.ok) return undefined;
    if (input.op === 'get') return out.modifiedIndex;
    return out.prevModifiedIndex ?? (input.op === 'cas' || input.op === 'cad' ? input.prevIndex : undefined);
  }

  /** Could the live node's unknown index be m? */
  private mayBeMod(s: KeyState, m: number): boolean {
    return m >= s.modLo && m <= s.modHi && !this.taken.has(m);
  }

  /** The live node's modifiedIndex is revealed to be m. */
  learnMod(s: KeyState, m: number): KeyState | null {
    if (!s.exists) return null;
    if (s.mod !== 0) return m === s.mod ? s : null;
    if (!this.mayBeMod(s, m)) return null;
    return { ...s, mod: m, modLo: 0, modHi: 0, floor: Math.max(s.floor, m) };
  }

  /**
   * A mutation took a new global index: `n` when known, else the first free
   * one above the floor or later. For a mutation, X-Etcd-Index is only used
   * as an upper bound of the index it took (etcd sends exactly that index; a
   * store that sent a later one would still be linearizable).
   */
  mutate(s: KeyState, exists: boolean, value: string, n: number | undefined, x: number | undefined): KeyState | null {
    if (n !== undefined) {
      if (n <= s.floor) return null;
      if (x !== undefined && x < n) return null;
      return exists ? { exists, value, mod: n, modLo: 0, modHi: 0, floor: n } : absent(n);
    }
    // With no index anywhere in the history, counting them would only tell
    // apart states that nothing can tell apart (and defeat the cache).
    if (!this.trackIndexes) return exists ? { exists, value, mod: 0, modLo: 0, modHi: 0, floor: 0 } : ABSENT;
    const floor = this.taken.firstFreeFrom(s.floor + 1);
    if (x !== undefined && x < floor) return null;
    if (!exists) return absent(floor);
    return { exists, value, mod: 0, modLo: floor, modHi: x ?? Number.POSITIVE_INFINITY, floor };
  }

  /** A definite failure: the op must have been expected to fail with that code. */
  failed(s: KeyState, expected: number, out: ErrorOutput): KeyState | null {
    return out.errorCode === expected ? this.observeIndex(s, out.index) : null;
  }

  /** prevValue / prevModifiedIndex of a successful write describe the node it replaced. */
  checkPrev(s: KeyState, out: OkOutput): KeyState | null {
    if (out.prevValue !== undefined && out.prevValue !== (s.exists ? s.value : null)) return null;
    if (out.prevModifiedIndex !== undefined) return this.learnMod(s, out.prevModifiedIndex);
    return s;
  }

  compare(s: KeyState, c: Compare): 'match' | 'mismatch' | 'maybe' {
    if (c.prevValue !== undefined && c.prevValue !== s.value) return 'mismatch';
    if (c.prevIndex === undefined) return 'match';
    if (s.mod !== 0) return c.prevIndex === s.mod ? 'match' : 'mismatch';
    // The node's index is unknown: the compare may go either way.
    return this.mayBeMod(s, c.prevIndex) ? 'maybe' : 'mismatch';
  }

  /** A successful write of `value` (a deletion when value is null) with answer `out`. */
  write(s: KeyState, value: string | null, out: OkOutput | undefined): KeyState | null {
    if (out === undefined) return this.mutate(s, value !== null, value ?? '', undefined, undefined);
    if (value !== null && out.value !== undefined && out.value !== value) return null;
    const before = this.checkPrev(s, out);
    if (before === null) return null;
    return this.mutate(before, value !== null, value ?? '', out.modifiedIndex, out.index);
  }

  /** cas and cad: the same compare rules; `value` null means delete. */
  stepCompare(s: KeyState, c: Compare, value: string | null, out: Output | undefined): Step {
    if (!s.exists) {
      if (out === undefined) return s;
      return out.ok ? null : this.failed(s, 100, out);
    }
    const r = this.compare(s, c);
    if (r === 'mismatch') {
      if (out === undefined) return s;
      return out.ok ? null : this.failed(s, 101, out);
    }
    if (r === 'match') {
      if (out === undefined) return this.write(s, value, undefined);
      return out.ok ? this.write(s, value, out) : null;
    }
    // 'maybe': prevIndex may be the unknown node index.
    if (out !== undefined && !out.ok) return this.failed(s, 101, out); // "mod != prevIndex" is not kept: weaker, still sound
    const matched = this.learnMod(s, c.prevIndex as number);
    const applied = matched === null ? null : this.write(matched, value, out);
    if (out !== undefined) return applied;
    return applied === null ? s : [s, applied];
  }

  step(s0: KeyState, op: KeyOp, out: Output | undefined): Step {
    const s = op.indexAtLeast > s0.floor ? { ...s0, floor: op.indexAtLeast } : s0;
    const input = op.input;
    switch (input.op) {
      case 'get': {
        if (out === undefined) return s0; // a read with no answer tells nothing and changes nothing
        if (!out.ok) return s.exists ? null : this.failed(s, 100, out);
        if (!s.exists) return null;
        if (out.value !== undefined && out.value !== s.value) return null;
        const known = out.modifiedIndex === undefined ? s : this.learnMod(s, out.modifiedIndex);
        return known === null ? null : this.observeIndex(known, out.index);
      }
      case 'set':
        if (out !== undefined && !out.ok) return null; // a set of a plain key has no definite failure
        return this.write(s, input.value, out);
      case 'create':
        if (s.exists) {
          if (out === undefined) return s0;
          return out.ok ? null : this.failed(s, 105, out);
        }
        if (out !== undefined && !out.ok) return null;
        return this.write(s, input.value, out);
      case 'delete':
        if (!s.exists) {
          if (out === undefined) return s0;
          return out.ok ? null : this.failed(s, 100, out);
        }
        if (out !== undefined && !out.ok) return null;
        return this.write(s, null, out);
      case 'cas':
        return this.unknownNoop(s0, s, this.stepCompare(s, input, input.value, out), out);
      case 'cad':
        return this.unknownNoop(s0, s, this.stepCompare(s, input, null, out), out);
    }
  }

  /** An unknown op that did nothing raised no floor: it may not have happened at all. */
  private unknownNoop(s0: KeyState, s: KeyState, r: Step, out: Output | undefined): Step {
    if (out !== undefined || r === null) return r;
    if (Array.isArray(r)) return (r as readonly KeyState[]).map((x) => (x === s ? s0 : x));
    return r === s ? s0 : r;
  }
}

/**
 * Where an op sits in index order: a mutation just before the index it took
 * (a read at that index comes after it), a read or failure at the index it
 * saw. Without one, the bound from the ops that returned before its call.
 */
function orderHint(op: KeyOp, out: Output | undefined): number {
  if (out === undefined) return op.indexAtLeast + 0.5;
  if (!out.ok) return out.index ?? op.indexAtLeast;
  if (op.input.op === 'get') return out.index ?? out.modifiedIndex ?? op.indexAtLeast;
  const n = out.modifiedIndex ?? out.index;
  return n === undefined ? op.indexAtLeast + 0.5 : n - 0.5;
}

// FNV-1a over the value, then the numbers mixed in.
function hashState(s: KeyState): number {
  let h = 0x811c9dc5 ^ (s.exists ? 1 : 0);
  for (let i = 0; i < s.value.length; i++) h = Math.imul(h ^ s.value.charCodeAt(i), 0x01000193);
  for (const n of [s.mod, s.modLo, s.modHi === Number.POSITIVE_INFINITY ? -1 : s.modHi, s.floor]) {
    h = Math.imul(h ^ (n | 0), 0x01000193);
    h = Math.imul(h ^ ((n / 0x1_0000_0000) | 0), 0x01000193);
  }
  return h | 0;
}

function equalState(a: KeyState, b: KeyState): boolean {
  return (
    a.exists === b.exists &&
    a.value === b.value &&
    a.mod === b.mod &&
    a.modLo === b.modLo &&
    a.modHi === b.modHi &&
    a.floor === b.floor
  );
}

export function describeKeyState(s: KeyState): string {
  if (!s.exists) return `absent (etcd index >= ${s.floor})`;
  const mod = s.mod !== 0 ? `@${s.mod}` : `@? in [${s.modLo}, ${s.modHi === Number.POSITIVE_INFINITY ? '∞' : s.modHi}]`;
  return `${JSON.stringify(s.value)}${mod} (etcd index >= ${s.floor})`;
}

/** Does any op carry an index the model could use? If not, the model need not count them. */
export function usesIndexes(ops: Iterable<{ readonly op: KeyOp; readonly output: Output | undefined }>): boolean {
  for (const { op, output } of ops) {
    if (op.indexAtLeast > 0) return true;
    if ((op.input.op === 'cas' || op.input.op === 'cad') && op.input.prevIndex !== undefined) return true;
    if (output === undefined) continue;
    if (output.index !== undefined) return true;
    if (output.ok && (output.modifiedIndex !== undefined || output.prevModifiedIndex !== undefined)) return true;
  }
  return false;
}

/**
 * The model of one etcd v2 key, for histories partitioned by key. `taken`:
 * the indexes that recorded mutations took (none: nothing is known).
 * `trackIndexes` false is only for histories where usesIndexes() is false.
 */
export function keyModel(taken: TakenIndexes = TakenIndexes.none, trackIndexes = true): Model<KeyState, KeyOp, Output> {
  const m = new KeyModel(taken, trackIndexes);
  return {
    init: () => ABSENT,
    step: (s, op, out) => m.step(s, op, out),
    order: orderHint,
    viable: (s, op, out) => m.viable(s, op, out),
    unknownMayPrecede: (s, op, out) => m.unknownMayPrecede(s, op, out),
    equal: equalState,
    hash: hashState,
  };
}
