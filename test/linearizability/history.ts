// The recorder fault tests use while many clients run against real processes.
// Every operation becomes one OpRecord {client, input, call, output, return}:
//
//   const op = h.invoke(client, v2.set('/k', 'v1'));   // just BEFORE sending
//   ... op.ok(outputFromV2(body, headers['x-etcd-index']))  // just AFTER the answer
//   ... or op.fail({ ok: false, errorCode: 101 })          // a definite etcd error
//   ... or op.unknown()                                      // timeout, reset, 5xx
//
// An unknown operation stays OPEN: return = Infinity, output undefined; the
// checker lets it take effect at any point after its call, or never.

import { DEFINITE_ERROR_CODES } from './ops.js';
import type { ErrorOutput, Input, Output } from './ops.js';

export type ClientId = number | string;

export interface OpRecord {
  /** Position in the history, for explanations (#id). */
  readonly id: number;
  readonly client: ClientId;
  readonly input: Input;
  readonly call: number;
  /** undefined while open or when the outcome is unknown. */
  readonly output: Output | undefined;
  /** Infinity while open or when the outcome is unknown. */
  readonly return: number;
}

export interface PendingOp {
  readonly id: number;
  /** A definite answer: a success, or an etcd error that proves the op did not apply (100, 101, 105). */
  ok(output: Output): void;
  /** The same as ok() for a definite etcd error; says at the call site that the op failed. */
  fail(output: ErrorOutput): void;
  /** No definite answer: the op may or may not have taken effect. */
  unknown(): void;
}

export interface HistoryOptions {
  /**
   * Stamps calls and returns. The default is a counter: in one process it
   * orders events exactly as they happened, with no ties. For clients in
   * several processes use hrtimeClock (one machine-wide monotonic clock);
   * equal stamps are treated as concurrent, which is always safe.
   */
  clock?: () => number;
  /** A limit on the operations recorded, so a runaway test fails instead of eating memory. */
  opsMax?: number;
}

/** Nanoseconds of the machine's monotonic clock, comparable across processes. */
export const hrtimeClock = (): number => Number(process.hrtime.bigint());

const opsMaxDefault = 1_000_000;

interface Slot {
  id: number;
  client: ClientId;
  input: Input;
  call: number;
  output: Output | undefined;
  return: number;
  done: boolean;
}

export class History {
  private readonly clock: () => number;
  private readonly opsMax: number;
  private readonly slots: Slot[] = [];
  private ticks = 0;
  private last = Number.NEGATIVE_INFINITY;

  constructor(opts: HistoryOptions = {}) {
    this.clock = opts.clock ?? (() => ++this.ticks);
    this.opsMax = opts.opsMax ?? opsMaxDefault;
  }

  private stamp(): number {
    const t = this.clock();
    // A clock that goes back would silently order a return before its call.
    if (!Number.isFinite(t) || t < this.last) throw new Error(`RG_ERR_LIN_CLOCK: clock went from ${this.last} to ${t}`);
    this.last = t;
    return t;
  }

  /** Record a call. Invoke immediately before the request is sent. */
  invoke(client: ClientId, input: Input): PendingOp {
    if (this.slots.length >= this.opsMax) throw new Error(`RG_ERR_LIN_OPS_MAX: more than ${this.opsMax} operations`);
    const slot: Slot = {
      id: this.slots.length,
      client,
      input,
      call: this.stamp(),
      output: undefined,
      return: Number.POSITIVE_INFINITY,
      done: false,
    };
    this.slots.push(slot);
    const complete = (output: Output | undefined): void => {
      if (slot.done) throw new Error(`RG_ERR_LIN_TWICE: operation #${slot.id} completed twice`);
      slot.done = true;
      if (output === undefined) return;
      if (!output.ok && !DEFINITE_ERROR_CODES.has(output.errorCode)) {
        // A 300 or a 5xx may have been committed after all: calling it a
        // failure would make a correct store look non-linearizable.
        throw new Error(
          `RG_ERR_LIN_INDEFINITE: error ${output.errorCode} does not prove #${slot.id} did not apply; record it unknown()`,
        );
      }
      slot.output = output;
      slot.return = this.stamp();
    };
    return {
      id: slot.id,
      ok: (output) => complete(output),
      fail: (output) => complete(output),
      unknown: () => complete(undefined),
    };
  }

  get size(): number {
    return this.slots.length;
  }

  /** Every operation so far; one still open is unknown. */
  records(): OpRecord[] {
    return this.slots.map(({ id, client, input, call, output, return: ret }) => ({
      id,
      client,
      input,
      call,
      output,
      return: ret,
    }));
  }
}
