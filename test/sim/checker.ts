// The invariants, checked after every simulation event. Each check is
// incremental (it looks only at what changed) so that checking after every
// event stays cheap enough for a million events per CI run.
//
//   election safety      at most one leader per term, ever
//   log matching         an (index, term) names one entry, and one predecessor
//                        term; by induction, logs that share an (index, term)
//                        share everything before it
//   leader completeness  a new leader of term T holds every entry known
//                        committed in a term before T
//   commit agreement     every member that commits index i committed the same
//                        term there (the committed prefix is one history)
//   state-machine safety no two members apply different entries at an index:
//                        the hash chain after index i is the same everywhere,
//                        snapshots included
//   monotonic commit     within a life the commit index never goes back; on
//                        disk the durable commit never goes back; a restart
//                        resumes from the durable commit
//   ordering             applied <= committed <= last index
//   durability           (the Ready contract's "persist before"; checked against
//                        what each disk would give back after a crash now,
//                        disk.ts's durable view, unless turned off)
//                        a granted vote is durable; an accepted append is
//                        durable up to the index it acknowledges; a leader's
//                        term is durable before it sends in it; an entry is
//                        applied only once durable locally; with
//                        asyncStorageWrites, a leader's commit index names an
//                        entry durable on a majority of its voters
//
// "Known committed" is what a member's Ready said was committed once that
// Ready was done (durable): the leader counts its own entries before its
// write finishes, so its in-memory commit index alone proves nothing yet.
// The term of that Ready's hard state bounds the term the entry was
// committed in: a stale candidate that collects old votes after a pause may
// still lead an old term, and need not hold what later terms committed.

import type { Entry, MemberId, Message } from '../../core-server/raft/types.js';
import type { SimMember } from './member.js';

export class Violation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

interface Track {
  incarnation: number;
  /** In-memory commit index last seen in this life. */
  commitSeen: number;
  /** Commit agreement has been checked up to here. */
  checkedCommit: number;
  unstableRef: readonly Entry[] | undefined;
  /** Leader of (term) already checked for completeness. */
  leaderTerm: number;
  /** A leader's commit index has been checked for durable copies up to here. */
  durableCommitChecked: number;
}

const decoder = new TextDecoder();
const sigCache = new WeakMap<Entry, string>();

function sig(e: Entry): string {
  let s = sigCache.get(e);
  if (s === undefined) {
    s = `${e.type}|${decoder.decode(e.data)}`;
    sigCache.set(e, s);
  }
  return s;
}

/** A numeric key for (index, term); terms stay far below a million in a run. */
function key(index: number, term: number): number {
  return index * 1_000_000 + term;
}

export class Checker {
  /** term → the member that led it. */
  readonly leaders = new Map<number, MemberId>();
  private readonly entryAt = new Map<number, { sig: string; prevTerm: number | undefined; by: MemberId }>();
  /** index → term of the entry known committed there, and the lowest term in which its commit was seen. */
  private readonly committed = new Map<number, { term: number; seenInTerm: number }>();
  committedMax = 0;
  private readonly hashAt = new Map<number, number>();
  /** Highest index applied anywhere: a read started now must see at least this. */
  appliedMax = 0;
  private readonly track = new Map<MemberId, Track>();

  private fail(invariant: string, detail: string): never {
    throw new Violation(invariant, detail);
  }

  /** A member (re)started from its disk: check what it recovered against history. */
  started(m: SimMember): void {
    const log = m.raw.raft.raftLog;
    const t: Track = { incarnation: m.incarnation, commitSeen: log.committed, checkedCommit: 0, unstableRef: undefined, leaderTerm: 0, durableCommitChecked: log.committed };
    this.track.set(m.id, t);
    // Every entry of the recovered log must fit the history (a replay that
    // keeps stale entries after a snapshot would break log matching here).
    const lo = log.firstIndex();
    const ents = log.slice(lo, log.lastIndex() + 1, Infinity);
    if (ents === 'compacted') this.fail('restart', `${m.id}: recovered log unreadable from ${lo}`);
    for (const e of ents) this.logEntry(m, e);
    this.commitAgreement(m, t, log.committed, m.raw.raft.term);
  }

  /** After every event: the cheap, whole-cluster checks. */
  afterEvent(members: Iterable<SimMember>): void {
    for (const m of members) {
      if (!m.alive) continue;
      const r = m.raw.raft;
      const log = r.raftLog;
      const t = this.track.get(m.id);
      if (t === undefined || t.incarnation !== m.incarnation) this.fail('checker', `${m.id} runs without started()`);
      if (r.role === 'leader' && t.leaderTerm !== r.term) {
        t.leaderTerm = r.term;
        this.newLeader(m);
      }
      if (log.committed < t.commitSeen) this.fail('monotonic commit', `${m.id}: commit went back ${t.commitSeen} → ${log.committed}`);
      t.commitSeen = log.committed;
      const last = log.lastIndex();
      if (log.applied > log.committed) this.fail('ordering', `${m.id}: applied ${log.applied} > committed ${log.committed}`);
      if (log.committed > last) this.fail('ordering', `${m.id}: committed ${log.committed} > last index ${last}`);
      if (m.appliedIndex > log.committed) this.fail('ordering', `${m.id}: state machine at ${m.appliedIndex} > committed ${log.committed}`);
      const u = log.unstable.entries;
      if (u !== t.unstableRef) {
        t.unstableRef = u;
        for (const e of u) this.logEntry(m, e);
      }
    }
  }

  private logEntry(m: SimMember, e: Entry): void {
    const prevTerm = m.raw.raft.raftLog.term(e.index - 1);
    const k = key(e.index, e.term);
    const seen = this.entryAt.get(k);
    if (seen === undefined) {
      this.entryAt.set(k, { sig: sig(e), prevTerm, by: m.id });
      return;
    }
    if (seen.sig !== sig(e)) {
      this.fail('log matching', `${m.id} holds (${e.index}, term ${e.term}) = ${sig(e)} but ${seen.by} held ${seen.sig}`);
    }
    if (prevTerm !== undefined) {
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      else if (seen.prevTerm !== prevTerm) {
        this.fail(
          'log matching',
          `${m.id} holds (${e.index}, term ${e.term}) after term ${prevTerm} at ${e.index - 1}, but ${seen.by} held it after term ${seen.prevTerm}`,
        );
      }
    }
  }

  private newLeader(m: SimMember): void {
    const r = m.raw.raft;
    const prev = this.leaders.get(r.term);
    if (prev !== undefined && prev !== m.id) this.fail('election safety', `${prev} and ${m.id} both lead term ${r.term}`);
    this.leaders.set(r.term, m.id);
    const log = r.raftLog;
    for (let i = Math.max(1, log.firstIndex() - 1); i <= this.committedMax; i++) {
      const want = this.committed.get(i);
      if (want === undefined || want.seenInTerm >= r.term) continue;
      const got = log.term(i);
      if (got !== want.term) {
        this.fail(
          'leader completeness',
          `${m.id} leads term ${r.term} with term ${got ?? 'none'} at ${i}, where term ${want.term} was committed by term ${want.seenInTerm}`,
        );
      }
    }
  }

  /** A member's Ready is done (durable): the commit its hard state named (at `term`) is committed. */
  finished(m: SimMember, commit: number, term: number): void {
    const t = this.track.get(m.id)!;
    this.commitAgreement(m, t, commit, term);
  }

  private commitAgreement(m: SimMember, t: Track, commit: number, seenInTerm: number): void {
    if (commit <= t.checkedCommit) return;
    const log = m.raw.raft.raftLog;
    for (let i = Math.max(t.checkedCommit + 1, log.firstIndex() - 1); i <= commit; i++) {
      const term = log.term(i);
      if (term === undefined) continue;
      const want = this.committed.get(i);
      if (want === undefined) this.committed.set(i, { term, seenInTerm });
      else if (want.term !== term) this.fail('commit agreement', `${m.id} committed term ${term} at ${i}, another member term ${want.term}`);
      else if (seenInTerm < want.seenInTerm) want.seenInTerm = seenInTerm;
    }
    t.checkedCommit = commit;
    if (commit > this.committedMax) this.committedMax = commit;
  }

  /** A message leaves `m`: what it claims must already be durable on m's disk. */
  sent(m: SimMember, msg: Message): void {
    const d = m.disk;
    if (msg.type === 'voteResp') {
      if (msg.reject) return;
      const hs = d.durableHardState;
      if (hs !== undefined && (hs.term > msg.term || (hs.term === msg.term && hs.vote === msg.to))) return;
      this.fail('durability', `${m.id} grants ${msg.to} its vote in term ${msg.term}, but its durable hard state is ${hs === undefined ? 'none' : `term ${hs.term} vote ${hs.vote || '-'}`}`);
    } else if (msg.type === 'appResp') {
      // An ack made in an older term may go out after a newer leader overwrote
      // what it acknowledged (test/sim seed 158, ready driver): it was durable
      // before any later vote, which is all Raft needs. Only current acks are checked.
      if (msg.reject || msg.index === 0 || msg.term !== m.raw.raft.term || d.holdsUpTo(msg.index)) return;
      this.fail('durability', `${m.id} acknowledges ${msg.to}'s entries up to ${msg.index} before they are durable`);
    } else if (msg.type === 'app' || msg.type === 'heartbeat' || msg.type === 'snap' || msg.type === 'timeoutNow') {
      const term = d.durableHardState?.term ?? 0;
      if (term >= msg.term) return;
      this.fail('durability', `${m.id} sends ${msg.type} in term ${msg.term} before that term is durable (durable term ${term})`);
    }
  }

  /** `m` applies `e`: it must be durable in m's own log (or under a durable snapshot). */
  appliedDurable(m: SimMember, e: Entry): void {
    if (!m.disk.holds(e.index, e.term)) this.fail('durability', `${m.id} applies (${e.index}, term ${e.term}) before it is durable there`);
  }

  /**
   * asyncStorageWrites: whenever a leader's commit index moves, the entry it
   * names must be durable on a majority of the leader's voters. Checked
   * right after the Raft input that moved it, before the driver applies
   * anything (applying a conf change changes the voters).
   */
  durableCommit(m: SimMember, member: (id: MemberId) => SimMember | undefined): void {
    const t = this.track.get(m.id);
    if (t === undefined) return;
    const r = m.raw.raft;
    const c = r.raftLog.committed;
    if (c <= t.durableCommitChecked) return;
    t.durableCommitChecked = c;
    if (r.role !== 'leader') return;
    const term = r.raftLog.term(c);
    if (term === undefined) this.fail('durability', `${m.id} commits ${c}, a compacted index`);
    const voters = r.voters();
    const holders = voters.filter((id) => member(id)?.disk.holds(c, term) === true);
    if (holders.length >= Math.floor(voters.length / 2) + 1) return;
    this.fail(
      'durability',
      `leader ${m.id} (term ${r.term}) commits (${c}, term ${term}) but it is durable only on ${holders.join(',') || 'none'} of ${voters.join(',')}`,
    );
  }

  applied(m: SimMember, e: Entry, hash: number): void {
    const want = this.hashAt.get(e.index);
    if (want === undefined) this.hashAt.set(e.index, hash);
    else if (want !== hash) this.fail('state-machine safety', `${m.id} applied ${sig(e)} (term ${e.term}) at ${e.index}, and its history differs from another member's there`);
    if (e.index > this.appliedMax) this.appliedMax = e.index;
  }

  snapshotInstalled(m: SimMember, index: number, hash: number): void {
    const want = this.hashAt.get(index);
    if (want === undefined) this.fail('state-machine safety', `${m.id} installed a snapshot at ${index}, an index nobody applied`);
    if (want !== hash) this.fail('state-machine safety', `${m.id} installed a snapshot at ${index} whose state differs from what was applied there`);
  }

  /** The state hash every member must have after applying `index` (undefined if nobody applied it). */
  hashAfter(index: number): number | undefined {
    return this.hashAt.get(index);
  }

  termCommittedAt(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }
}
