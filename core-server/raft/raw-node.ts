// RawNode: the driver's handle on one Raft member, after etcd-io/raft's
// rawnode.go. Single-threaded and synchronous; the driver owns the loop:
//
//   raw.tick() / raw.step(msg) / raw.propose(data) ...
//   if (raw.hasReady()) {
//     const rd = raw.ready();
//     persist rd.snapshot, rd.entries, rd.hardState   (fsync if rd.mustSync)
//     send rd.messages
//     apply rd.snapshot, then rd.committedEntries     (applyConfChange for confChange entries)
//     raw.advance(rd);
//   }
//
// THE ORDERING RULE (etcd's Ready contract):
//  1. rd.entries, rd.hardState and rd.snapshot must be durable before any
//     message of a LATER Ready is sent, and before rd.committedEntries are
//     applied. When writing entry i, any stored entries at or after i are
//     discarded (a follower's overwritten suffix). rd.snapshot replaces the
//     WHOLE log, as MemoryStorage.applySnapshot does: after a restart no
//     entry stored before it may come back, not even one after its index
//     (that suffix belongs to a history the leader overwrote) — unless the
//     stored entry at the snapshot's index has the snapshot's term, which
//     makes the entries after it a continuation (test/sim seed 1395).
//  2. rd.messages may be sent as soon as the entries and hard state of all
//     PREVIOUS Readys are durable and rd.hardState is durable; they may go
//     out while rd.entries of this same Ready are still being written. For a
//     follower that is moot (its appResp/voteResp come after its own write
//     in step order: persist first, then send). For the leader it is the
//     thesis §10.2.1 optimisation: it replicates to followers in parallel
//     with its own disk write. The leader counts itself in the quorum as soon
//     as it appends, which is safe because no commit it enables is applied,
//     and no later message is sent, before step 1 has finished.
//     Simplest correct driver: persist everything, then send, then apply.
//  3. rd.committedEntries may overlap rd.entries (a single-member cluster
//     commits on append): apply them only after step 1.
//  4. A 'snap' message is large; after sending it (or failing to), call
//     reportSnapshot(to, ok) or the follower's progress stays paused.
//  5. Call advance(rd) after all of the above, before the next ready().

import { assert } from './assert.js';
import { Raft, type RaftConfig } from './raft.js';
import type { ProgressState } from './progress.js';
import {
  hardStateEqual,
  isEmptyHardState,
  isResponseMsg,
  type ConfChange,
  type Entry,
  type HardState,
  type MemberId,
  type Message,
  type ProposeResult,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
} from './types.js';

export interface Ready {
  /** Leader or role changed since the last Ready. Volatile: not persisted. */
  softState?: SoftState;
  /** Term, vote or commit changed: persist before sending messages. */
  hardState?: HardState;
  /** Accepted entries to append to stable storage before sending messages that depend on them (see the rule above). */
  entries: Entry[];
  /** A snapshot received from the leader: persist it and restore the state machine from it. */
  snapshot?: Snapshot;
  /** Committed entries to apply, in order, after entries are durable. */
  committedEntries: Entry[];
  /** Messages to send once the persistence above is done (see the rule above). */
  messages: Message[];
  /** Reads that became serviceable: answer each once applied index >= its index. */
  readStates: ReadState[];
  /** Whether the hard state and entries must be fsynced (false when only the commit index moved). */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  inflight: number;
}

export interface Status {
  id: MemberId;
  term: number;
  vote: MemberId;
  commit: number;
  applied: number;
  lastIndex: number;
  lead: MemberId;
  role: Role;
  voters: MemberId[];
  leadTransferee: MemberId;
  /** Per-member progress, on the leader only. */
  progress?: Record<MemberId, ProgressStatus>;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** A Ready was handed out and not yet advanced. */
  private readyOutstanding = false;
  /** The commit index when the last Ready was handed out (see takeUrgentMessages). */
  private readyCommit = 0;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /** One unit of logical time; the driver calls this at a fixed interval. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first, if enabled). */
  campaign(): void {
    this.raft.hup('normal');
  }

  /** Proposes a normal entry. Only the leader accepts; the result names the index it got. */
  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose([{ term: 0, index: 0, type: 'normal', data }]);
  }

  /** Proposes adding or removing one voter. Refused while another change is unapplied. */
  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(cc);
  }

  /** The driver applies a committed confChange entry; returns the new voter set. */
  applyConfChange(cc: ConfChange): MemberId[] {
    return this.raft.applyConfChange(cc);
  }

  /** Network input. Responses from members outside the configuration are dropped. */
  step(m: Message): void {
    if (isResponseMsg(m.type) && !this.raft.prs.has(m.from)) return;
    this.raft.step(m);
  }

  /**
   * Asks for a linearizable read point tagged `ctx` (unique per request). A
   * ReadState with that ctx appears in a later Ready; none appears if the
   * request is lost (no leader, leader change), so callers time out and retry.
   */
  readIndex(ctx: string): void {
    assert(ctx !== '', 'readIndex context must not be empty');
    this.raft.readIndex(ctx);
  }

  /** Hands leadership to `to`. Proposals are dropped until the transfer finishes or times out. */
  transferLeader(to: MemberId): void {
    this.raft.transferLeader(to);
  }

  /**
   * With asyncStorageWrites: this member's log is durable up to entry
   * (index, term) — the last entry of the write that landed. A report whose
   * entry has since been replaced by a newer leader's append is ignored.
   */
  reportDurable(index: number, term: number): void {
    this.raft.reportDurable(index, term);
  }

  reportSnapshot(id: MemberId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  reportUnreachable(id: MemberId): void {
    this.raft.reportUnreachable(id);
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.unstable.snapshot !== undefined) return true;
    if (r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  /** Everything to persist, send and apply since the last Ready. Call advance(rd) when done. */
  ready(): Ready {
    assert(!this.readyOutstanding, 'ready() called again before advance()');
    const r = this.raft;
    const rd: Ready = {
      entries: [...r.raftLog.unstableEntries()],
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) {
      assert(hs.term >= this.prevHardState.term, `term went back from ${this.prevHardState.term} to ${hs.term}`);
      assert(hs.commit >= this.prevHardState.commit, `commit went back from ${this.prevHardState.commit} to ${hs.commit}`);
      rd.hardState = hs;
    }
    if (r.raftLog.unstable.snapshot !== undefined) rd.snapshot = r.raftLog.unstable.snapshot;
    // A vote or term must survive a crash (else we could vote twice in a
    // term); entries must too (we may have acknowledged them). A commit index
    // alone can be recomputed from the leader, so it needs no fsync.
    rd.mustSync =
      rd.entries.length > 0 ||
      rd.snapshot !== undefined ||
      hs.term !== this.prevHardState.term ||
      hs.vote !== this.prevHardState.vote;
    r.msgs = [];
    r.readStates = [];
    this.readyCommit = hs.commit;
    this.readyOutstanding = true;
    return rd;
  }

  /**
   * Heartbeats and heartbeat responses generated since the last ready(),
   * removed from the next Ready so the driver can send them NOW, while a slow
   * fsync holds that Ready back. Neither claims anything durable: a
   * heartbeatResp only says "I hear you", and a heartbeat's commit is cut to
   * the commit of the last Ready handed out — a value whose messages were
   * already allowed out (rule 2), so it never counts the leader's own
   * entries that are still being written. This is what keeps a leader whose
   * disk takes seconds to fsync in office: followers keep hearing it, and it
   * keeps hearing them (check-quorum). Everything else waits for the Ready.
   */
  takeUrgentMessages(): Message[] {
    const r = this.raft;
    if (r.msgs.length === 0) return [];
    const urgent: Message[] = [];
    const rest: Message[] = [];
    for (const m of r.msgs) {
      if (m.type === 'heartbeat') urgent.push(m.commit > this.readyCommit ? { ...m, commit: this.readyCommit } : m);
      else if (m.type === 'heartbeatResp') urgent.push(m);
      else rest.push(m);
    }
    if (urgent.length > 0) r.msgs = rest;
    return urgent;
  }

  /** The driver finished with rd: its entries are durable and its committed entries applied. */
  advance(rd: Ready): void {
    assert(this.readyOutstanding, 'advance() without ready()');
    this.readyOutstanding = false;
    const r = this.raft;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.raftLog.appliedTo(lastCommitted.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== undefined) {
      r.raftLog.stableSnapTo(rd.snapshot.meta.index);
      // The state machine now reflects the snapshot.
      if (r.raftLog.applied < rd.snapshot.meta.index) r.raftLog.applied = rd.snapshot.meta.index;
    }
    assert(r.raftLog.applied <= r.raftLog.committed, 'applied beyond committed');
    assert(r.raftLog.committed <= r.raftLog.lastIndex(), 'committed beyond lastIndex');
  }

  status(): Status {
    const r = this.raft;
    const s: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      lead: r.lead,
      role: r.role,
      voters: r.voters(),
      leadTransferee: r.leadTransferee,
    };
    if (r.role === 'leader') {
      const progress: Record<MemberId, ProgressStatus> = {};
      for (const [id, pr] of r.prs) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count(),
        };
      }
      s.progress = progress;
    }
    return s;
  }
}
