// A core member that is its own quorum: the single-member driver.
//
// It is the same pipeline the Raft driver will run, minus replication:
//
//   propose(req) ──► queue ──► one batch per tick ──► sink.append ─┐  (in flight: any number)
//                                                                  ▼
//             resolve callers ◄── store.apply, in log order ◄── durable (covering fsync)
//
// Pipelined: a batch is handed to the sink as soon as it is cut (the
// proposals made in one tick), without waiting for earlier batches to become
// durable. The WAL group-commits whatever it holds into one write and one
// fsync, and starts the next write the moment an fsync returns, so the disk
// never waits for the CPU to apply and answer the previous batch. Batches
// are applied strictly in log order and only once the sink has said they are
// durable, so a write is still acknowledged only after the fsync that covers
// it, and every answer is what the lock-step pipeline would have given.

import type { KeyStore, Command, WriteRequest, StoreEvent } from '../store/types.js';
import { V2Error, Ecode } from '../store/v2-error.js';
import type { KvNode, MemberInfo, WriteOutcome } from './types.js';
import { encodeCommand } from './command-codec.js';
import { strict as assert } from 'node:assert';

export interface LogEntry {
  term: number;
  index: number;
  data: Uint8Array;
}

/** Where entries go to become durable. Resolves only once they would survive a crash. */
export interface LogSink {
  append(entries: LogEntry[]): Promise<void>;
}

export interface Clock {
  nowMs(): number;
}

export interface SingleNodeOptions {
  store: KeyStore;
  sink: LogSink;
  clock: Clock;
  memberId: string;
  clusterId: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  /** Last index and term already in the log (after replay on restart). */
  lastIndex: number;
  term: number;
  /** Proposals waiting for a batch; beyond this, propose() refuses at once. */
  pendingMax?: number;
  /** Called after each batch is applied, with the last applied index (snapshot trigger). */
  onApplied?: (appliedIndex: number) => void;
}

interface Pending {
  cmd: Command;
  data: Uint8Array;
  resolve: (o: WriteOutcome) => void;
  reject: (e: Error) => void;
}

/** Proposals handed to the sink together; `durable` is set when the sink's append resolves. */
interface Batch {
  items: Pending[];
  firstIndex: number;
  durable: boolean;
}

export class SingleNode implements KvNode {
  readonly store: KeyStore;
  readonly memberId: string;
  readonly clusterId: string;
  readonly name: string;
  private readonly sink: LogSink;
  private readonly clock: Clock;
  private readonly peerURLs: string[];
  private readonly clientURLs: string[];
  private readonly pendingMax: number;
  private readonly onApplied: ((appliedIndex: number) => void) | undefined;
  private applied: number;
  private readonly term: number;
  /** Last index handed to the sink (>= applied). */
  private lastIndex: number;
  /** Proposals not yet in a batch. */
  private queue: Pending[] = [];
  private cutScheduled = false;
  /** Batches handed to the sink and not yet applied, in log order. */
  private readonly inflight: Batch[] = [];
  /** Proposals queued or in flight: what pendingMax bounds. */
  private waiting = 0;
  private failure: Error | null = null;
  /** stop() callers waiting for the pipeline to empty. */
  private drainWaiters: (() => void)[] = [];
  private stopped = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncProposed = false;

  constructor(opts: SingleNodeOptions) {
    this.store = opts.store;
    this.sink = opts.sink;
    this.clock = opts.clock;
    this.memberId = opts.memberId;
    this.clusterId = opts.clusterId;
    this.name = opts.name;
    this.peerURLs = opts.peerURLs;
    this.clientURLs = opts.clientURLs;
    this.lastIndex = opts.lastIndex;
    this.applied = opts.lastIndex;
    this.term = opts.term;
    this.pendingMax = opts.pendingMax ?? 100_000;
    this.onApplied = opts.onApplied;
  }

  get raftIndex(): number {
    return this.applied;
  }

  get raftTerm(): number {
    return this.term;
  }

  leaderId(): string | null {
    return this.stopped ? null : this.memberId;
  }

  members(): MemberInfo[] {
    return [{ id: this.memberId, name: this.name, peerURLs: this.peerURLs, clientURLs: this.clientURLs }];
  }

  nowMs(): number {
    return this.clock.nowMs();
  }

  propose(req: WriteRequest): Promise<WriteOutcome> {
    return this.enqueue({ op: 'write', req });
  }

  /** A single member is its own quorum: everything applied is linearizable. */
  async linearizableBarrier(): Promise<void> {
    if (this.stopped) throw noLeader(this.store.index);
  }

  /** Starts the TTL clock: the member proposes sync commands as deadlines pass. */
  start(): void {
    this.scheduleSync();
  }

  /** Refuses new proposals, waits for everything already proposed to be applied (or failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    // Proposals already accepted still go to the log, as they would have in the next batch.
    this.cut();
    if (this.inflight.length > 0) await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  private enqueue(cmd: Command): Promise<WriteOutcome> {
    if (this.stopped) return Promise.reject(noLeader(this.store.index));
    if (this.waiting >= this.pendingMax) {
      return Promise.reject(Object.assign(new Error('too many proposals waiting'), { code: 'RG_ERR_OVERLOADED' }));
    }
    // Encoded now, by the proposer: a command that cannot be encoded fails alone.
    let data: Uint8Array;
    try {
      data = encodeCommand(cmd);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ cmd, data, resolve, reject });
      this.waiting++;
      if (!this.cutScheduled) {
        this.cutScheduled = true;
        // A microtask, not now: every proposal made in the same tick joins this batch.
        queueMicrotask(() => this.cut());
      }
    });
  }

  /** Hands the queued proposals to the sink as one batch; does not wait for it. */
  private cut(): void {
    this.cutScheduled = false;
    if (this.queue.length === 0) return;
    const items = this.queue;
    this.queue = [];
    const batch: Batch = { items, firstIndex: this.lastIndex + 1, durable: false };
    const entries: LogEntry[] = new Array<LogEntry>(items.length);
    for (let i = 0; i < items.length; i++) entries[i] = { term: this.term, index: batch.firstIndex + i, data: items[i]!.data };
    this.lastIndex += items.length;
    this.inflight.push(batch);
    let appended: Promise<void>;
    try {
      appended = this.sink.append(entries);
    } catch (err) {
      appended = Promise.reject(err);
    }
    appended.then(
      () => {
        batch.durable = true;
        this.applyDurable();
      },
      (err: unknown) => this.fail(err as Error),
    );
  }

  /**
   * Applies every durable batch at the head of the pipeline, in log order. A
   * batch the sink reports durable before an earlier one waits for it.
   */
  private applyDurable(): void {
    let appliedAny = false;
    while (this.inflight.length > 0 && this.inflight[0]!.durable) {
      const batch = this.inflight.shift()!;
      for (let i = 0; i < batch.items.length; i++) {
        const p = batch.items[i]!;
        const index = batch.firstIndex + i;
        assert(index === this.applied + 1, `applying entry ${index} after ${this.applied}`);
        const result = this.store.apply(p.cmd);
        this.applied = index;
        this.waiting--;
        if (p.cmd.op === 'sync') this.syncProposed = false;
        p.resolve({ result: result ?? syncResult(this.store.index), raftIndex: index, raftTerm: this.term });
      }
      appliedAny = true;
    }
    if (appliedAny) {
      this.onApplied?.(this.applied);
      this.scheduleSync();
    }
    this.notifyDrained();
  }

  /**
   * The log could not be made durable: nothing not yet applied is applied or
   * acknowledged. A member whose disk fails stops taking writes rather than
   * risk acknowledging what it may lose.
   */
  private fail(err: Error): void {
    this.stopped = true;
    this.failure ??= err;
    const batches = this.inflight.splice(0);
    for (const b of batches) for (const p of b.items) p.reject(this.failure);
    const rest = this.queue;
    this.queue = [];
    for (const p of rest) p.reject(this.failure);
    this.waiting = 0;
    this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.inflight.length > 0 || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of waiters) r();
  }

  /**
   * Time is data: the member reads its clock here, in the driver, and
   * proposes `{op: 'sync', nowMs}`; the store expires keys when it applies
   * that entry, so replaying the log expires exactly the same keys.
   */
  private scheduleSync(): void {
    if (this.stopped || this.syncProposed) return;
    const deadline = this.store.nextDeadlineMs();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (deadline === null) return;
    const delayMs = Math.max(0, Math.min(deadline - this.clock.nowMs(), 500));
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      const nowMs = this.clock.nowMs();
      const next = this.store.nextDeadlineMs();
      if (next === null) return;
      if (next > nowMs) return this.scheduleSync();
      this.syncProposed = true;
      this.enqueue({ op: 'sync', nowMs }).catch(() => {
        this.syncProposed = false;
      });
    }, delayMs);
    this.syncTimer.unref();
  }
}

function noLeader(index: number): V2Error {
  return new V2Error(Ecode.LeaderElect, 'member is stopping', index);
}

function syncResult(index: number): StoreEvent {
  // A sync has no client; this value is never sent anywhere.
  return { action: 'expire', node: {}, etcdIndex: index };
}
