// One simulated member: a RawNode, its MemoryStorage (the in-memory view the
// core reads), its SimDisk (what survives a crash), a toy state machine, and
// the sim driver that obeys the Ready contract of core-server/raft/raw-node.ts:
//
//   idle ──hasReady──► ready() ─┬─ leader, term/vote unchanged: send rd.messages now (rule 2,
//                               │  the thesis §10.2.1 parallel append; only if leaderParallel)
//                               ├─ rd.snapshot: save the snapshot file ──► (done) ─┐
//                               ├─ write WAL: marker, entries, hardState ◄─────────┘
//                               │     mustSync: fsync ──► waiting (ticks and steps go on;
//                               │                         takeUrgentMessages() sent at once)
//                               ▼
//            finish: storage ← snapshot/entries/hardState; send rd.messages (if not yet);
//                    apply snapshot, committedEntries; read states; advance(rd) ──► idle
//
// The state machine is a hash chain over the applied entries: equal hashes
// at an index mean equal histories, so comparing one number per index (and
// per snapshot) checks state-machine safety.

import { RawNode, type Ready } from '../../core-server/raft/raw-node.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import { decodeConfChange } from '../../core-server/raft/conf-change.js';
import type { ConfChange, Entry, HardState, MemberId, Message, ReadState, Snapshot } from '../../core-server/raft/types.js';
import { SimDisk, type CrashReport, type DiskLatency, type WalReplay } from './disk.js';
import type { SimRandom } from './random.js';

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
}

/** What a member needs from the simulation around it. */
export interface MemberEnv {
  now(): number;
  send(from: SimMember, msgs: readonly Message[]): void;
  /** Schedules disk operation `token` of `member` to complete at `doneAt`. */
  diskOp(member: SimMember, token: number, doneAt: number): void;
  readyTaken(member: SimMember, rd: Ready): void;
  finished(member: SimMember, rd: Ready): void;
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

interface Waiting {
  rd: Ready;
  sentEarly: boolean;
  token: number;
  stage: 'snapshot' | 'wal';
}

export class SimMember {
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
  private waiting: Waiting | undefined;
  /** Term and vote of the last hard state handed to the disk (what rule 2 needs durable). */
  private lastTerm = 0;
  private lastVote: MemberId = '';
  private lastWrittenCommit = 0;
  /** Snapshot saves in flight for compaction: token → snapshot whose WAL marker follows. */
  private compacting = new Map<number, Snapshot>();
  /** Set while applying the Ready in which this member applied its own removal. */
  private stopAfterReady = false;

  constructor(
    readonly id: MemberId,
    /** The configuration a brand-new data dir starts with (initial cluster, or the one it joins). */
    readonly bootstrapVoters: readonly MemberId[],
    private readonly params: RaftParams,
    private readonly rnd: SimRandom,
    latency: DiskLatency,
    private readonly env: MemberEnv,
    walReplay: WalReplay = 'contract',
  ) {
    this.disk = new SimDisk(rnd.fork(), latency, walReplay);
  }

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
    this.lastTerm = rec.hardState?.term ?? 0;
    this.lastVote = rec.hardState?.vote ?? '';
    this.lastWrittenCommit = rec.hardState?.commit ?? 0;
    this.incarnation++;
    this.alive = true;
    this.waiting = undefined;
    this.compacting.clear();
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
    });
  }

  crash(): CrashReport {
    this.alive = false;
    this.waiting = undefined;
    this.compacting.clear();
    return this.disk.crash();
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

  /** Runs the Ready loop as far as it can go without waiting for the disk. */
  pump(): void {
    if (!this.alive) return;
    if (this.waiting !== undefined) {
      // A Ready is being persisted: only what claims nothing durable may go out now.
      const urgent = this.raw.takeUrgentMessages();
      if (urgent.length > 0) this.env.send(this, urgent);
      return;
    }
    for (let guard = 0; this.alive && this.raw.hasReady(); guard++) {
      if (guard > 10_000) throw new Error(`member ${this.id}: the Ready loop does not settle`);
      const rd = this.raw.ready();
      this.env.readyTaken(this, rd);
      const termVoteDurable = rd.hardState === undefined || (rd.hardState.term === this.lastTerm && rd.hardState.vote === this.lastVote);
      const sentEarly = this.params.unsafeSendBeforePersist === true || (this.params.leaderParallel && this.raw.raft.role === 'leader' && termVoteDurable);
      if (sentEarly) this.env.send(this, rd.messages);
      if (rd.snapshot !== undefined) {
        // Save the snapshot file first, then its WAL marker (core-server/node/storage.ts order).
        const op = this.disk.saveSnapshot(this.env.now(), rd.snapshot);
        this.waiting = { rd, sentEarly, token: op.token, stage: 'snapshot' };
        this.env.diskOp(this, op.token, op.doneAt);
        return;
      }
      this.writeWal(rd);
      if (rd.mustSync) {
        const op = this.disk.sync(this.env.now());
        this.waiting = { rd, sentEarly, token: op.token, stage: 'wal' };
        this.env.diskOp(this, op.token, op.doneAt);
        return;
      }
      // Only the commit index moved: written, no fsync needed (mustSync is false).
      this.finish(rd, sentEarly);
    }
  }

  private writeWal(rd: Ready): void {
    if (rd.snapshot !== undefined) this.disk.write({ kind: 'snapMarker', index: rd.snapshot.meta.index, term: rd.snapshot.meta.term });
    for (const e of rd.entries) this.disk.write({ kind: 'entry', entry: e });
    if (rd.hardState !== undefined) {
      const hs: HardState = rd.hardState;
      if (hs.commit < this.lastWrittenCommit) throw new Error(`member ${this.id}: hard state commit went back ${this.lastWrittenCommit} → ${hs.commit}`);
      this.lastWrittenCommit = hs.commit;
      this.lastTerm = hs.term;
      this.lastVote = hs.vote;
      this.disk.write({ kind: 'hardState', hardState: hs });
    }
  }

  /** The disk finished operation `token` (ignored if it belongs to an earlier life). */
  diskDone(token: number): void {
    this.disk.complete(token);
    const snap = this.compacting.get(token);
    if (snap !== undefined) {
      this.compacting.delete(token);
      this.disk.write({ kind: 'snapMarker', index: snap.meta.index, term: snap.meta.term });
      const op = this.disk.sync(this.env.now());
      this.env.diskOp(this, op.token, op.doneAt);
      return;
    }
    const w = this.waiting;
    if (w === undefined || w.token !== token) return;
    if (w.stage === 'snapshot') {
      this.writeWal(w.rd);
      const op = this.disk.sync(this.env.now());
      this.waiting = { ...w, token: op.token, stage: 'wal' };
      this.env.diskOp(this, op.token, op.doneAt);
      return;
    }
    this.waiting = undefined;
    this.finish(w.rd, w.sentEarly);
    this.pump();
  }

  private finish(rd: Ready, sentEarly: boolean): void {
    const s = this.storage;
    if (rd.snapshot !== undefined) s.applySnapshot(rd.snapshot);
    s.append(rd.entries);
    if (rd.hardState !== undefined) s.setHardState(rd.hardState);
    if (!sentEarly) this.env.send(this, rd.messages);
    if (rd.snapshot !== undefined) {
      const img = decodeImage(rd.snapshot.data);
      this.appliedIndex = img.index;
      this.hash = img.hash;
      this.env.snapshotInstalled(this, img.index, img.hash);
    }
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) this.env.readState(this, rs);
    this.raw.advance(rd);
    this.env.finished(this, rd);
    if (this.stopAfterReady) {
      this.alive = false;
      this.removed = true;
      this.env.removedSelf(this);
    }
  }

  private apply(e: Entry): void {
    if (e.index !== this.appliedIndex + 1) throw new Error(`member ${this.id}: applies ${e.index} after ${this.appliedIndex}`);
    this.hash = chainHash(this.hash, e);
    this.appliedIndex = e.index;
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      const voters = this.raw.applyConfChange(cc);
      this.env.trace(`${this.id} applies ${cc.type} ${cc.id} at ${e.index}: voters ${voters.join(',')}`);
      if (cc.type === 'addNode') this.env.addNode(this, cc, voters);
      else if (cc.id === this.id) this.stopAfterReady = true;
    }
    this.env.applied(this, e, this.hash);
  }

  /** Snapshots the state machine at its applied index and compacts the log, keeping `keep` entries. */
  compact(keep: number): boolean {
    if (!this.alive || this.waiting !== undefined) return false;
    const at = this.appliedIndex;
    const s = this.storage;
    if (at <= s.snapshot().meta.index || at > s.lastIndex()) return false;
    const snap = s.createSnapshot(at, this.raw.raft.voters(), encodeImage({ index: at, hash: this.hash }));
    const to = at - keep;
    if (to > s.firstIndex()) s.compact(to);
    const op = this.disk.saveSnapshot(this.env.now(), snap);
    this.compacting.set(op.token, snap);
    this.env.diskOp(this, op.token, op.doneAt);
    return true;
  }
}
