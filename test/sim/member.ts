// One simulated member: a RawNode, its MemoryStorage (the in-memory view the
// core reads), its SimDisk (what survives a crash) and a toy state machine.
// What is the same for every driver lives here (start from disk, crash,
// apply, snapshot images); the Ready loop itself is one of two sim drivers,
// chosen per schedule:
//
//   ready-driver.ts      ReadyMember: one Ready at a time (the contract in
//                        core-server/raft/raw-node.ts), Raft's default mode
//   pipelined-driver.ts  PipelinedMember: core-server/node/driver.ts's write
//                        pipelining with asyncStorageWrites
//
// The state machine is a hash chain over the applied entries: equal hashes
// at an index mean equal histories, so comparing one number per index (and
// per snapshot) checks state-machine safety.

import { RawNode, type Ready } from '../../core-server/raft/raw-node.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import { decodeConfChange } from '../../core-server/raft/conf-change.js';
import type { ConfChange, Entry, HardState, MemberId, Message, ReadState, Snapshot } from '../../core-server/raft/types.js';
import { SimDisk, type CrashReport, type DiskLatency, type Recovered, type WalReplay } from './disk.js';
import type { SimRandom } from './random.js';

/** Which sim driver runs the members of a schedule. */
export type DriverKind = 'ready' | 'pipelined';

/**
 * Deliberate bugs in the pipelined driver, for measuring what the
 * simulator catches (design.md). Each breaks one rule of
 * core-server/node/driver.ts:
 *   sendHeldEarly       every message goes out at once, none waits for its write
 *   countSelfAtAppend   Raft without asyncStorageWrites: the leader counts itself at append
 *   applyBeforeDurable  committed entries are applied at once, durable here or not
 *   noDurableLowering   an append over entries at or below the durable index (or over
 *                       a write in flight) leaves the durable index where it was
 */
export type PipelineMutation = 'sendHeldEarly' | 'countSelfAtAppend' | 'applyBeforeDurable' | 'noDurableLowering';

export const PIPELINE_MUTATIONS: readonly PipelineMutation[] = ['sendHeldEarly', 'countSelfAtAppend', 'applyBeforeDurable', 'noDurableLowering'];

export interface RaftParams {
  electionTicks: number;
  heartbeatTicks: number;
  /** Random ticks added to electionTicks (RaftConfig.electionJitterTicks); undefined: the core's default. */
  electionJitterTicks?: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  preVote: boolean;
  /** Send a leader's messages before its own write is durable (contract rule 2). */
  leaderParallel: boolean;
  /**
   * A deliberately broken driver for the simulator's own tests: every member
   * sends before persisting, so a follower acknowledges entries and votes a
   * crash can take back. The invariants must catch it.
   */
  unsafeSendBeforePersist?: boolean;
  /** The pipelined driver only: a deliberately broken rule (see PipelineMutation). */
  pipelineMutation?: PipelineMutation;
}

/** What a member needs from the simulation around it. */
export interface MemberEnv {
  now(): number;
  send(from: SimMember, msgs: readonly Message[]): void;
  /** Schedules disk operation `token` of `member` to complete at `doneAt`. */
  diskOp(member: SimMember, token: number, doneAt: number): void;
  /** Runs `run` a moment later in this life of `member` (its setImmediate; it waits out a pause like every event of the member). */
  loop(member: SimMember, run: () => void): void;
  readyTaken(member: SimMember, rd: Ready): void;
  /**
   * A Ready is done (`hardState` its hard state, if any) or, for the
   * pipelined driver, entries were applied after a write landed (undefined):
   * what the hard state's commit names is known committed, and the member
   * may take a snapshot.
   */
  finished(member: SimMember, hardState: HardState | undefined): void;
  /** Raft input may have moved a leader's commit index (asyncStorageWrites: it must stand on durable copies). */
  commitMoved(member: SimMember): void;
  applied(member: SimMember, e: Entry, hash: number): void;
  snapshotInstalled(member: SimMember, index: number, hash: number): void;
  readState(member: SimMember, rs: ReadState): void;
  addNode(by: SimMember, cc: ConfChange, voters: MemberId[]): void;
  /** The member applied its own removal: like etcd, it stops. */
  removedSelf(member: SimMember): void;
  trace(line: string): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SnapImage {
  index: number;
  hash: number;
}

export function encodeImage(img: SnapImage): Uint8Array {
  return encoder.encode(`${img.index}:${img.hash}`);
}

export function decodeImage(data: Uint8Array): SnapImage {
  const [index, hash] = decoder.decode(data).split(':');
  return { index: Number(index), hash: Number(hash) };
}

/** FNV-1a over (previous hash, index, term, type, data): one number standing for the whole applied history. */
export function chainHash(prev: number, e: Entry): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  const mix = (x: number): void => {
    h = Math.imul(h ^ (x & 0xff), 16777619);
    h = Math.imul(h ^ ((x >>> 8) & 0xff), 16777619);
    h = Math.imul(h ^ ((x >>> 16) & 0xff), 16777619);
  };
  mix(e.index);
  mix(e.term);
  mix(e.type === 'normal' ? 1 : 2);
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i]!, 16777619);
  return h >>> 0;
}

export abstract class SimMember {
  raw!: RawNode;
  storage!: MemoryStorage;
  readonly disk: SimDisk;
  alive = false;
  /** Bumped on every start: events and reports of an earlier life are ignored. */
  incarnation = 0;
  /** A frozen process (SIGSTOP, a GC pause): its events wait until it resumes. */
  pausedUntil = 0;
  /** Applied its own removal and stopped for good. */
  removed = false;
  appliedIndex = 0;
  hash = 0;
  /** Set while applying the Ready (or the write) in which this member applied its own removal. */
  protected stopAfterReady = false;

  constructor(
    readonly id: MemberId,
    /** The configuration a brand-new data dir starts with (initial cluster, or the one it joins). */
    readonly bootstrapVoters: readonly MemberId[],
    protected readonly params: RaftParams,
    private readonly rnd: SimRandom,
    latency: DiskLatency,
    protected readonly env: MemberEnv,
    walReplay: WalReplay = 'contract',
  ) {
    this.disk = new SimDisk(rnd.fork(), latency, walReplay);
  }

  /** Whether Raft runs with asyncStorageWrites (the leader counts itself only once told its log is durable). */
  protected abstract asyncStorageWrites(): boolean;
  /** A new life starts from `rec`: forget every write and snapshot of the last one. */
  protected abstract resetDriver(rec: Recovered): void;
  /** Runs the Ready loop as far as it can go without waiting for the disk. */
  abstract pump(): void;
  /** The disk finished operation `token` (ignored if it belongs to an earlier life). */
  abstract diskDone(token: number): void;
  /** Snapshots the state machine at its applied index and compacts the log, keeping `keep` entries. */
  abstract compact(keep: number): boolean;

  /** Starts (or restarts) from what is durable, exactly as a real process would. */
  start(): void {
    const rec = this.disk.recover();
    const storage = new MemoryStorage(this.bootstrapVoters);
    if (rec.snapshot !== undefined) storage.applySnapshot(rec.snapshot);
    storage.append(rec.entries);
    if (rec.hardState !== undefined) storage.setHardState(rec.hardState);
    this.storage = storage;
    if (rec.snapshot !== undefined) {
      // The snapshot file may be newer than the WAL's marker (a crash between
      // saving one and appending the other): the driver writes the marker now,
      // so the WAL accepts the entries that follow the snapshot.
      this.disk.write({ kind: 'snapMarker', index: rec.snapshot.meta.index, term: rec.snapshot.meta.term });
      const img = decodeImage(rec.snapshot.data);
      this.appliedIndex = img.index;
      this.hash = img.hash;
    } else {
      this.appliedIndex = 0;
      this.hash = 0;
    }
    this.resetDriver(rec);
    this.incarnation++;
    this.alive = true;
    this.stopAfterReady = false;
    this.raw = new RawNode({
      id: this.id,
      storage,
      electionTicks: this.params.electionTicks,
      heartbeatTicks: this.params.heartbeatTicks,
      ...(this.params.electionJitterTicks !== undefined ? { electionJitterTicks: this.params.electionJitterTicks } : {}),
      rng: this.rnd.rng(),
      preVote: this.params.preVote,
      checkQuorum: true,
      maxSizePerMsg: this.params.maxSizePerMsg,
      maxInflightMsgs: this.params.maxInflightMsgs,
      ...(this.asyncStorageWrites() ? { asyncStorageWrites: true } : {}),
    });
  }

  crash(): CrashReport {
    this.alive = false;
    return this.disk.crash();
  }

  /** Replaces the state machine with a snapshot's image. */
  protected installImage(snap: Snapshot): void {
    const img = decodeImage(snap.data);
    this.appliedIndex = img.index;
    this.hash = img.hash;
    this.env.snapshotInstalled(this, img.index, img.hash);
  }

  protected apply(e: Entry): void {
    if (e.index !== this.appliedIndex + 1) throw new Error(`member ${this.id}: applies ${e.index} after ${this.appliedIndex}`);
    this.hash = chainHash(this.hash, e);
    this.appliedIndex = e.index;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      const voters = this.raw.applyConfChange(cc);
      this.env.trace(`${this.id} applies ${cc.type} ${cc.id} at ${e.index}: voters ${voters.join(',')}`);
      // A smaller quorum may commit more at once.
      this.env.commitMoved(this);
      if (cc.type === 'addNode') this.env.addNode(this, cc, voters);
      else if (cc.id === this.id) this.stopAfterReady = true;
    }
    this.env.applied(this, e, this.hash);
  }

  /** After the Ready (or write) in which this member applied its own removal: like etcd, it stops. */
  protected stopIfRemoved(): void {
    if (!this.stopAfterReady || !this.alive) return;
    this.alive = false;
    this.removed = true;
    this.env.removedSelf(this);
  }
}
