// checkHistory: a recorded history of etcd v2 operations, checked for
// linearizability key by key (search.ts with the model of model.ts), plus
// the cross-key index facts (index-facts.ts). Every search has a step and a
// memory budget; a key that exhausts it is "timed out", which says nothing
// either way and is never reported as a violation.
//
// On a violation the checker narrows it down: linearizability is closed
// under prefixes (cut a history at time t, keep the answers that came back
// by t and let every op still in flight be unknown), so a binary search over
// the key's returns finds the FIRST answer that cannot be explained: every
// shorter prefix linearizes, this one does not. The explanation is built from
// that prefix: the culprit, the longest order the search found, and the ops
// it could not place next.

import type { OpRecord } from './history.js';
import { indexFacts } from './index-facts.js';
import type { IndexViolation } from './index-facts.js';
import { TakenIndexes, describeKeyState, keyModel, usesIndexes } from './model.js';
import type { KeyOp, KeyState } from './model.js';
import type { Output } from './ops.js';
import { search } from './search.js';
import type { SearchOp, SearchResult } from './search.js';

export type Verdict = 'linearizable' | 'not-linearizable' | 'timed-out';

export interface CheckOptions {
  /** Search steps one key may take (each is a candidate tried or a backtrack). */
  stepsMaxPerKey?: number;
  /** Search steps for the whole history, explanations included. */
  stepsMaxTotal?: number;
  /** Memory one key's cache may take. */
  cacheBytesMaxPerKey?: number;
  /** Failing keys to narrow down and explain (each costs a few more searches). */
  explainKeysMax?: number;
  /**
   * Use the etcd index across keys: report real-time order violations of it,
   * and let each key's search know the indexes other ops took. Off, every
   * key is checked on its own ops alone.
   */
  crossKeyIndex?: boolean;
}

export const checkDefaults: Required<CheckOptions> = {
  stepsMaxPerKey: 2_000_000,
  stepsMaxTotal: 20_000_000,
  cacheBytesMaxPerKey: 256 * 1024 * 1024,
  explainKeysMax: 3,
  crossKeyIndex: true,
};

export interface KeyResult {
  readonly key: string;
  readonly ops: number;
  readonly unknownOps: number;
  readonly steps: number;
  readonly verdict: Verdict;
  /** Why a key timed out. */
  readonly limit?: 'steps' | 'cache' | 'total';
}

export interface LinearizedStep {
  readonly record: OpRecord;
  /** The key's state after it. */
  readonly state: string;
}

export interface KeyFailure {
  readonly kind: 'key';
  readonly key: string;
  /** The first answer no linearization explains (undefined if narrowing ran out of budget). */
  readonly culprit: OpRecord | undefined;
  /** The failing history: the key's ops up to the culprit's return, in-flight ones as unknown. */
  readonly prefix: readonly OpRecord[];
  /** The tail of the longest partial linearization of the prefix. */
  readonly linearized: readonly LinearizedStep[];
  /** How many ops that linearization had in all. */
  readonly linearizedCount: number;
  /** Completed ops of the prefix it could not place, culprit included. */
  readonly stuck: readonly OpRecord[];
}

export interface IndexFailure extends IndexViolation {
  readonly kind: 'index-order';
}

export type Failure = KeyFailure | IndexFailure;

export interface CheckResult {
  readonly verdict: Verdict;
  readonly ops: number;
  readonly unknownOps: number;
  readonly steps: number;
  readonly keys: readonly KeyResult[];
  readonly failures: readonly Failure[];
}

const linearizedTailMax = 10;

function isUnknown(r: OpRecord): boolean {
  return r.output === undefined;
}

/** A record as one search sees it: its answer may be cut off (a prefix), its cross-key bound stays. */
interface Item {
  readonly rec: OpRecord;
  readonly output: Output | undefined;
  readonly return: number;
  readonly atLeast: number;
}

/** An unknown get neither tells nor changes anything: leave it out of the search. */
function relevant(it: Item): boolean {
  return !(it.output === undefined && it.rec.input.op === 'get');
}

class Budget {
  left: number;
  constructor(
    total: number,
    private readonly opts: Required<CheckOptions>,
    private readonly taken: readonly number[],
  ) {
    this.left = total;
  }

  run(items: readonly Item[], trackLongest: boolean): SearchResult<KeyState> | null {
    if (this.left <= 0) return null;
    // Ops checked as unknown here whose index the full history knows must
    // not count that index as taken by someone else.
    const freed = items.flatMap((it) => {
      const o = it.rec.output;
      return it.output === undefined && o?.ok === true && o.modifiedIndex !== undefined ? [o.modifiedIndex] : [];
    });
    const ops: SearchOp<KeyOp, Output>[] = items.map((it) => ({
      input: { input: it.rec.input, indexAtLeast: it.atLeast },
      output: it.output,
      call: it.rec.call,
      return: it.return,
    }));
    const tracked = usesIndexes(ops.map((o) => ({ op: o.input, output: o.output })));
    const model = keyModel(new TakenIndexes(this.taken, freed), tracked);
    const r = search(model, ops, {
      stepsMax: Math.min(this.opts.stepsMaxPerKey, this.left),
      cacheBytesMax: this.opts.cacheBytesMaxPerKey,
      trackLongest,
    });
    this.left -= r.steps;
    return r;
  }
}

/** The key's history cut at the k-th return (1-based, in return order): later answers become unknown. */
function prefix(items: readonly Item[], byReturn: readonly Item[], k: number): Item[] {
  const cut = byReturn[k - 1] as Item;
  const kept = new Set(byReturn.slice(0, k));
  return items
    .filter((it) => it.rec.call <= cut.return)
    .map((it) => (kept.has(it) ? it : { ...it, output: undefined, return: Number.POSITIVE_INFINITY }))
    .filter(relevant);
}

function explain(key: string, items: readonly Item[], budget: Budget): KeyFailure {
  const byReturn = items.filter((it) => it.output !== undefined).sort((a, b) => a.return - b.return || a.rec.id - b.rec.id);
  // Invariant: prefix(hi) fails; prefix(lo) is shown to pass (or lo = 0).
  let lo = 0;
  let loPasses = true;
  let hi = byReturn.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const r = budget.run(prefix(items, byReturn, mid), false);
    if (r === null) break;
    if (r.verdict === 'not-linearizable') hi = mid;
    else [lo, loPasses] = [mid, r.verdict === 'linearizable']; // timed out: look later; hi stays a proven failure
  }
  const failing = hi === byReturn.length ? items.filter(relevant) : prefix(items, byReturn, hi);
  const r = budget.run(failing, true);
  const longest = r !== null && r.verdict === 'not-linearizable' ? r.longest : { order: [], states: [] };
  const placed = new Set(longest.order);
  const from = Math.max(0, longest.order.length - linearizedTailMax);
  const shown = (it: Item): OpRecord => (it.output === it.rec.output ? it.rec : { ...it.rec, output: undefined, return: it.return });
  return {
    kind: 'key',
    key,
    culprit: lo === hi - 1 && loPasses ? byReturn[hi - 1]?.rec : undefined,
    prefix: failing.map(shown),
    linearized: longest.order.slice(from).map((i, j) => ({
      record: shown(failing[i] as Item),
      state: describeKeyState(longest.states[from + j] as KeyState),
    })),
    linearizedCount: longest.order.length,
    stuck: failing.filter((it, i) => !placed.has(i) && it.output !== undefined).map(shown),
  };
}

/**
 * Check a recorded history (any number of keys and clients). Records of
 * several History objects may be concatenated if their clocks agree.
 */
export function checkHistory(records: readonly OpRecord[], options: CheckOptions = {}): CheckResult {
  const opts: Required<CheckOptions> = { ...checkDefaults, ...options };
  const facts = opts.crossKeyIndex ? indexFacts(records) : { atCall: [], taken: [], violations: [] };
  const byKey = new Map<string, Item[]>();
  records.forEach((rec, i) => {
    const it: Item = { rec, output: rec.output, return: rec.return, atLeast: facts.atCall[i] ?? 0 };
    const list = byKey.get(rec.input.key);
    if (list === undefined) byKey.set(rec.input.key, [it]);
    else list.push(it);
  });
  const budget = new Budget(opts.stepsMaxTotal, opts, facts.taken);
  const keys: KeyResult[] = [];
  const failures: Failure[] = [];
  const failedKeys: [string, Item[]][] = [];
  for (const [key, all] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const base = { key, ops: all.length, unknownOps: all.filter((it) => it.output === undefined).length };
    const r = budget.run(all.filter(relevant), false);
    if (r === null) {
      keys.push({ ...base, steps: 0, verdict: 'timed-out', limit: 'total' });
      continue;
    }
    if (r.verdict === 'timed-out') keys.push({ ...base, steps: r.steps, verdict: r.verdict, limit: r.limit });
    else keys.push({ ...base, steps: r.steps, verdict: r.verdict });
    if (r.verdict === 'not-linearizable') failedKeys.push([key, all]);
  }
  // Narrow down only after every key had its turn, so explaining one failure
  // cannot starve the check of the others.
  for (const [key, all] of failedKeys.slice(0, opts.explainKeysMax)) failures.push(explain(key, all, budget));
  for (const [key] of failedKeys.slice(opts.explainKeysMax)) {
    failures.push({ kind: 'key', key, culprit: undefined, prefix: [], linearized: [], linearizedCount: 0, stuck: [] });
  }
  for (const v of facts.violations) failures.push({ kind: 'index-order', ...v });

  const verdict: Verdict =
    failures.length > 0 ? 'not-linearizable' : keys.some((k) => k.verdict === 'timed-out') ? 'timed-out' : 'linearizable';
  return {
    verdict,
    ops: records.length,
    unknownOps: records.filter(isUnknown).length,
    steps: opts.stepsMaxTotal - budget.left,
    keys,
    failures,
  };
}
