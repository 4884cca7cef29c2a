// The Raft consensus state machine, after etcd-io/raft's raft.go. Pure: it
// never reads a clock, a disk or a socket. Time arrives as tick(), network
// input as step(msg); output accumulates in `msgs` and `readStates` and in
// the log's unstable part, which RawNode hands to the driver as a Ready.
//
// Roles are swapped step and tick functions (stepLeader, stepCandidate,
// stepFollower; tickElection, tickHeartbeat), so each role's rules sit in
// one place. step() first handles what is common to all roles: comparing
// the message term with ours, and votes.

import { assert } from './assert.js';
import { applyToVoters, decodeConfChange, encodeConfChange } from './conf-change.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { committedIndex, voteResult, type VoteResult } from './quorum.js';
import { ReadOnly, type ReadIndexRequest } from './read-only.js';
import type { Rng } from './rng.js';
import type { Storage } from './storage.js';
import {
  NONE,
  entriesBytes,
  type AppMsg,
  type AppRespMsg,
  type ConfChange,
  type Entry,
  type HardState,
  type HeartbeatMsg,
  type MemberId,
  type Message,
  type ProposeResult,
  type ReadState,
  type Role,
  type SnapMsg,
  type Snapshot,
  type SoftState,
} from './types.js';

export interface RaftConfig {
  /** This member's id (non-empty). */
  id: MemberId;
  /** Log store the driver fills; its initial state gives term, vote, commit and voters. */
  storage: Storage;
  /** A follower that hears no leader for [electionTicks, electionTicks + electionJitterTicks) ticks campaigns. */
  electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks ticks; must be < electionTicks. */
  heartbeatTicks: number;
  /** Seeded randomness for election jitter. */
  rng: Rng;
  /**
   * Range of the random ticks added to electionTicks, so members time out
   * at different moments. Default electionTicks, etcd's [E, 2E). A smaller
   * range bounds failover tighter at a slightly higher chance of a split vote.
   */
  electionJitterTicks?: number;
  /** Last index the state machine applied before a restart (entries after it are handed out again). */
  applied?: number;
  /** Bytes of entries per append message (at least one entry is always sent). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Unacknowledged appends per follower while pipelining. Default 256. */
  maxInflightMsgs?: number;
  /** Unacknowledged bytes per follower; 0 means no byte limit. Default 0. */
  maxInflightBytes?: number;
  /** Bytes of committed entries per Ready. Default 64 MiB. */
  maxCommittedSizePerReady?: number;
  /** Campaign in two phases so a member that was cut off cannot inflate terms on rejoining. Default true. */
  preVote?: boolean;
  /** Leader steps down without a quorum; followers with a live leader ignore votes (leader lease). Default true. */
  checkQuorum?: boolean;
  /**
   * The driver makes each Ready durable in the background and takes the
   * next Ready before the write finishes (write pipelining). The leader then
   * counts its own log in the quorum only up to what the driver has reported
   * durable (reportDurable), never at append: a commit index it announces
   * always stands on a majority of durable copies, itself included.
   * Default false: the leader counts itself at append (Raft thesis
   * §10.2.1), which is safe only for a driver that persists one Ready
   * before taking the next.
   */
  asyncStorageWrites?: boolean;
}

type CampaignType = 'preElection' | 'election' | 'transfer';

export class Raft {
  readonly id: MemberId;
  term = 0;
  vote: MemberId = NONE;
  lead: MemberId = NONE;
  role: Role = 'follower';
  readonly raftLog: RaftLog;
  /** Progress of every voter, self included. Keys are the voter set. */
  prs = new Map<MemberId, Progress>();
  /** Outbound messages since the last Ready. */
  msgs: Message[] = [];
  /** Reads confirmed since the last Ready. */
  readStates: ReadState[] = [];

  private readonly electionTicks: number;
  private readonly electionJitterTicks: number;
  private readonly heartbeatTicks: number;
  private randomizedElectionTicks = 0;
  /** Ticks since the last election timeout reset (follower/candidate) or check-quorum window (leader). */
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private readonly rng: Rng;
  private readonly maxMsgBytes: number;
  private readonly maxInflightMsgs: number;
  private readonly maxInflightBytes: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly asyncStorageWrites: boolean;

  private votes = new Map<MemberId, boolean>();
  /** The member we are handing leadership to, or NONE. */
  leadTransferee: MemberId = NONE;
  /** Index of the latest conf change proposed; another may be proposed only once it is applied. */
  pendingConfIndex = 0;
  private readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this term's first commit; answered after it. */
  private pendingReadIndex: ReadIndexRequest[] = [];

  private stepFn: (m: Message) => void;
  private tickFn: () => void;

  constructor(c: RaftConfig) {
    assert(c.id !== NONE, 'raft: id must not be empty');
    assert(c.heartbeatTicks > 0, 'heartbeatTicks must be positive');
    assert(c.electionTicks > c.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
    this.id = c.id;
    this.electionTicks = c.electionTicks;
    this.electionJitterTicks = c.electionJitterTicks ?? c.electionTicks;
    assert(Number.isInteger(this.electionJitterTicks) && this.electionJitterTicks >= 1, 'electionJitterTicks must be a positive integer');
    this.heartbeatTicks = c.heartbeatTicks;
    this.rng = c.rng;
    this.maxMsgBytes = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflightMsgs = c.maxInflightMsgs ?? 256;
    this.maxInflightBytes = c.maxInflightBytes ?? 0;
    this.preVote = c.preVote ?? true;
    this.checkQuorum = c.checkQuorum ?? true;
    this.asyncStorageWrites = c.asyncStorageWrites ?? false;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? 64 * 1024 * 1024);

    const { hardState, voters } = c.storage.initialState();
    for (const id of voters) this.prs.set(id, this.newProgress());
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadHardState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);

    this.stepFn = this.stepFollower;
    this.tickFn = this.tickElection;
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- state

  voters(): MemberId[] {
    return [...this.prs.keys()].sort();
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadHardState(hs: HardState): void {
    assert(hs.commit <= this.raftLog.lastIndex(), `hard state commit ${hs.commit} beyond lastIndex ${this.raftLog.lastIndex()}`);
    // The commit index may trail the storage's snapshot: a commit-only hard
    // state is written without fsync (mustSync is false), and a snapshot
    // file is made durable on its own, so a crash can keep the snapshot and
    // lose the newer commit. A snapshot holds only committed entries, so its
    // index is committed by definition (RaftLog starts there): keep the
    // higher of the two. (etcd instead picks an older snapshot, #10219.)
    this.raftLog.committed = Math.max(hs.commit, this.raftLog.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Only a voter may campaign; a removed member (or one not yet added) never does. */
  promotable(): boolean {
    return this.prs.has(this.id);
  }

  private newProgress(): Progress {
    return new Progress(this.raftLog.lastIndex() + 1, this.maxInflightMsgs, this.maxInflightBytes);
  }

  private quorumCommitted(): number {
    return committedIndex(this.voters(), (id) => this.prs.get(id)?.match);
  }

  private poll(id: MemberId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters(), this.votes);
  }

  private send(m: Message): void {
    assert(m.from === this.id, 'send: from must be self');
    this.msgs.push(m);
  }

  // ---------------------------------------------------------------- role changes

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `term going back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.votes = new Map();
    const lastIndex = this.raftLog.lastIndex();
    for (const id of this.prs.keys()) {
      const pr = this.newProgress();
      if (id === this.id) pr.match = this.asyncStorageWrites ? Math.min(lastIndex, this.raftLog.durable) : lastIndex;
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndex = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTicks = this.electionTicks + this.rng.nextInt(this.electionJitterTicks);
  }

  becomeFollower(term: number, lead: MemberId): void {
    this.stepFn = this.stepFollower;
    this.tickFn = this.tickElection;
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become pre-candidate');
    // Neither term nor vote changes: a pre-election is a dry run that must
    // not disturb anyone if it fails.
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
    this.votes = new Map();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become candidate');
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `becomeLeader from ${this.role}`);
    this.stepFn = this.stepLeader;
    this.tickFn = this.tickHeartbeat;
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.prs.get(this.id);
    assert(self !== undefined, 'leader must be a voter');
    self.becomeReplicate();
    self.recentActive = true;
    // The no-op: entries of older terms commit only once an entry of this
    // term does (Raft §5.4.2), so append one right away.
    const noop = this.appendEntries([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]);
    // No conf change until the no-op is applied: an unapplied change of an
    // earlier term may sit in the log, and a single-server change proposed
    // before this term's first commit is unsafe (Ongaro's 2015 fix to
    // single-server membership changes). etcd waits only for the entries
    // before the no-op; waiting for the no-op itself is what that fix needs.
    this.pendingConfIndex = noop.index;
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    this.tickFn();
  }

  private tickElection = (): void => {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.hup('normal');
    }
  };

  private tickHeartbeat = (): void => {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.checkQuorumActive();
      // A transfer that has not finished within an election timeout has failed: take proposals again.
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  };

  /** Leader: step down unless a quorum was heard from since the last check. */
  private checkQuorumActive(): void {
    let active = 0;
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.recentActive) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    if (active < Math.floor(this.prs.size / 2) + 1) this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- elections

  /** Start an election unless we cannot or should not. */
  hup(kind: 'normal' | 'transfer'): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    // A committed, unapplied conf change may remove us or change the quorum:
    // wait until the driver applied it.
    if (this.hasUnappliedConfChanges()) return;
    if (kind === 'transfer') this.campaign('transfer');
    else this.campaign(this.preVote ? 'preElection' : 'election');
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, Infinity);
    if (ents === 'compacted') return false;
    return ents.some((e) => e.type === 'confChange');
  }

  private campaign(t: CampaignType): void {
    let term: number;
    let type: 'preVote' | 'vote';
    if (t === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      // Ask at the term we would campaign at; our own term stays put.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins at once.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.raftLog.lastIndex();
    const logTerm = this.raftLog.lastTerm();
    for (const id of this.voters()) {
      if (id === this.id) continue;
      if (type === 'preVote') this.send({ type, from: this.id, to: id, term, index, logTerm });
      else this.send({ type, from: this.id, to: id, term, index, logTerm, transfer: t === 'transfer' });
    }
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.term === 0) {
      // Only a forwarded readIndex travels without a term: it is a request,
      // not a term signal. Anything else without a term is malformed input
      // from the network, not a broken invariant here: drop it.
      if (m.type !== 'readIndex') return;
    } else if (m.term > this.term) {
      if (m.type === 'preVote' || m.type === 'vote') {
        const force = m.type === 'vote' && m.transfer;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        // Leader lease: we heard from a live leader within an election
        // timeout, so this candidate is out of date or was cut off; neither
        // our term nor our vote moves.
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // Never change term on a pre-vote request.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted pre-vote carries the term we asked at; the bump happens when we really campaign.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader cut off by a partition. Tell it our term so it steps
        // down; otherwise with pre-vote/check-quorum the cluster could keep
        // a member that never raises its term and never rejoins.
        this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      // Everything else from an older term is ignored.
      return;
    }

    if (m.type === 'preVote' || m.type === 'vote') {
      // We can grant: a repeat of our vote; or we have no vote and no leader
      // in this term; or a pre-vote for a future term.
      const canVote =
        this.vote === m.from ||
        (this.vote === NONE && this.lead === NONE) ||
        (m.type === 'preVote' && m.term > this.term);
      const respType = m.type === 'preVote' ? 'preVoteResp' : 'voteResp';
      if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
        // Answer at the message's term: a pre-candidate counts only answers for the term it asked at.
        this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
        if (m.type === 'vote') {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }
    this.stepFn(m);
  }

  private stepLeader = (m: Message): void => {
    switch (m.type) {
      case 'readIndex':
        this.leaderReadIndex({ from: m.from, context: m.context });
        return;
      case 'transferLeader':
        this.leaderTransfer(m.transferee);
        return;
      default:
        break;
    }
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        this.handleAppResp(m, pr);
        return;
      case 'heartbeatResp': {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.match < this.raftLog.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
        if (m.context === '') return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === undefined) return;
        if (voteResult(this.voters(), acks) !== 'won') return;
        for (const rs of this.readOnly.advance(m.context)) this.answerReadIndex(rs.req, rs.index);
        return;
      }
      default:
        // Votes for our own term were answered in step(); everything else is for other roles.
        return;
    }
  };

  private handleAppResp(m: AppRespMsg, pr: Progress): void {
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) {
        // Skip past every entry of ours whose term is above the follower's
        // term at the hint: none of them can match.
        nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      }
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The snapshot landed (or the follower caught up otherwise): resume appends.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Keep the pipeline full: send while the window allows and there is something to send.
    while (this.maybeSendAppend(m.from, false)) {
      // loop
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private stepCandidate = (m: Message): void => {
    const myRespType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'preVoteResp':
      case 'voteResp': {
        if (m.type !== myRespType) return;
        const res = this.poll(m.from, !m.reject);
        if (res === 'won') {
          if (!this.promotable()) {
            // Removed while campaigning: a non-voter must not lead.
            this.becomeFollower(this.term, NONE);
          } else if (this.role === 'preCandidate') {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          // A pre-candidate never changed term; a candidate keeps its new one.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        // timeoutNow: we are already campaigning. readIndex: no leader to ask.
        return;
    }
  };

  private stepFollower = (m: Message): void => {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transferLeader':
        if (this.lead === NONE) return;
        this.send({ type: 'transferLeader', from: this.id, to: this.lead, term: this.term, transferee: m.transferee });
        return;
      case 'timeoutNow':
        // The leader brought us up to date and stepped aside: campaign now,
        // skipping pre-vote and the lease, which would otherwise stop us.
        this.hup('transfer');
        return;
      case 'readIndex':
        if (this.lead === NONE) return;
        this.send({ type: 'readIndex', from: this.id, to: this.lead, term: 0, context: m.context });
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        return;
    }
  };

  // ---------------------------------------------------------------- follower handlers

  private handleAppend(m: AppMsg): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit index is settled; say how far we are.
      this.sendAppResp(m.from, this.raftLog.committed);
      return;
    }
    const last = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.sendAppResp(m.from, last);
      return;
    }
    // Consistency check failed: hint the largest index that may match, with its term.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp',
      from: this.id,
      to: m.from,
      term: this.term,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private sendAppResp(to: MemberId, index: number): void {
    this.send({ type: 'appResp', from: this.id, to, term: this.term, index, reject: false, rejectHint: 0, logTerm: 0 });
  }

  private handleHeartbeat(m: HeartbeatMsg): void {
    this.raftLog.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: SnapMsg): void {
    if (this.restore(m.snapshot)) {
      this.sendAppResp(m.from, this.raftLog.lastIndex());
    } else {
      this.sendAppResp(m.from, this.raftLog.committed);
    }
  }

  /** Installs a snapshot from the leader; false if it tells us nothing new. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.role !== 'follower') {
      // Only a follower receives snapshots; anything else is a bug upstream.
      // Step down defensively rather than install (as etcd does).
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // We hold that entry already: just commit up to it, keeping the log after it.
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new Map();
    for (const id of s.meta.voters) this.prs.set(id, this.newProgress());
    const self = this.prs.get(this.id);
    if (self) self.match = this.raftLog.lastIndex();
    return true;
  }

  // ---------------------------------------------------------------- leader: replication

  /** Appends entries to our log, stamping term and index; the leader acks them itself. */
  private appendEntries(es: Entry[]): { index: number; term: number } {
    let li = this.raftLog.lastIndex();
    const stamped = es.map((e, i) => ({ ...e, term: this.term, index: li + 1 + i }));
    li = this.raftLog.append(stamped);
    if (!this.asyncStorageWrites) {
      // The leader counts itself before its disk write finishes (Raft thesis
      // §10.2.1): safe because the driver persists a Ready's entries before it
      // applies committed entries or steps the next message, so nothing this
      // ack enables can take effect before the write is durable.
      this.prs.get(this.id)!.maybeUpdate(li);
      this.maybeCommit();
    }
    return { index: li, term: this.term };
  }

  /**
   * asyncStorageWrites: this member's log is durable up to entry (index,
   * term). On the leader that is its own vote in the quorum; a commit it
   * enables is broadcast at once.
   *
   * The term tells a stale report apart: if a newer leader's append
   * replaced the entry at `index` after it was handed to the disk, what
   * landed is not what the log holds now, and nothing is learnt (as in
   * Unstable.stableTo). Without it, a member whose log was overwritten would
   * count the new entries as durable once it led (test/sim seed 34).
   */
  reportDurable(index: number, term: number): void {
    assert(this.asyncStorageWrites, 'reportDurable needs asyncStorageWrites');
    if (!this.raftLog.matchTerm(index, term)) return;
    if (index > this.raftLog.durable) this.raftLog.durable = index;
    if (this.role !== 'leader') return;
    const self = this.prs.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(Math.min(this.raftLog.durable, this.raftLog.lastIndex())) && this.maybeCommit()) {
      this.releasePendingReadIndex();
      this.bcastAppend();
    }
  }

  private maybeCommit(): boolean {
    const before = this.raftLog.committed;
    const mci = this.quorumCommitted();
    if (!Number.isFinite(mci)) return false;
    const ok = this.raftLog.maybeCommit(mci, this.term);
    assert(this.raftLog.committed >= before, 'commit index went back');
    return ok;
  }

  sendAppend(to: MemberId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends an append (or a snapshot) to `to` if its progress allows. With
   * sendIfEmpty false, an append with no entries is not sent. Returns whether
   * a message went out.
   */
  private maybeSendAppend(to: MemberId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (pr === undefined || to === this.id) return false;
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | 'compacted' = [];
    if (pr.state !== 'replicate' || !pr.inflights.full()) ents = this.raftLog.entries(pr.next, this.maxMsgBytes);
    if (ents !== 'compacted' && ents.length === 0 && !sendIfEmpty) return false;

    if (prevTerm === undefined || ents === 'compacted') {
      // What the follower needs is compacted away: send a snapshot. Not to a
      // member we have not heard from lately: it is likely down and a
      // snapshot is expensive.
      if (!pr.recentActive) return false;
      const snapshot = this.raftLog.snapshot();
      assert(snapshot.meta.index > 0, 'need a snapshot but storage has none');
      pr.becomeSnapshot(snapshot.meta.index);
      this.send({ type: 'snap', from: this.id, to, term: this.term, snapshot });
      return true;
    }
    this.send({
      type: 'app',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    pr.sentEntries(ents.length, entriesBytes(ents));
    return true;
  }

  bcastAppend(): void {
    for (const id of this.voters()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(context: string): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(pr.match, this.raftLog.committed);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  // ---------------------------------------------------------------- leader: proposals

  propose(entries: Entry[]): ProposeResult {
    if (this.role !== 'leader') return { ok: false, code: 'ERR_PROPOSAL_DROPPED' };
    // During a transfer new entries would only delay the target catching up.
    if (this.leadTransferee !== NONE) return { ok: false, code: 'ERR_PROPOSAL_DROPPED' };
    if (!this.prs.has(this.id)) return { ok: false, code: 'ERR_PROPOSAL_DROPPED' };
    for (const e of entries) {
      if (e.type !== 'confChange') continue;
      // One voter at a time: a new change only once the previous one is applied,
      // so the two configurations any two majorities come from overlap.
      if (this.pendingConfIndex > this.raftLog.applied) return { ok: false, code: 'ERR_CONF_CHANGE_PENDING' };
    }
    const res = this.appendEntries(entries);
    if (entries.some((e) => e.type === 'confChange')) this.pendingConfIndex = res.index;
    this.bcastAppend();
    return { ok: true, index: res.index, term: res.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.propose([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }]);
  }

  // ---------------------------------------------------------------- reads

  /** A local ReadIndex request; its ReadState appears in a later Ready. */
  readIndex(context: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex({ from: this.id, context });
    } else if (this.role === 'follower' && this.lead !== NONE) {
      this.send({ type: 'readIndex', from: this.id, to: this.lead, term: 0, context });
    }
    // Candidates know no leader: the read is dropped, the caller retries.
  }

  private leaderReadIndex(req: ReadIndexRequest): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may be behind the cluster's until our no-op commits.
      // Alone too: a member restarted from a commit index older than its log
      // (the commit rides with the next write, see the driver) holds entries
      // it acknowledged above that index, and its no-op commits them.
      this.pendingReadIndex.push(req);
      return;
    }
    if (this.prs.size === 1 && this.prs.has(this.id)) {
      // Alone, we are the quorum: our commit index is current.
      this.answerReadIndex(req, this.raftLog.committed);
      return;
    }
    this.readOnly.addRequest(this.raftLog.committed, req);
    this.readOnly.recvAck(this.id, req.context);
    this.bcastHeartbeatWithCtx(req.context);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const req of pending) this.leaderReadIndex(req);
  }

  private answerReadIndex(req: ReadIndexRequest, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context });
    } else {
      this.send({ type: 'readIndexResp', from: this.id, to: req.from, term: this.term, context: req.context, index });
    }
  }

  // ---------------------------------------------------------------- leader transfer

  /** Local request to hand leadership to `to` (on a follower, forwarded to the leader). */
  transferLeader(to: MemberId): void {
    if (this.role === 'leader') this.leaderTransfer(to);
    else if (this.role === 'follower' && this.lead !== NONE) {
      this.send({ type: 'transferLeader', from: this.id, to: this.lead, term: this.term, transferee: to });
    }
  }

  private leaderTransfer(transferee: MemberId): void {
    if (!this.prs.has(transferee)) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    // The transfer must finish within one election timeout (see tickHeartbeat).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    const pr = this.prs.get(transferee)!;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: MemberId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  // ---------------------------------------------------------------- membership

  /** Applies a committed conf change; the driver calls this when it applies the entry. */
  applyConfChange(cc: ConfChange): MemberId[] {
    const voters = applyToVoters(this.voters(), cc);
    if (cc.type === 'addNode' && !this.prs.has(cc.id)) {
      const pr = this.newProgress();
      // Count a new member as active so check-quorum does not depose the
      // leader before the newcomer had a chance to answer.
      pr.recentActive = true;
      this.prs.set(cc.id, pr);
    } else if (cc.type === 'removeNode' && this.prs.has(cc.id)) {
      this.prs.delete(cc.id);
    }
    if (this.role === 'leader') {
      if (!this.prs.has(this.id)) {
        // We removed ourselves: stop leading; the rest elect a leader among themselves.
        this.becomeFollower(this.term, NONE);
      } else {
        if (this.leadTransferee !== NONE && !this.prs.has(this.leadTransferee)) this.leadTransferee = NONE;
        // A smaller quorum may commit more at once.
        if (this.maybeCommit()) {
          this.releasePendingReadIndex();
          this.bcastAppend();
        } else {
          for (const id of this.voters()) if (id !== this.id) this.maybeSendAppend(id, false);
        }
      }
    }
    return voters;
  }

  /** Decodes a committed confChange entry (for drivers). */
  static decodeConfChange(e: Entry): ConfChange {
    assert(e.type === 'confChange', 'decodeConfChange on a normal entry');
    return decodeConfChange(e.data);
  }

  // ---------------------------------------------------------------- driver feedback

  /** The transport could not deliver a snapshot (or did): unblock the follower's progress. */
  reportSnapshot(id: MemberId, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Probe after the snapshot (on success) or from match (on failure); wait
    // for the follower's answer or the next heartbeat before sending more.
    pr.becomeProbe();
    pr.msgAppFlowPaused = true;
  }

  /** The transport could not reach `id`: stop pipelining to it. */
  reportUnreachable(id: MemberId): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || pr === undefined) return;
    if (pr.state === 'replicate') pr.becomeProbe();
  }
}
