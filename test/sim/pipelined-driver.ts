// The pipelined sim driver: core-server/node/driver.ts's Ready loop
// (afterInput, runLoop, handleReady, onWritesDone), rule for rule, over the
// simulated disk, with Raft in asyncStorageWrites mode. It takes the next
// Ready without waiting for the last one's fsync:
//
//   input (tick, step, propose, ...) ──► schedule the loop (setImmediate: a 'loop' event a
//                                        moment later; a write may land in between)
//   ready() ──► rd.snapshot? ──yes──► wait for every write in flight ─► save file ─► WAL marker + fsync
//     │                                 (loop blocked: takeUrgentMessages()    │
//     │                                  sent on every tick and step)          ▼
//     │                                          storage ← snapshot; durable = its index; reportDurable
//     ▼                                                                        │
//   append overwrites at or below `durable`? lower it to just before ◄─────────┘
//     (and cut every write in flight to what the append leaves of it)
//   storage ← entries, hard state
//   messages: leader, and no term/vote change here or in flight ──► send all now
//             otherwise: heartbeatResp now; the rest held by this write (or the last in flight)
//   entries, or any hard state ──► WAL write + fsync, in flight (FIFO)
//   committed entries: apply if durable here (and none wait before them), else wait
//   advance(rd) at once ──► next Ready
//
//   a write lands (in order) ──► durable = its last index; send what it held;
//                                reportDurable(durable, its term); apply what waited,
//                                up to durable; schedule the loop
//
// Local compaction runs beside the writes, one at a time, as the driver's
// maybeSnapshot does: save the file, append its WAL marker, then compact the
// in-memory log.
//
// params.pipelineMutation breaks one rule on purpose (member.ts), so that
// design.md can say how often the simulator notices.

import type { Ready } from '../../core-server/raft/raw-node.js';
import type { Entry, MemberId, Message, Snapshot } from '../../core-server/raft/types.js';
import type { CrashReport, Recovered } from './disk.js';
import { encodeImage, SimMember } from './member.js';

interface PendingWrite {
  /** The fsync that makes this write durable. */
  token: number;
  /** Last entry index this write makes durable; -1 when it holds no entries (a hard state only). */
  upTo: number;
  /** Messages released once this write and every one before it are durable. */
  held: Message[];
  /** It makes a new term or vote durable: until then a leader may not replicate either. */
  termVote: boolean;
}

/** A Ready with a leader's snapshot: the loop waits for it. */
interface Install {
  rd: Ready;
  snap: Snapshot;
  /** drain: writes still in flight; file: snapshot file being saved; marker: its WAL marker being synced. */
  stage: 'drain' | 'file' | 'marker';
  token: number;
}

interface Compaction {
  snap: Snapshot;
  keep: number;
  stage: 'file' | 'marker';
  token: number;
}

export class PipelinedMember extends SimMember {
  /** Writes handed to the disk and not yet durable, in log order. */
  private writes: PendingWrite[] = [];
  /** Every entry of this member's log up to here is on disk. */
  private durableIndex = 0;
  /** Committed entries waiting for their local write. */
  private pendingApply: Entry[] = [];
  /** Term and vote of the last hard state handed to a write. */
  private savedTerm = 0;
  private savedVote: MemberId = '';
  private lastWrittenCommit = 0;
  /** Indexes of conf change entries in the log above the last commit written, ascending. */
  private confIndexes: number[] = [];
  private install: Install | undefined;
  private compaction: Compaction | undefined;
  /** A 'loop' event is on its way (the driver's loopScheduled). */
  private loopScheduled = false;

  protected asyncStorageWrites(): boolean {
    return this.params.pipelineMutation !== 'countSelfAtAppend';
  }

  protected resetDriver(rec: Recovered): void {
    this.loopScheduled = false;
    this.writes = [];
    this.pendingApply = [];
    this.install = undefined;
    this.compaction = undefined;
    this.savedTerm = rec.hardState?.term ?? 0;
    this.savedVote = rec.hardState?.vote ?? '';
    this.lastWrittenCommit = rec.hardState?.commit ?? 0;
    this.confIndexes = rec.entries.filter((e) => e.type === 'confChange').map((e) => e.index);
    // Everything in storage now came from disk.
    this.durableIndex = this.storage.lastIndex();
  }

  override crash(): CrashReport {
    this.writes = [];
    this.pendingApply = [];
    this.install = undefined;
    this.compaction = undefined;
    return super.crash();
  }

  /** After any input (the driver's afterInput). */
  pump(): void {
    if (!this.alive) return;
    this.env.commitMoved(this);
    if (this.install !== undefined) {
      // The loop waits for a snapshot: only what never waits for the disk goes now.
      const urgent = this.raw.takeUrgentMessages();
      if (urgent.length > 0) this.env.send(this, urgent);
      return;
    }
    this.scheduleLoop();
  }

  private scheduleLoop(): void {
    if (this.loopScheduled || this.install !== undefined || !this.alive) return;
    this.loopScheduled = true;
    this.env.loop(this, () => {
      this.loopScheduled = false;
      this.runLoop();
    });
  }

  private runLoop(): void {
    if (this.install !== undefined) return;
    for (let guard = 0; this.alive && this.raw.hasReady(); guard++) {
      if (guard > 10_000) throw new Error(`member ${this.id}: the Ready loop does not settle`);
      const rd = this.raw.ready();
      this.env.readyTaken(this, rd);
      if (rd.snapshot !== undefined) {
        // Rare: the state machine is replaced. Let every write land first.
        this.install = { rd, snap: rd.snapshot, stage: 'drain', token: 0 };
        if (this.writes.length === 0) this.saveInstall();
        return;
      }
      this.carryOut(rd);
      this.advance(rd);
    }
  }

  private advance(rd: Ready): void {
    this.raw.advance(rd);
    this.env.finished(this, rd.hardState);
    this.stopIfRemoved();
  }

  /** handleReady after the snapshot: memory, messages, the write, what may be applied. */
  private carryOut(rd: Ready): void {
    const mutation = this.params.pipelineMutation;
    const hs = rd.hardState;
    const termVote = hs !== undefined && (hs.term !== this.savedTerm || hs.vote !== this.savedVote);
    const parallel = mutation === 'sendHeldEarly' || (this.raw.raft.role === 'leader' && !termVote && !this.writes.some((w) => w.termVote));
    const first = rd.entries[0];
    // Entries that overwrite a conflicting suffix are not durable until their write is.
    if (first !== undefined && mutation !== 'noDurableLowering') {
      if (first.index <= this.durableIndex) this.durableIndex = first.index - 1;
      // A write still in flight makes durable only what this append leaves of it (seed 35).
      for (const w of this.writes) if (w.upTo >= first.index) w.upTo = first.index - 1;
    }
    this.storage.append(rd.entries);
    if (hs !== undefined) this.storage.setHardState(hs);

    let held: Message[] = [];
    if (parallel) this.env.send(this, rd.messages);
    else {
      const now: Message[] = [];
      for (const m of rd.messages) (m.type === 'heartbeatResp' ? now : held).push(m);
      if (now.length > 0) this.env.send(this, now);
    }

    // As the production driver: term and vote always; a commit-only change
    // only when it passes a conf change (a member that restarts from a stale
    // commit also restarts in a stale configuration: seeds 103, 3703), and
    // otherwise with the next write of entries.
    const first2 = rd.entries[0];
    if (first2 !== undefined) while (this.confIndexes.length > 0 && this.confIndexes[this.confIndexes.length - 1]! >= first2.index) this.confIndexes.pop();
    for (const e of rd.entries) if (e.type === 'confChange') this.confIndexes.push(e.index);
    const cur = this.storage.initialState().hardState;
    while (this.confIndexes.length > 0 && this.confIndexes[0]! <= this.lastWrittenCommit) this.confIndexes.shift();
    const passesConf = this.confIndexes.length > 0 && this.confIndexes[0]! <= cur.commit;
    const changed = cur.term !== this.savedTerm || cur.vote !== this.savedVote || cur.commit !== this.lastWrittenCommit;
    const writeHs = changed && (rd.entries.length > 0 || termVote || rd.mustSync || passesConf) ? cur : undefined;
    if (rd.entries.length > 0 || writeHs !== undefined) {
      for (const e of rd.entries) this.disk.write({ kind: 'entry', entry: e });
      if (writeHs !== undefined) {
        if (writeHs.commit < this.lastWrittenCommit) throw new Error(`member ${this.id}: hard state commit went back ${this.lastWrittenCommit} → ${writeHs.commit}`);
        this.lastWrittenCommit = writeHs.commit;
        this.savedTerm = writeHs.term;
        this.savedVote = writeHs.vote;
        this.disk.write({ kind: 'hardState', hardState: writeHs });
      }
      const op = this.disk.sync(this.env.now());
      const last = rd.entries[rd.entries.length - 1];
      this.writes.push({ token: op.token, upTo: last === undefined ? -1 : last.index, held, termVote });
      this.env.diskOp(this, op.token, op.doneAt);
      held = [];
    }
    if (held.length > 0) {
      const lastWrite = this.writes[this.writes.length - 1];
      if (lastWrite === undefined) this.env.send(this, held);
      else lastWrite.held.push(...held);
    }

    for (const e of rd.committedEntries) {
      if (mutation === 'applyBeforeDurable' || (this.pendingApply.length === 0 && e.index <= this.durableIndex)) this.applyOne(e);
      else this.pendingApply.push(e);
    }
    for (const rs of rd.readStates) this.env.readState(this, rs);
  }

  private applyOne(e: Entry): void {
    // Covered by a snapshot installed meanwhile.
    if (e.index <= this.appliedIndex) return;
    this.apply(e);
  }

  private saveInstall(): void {
    const ins = this.install!;
    const op = this.disk.saveSnapshot(this.env.now(), ins.snap);
    ins.stage = 'file';
    ins.token = op.token;
    this.env.diskOp(this, op.token, op.doneAt);
  }

  diskDone(token: number): void {
    this.disk.complete(token);
    const c = this.compaction;
    if (c !== undefined && c.token === token) return this.compactionStep(c);
    const ins = this.install;
    if (ins !== undefined && ins.stage !== 'drain' && ins.token === token) return this.installStep(ins);
    const w = this.writes[0];
    if (w === undefined || w.token !== token) throw new Error(`member ${this.id}: disk completion ${token} matches no write`);
    this.writes.shift();
    this.landed(w);
  }

  /** onWritesDone: a write (and every one before it) is durable. */
  private landed(w: PendingWrite): void {
    if (w.upTo >= 0) this.durableIndex = w.upTo;
    if (w.held.length > 0) this.env.send(this, w.held);
    this.reportDurable();
    this.env.commitMoved(this);
    const ins = this.install;
    if (ins === undefined || ins.stage === 'drain') {
      let n = 0;
      while (n < this.pendingApply.length && this.pendingApply[n]!.index <= this.durableIndex) this.applyOne(this.pendingApply[n++]!);
      if (n > 0) this.pendingApply.splice(0, n);
      this.env.finished(this, undefined);
    }
    this.stopIfRemoved();
    if (!this.alive) return;
    if (ins?.stage === 'drain' && this.writes.length === 0) this.saveInstall();
    else this.scheduleLoop();
  }

  /** Tells Raft how far the log is durable, naming the entry there as it was written. */
  private reportDurable(): void {
    if (!this.asyncStorageWrites() || this.durableIndex > this.storage.lastIndex()) return;
    const term = this.storage.term(this.durableIndex);
    if (term !== 'compacted') this.raw.reportDurable(this.durableIndex, term);
  }

  /** A snapshot file landed: append its WAL marker and fsync it (core-server/node/storage.ts saveSnapshot order). */
  private appendMarker(save: Install | Compaction): void {
    this.disk.write({ kind: 'snapMarker', index: save.snap.meta.index, term: save.snap.meta.term });
    const op = this.disk.sync(this.env.now());
    save.stage = 'marker';
    save.token = op.token;
    this.env.diskOp(this, op.token, op.doneAt);
  }

  private installStep(ins: Install): void {
    if (ins.stage === 'file') return this.appendMarker(ins);
    this.storage.applySnapshot(ins.snap);
    this.installImage(ins.snap);
    this.install = undefined;
    this.durableIndex = ins.snap.meta.index;
    this.pendingApply = this.pendingApply.filter((e) => e.index > this.durableIndex);
    this.reportDurable();
    this.carryOut(ins.rd);
    this.advance(ins.rd);
    // The loop goes on where it waited.
    this.runLoop();
  }

  compact(keep: number): boolean {
    // One snapshot at a time, never while a leader's snapshot is being installed.
    if (!this.alive || this.compaction !== undefined || (this.install !== undefined && this.install.stage !== 'drain')) return false;
    const at = this.appliedIndex;
    const s = this.storage;
    if (at <= s.snapshot().meta.index || at > s.lastIndex()) return false;
    const snap = s.createSnapshot(at, this.raw.raft.voters(), encodeImage({ index: at, hash: this.hash }));
    const op = this.disk.saveSnapshot(this.env.now(), snap);
    this.compaction = { snap, keep, stage: 'file', token: op.token };
    this.env.diskOp(this, op.token, op.doneAt);
    return true;
  }

  private compactionStep(c: Compaction): void {
    if (c.stage === 'file') return this.appendMarker(c);
    // Saved and marked: the log before it may go (keeping `keep` entries for slow followers).
    this.compaction = undefined;
    const to = c.snap.meta.index - c.keep;
    if (to > this.storage.firstIndex()) this.storage.compact(to);
  }
}
