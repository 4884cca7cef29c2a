// A core member that is its own quorum: the single-member driver.
//
// It is the same pipeline the Raft driver will run, minus replication:
//
//   propose(req) ──► queue ──► one batch ──► sink.append (durable, one fsync)
//                                         └─► store.apply in log order ──► resolve callers
//
// While one batch is being made durable, new proposals queue up and form the
// next batch, so under load many writes share each fsync (group commit) and a
// write is acknowledged only after the fsync that covers it.

import type { KeyStore, Command, WriteRequest, StoreEvent } from '../store/types.js';
import { V2Error, Ecode } from '../store/v2-error.js';
import type { KvNode, MemberInfo, WriteOutcome } from './types.js';
import { encodeCommand } from './command-codec.js';

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
  resolve: (o: WriteOutcome) => void;
  reject: (e: Error) => void;
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
  private lastIndex: number;
  private applied: number;
  private readonly term: number;
  private queue: Pending[] = [];
  private flushing = false;
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

  /** Refuses new proposals, waits for the batch in flight, fails the rest. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
    const rest = this.queue;
    this.queue = [];
    for (const p of rest) p.reject(noLeader(this.store.index));
  }

  private enqueue(cmd: Command): Promise<WriteOutcome> {
    if (this.stopped) return Promise.reject(noLeader(this.store.index));
    if (this.queue.length >= this.pendingMax) {
      return Promise.reject(Object.assign(new Error('too many proposals waiting'), { code: 'RG_ERR_OVERLOADED' }));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const entries: LogEntry[] = batch.map((p, i) => ({
          term: this.term,
          index: this.lastIndex + 1 + i,
          data: encodeCommand(p.cmd),
        }));
        try {
          await this.sink.append(entries);
        } catch (err) {
          // The log could not be made durable: nothing in this batch was
          // applied or acknowledged. A member whose disk fails stops taking
          // writes rather than risk acknowledging what it may lose.
          this.stopped = true;
          for (const p of batch) p.reject(err as Error);
          for (const p of this.queue) p.reject(err as Error);
          this.queue = [];
          return;
        }
        this.lastIndex += entries.length;
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i]!;
          const entry = entries[i]!;
          const result = this.store.apply(p.cmd);
          this.applied = entry.index;
          if (p.cmd.op === 'sync') this.syncProposed = false;
          p.resolve({ result: result ?? syncResult(this.store.index), raftIndex: entry.index, raftTerm: this.term });
        }
        this.onApplied?.(this.applied);
        this.scheduleSync();
      }
    } finally {
      this.flushing = false;
    }
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
