// The one-Ready-at-a-time sim driver: it obeys the Ready contract of
// core-server/raft/raw-node.ts with Raft in its default mode (the leader
// counts itself at append, thesis §10.2.1):
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

import type { Ready } from '../../core-server/raft/raw-node.js';
import type { HardState, MemberId, Snapshot } from '../../core-server/raft/types.js';
import type { CrashReport, Recovered } from './disk.js';
import { encodeImage, SimMember } from './member.js';

interface Waiting {
  rd: Ready;
  sentEarly: boolean;
  token: number;
  stage: 'snapshot' | 'wal';
}

export class ReadyMember extends SimMember {
  private waiting: Waiting | undefined;
  /** Term and vote of the last hard state handed to the disk (what rule 2 needs durable). */
  private lastTerm = 0;
  private lastVote: MemberId = '';
  private lastWrittenCommit = 0;
  /** Snapshot saves in flight for compaction: token → snapshot whose WAL marker follows. */
  private compacting = new Map<number, Snapshot>();

  protected asyncStorageWrites(): boolean {
    return false;
  }

  protected resetDriver(rec: Recovered): void {
    this.lastTerm = rec.hardState?.term ?? 0;
    this.lastVote = rec.hardState?.vote ?? '';
    this.lastWrittenCommit = rec.hardState?.commit ?? 0;
    this.waiting = undefined;
    this.compacting.clear();
  }

  override crash(): CrashReport {
    this.waiting = undefined;
    this.compacting.clear();
    return super.crash();
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

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
    if (rd.snapshot !== undefined) this.installImage(rd.snapshot);
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) this.env.readState(this, rs);
    this.raw.advance(rd);
    this.env.finished(this, rd.hardState);
    this.stopIfRemoved();
  }

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
