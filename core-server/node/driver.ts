// The member's driver: the ONLY Ready loop. It owns the pure Raft state
// machine (RawNode), feeds it time (tick), network input (step) and
// proposals, and carries out each Ready in the order its contract demands:
//
//   tick ─┐  step(msg) ─┐  propose(cmd) ─┐
//         ▼             ▼                ▼
//   ┌────────────────────────────────────────┐   one Ready at a time
//   │ rd = raw.ready()                       │
//   │ leader? send rd.messages now ──────────┼──► transport (in parallel with the write, rule 2)
//   │ persist snapshot, entries, hard state  │──► WAL: one write, one fsync (group commit:
//   │ follower? send rd.messages now ────────┼──► transport   proposals made meanwhile wait
//   │ apply rd.committedEntries ─────────────┼──► store, membership, waiting callers
//   │ raw.advance(rd)                        │      for the next Ready)
//   └────────────────────────────────────────┘
//
// Slow disks (seed 000 slide 19: fsync taking seconds on cloud volumes):
// while a Ready is being persisted the loop cannot take the next one, so
// Raft's own heartbeats would wait behind the fsync and followers would
// elect someone else. On every tick and every received message during a
// write, the driver therefore sends raw.takeUrgentMessages(): heartbeats
// (their commit cut to the outstanding Ready's, so they never announce an
// entry this leader has not made durable) and heartbeat responses. A leader
// with a stalled disk keeps its followers' election timers reset and keeps
// hearing them (check-quorum); writes slow down, leadership stays.
//
// Time is data (STYLE.md): the leader reads its clock here and proposes
// {op:'sync', nowMs}; every member expires keys when it applies that entry.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import {
  MemoryStorage,
  Mulberry32,
  NONE,
  RawNode,
  decodeConfChange,
  encodeConfChange,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type Ready,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import type { SnapMsg } from '../raft/types.js';
import { createStore, type StoreOptions } from '../store/index.js';
import type { Command, KeyStore, StoreEvent, WriteRequest } from '../store/types.js';
import { Ecode, V2Error } from '../store/v2-error.js';
import type { EntryRecord } from '../wal/index.js';
import { decodeCommand, encodeCommand, type LogCommand, type MemberCommand } from './command-codec.js';
import { Membership, encodeMemberContext, type MemberContext } from './membership.js';
import { decodeStateImage, encodeStateImage } from './state-image.js';
import type { StoredSnapshot } from './storage.js';
import type { KvNode, MemberInfo, RaftStatus, WriteOutcome } from './types.js';

export interface Clock {
  nowMs(): number;
}

/** What the driver needs from durable storage (MemberStorage in production). */
export interface DurableLog {
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  saveSnapshot(snap: StoredSnapshot): Promise<void>;
}

/** What the driver needs from the network (PeerTransport in production). */
export interface PeerNetwork {
  send(msgs: readonly Message[]): void;
  /** Hands a proposal to the leader; false if it could not be queued at all. */
  forward(to: string, rid: string, conf: boolean, data: Uint8Array): boolean;
  forwardFail(to: string, rid: string, code: string): void;
  setPeers(members: readonly MemberInfo[]): void;
}

export interface Recovered {
  snapshot: StoredSnapshot | null;
  hardState: HardState | null;
  entries: readonly EntryRecord[];
}

export interface DriverOptions {
  memberId: string;
  clusterId: string;
  name: string;
  /** This member's advertised URLs (published through the log once a leader exists). */
  peerURLs: string[];
  clientURLs: string[];
  log: DurableLog;
  network: PeerNetwork;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  recovered: Recovered;
  /** A brand-new member of a brand-new cluster: the initial members, written as the log's first entries. */
  bootstrap: (MemberContext & { id: string })[] | null;
  /** Peers to talk to until the log says who the members are (a joining member knows them from its join query). */
  seedPeers?: MemberInfo[];
  heartbeatMs: number;
  electionTimeoutMs: number;
  snapshotCount: number;
  /** Entries kept in memory after a snapshot, so a briefly slow follower catches up without one (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  /** How long a write or quorum read may wait before it fails with etcd's timeout (etcd: 5 s + 2 × election timeout). */
  requestTimeoutMs?: number;
  /** Proposals waiting at once; beyond this propose() refuses at once. */
  pendingMax?: number;
  /** Seed for election jitter; random by default. */
  seed?: number;
  /** The store's limits (history length, per-watcher queue); etcd's by default. */
  storeOptions?: StoreOptions;
  /** The disk failed, or this member was removed or refused by its cluster: the process should stop. */
  onFatal?: (err: Error & { code?: string }) => void;
}

interface Waiter {
  resolve: (o: WriteOutcome) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** Handed to a leader (or Raft): from here on it may be applied, so it is never resubmitted elsewhere. */
  submitted: boolean;
  conf: boolean;
  data: Uint8Array;
}

interface PendingWrite {
  /** Last entry index this write makes durable; -1 when it holds no entries (a hard state only). */
  upTo: number;
  /** Messages released once this write and every one before it are durable. */
  held: Message[];
  /** It makes a new term or vote durable: until then a leader may not replicate either. */
  termVote: boolean;
  done: boolean;
}

interface ReadWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const V2_TIMEOUT = 'etcdserver: request timed out';

function timeoutError(index: number): V2Error {
  return new V2Error(Ecode.RaftInternal, V2_TIMEOUT, index);
}

function stoppingError(index: number): V2Error {
  return new V2Error(Ecode.LeaderElect, 'member is stopping', index);
}

/** A member of a Raft cluster (of one or more members): the KvNode the HTTP API and the native protocol serve. */
export class RaftNode implements KvNode {
  readonly store: KeyStore;
  readonly memberId: string;
  readonly clusterId: string;
  readonly name: string;
  private readonly o: Required<Omit<DriverOptions, 'seed' | 'onFatal' | 'bootstrap' | 'recovered' | 'seedPeers' | 'storeOptions'>>;
  private readonly seedPeers: MemberInfo[];
  private readonly onFatal: (err: Error & { code?: string }) => void;
  private readonly raw: RawNode;
  private readonly mem: MemoryStorage;
  private membership: Membership;
  private readonly log: Logger;
  private applied = 0;
  private snapIndex = 0;
  private snapshotting = false;
  private snapshotSaved: Promise<void> = Promise.resolve();
  private looping = false;
  private loopScheduled = false;
  private stopped = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncProposed = false;
  private publishTimer: NodeJS.Timeout | null = null;
  /** This process's proposal ids: a random prefix, so an entry from an earlier run never matches a new caller. */
  private readonly ridPrefix: string;
  private ridSeq = 0;
  private readonly waiters = new Map<string, Waiter>();
  /** Proposals made while no leader was known: submitted once one is. */
  private unsubmitted: string[] = [];
  /** Conf changes waiting to be applied, by "type:id". */
  private readonly confWaiters = new Map<string, { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readWaiters: ReadWaiter[] = [];
  private readInFlight: { ctx: string; waiters: ReadWaiter[]; retry: NodeJS.Timeout } | null = null;
  private readSeq = 0;
  /** Read points confirmed by the leader, waiting for apply to reach them. */
  private readReady: { index: number; waiters: ReadWaiter[] }[] = [];
  private lead: string = NONE;
  private drainWaiters: (() => void)[] = [];
  private stopWaiters: (() => void)[] = [];
  /** Disk writes handed to the WAL and not yet settled, in log order. */
  private writes: PendingWrite[] = [];
  /** Every entry of this member's log up to here is on disk. */
  private durableIndex = 0;
  /** Committed entries waiting for their local write. */
  private pendingApply: Entry[] = [];
  /** The last hard state handed to a write (term and vote decide what may be sent before it lands). */
  private savedHardState: HardState = { term: 0, vote: NONE, commit: 0 };
  /** Indexes of the conf change entries in the log above the last commit written, ascending. */
  private confIndexes: number[] = [];
  private installing = false;
  private readonly m: {
    term: Gauge;
    committed: Gauge;
    hasLeader: Gauge;
    isLeader: Gauge;
    leaderChanges: Counter;
    proposalsFailed: Counter;
    fsync: Histogram;
    snapshots: Counter;
  };

  constructor(opts: DriverOptions) {
    this.memberId = opts.memberId;
    this.clusterId = opts.clusterId;
    this.name = opts.name;
    this.log = opts.logger;
    this.onFatal = opts.onFatal ?? (() => {});
    this.seedPeers = opts.seedPeers ?? [];
    const electionTicks = Math.max(2, Math.round(opts.electionTimeoutMs / opts.heartbeatMs));
    this.o = {
      memberId: opts.memberId,
      clusterId: opts.clusterId,
      name: opts.name,
      peerURLs: opts.peerURLs,
      clientURLs: opts.clientURLs,
      log: opts.log,
      network: opts.network,
      clock: opts.clock,
      logger: opts.logger,
      registry: opts.registry,
      heartbeatMs: opts.heartbeatMs,
      electionTimeoutMs: opts.electionTimeoutMs,
      snapshotCount: opts.snapshotCount,
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries ?? 5000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5000 + 2 * opts.electionTimeoutMs,
      pendingMax: opts.pendingMax ?? 100_000,
    };
    this.ridPrefix = `${opts.memberId}.${randomBytes(4).toString('hex')}.`;
    this.m = createDriverMetrics(opts.registry, this);

    // Rebuild the state machine and Raft's log from what is durable.
    this.store = createStore(opts.storeOptions);
    this.membership = new Membership();
    this.mem = new MemoryStorage([]);
    const { snapshot, hardState, entries } = opts.recovered;
    if (snapshot !== null) {
      const img = decodeStateImage(snapshot.data);
      this.store.restore(img.store);
      this.membership = Membership.fromImage(img.members);
      const voters = this.membership.list().map((m) => m.id);
      this.mem.applySnapshot({ meta: { index: snapshot.index, term: snapshot.term, voters }, data: snapshot.data });
      this.applied = snapshot.index;
      this.snapIndex = snapshot.index;
    }
    if (entries.length > 0) {
      this.mem.append(entries.map((e): Entry => ({ term: e.term, index: e.index, type: e.conf === true ? 'confChange' : 'normal', data: e.data })));
    }
    let hs = hardState;
    if (opts.bootstrap !== null) {
      // A new cluster's first entries are the same on every member: one
      // conf change per initial member, committed by definition (etcd does
      // the same). Raft then learns its voters by applying them.
      const boot: Entry[] = [...opts.bootstrap]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((m, i) => ({ term: 1, index: i + 1, type: 'confChange', data: encodeConfChange({ type: 'addNode', id: m.id, context: encodeMemberContext(m) }) }));
      this.bootEntries = boot;
      this.mem.append(boot);
      hs = { term: 1, vote: NONE, commit: boot.length };
    }
    if (hs !== null) {
      // A commit index persisted without fsync may trail; one past the log cannot happen, but be exact.
      this.mem.setHardState({ ...hs, commit: Math.min(hs.commit, this.mem.lastIndex()) });
    }
    this.raw = new RawNode({
      id: opts.memberId,
      storage: this.mem,
      electionTicks,
      // Timeouts in [E, 1.5E), not etcd's [E, 2E): a leader's death is
      // noticed within 1.5x the election timeout, so a new leader serves
      // writes within 2x of it (test/fault/cluster-faults.test.ts measures it).
      electionJitterTicks: Math.max(1, Math.ceil(electionTicks / 2)),
      heartbeatTicks: 1,
      rng: new Mulberry32(opts.seed ?? randomBytes(4).readUInt32LE(0)),
      applied: this.applied,
      preVote: true,
      checkQuorum: true,
      asyncStorageWrites: true,
    });
    // Everything in memory now came from disk, or is written by start() before Raft runs.
    this.durableIndex = this.mem.lastIndex();
    // (Bootstrap entries and their hard state are written by start() as they are now.)
    this.savedHardState = this.mem.initialState().hardState;
    for (const e of entries) if (e.conf === true) this.confIndexes.push(e.index);
    this.updatePeers();
  }

  /** Bootstrap entries not yet written to the WAL (written by start()). */
  private bootEntries: Entry[] | null = null;

  // ------------------------------------------------------------------ KvNode

  get raftIndex(): number {
    return this.applied;
  }

  get raftTerm(): number {
    return this.raw.raft.term;
  }

  leaderId(): string | null {
    if (this.stopped) return null;
    return this.lead === NONE ? null : this.lead;
  }

  isLeader(): boolean {
    return !this.stopped && this.lead === this.memberId;
  }

  members(): MemberInfo[] {
    return this.membership.list();
  }

  /** Streams to every member the state machine knows; to the seed peers while it knows none. */
  private updatePeers(): void {
    const known = this.membership.list();
    this.o.network.setPeers(known.length > 0 ? known : this.seedPeers);
  }

  /** A member removed from the cluster for good (its peer connections are refused). */
  isRemovedMember(id: string): boolean {
    return this.membership.isRemoved(id);
  }

  nowMs(): number {
    return this.o.clock.nowMs();
  }

  /** Raft's view, for /v2/stats and `raftgate status`. */
  status(): RaftStatus {
    const s = this.raw.status();
    return { term: s.term, commit: s.commit, applied: this.applied, lastIndex: s.lastIndex, role: s.role, lead: s.lead, voters: s.voters };
  }

  propose(req: WriteRequest): Promise<WriteOutcome> {
    return this.proposeCommand({ op: 'write', req });
  }

  /** Resolves once a read issued now would be linearizable: the leader confirmed its index, and this member applied it. */
  linearizableBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(stoppingError(this.store.index));
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = {
        resolve: () => {
          clearTimeout(w.timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(w.timer);
          reject(e);
        },
        timer: setTimeout(() => {
          this.readWaiters = this.readWaiters.filter((x) => x !== w);
          if (this.readInFlight !== null) this.readInFlight.waiters = this.readInFlight.waiters.filter((x) => x !== w);
          for (const r of this.readReady) r.waiters = r.waiters.filter((x) => x !== w);
          reject(timeoutError(this.store.index));
        }, this.o.requestTimeoutMs),
      };
      this.readWaiters.push(w);
      this.kickReadIndex();
    });
  }

  /** POST /v2/members: adds a voter; resolves once the change is applied here. */
  async addMember(peerURLs: string[]): Promise<MemberInfo> {
    const owner = this.membership.peerUrlOwner(peerURLs);
    if (owner !== undefined) throw Object.assign(new Error('etcdserver: peerURL exists'), { code: 'RG_ERR_PEER_URL_EXISTS' });
    const id = randomBytes(8).toString('hex');
    const m: MemberInfo = { id, name: '', peerURLs: [...peerURLs], clientURLs: [] };
    await this.proposeConf({ type: 'addNode', id, context: encodeMemberContext(m) });
    return m;
  }

  /** DELETE /v2/members/<id>. */
  async removeMember(id: string): Promise<void> {
    if (this.membership.isRemoved(id)) throw Object.assign(new Error('Member permanently removed'), { code: 'RG_ERR_MEMBER_REMOVED' });
    if (!this.membership.has(id)) throw Object.assign(new Error('Member not found'), { code: 'RG_ERR_MEMBER_NOT_FOUND' });
    await this.proposeConf({ type: 'removeNode', id });
  }

  /** PUT /v2/members/<id>: new peer URLs for a member (Raft's voter set does not change). */
  async updateMember(id: string, peerURLs: string[]): Promise<void> {
    if (this.membership.isRemoved(id)) throw Object.assign(new Error('Member permanently removed'), { code: 'RG_ERR_MEMBER_REMOVED' });
    if (!this.membership.has(id)) throw Object.assign(new Error('Member not found'), { code: 'RG_ERR_MEMBER_NOT_FOUND' });
    const owner = this.membership.peerUrlOwner(peerURLs);
    if (owner !== undefined && owner.id !== id) throw Object.assign(new Error('etcdserver: peerURL exists'), { code: 'RG_ERR_PEER_URL_EXISTS' });
    await this.proposeCommand({ op: 'member', id, peerURLs });
  }

  /**
   * The state machine as of the last applied entry, encoded as a snapshot
   * (store and membership): what `raftgate snapshot save` downloads.
   */
  stateImage(): { index: number; term: number; data: Uint8Array } {
    const index = this.applied;
    const t = this.mem.term(index);
    const term = t === 'compacted' ? this.mem.snapshot().meta.term : t;
    return { index, term, data: encodeStateImage({ v: 1, store: this.store.snapshot(), members: this.membership.image() }) };
  }

  /** Hands leadership to another member (operator tooling; tests). */
  transferLeadership(to: string): void {
    this.raw.transferLeader(to);
    this.scheduleLoop();
  }

  // ------------------------------------------------------------------ lifecycle

  /** Writes bootstrap entries if any, then starts ticking. */
  async start(): Promise<void> {
    if (this.bootEntries !== null) {
      const hs = this.mem.initialState().hardState;
      await this.o.log.save(hs, this.bootEntries);
      this.bootEntries = null;
    }
    // Apply what is already committed (bootstrap entries, or a restart's
    // replay) before the first tick, so Raft knows its voters.
    await this.runLoop();
    // The data dir owns the member's identity (seed 000, slide 18): a data dir
    // copied from another member would claim that member's id and votes.
    const me = this.membership.get(this.memberId);
    if (me !== undefined && me.peerURLs.length > 0 && !me.peerURLs.some((u) => this.o.peerURLs.includes(u))) {
      const err = Object.assign(
        new Error(
          `RG_ERR_MEMBER_MISMATCH: the data dir belongs to member ${this.memberId} (${me.name || 'unnamed'}), whose peer URLs are ${me.peerURLs.join(',')}, but this member advertises ${this.o.peerURLs.join(',')}; was the data dir copied from another member?`,
        ),
        { code: 'RG_ERR_MEMBER_MISMATCH' },
      );
      await this.stop();
      throw err;
    }
    const voters = this.raw.raft.voters();
    if (voters.length === 1 && voters[0] === this.memberId) {
      // Alone in the cluster: no one to wait for.
      this.raw.campaign();
    } else {
      // Fast-forward to just before the election timeout (etcd does too): a
      // restarted cluster elects a leader in about one timeout, not two.
      for (let i = 0; i < Math.max(0, this.electionTicks() - 2); i++) this.raw.tick();
    }
    this.scheduleLoop();
    this.tickTimer = setInterval(() => this.tick(), this.o.heartbeatMs);
    this.tickTimer.unref();
    this.schedulePublish(0);
  }

  private electionTicks(): number {
    return Math.max(2, Math.round(this.o.electionTimeoutMs / this.o.heartbeatMs));
  }

  /** Refuses new work, fails what waits, and lets the Ready in progress finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.failAll(stoppingError(this.store.index));
    if (this.looping || this.writes.length > 0) await new Promise<void>((r) => this.stopWaiters.push(r));
    // A snapshot being written finishes before the caller closes storage.
    await this.snapshotSaved;
  }

  private failAll(err: Error): void {
    for (const [rid, w] of this.waiters) {
      clearTimeout(w.timer);
      this.waiters.delete(rid);
      w.reject(err);
    }
    this.unsubmitted = [];
    for (const [k, w] of this.confWaiters) {
      clearTimeout(w.timer);
      this.confWaiters.delete(k);
      w.reject(err);
    }
    const reads = [...this.readWaiters, ...(this.readInFlight?.waiters ?? []), ...this.readReady.flatMap((r) => r.waiters)];
    if (this.readInFlight) clearTimeout(this.readInFlight.retry);
    this.readWaiters = [];
    this.readInFlight = null;
    this.readReady = [];
    for (const w of reads) w.reject(err);
  }

  private fatal(err: Error & { code?: string }): void {
    if (this.stopped) return;
    this.log.error({ err, code: err.code }, 'member cannot go on; stopping');
    // Everyone waiting hears why (a failed disk, say), not just "stopping".
    this.failAll(err);
    void this.stop();
    this.onFatal(err);
  }

  // ------------------------------------------------------------------ input

  /** A Raft message from a peer. */
  step(m: Message): void {
    if (this.stopped) return;
    this.raw.step(m);
    this.afterInput();
  }

  /** A snapshot streamed from the leader, reassembled. */
  stepSnapshot(m: SnapMsg): void {
    this.step(m);
  }

  reportUnreachable(id: string): void {
    if (this.stopped) return;
    this.raw.reportUnreachable(id);
  }

  reportSnapshot(id: string, ok: boolean): void {
    if (this.stopped) return;
    this.raw.reportSnapshot(id, ok);
    this.scheduleLoop();
  }

  /** A follower handed us a proposal: propose it if we lead, else say so (it was never proposed: safe to retry). */
  onForward(from: string, rid: string, conf: boolean, data: Uint8Array): void {
    if (this.stopped) return this.o.network.forwardFail(from, rid, 'stopping');
    if (this.lead !== this.memberId) return this.o.network.forwardFail(from, rid, 'not-leader');
    const r = conf ? this.raw.proposeConfChange(decodeConfChange(data)) : this.raw.propose(data);
    if (!r.ok) return this.o.network.forwardFail(from, rid, r.code);
    this.scheduleLoop();
  }

  /** The leader did not propose what we forwarded: it may go to the next leader. */
  onForwardFail(rid: string, code: string): void {
    const w = this.waiters.get(rid);
    if (w === undefined) return;
    w.submitted = false;
    this.log.debug({ rid, code }, 'leader refused a forwarded proposal; will resubmit');
    this.unsubmitted.push(rid);
    // Give an election a moment rather than spin.
    setTimeout(() => this.submitWaiting(), Math.min(100, this.o.heartbeatMs)).unref();
  }

  private tick(): void {
    if (this.stopped) return;
    this.raw.tick();
    this.afterInput();
  }

  private afterInput(): void {
    if (this.looping) {
      // A Ready is being persisted: only what never waits for the disk goes now.
      const urgent = this.raw.takeUrgentMessages();
      if (urgent.length > 0) this.o.network.send(urgent);
    }
    this.scheduleLoop();
  }

  // ------------------------------------------------------------------ proposals

  private proposeCommand(cmd: Command | MemberCommand): Promise<WriteOutcome> {
    if (this.stopped) return Promise.reject(stoppingError(this.store.index));
    if (this.waiters.size >= this.o.pendingMax) {
      return Promise.reject(Object.assign(new Error('too many proposals waiting'), { code: 'RG_ERR_OVERLOADED' }));
    }
    const rid = this.ridPrefix + (++this.ridSeq).toString(36);
    let data: Uint8Array;
    try {
      data = encodeCommand({ ...cmd, rid } as LogCommand);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        submitted: false,
        conf: false,
        data,
        timer: setTimeout(() => {
          this.waiters.delete(rid);
          this.m.proposalsFailed.inc();
          reject(timeoutError(this.store.index));
        }, this.o.requestTimeoutMs),
      };
      this.waiters.set(rid, w);
      this.submit(rid, w);
    });
  }

  /** Proposes to Raft if we lead, forwards to the leader if one is known, else waits for one. */
  private submit(rid: string, w: Waiter): void {
    if (this.lead === this.memberId) {
      const r = w.conf ? this.raw.proposeConfChange(decodeConfChange(w.data)) : this.raw.propose(w.data);
      if (r.ok) {
        w.submitted = true;
        this.scheduleLoop();
        return;
      }
      // Dropped (a leadership transfer in progress): try again shortly.
      this.unsubmitted.push(rid);
      setTimeout(() => this.submitWaiting(), Math.min(100, this.o.heartbeatMs)).unref();
      return;
    }
    if (this.lead !== NONE && this.o.network.forward(this.lead, rid, w.conf, w.data)) {
      w.submitted = true;
      return;
    }
    this.unsubmitted.push(rid);
  }

  private submitWaiting(): void {
    if (this.stopped || this.lead === NONE) return;
    const rids = this.unsubmitted;
    this.unsubmitted = [];
    for (const rid of rids) {
      const w = this.waiters.get(rid);
      if (w !== undefined && !w.submitted) this.submit(rid, w);
    }
  }

  private proposeConf(cc: ConfChange): Promise<void> {
    if (this.stopped) return Promise.reject(stoppingError(this.store.index));
    const key = `${cc.type}:${cc.id}`;
    const rid = this.ridPrefix + 'c' + (++this.ridSeq).toString(36);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.confWaiters.delete(key);
        this.waiters.delete(rid);
        reject(timeoutError(this.store.index));
      }, this.o.requestTimeoutMs);
      this.confWaiters.set(key, { resolve, reject, timer });
      // Carried like a command so the same submit/forward path serves it;
      // its waiter is keyed by the change, since a conf entry holds no rid.
      const w: Waiter = { resolve: () => {}, reject: () => {}, submitted: false, conf: true, data: encodeConfChange(cc), timer };
      this.waiters.set(rid, w);
      this.submit(rid, w);
    });
  }

  // ------------------------------------------------------------------ linearizable reads

  private kickReadIndex(): void {
    if (this.stopped || this.readInFlight !== null || this.readWaiters.length === 0 || this.lead === NONE) return;
    const ctx = `${this.ridPrefix}r${(++this.readSeq).toString(36)}`;
    const waiters = this.readWaiters;
    this.readWaiters = [];
    // A request lost with a leader change gets no ReadState: ask again.
    const retry = setTimeout(() => {
      if (this.readInFlight?.ctx !== ctx) return;
      this.readWaiters = this.readInFlight.waiters.concat(this.readWaiters);
      this.readInFlight = null;
      this.kickReadIndex();
    }, this.o.electionTimeoutMs);
    retry.unref();
    this.readInFlight = { ctx, waiters, retry };
    this.raw.readIndex(ctx);
    this.scheduleLoop();
  }

  private onReadState(rs: ReadState): void {
    const f = this.readInFlight;
    if (f === null || f.ctx !== rs.requestCtx) return;
    clearTimeout(f.retry);
    this.readInFlight = null;
    if (this.applied >= rs.index) for (const w of f.waiters) w.resolve();
    else this.readReady.push({ index: rs.index, waiters: f.waiters });
    this.kickReadIndex();
  }

  private wakeReads(): void {
    if (this.readReady.length === 0) return;
    const still: typeof this.readReady = [];
    for (const r of this.readReady) {
      if (this.applied >= r.index) for (const w of r.waiters) w.resolve();
      else still.push(r);
    }
    this.readReady = still;
  }

  // ------------------------------------------------------------------ the Ready loop

  private scheduleLoop(): void {
    if (this.loopScheduled || this.looping || this.stopped) return;
    this.loopScheduled = true;
    // setImmediate, not a microtask: every request parsed in this turn of
    // the event loop joins the same Ready (and the same fsync).
    setImmediate(() => {
      this.loopScheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (!this.stopped && this.raw.hasReady()) {
        const rd = this.raw.ready();
        await this.handleReady(rd);
        this.raw.advance(rd);
        this.afterAdvance();
      }
    } catch (err) {
      this.fatal(err as Error);
    } finally {
      this.looping = false;
      this.notifyIdle();
    }
  }

  /**
   * Carries out one Ready without waiting for its disk write (write
   * pipelining): the entries go to the WAL, which group-commits every write
   * handed to it during an fsync into the next one, and the loop takes the
   * next Ready at once. What depends on durability waits for it:
   *   - messages, except a leader's replication (whose term and vote are
   *     already durable: rule 2) and heartbeat responses, are held until
   *     this write and every write before it are on disk;
   *   - committed entries are applied only once they are durable here too;
   *   - the leader counts itself in the quorum only when told (reportDurable,
   *     Raft's asyncStorageWrites), so no commit index it announces stands on
   *     its own unwritten entries.
   */
  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined) this.onSoftState(rd.softState);
    if (rd.snapshot !== undefined) {
      // Rare: the state machine is replaced. Let every write land first.
      await this.drainWrites();
      this.installing = true;
      try {
        await this.installSnapshot(rd.snapshot);
      } finally {
        this.installing = false;
      }
      this.durableIndex = rd.snapshot.meta.index;
      this.pendingApply = this.pendingApply.filter((e) => e.index > this.durableIndex);
      this.reportDurable();
    }
    const hs = rd.hardState;
    const termVote = hs !== undefined && (hs.term !== this.savedHardState.term || hs.vote !== this.savedHardState.vote);
    const parallel = this.raw.raft.role === 'leader' && !termVote && !this.writes.some((w) => w.termVote);
    const first = rd.entries[0];
    // Entries that overwrite a conflicting suffix are not durable until their
    // write is; a write still in flight makes durable only what this append
    // leaves of it, or its landing would claim the new entries (test/sim seed 35).
    if (first !== undefined) {
      if (first.index <= this.durableIndex) this.durableIndex = first.index - 1;
      for (const w of this.writes) if (w.upTo >= first.index) w.upTo = first.index - 1;
    }
    this.mem.append(rd.entries);
    if (hs !== undefined) this.mem.setHardState(hs);
    this.noteConfEntries(rd.entries);

    let held: Message[] = [];
    if (parallel) this.o.network.send(rd.messages);
    else {
      const now: Message[] = [];
      for (const m of rd.messages) (m.type === 'heartbeatResp' ? now : held).push(m);
      if (now.length > 0) this.o.network.send(now);
    }

    // The hard state to write with this Ready, if any. Term and vote must be
    // durable before anything that depends on them is sent. The commit index
    // alone is recomputed from the leader after a crash — except that a
    // member restarts in the configuration its durable commit reaches, and
    // one restarted from a stale commit may vote, or even lead, in a
    // configuration the cluster left long ago (test/sim seeds 3703, 103).
    // So a commit-only change is written when it passes a conf change, and
    // otherwise rides along with the next write of entries: no fsync of its
    // own for the commits of ordinary writes.
    const current = this.mem.initialState().hardState;
    const hsChanged = current.term !== this.savedHardState.term || current.vote !== this.savedHardState.vote || current.commit !== this.savedHardState.commit;
    const writeHs = hsChanged && (rd.entries.length > 0 || termVote || rd.mustSync || this.commitPassesConf(current.commit)) ? current : undefined;
    if (rd.entries.length > 0 || writeHs !== undefined) {
      if (writeHs !== undefined) this.savedHardState = writeHs;
      const last = rd.entries[rd.entries.length - 1];
      const w: PendingWrite = { upTo: last === undefined ? -1 : last.index, held, termVote, done: false };
      this.writes.push(w);
      const t0 = performance.now();
      this.o.log.save(writeHs, rd.entries).then(
        () => {
          this.m.fsync.observe((performance.now() - t0) / 1000);
          w.done = true;
          this.onWritesDone();
        },
        (err: unknown) => {
          // Nothing after a failed write may be acknowledged: stop, but let
          // stop() see the write settle.
          w.done = true;
          w.held = [];
          w.upTo = -1;
          this.fatal(err as Error);
          this.onWritesDone();
        },
      );
      held = [];
    }
    if (held.length > 0) {
      const lastWrite = this.writes[this.writes.length - 1];
      if (lastWrite === undefined) this.o.network.send(held);
      else lastWrite.held.push(...held);
    }

    for (const e of rd.committedEntries) {
      if (this.pendingApply.length === 0 && e.index <= this.durableIndex) this.apply(e);
      else this.pendingApply.push(e);
    }
    for (const rs of rd.readStates) this.onReadState(rs);
  }

  /** Tracks where the log holds conf changes (for commitPassesConf); an append that overwrites drops the ones it replaces. */
  private noteConfEntries(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    while (this.confIndexes.length > 0 && this.confIndexes[this.confIndexes.length - 1]! >= first.index) this.confIndexes.pop();
    for (const e of entries) if (e.type === 'confChange') this.confIndexes.push(e.index);
  }

  /** A conf change lies between the last commit index written and `commit`. */
  private commitPassesConf(commit: number): boolean {
    const written = this.savedHardState.commit;
    while (this.confIndexes.length > 0 && this.confIndexes[0]! <= written) this.confIndexes.shift();
    return this.confIndexes.length > 0 && this.confIndexes[0]! <= commit;
  }

  /** Writes finished (in any order): settle them in log order, release what waited for them. */
  private onWritesDone(): void {
    let moved = false;
    while (this.writes[0]?.done === true) {
      const w = this.writes.shift()!;
      if (w.upTo >= 0) this.durableIndex = w.upTo;
      if (w.held.length > 0 && !this.stopped) this.o.network.send(w.held);
      moved = true;
    }
    if (!moved) return;
    if (this.stopped) return this.notifyIdle();
    this.reportDurable();
    if (!this.installing) {
      let n = 0;
      while (n < this.pendingApply.length && this.pendingApply[n]!.index <= this.durableIndex) this.apply(this.pendingApply[n++]!);
      if (n > 0) this.pendingApply.splice(0, n);
      this.afterAdvance();
    }
    this.notifyIdle();
    this.scheduleLoop();
  }

  /**
   * Tells Raft how far the log is durable, naming the entry there as it was
   * written: a write that lands after Raft took a newer leader's overwrite
   * (between step() and the next Ready) is then ignored, not counted.
   */
  private reportDurable(): void {
    if (this.durableIndex > this.mem.lastIndex()) return;
    const term = this.mem.term(this.durableIndex);
    if (term !== 'compacted') this.raw.reportDurable(this.durableIndex, term);
  }

  private drainWrites(): Promise<void> {
    if (this.writes.length === 0) return Promise.resolve();
    return new Promise<void>((r) => this.drainWaiters.push(r));
  }

  /** Wakes drainWrites() callers once nothing is being written, and stop() once the loop is idle too. */
  private notifyIdle(): void {
    if (this.writes.length > 0) return;
    const drained = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of drained) r();
    if (this.looping) return;
    const stopped = this.stopWaiters;
    this.stopWaiters = [];
    for (const r of stopped) r();
  }

  private afterAdvance(): void {
    this.wakeReads();
    this.maybeSnapshot();
    this.scheduleSync();
  }

  private onSoftState(ss: SoftState): void {
    const before = this.lead;
    this.lead = ss.lead;
    if (before !== ss.lead) {
      if (ss.lead !== NONE) this.m.leaderChanges.inc();
      this.log.info({ leader: ss.lead === NONE ? null : ss.lead, role: ss.role, term: this.raw.raft.term }, ss.lead === NONE ? 'no leader' : 'leader elected');
      if (ss.lead !== NONE) {
        this.submitWaiting();
        this.kickReadIndex();
        this.schedulePublish(0);
      }
    }
  }

  private apply(e: Entry): void {
    if (e.index <= this.applied) return; // covered by a snapshot installed in this Ready
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      this.raw.applyConfChange(cc);
      this.membership.applyConfChange(cc);
      this.updatePeers();
      this.applied = e.index;
      this.log.info({ change: cc.type, id: cc.id, index: e.index }, 'membership changed');
      const key = `${cc.type}:${cc.id}`;
      const w = this.confWaiters.get(key);
      if (w !== undefined) {
        clearTimeout(w.timer);
        this.confWaiters.delete(key);
        w.resolve();
      }
      for (const [rid, x] of this.waiters) if (x.conf && sameBytes(x.data, e.data)) this.waiters.delete(rid);
      if (cc.type === 'removeNode' && cc.id === this.memberId) {
        this.fatal(Object.assign(new Error('this member was removed from the cluster'), { code: 'RG_ERR_MEMBER_REMOVED' }));
      }
      return;
    }
    this.applied = e.index;
    if (e.data.length === 0) return; // a new leader's no-op
    const cmd = decodeCommand(e.data);
    let result: StoreEvent | V2Error | null = null;
    if (cmd.op === 'member') {
      this.membership.applyMemberCommand(cmd);
      this.updatePeers();
    } else {
      result = this.store.apply(cmd.op === 'write' ? { op: 'write', req: cmd.req } : { op: 'sync', nowMs: cmd.nowMs });
      if (cmd.op === 'sync') this.syncProposed = false;
    }
    if (cmd.rid === undefined) return;
    const w = this.waiters.get(cmd.rid);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.waiters.delete(cmd.rid);
    w.resolve({ result: result ?? syncResult(this.store.index), raftIndex: e.index, raftTerm: this.raw.raft.term });
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    const img = decodeStateImage(snap.data);
    await this.o.log.saveSnapshot({ index: snap.meta.index, term: snap.meta.term, data: snap.data });
    this.mem.applySnapshot(snap);
    // Restoring wakes every watcher whose next event the snapshot skipped with 401.
    this.store.restore(img.store);
    this.membership = Membership.fromImage(img.members);
    this.updatePeers();
    this.applied = snap.meta.index;
    this.snapIndex = snap.meta.index;
    this.m.snapshots.inc();
    this.log.info({ index: snap.meta.index, term: snap.meta.term, bytes: snap.data.length }, 'installed snapshot from the leader');
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.applied - this.snapIndex < this.o.snapshotCount) return;
    this.snapshotting = true;
    const index = this.applied;
    let done: () => void = () => {};
    this.snapshotSaved = new Promise<void>((r) => (done = r));
    // Taken synchronously at `index`, so the image matches the log exactly.
    const data = encodeStateImage({ v: 1, store: this.store.snapshot(), members: this.membership.image() });
    const snap = this.mem.createSnapshot(index, this.raw.raft.voters(), data);
    this.o.log
      .saveSnapshot({ index, term: snap.meta.term, data })
      .then(() => {
        this.snapIndex = index;
        const compactTo = index - this.o.snapshotCatchUpEntries;
        if (compactTo > this.mem.firstIndex()) this.mem.compact(compactTo);
        this.m.snapshots.inc();
        this.log.info({ index, bytes: data.length }, 'snapshot saved; older WAL segments released');
      })
      .catch((err: unknown) => this.log.error({ err }, 'snapshot failed; will retry at the next interval'))
      .finally(() => {
        this.snapshotting = false;
        done();
      });
  }

  // ------------------------------------------------------------------ time and attributes

  /**
   * The leader reads its clock and proposes {op:'sync', nowMs} when a TTL
   * deadline has passed; every member expires keys when it applies it, so
   * expiry is the same everywhere and survives replay.
   */
  private scheduleSync(): void {
    if (this.stopped || this.syncProposed || this.lead !== this.memberId) return;
    const deadline = this.store.nextDeadlineMs();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (deadline === null) return;
    const delayMs = Math.max(0, Math.min(deadline - this.o.clock.nowMs(), 500));
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (this.stopped || this.lead !== this.memberId) return;
      const nowMs = this.o.clock.nowMs();
      const next = this.store.nextDeadlineMs();
      if (next === null) return;
      if (next > nowMs) return this.scheduleSync();
      this.syncProposed = true;
      this.proposeCommand({ op: 'sync', nowMs }).catch(() => {
        this.syncProposed = false;
        this.scheduleSync();
      });
    }, delayMs);
    this.syncTimer.unref();
  }

  /** Publishes this member's name and client URLs through the log until the membership shows them (etcd's publish). */
  private schedulePublish(delayMs: number): void {
    if (this.stopped) return;
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      const me = this.membership.get(this.memberId);
      // Not in the membership yet (a joiner still catching up): look again later.
      if (me === undefined) return this.schedulePublish(this.o.electionTimeoutMs);
      if (me.name === this.name && sameList(me.clientURLs, this.o.clientURLs)) return;
      if (this.lead === NONE) return this.schedulePublish(this.o.electionTimeoutMs);
      this.proposeCommand({ op: 'member', id: this.memberId, name: this.name, clientURLs: this.o.clientURLs }).then(
        () => this.schedulePublish(0),
        () => this.schedulePublish(this.o.electionTimeoutMs),
      );
    }, delayMs);
    this.publishTimer.unref();
  }
}

function syncResult(index: number): StoreEvent {
  // A sync has no client; this value is never sent anywhere.
  return { action: 'expire', node: {}, etcdIndex: index };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function createDriverMetrics(reg: Registry, node: RaftNode) {
  const status = () => node.status();
  return {
    term: new Gauge({
      name: 'raftgate_core_raft_term',
      help: "This member's current Raft term.",
      registers: [reg],
      collect() {
        this.set(status().term);
      },
    }),
    committed: new Gauge({
      name: 'raftgate_core_raft_committed_index',
      help: 'The highest Raft log index this member knows to be committed.',
      registers: [reg],
      collect() {
        this.set(status().commit);
      },
    }),
    hasLeader: new Gauge({
      name: 'raftgate_core_has_leader',
      help: '1 if this member knows a leader, else 0.',
      registers: [reg],
      collect() {
        this.set(node.leaderId() === null ? 0 : 1);
      },
    }),
    isLeader: new Gauge({
      name: 'raftgate_core_is_leader',
      help: '1 if this member is the leader, else 0.',
      registers: [reg],
      collect() {
        this.set(node.isLeader() ? 1 : 0);
      },
    }),
    leaderChanges: new Counter({ name: 'raftgate_core_leader_changes_total', help: 'Times this member saw a new leader elected.', registers: [reg] }),
    proposalsFailed: new Counter({ name: 'raftgate_core_proposals_failed_total', help: 'Proposals that timed out before they were applied.', registers: [reg] }),
    fsync: new Histogram({
      name: 'raftgate_core_wal_fsync_duration_seconds',
      help: 'Time to make one Ready durable (WAL write + fsync).',
      buckets: [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2, 4, 8],
      registers: [reg],
    }),
    snapshots: new Counter({ name: 'raftgate_core_snapshots_total', help: 'Snapshots saved or installed by this member.', registers: [reg] }),
  };
}
