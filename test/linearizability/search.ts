// The search: Wing & Gong's algorithm with Lowe's memoisation, as Porcupine
// implements it. Generic over any Model; it knows nothing about etcd.
//
// Every operation contributes a call event and a return event to one list in
// time order (an unknown operation's return is at +Infinity). The operations
// that may be linearized next are exactly the calls before the first return
// in the list: any of them could have taken effect now, but the op of that
// first return must take effect before anything called after it returned.
// The search tries a candidate, and if the model accepts it, lifts its call
// and return out of the list and looks at the new candidates; when none is
// left, it backtracks. A cache of (set of linearized ops, model state) pairs
// already explored prunes repeated work: the future depends on nothing else.
//
// Departures from Porcupine, none changing what is accepted (design.md):
//   - candidates are tried in the model's `order` (for etcd: by index), so
//     the first choice is nearly always right;
//   - a point where the model says some candidate can never be placed again
//     (`viable`) is a dead end at once;
//   - unknown operations need not be linearized at all: they are kept out of
//     the event list, the search ends once every completed op is placed, and
//     they are tried only after the completed candidates, never when their
//     step leaves the state unchanged, and not where `unknownMayPrecede`
//     rules out every state-changing op before every candidate;
//   - a cached point with the same completed ops and state and a SUBSET of
//     the unknown ops placed covers this one (more left free can only help).

import type { Model } from './model.js';

export interface SearchOp<I, O> {
  readonly input: I;
  /** undefined: outcome unknown. */
  readonly output: O | undefined;
  readonly call: number;
  /** Ignored (taken as +Infinity) when the outcome is unknown. */
  readonly return: number;
}

export interface SearchLimits {
  /** Loop iterations (one candidate tried or one backtrack each). */
  stepsMax: number;
  /** Memory for the cache of explored (linearized set, state) pairs. */
  cacheBytesMax: number;
  /** Keep the partial linearization with the most completed ops, for explaining a failure. */
  trackLongest?: boolean;
}

export interface Linearization<S> {
  /** Indexes into the ops, in linearization order. */
  readonly order: readonly number[];
  /** The model state after each op of `order`. */
  readonly states: readonly S[];
}

export type SearchResult<S> =
  | { readonly verdict: 'linearizable'; readonly steps: number; readonly witness: Linearization<S> }
  | { readonly verdict: 'not-linearizable'; readonly steps: number; readonly longest: Linearization<S> }
  | { readonly verdict: 'timed-out'; readonly steps: number; readonly limit: 'steps' | 'cache' };

interface ListNode {
  readonly op: number;
  readonly isCall: boolean;
  /** For a call: its return. */
  match: ListNode | null;
  prev: ListNode | null;
  next: ListNode | null;
}

/** One point of the linearization: the candidates there, and which is placed. */
interface Level<S> {
  /** Completed candidates, then (filled in only once those are exhausted) unknown ones. */
  readonly candidates: number[];
  completedCount: number;
  unknownsAdded: boolean;
  /** The candidate being tried (or placed, for a level on the stack). */
  pos: number;
  /** Its possible next states; null until stepped. */
  alternatives: readonly S[] | null;
  alt: number;
  /** The state before it. */
  before: S;
}

/**
 * The set of linearized ops, kept small for the cache. Completed ops are
 * ranked by return: every op that returned before op X was called must be
 * linearized before X, so the linearized completed ops are all ranks below a
 * watermark plus a few above it (ops concurrent with the first missing one).
 * The set of placed unknown ops is interned: a number per distinct set.
 * Together that is the cache key, instead of a bitset of every op.
 */
class Linearized {
  private watermark = 0;
  private readonly above: number[] = [];
  private readonly unknowns: number[] = [];
  /** Interned sets of placed unknown ops: the current one is on top (ops are placed and taken back LIFO). */
  private readonly unknownSet: number[] = [0];
  private readonly interned = new Map<string, number>([['', 0]]);
  /** The members of each interned set, sorted. */
  readonly members: (readonly number[])[] = [[]];
  private readonly transitions = new Map<string, number>();
  private readonly isSet: Uint8Array;

  constructor(completedCount: number) {
    this.isSet = new Uint8Array(completedCount);
  }

  addCompleted(rank: number): void {
    this.isSet[rank] = 1;
    if (rank !== this.watermark) return insertSorted(this.above, rank);
    this.watermark++;
    while (this.isSet[this.watermark] === 1) {
      removeSorted(this.above, this.watermark);
      this.watermark++;
    }
  }

  removeCompleted(rank: number): void {
    this.isSet[rank] = 0;
    if (rank > this.watermark) return removeSorted(this.above, rank);
    // Every rank between it and the watermark stays linearized, now "above"
    // (they were placed before it, so they are ops concurrent with it: few).
    const moved: number[] = [];
    for (let r = rank + 1; r < this.watermark; r++) moved.push(r);
    this.above.unshift(...moved);
    this.watermark = rank;
  }

  addUnknown(i: number): void {
    insertSorted(this.unknowns, i);
    const from = `${this.unknownSet[this.unknownSet.length - 1] as number}+${i}`;
    let id = this.transitions.get(from);
    if (id === undefined) {
      const members = this.unknowns.join(',');
      id = this.interned.get(members);
      if (id === undefined) {
        id = this.interned.size;
        this.interned.set(members, id);
        this.members.push(this.unknowns.slice());
      }
      this.transitions.set(from, id);
    }
    this.unknownSet.push(id);
  }

  removeUnknown(i: number): void {
    removeSorted(this.unknowns, i);
    this.unknownSet.pop();
  }

  /** The placed completed ops, as a string. */
  completedKey(): string {
    return `${this.watermark}|${this.above.join(',')}`;
  }

  /** The interned set of placed unknown ops. */
  unknownSetId(): number {
    return this.unknownSet[this.unknownSet.length - 1] as number;
  }
}

/** Is sorted a a subset of sorted b? */
function isSubset(a: readonly number[], b: readonly number[]): boolean {
  if (a.length > b.length) return false;
  let j = 0;
  for (const v of a) {
    while (j < b.length && (b[j] as number) < v) j++;
    if (b[j] !== v) return false;
    j++;
  }
  return true;
}

function insertSorted(a: number[], v: number): void {
  let i = a.length;
  while (i > 0 && (a[i - 1] as number) > v) i--;
  a.splice(i, 0, v);
}

function removeSorted(a: number[], v: number): void {
  const i = a.lastIndexOf(v);
  if (i >= 0) a.splice(i, 1);
}

/**
 * The event list of the completed ops. Unknown ops are not in it: their
 * return never comes, so they never bound anything; they become candidates
 * once called (see unknownCandidates).
 */
function buildList(ops: readonly SearchOp<unknown, unknown>[], calls: (ListNode | null)[]): ListNode {
  const events: { node: ListNode; time: number }[] = [];
  ops.forEach((op, i) => {
    if (!Number.isFinite(op.call)) throw new Error(`operation ${i} has no call time (${op.call})`);
    if (op.output === undefined) return;
    if (!(op.call <= op.return)) throw new Error(`operation ${i} returns (${op.return}) before its call (${op.call})`);
    const call: ListNode = { op: i, isCall: true, match: null, prev: null, next: null };
    const retNode: ListNode = { op: i, isCall: false, match: null, prev: null, next: null };
    call.match = retNode;
    calls[i] = call;
    events.push({ node: call, time: op.call }, { node: retNode, time: op.return });
  });
  // Equal times: calls first, so ops that touch in time count as concurrent
  // (never a false alarm from a coarse clock).
  events.sort((a, b) => a.time - b.time || (a.node.isCall === b.node.isCall ? a.node.op - b.node.op : a.node.isCall ? -1 : 1));
  const head: ListNode = { op: -1, isCall: false, match: null, prev: null, next: null };
  let tail = head;
  for (const { node } of events) {
    tail.next = node;
    node.prev = tail;
    tail = node;
  }
  return head;
}

function lift(call: ListNode): void {
  const ret = call.match as ListNode;
  (call.prev as ListNode).next = call.next;
  (call.next as ListNode).prev = call.prev;
  (ret.prev as ListNode).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: ListNode): void {
  const ret = call.match as ListNode;
  (ret.prev as ListNode).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as ListNode).next = call;
  (call.next as ListNode).prev = call;
}

// What one cache entry costs in V8, roughly: the key string, the map slot,
// the bucket array and a model state.
const cacheEntryOverheadBytes = 160;

function asList<S>(r: S | readonly S[] | null): readonly S[] {
  return r === null ? [] : Array.isArray(r) ? (r as readonly S[]) : [r as S];
}

interface CacheEntry<S> {
  readonly state: S;
  /** The interned set of unknown ops placed. */
  readonly unknowns: number;
}

export function search<S, I, O>(model: Model<S, I, O>, ops: readonly SearchOp<I, O>[], limits: SearchLimits): SearchResult<S> {
  const calls: (ListNode | null)[] = ops.map(() => null);
  const head = buildList(ops, calls);
  const unknown = ops.map((op) => op.output === undefined);
  // Candidates are tried in the model's order, then call order.
  const orderKey = ops.map((op) => model.order?.(op.input, op.output) ?? 0);
  const tryFirst = (a: number, b: number): number =>
    (orderKey[a] as number) - (orderKey[b] as number) || (ops[a] as SearchOp<I, O>).call - (ops[b] as SearchOp<I, O>).call || a - b;
  const all = ops.map((_, i) => i);
  const unknownByCall = all.filter((i) => unknown[i]).sort((a, b) => (ops[a] as SearchOp<I, O>).call - (ops[b] as SearchOp<I, O>).call || a - b);
  // Completed ops by return rank, unknown ops by position: the ids Linearized keeps.
  const rank = ops.map(() => -1);
  all
    .filter((i) => !unknown[i])
    .sort((a, b) => (ops[a] as SearchOp<I, O>).return - (ops[b] as SearchOp<I, O>).return || a - b)
    .forEach((i, r) => (rank[i] = r));
  const completed = unknown.filter((u) => !u).length;
  let completedLeft = completed;
  const linearized = new Linearized(completed);
  const isLinearized = new Uint8Array(ops.length);
  // Keyed by the placed completed ops and the state's hash. A point is
  // explored already when an entry has the same completed ops and state and
  // a SUBSET of its unknown ops: having more unknown ops still available can
  // only help (an unknown op may be left out), so this point can do nothing
  // that one could not.
  const cache = new Map<string, CacheEntry<S>[]>();
  // The same set is one comparison; a subset costs a merge, so only the
  // latest few entries are tried that way (missing one only costs time).
  const subsetTriesMax = 8;
  const explored = (bucket: readonly CacheEntry<S>[], unknowns: number, next: S): boolean => {
    const mine = linearized.members[unknowns] as readonly number[];
    let tries = 0;
    for (let i = bucket.length - 1; i >= 0; i--) {
      const e = bucket[i] as CacheEntry<S>;
      if (e.unknowns === unknowns) {
        if (model.equal(e.state, next)) return true;
        continue;
      }
      if (tries >= subsetTriesMax) continue;
      const theirs = linearized.members[e.unknowns] as readonly number[];
      if (theirs.length > mine.length) continue;
      tries++;
      if (isSubset(theirs, mine) && model.equal(e.state, next)) return true;
    }
    return false;
  };
  let cacheBytes = 0;
  let state = model.init();
  let steps = 0;

  const place = (op: number): void => {
    isLinearized[op] = 1;
    if (unknown[op] === true) return linearized.addUnknown(op);
    linearized.addCompleted(rank[op] as number);
    completedLeft--;
    lift(calls[op] as ListNode);
  };
  const takeBack = (op: number): void => {
    isLinearized[op] = 0;
    if (unknown[op] === true) return linearized.removeUnknown(op);
    linearized.removeCompleted(rank[op] as number);
    completedLeft++;
    unlift(calls[op] as ListNode);
  };

  const levelHere = (): Level<S> => {
    const candidates: number[] = [];
    const level: Level<S> = { candidates, completedCount: 0, unknownsAdded: false, pos: 0, alternatives: null, alt: 0, before: state };
    for (let n = head.next; n !== null && n.isCall; n = n.next) {
      const o = ops[n.op] as SearchOp<I, O>;
      // A completed op that can no longer be placed: this point is a dead end.
      if (model.viable?.(state, o.input, o.output) === false) {
        level.unknownsAdded = true;
        return level;
      }
      candidates.push(n.op);
    }
    candidates.sort(tryFirst);
    level.completedCount = candidates.length;
    return level;
  };

  // The unknown ops called by now (before the first pending return) and not yet placed.
  const addUnknownCandidates = (level: Level<S>): void => {
    level.unknownsAdded = true;
    // No unknown op that changes the state can go before any of them: none is worth trying here.
    const completedHere = level.candidates.slice(0, level.completedCount);
    const mayPrecede = (c: number): boolean => {
      const o = ops[c] as SearchOp<I, O>;
      return model.unknownMayPrecede?.(state, o.input, o.output) ?? true;
    };
    if (!completedHere.some(mayPrecede)) return;
    let now = Number.POSITIVE_INFINITY;
    for (let n = head.next; n !== null; n = n.next) {
      if (!n.isCall) {
        now = (ops[n.op] as SearchOp<I, O>).return;
        break;
      }
    }
    const found: number[] = [];
    for (const i of unknownByCall) {
      if ((ops[i] as SearchOp<I, O>).call > now) break;
      if (isLinearized[i] === 0) found.push(i);
    }
    // Those after which the first completed candidate could go first: when
    // an unknown op is needed here, it is nearly always needed by that one.
    const blocked = level.completedCount > 0 ? (ops[level.candidates[0] as number] as SearchOp<I, O>) : undefined;
    const helps = new Set<number>();
    if (blocked !== undefined && found.length > 1) {
      for (const i of found) {
        const nexts = asList(model.step(state, (ops[i] as SearchOp<I, O>).input, undefined));
        if (nexts.some((n) => asList(model.step(n, blocked.input, blocked.output)).length > 0)) helps.add(i);
      }
      steps += found.length;
    }
    level.candidates.push(...found.sort((a, b) => Number(helps.has(b)) - Number(helps.has(a)) || tryFirst(a, b)));
  };

  const stack: Level<S>[] = [];
  let level = levelHere();

  const placedAt = (l: Level<S>): number => l.candidates[l.pos] as number;
  const snapshot = (): Linearization<S> => ({
    order: stack.map(placedAt),
    states: stack.map((_, i) => stack[i + 1]?.before ?? state),
  });
  let longest: Linearization<S> = { order: [], states: [] };
  let longestCompleted = 0;

  while (completedLeft > 0) {
    if (++steps > limits.stepsMax) return { verdict: 'timed-out', steps: steps - 1, limit: 'steps' };
    if (cacheBytes > limits.cacheBytesMax) return { verdict: 'timed-out', steps, limit: 'cache' };
    if (level.pos >= level.candidates.length && !level.unknownsAdded) addUnknownCandidates(level);
    const op = level.candidates[level.pos];
    if (op === undefined) {
      // No candidate left here: take back the op placed one level up.
      const up = stack.pop();
      if (up === undefined) return { verdict: 'not-linearizable', steps, longest };
      if (limits.trackLongest === true && completed - completedLeft > longestCompleted) {
        longestCompleted = completed - completedLeft;
        stack.push(up);
        longest = snapshot();
        stack.pop();
        // Trailing unknown ops are not needed to get this far.
        let n = longest.order.length;
        while (n > 0 && unknown[longest.order[n - 1] as number] === true) n--;
        longest = { order: longest.order.slice(0, n), states: longest.states.slice(0, n) };
      }
      state = up.before;
      takeBack(placedAt(up));
      up.alt++;
      level = up;
      continue;
    }
    if (level.alternatives === null) {
      const o = ops[op] as SearchOp<I, O>;
      level.alternatives = asList(model.step(state, o.input, o.output));
      level.alt = 0;
    }
    const next = level.alternatives[level.alt];
    if (next === undefined) {
      level.pos++;
      level.alternatives = null;
      continue;
    }
    if (unknown[op] === true && model.equal(next, state)) {
      level.alt++;
      continue;
    }
    place(op);
    const key = `${linearized.completedKey()}#${model.hash(next)}`;
    const unknowns = linearized.unknownSetId();
    const bucket = cache.get(key);
    if (bucket !== undefined && explored(bucket, unknowns, next)) {
      takeBack(op);
      level.alt++;
      continue;
    }
    const entry: CacheEntry<S> = { state: next, unknowns };
    if (bucket === undefined) cache.set(key, [entry]);
    else bucket.push(entry);
    cacheBytes += key.length * 2 + cacheEntryOverheadBytes;
    level.before = state;
    stack.push(level);
    state = next;
    level = levelHere();
  }
  return { verdict: 'linearizable', steps, witness: snapshot() };
}
