// The deterministic simulator: one seed drives a whole cluster — members,
// virtual clock, network, disks, clients, faults — on one thread. See
// design.md for the picture. A run is:
//
//   1. chaos: `events` events (ticks, deliveries, disk completions, client
//      operations, faults), every invariant checked after each one;
//   2. heal: every fault removed, every crashed member restarted;
//   3. progress: a leader must be elected and a fresh proposal applied on
//      every live voter within HEAL_TICKS_MAX ticks.
//
// Any violation, core assertion or lack of progress throws a SimFailure that
// names the seed and the command replaying it.

import { encodeConfChange } from '../../core-server/raft/conf-change.js';
import type { ConfChange, Entry, HardState, MemberId, Message, ReadState } from '../../core-server/raft/types.js';
import { checkLogMatching } from '../raft/network.js';
import { Checker, Violation } from './checker.js';
import type { DiskLatency, WalReplay } from './disk.js';
import { EventQueue } from './event-queue.js';
import { SimMember, type DriverKind, type MemberEnv, type PipelineMutation, type RaftParams } from './member.js';
import { PipelinedMember } from './pipelined-driver.js';
import { ReadyMember } from './ready-driver.js';
import { SimNetwork, type Envelope } from './net.js';
import { SimRandom } from './random.js';
import { scenarioFor, type FaultKind, type Scenario } from './scenarios.js';

/** Virtual milliseconds per tick (etcd's default heartbeat interval). */
export const TICK_MS = 100;
/** After healing, a fresh proposal must be applied on every live voter within this many ticks. */
export const HEAL_TICKS_MAX = 250;

export interface SimOptions {
  seed: number;
  members: number;
  events: number;
  /** Receives every trace line (replay with --trace). */
  trace?: (line: string) => void;
  /** How disks replay after a crash; 'production' reproduces today's WAL rules (see disk.ts). */
  walReplay?: WalReplay;
  /** Break the driver on purpose (the simulator's own tests): see RaftParams.unsafeSendBeforePersist. */
  unsafeSendBeforePersist?: boolean;
  /** Which sim driver runs the members: one Ready at a time (default), or pipelined like core-server/node/driver.ts. */
  driver?: DriverKind;
  /** Break one rule of the pipelined driver on purpose (design.md measures what is caught). */
  pipelineMutation?: PipelineMutation;
  /**
   * Check the durability rules where they are used (a vote, an ack, an
   * apply, a leader's commit), against what each disk would give back after
   * a crash. Default true; off, only the consequences of breaking them are
   * caught (design.md compares the two).
   */
  durabilityChecks?: boolean;
}

export interface SimStats {
  events: number;
  virtualMs: number;
  crashes: number;
  tornWrites: number;
  lostWrites: number;
  partitions: number;
  clogs: number;
  pauses: number;
  diskStalls: number;
  elections: number;
  commits: number;
  proposals: number;
  acked: number;
  reads: number;
  compactions: number;
  snapshotInstalls: number;
  membershipChanges: number;
  transfers: number;
  messages: number;
  /** Ticks from healing to the fresh proposal applied everywhere. */
  healTicks: number;
}

export function emptyStats(): SimStats {
  return {
    events: 0,
    virtualMs: 0,
    crashes: 0,
    tornWrites: 0,
    lostWrites: 0,
    partitions: 0,
    clogs: 0,
    pauses: 0,
    diskStalls: 0,
    elections: 0,
    commits: 0,
    proposals: 0,
    acked: 0,
    reads: 0,
    compactions: 0,
    snapshotInstalls: 0,
    membershipChanges: 0,
    transfers: 0,
    messages: 0,
    healTicks: 0,
  };
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly members: number,
    readonly events: number,
    readonly scenario: string,
    override readonly cause: unknown,
    readonly driver: DriverKind = 'ready',
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `simulation failed: seed ${seed}, ${members} members, ${events} events (scenario ${scenario}, driver ${driver}): ${why}\n  replay: ${replayCommand(seed, members, events, driver)} --trace`,
    );
  }

  /** The invariant that failed ('core' for a core assertion or any other error). */
  get invariant(): string {
    return this.cause instanceof Violation ? this.cause.invariant : 'core';
  }
}

export function replayCommand(seed: number, members: number, events: number, driver: DriverKind = 'ready'): string {
  return `npm run sim -- --seed ${seed} --members ${members} --events ${events}${driver === 'ready' ? '' : ` --driver ${driver}`}`;
}

type SimEvent =
  | { kind: 'tick'; id: MemberId; inc: number }
  | { kind: 'deliver'; env: Envelope }
  | { kind: 'disk'; id: MemberId; inc: number; token: number }
  /** The pipelined driver's Ready loop, run a moment after the input that scheduled it. */
  | { kind: 'loop'; id: MemberId; inc: number; run: () => void }
  | { kind: 'act'; what: string; run: () => void };

interface Proposal {
  index: number;
  term: number;
  data: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function memberId(n: number): MemberId {
  return `m${n}`;
}

export class Simulation implements MemberEnv {
  readonly seed: number;
  readonly scenario: Scenario;
  private readonly rnd: SimRandom;
  private readonly q = new EventQueue<SimEvent>();
  readonly members = new Map<MemberId, SimMember>();
  readonly checker = new Checker();
  private readonly net: SimNetwork;
  private readonly raftParams: RaftParams;
  private readonly diskLatency: DiskLatency;
  private readonly tickMs = new Map<MemberId, number>();
  private readonly deferred = new Map<MemberId, SimEvent[]>();
  private nextMemberNo: number;
  private phase: 'chaos' | 'heal' = 'chaos';
  private readonly tracer: ((line: string) => void) | undefined;
  /** Proposals in flight, per member life: `${id}/${inc}` → index → proposal. */
  private readonly inflight = new Map<string, Map<number, Proposal>>();
  readonly acked: Proposal[] = [];
  private readonly readFloor = new Map<string, number>();
  private proposalNo = 0;
  private leadersSeen = 0;
  private readNo = 0;
  private snapshotEvery: number;
  /**
   * How a brand-new member learns its configuration. 'voters': its storage
   * starts with the voter set (design.md: a joiner boots with the
   * configuration including itself). 'entries': as core-server/node/driver.ts
   * does — a new cluster's log starts with one committed addNode entry per
   * initial member, and a joiner starts with no voters at all, learning them
   * from the leader.
   */
  readonly bootstrap: 'voters' | 'entries';
  /** Randomness for choices added after seeds were recorded (see the constructor). */
  private readonly extra: SimRandom;
  /**
   * Whether the transport's snapshot reports are sometimes late or wrong:
   * a stream can break after the snapshot arrived (failure reported for a
   * delivered snapshot) and a report can come after later messages.
   */
  private readonly snapshotReportsLie: boolean;
  readonly stats: SimStats = emptyStats();
  readonly driver: DriverKind;
  private readonly durabilityChecks: boolean;
  /** Delays of the pipelined driver's loop events (its own stream: the ready driver draws nothing from it). */
  private readonly loopRnd: SimRandom;

  constructor(private readonly opts: SimOptions) {
    this.driver = opts.driver ?? 'ready';
    this.durabilityChecks = opts.durabilityChecks ?? true;
    this.loopRnd = new SimRandom(opts.seed ^ 0x27d4eb2f);
    this.seed = opts.seed;
    this.scenario = scenarioFor(opts.seed);
    this.rnd = new SimRandom(opts.seed);
    this.tracer = opts.trace;
    const r = this.rnd;
    this.raftParams = { ...this.scenario.raft(r), unsafeSendBeforePersist: opts.unsafeSendBeforePersist === true };
    if (opts.pipelineMutation !== undefined) {
      if (this.driver !== 'pipelined') throw new Error(`mutation ${opts.pipelineMutation} needs the pipelined driver`);
      this.raftParams.pipelineMutation = opts.pipelineMutation;
    }
    // Choices added later draw from their own stream, so earlier seeds keep their runs where they can.
    this.extra = new SimRandom(opts.seed ^ 0x1b873593);
    const timing = this.extra.pick([
      [10, 1],
      [10, 1],
      [10, 2],
      [5, 1],
      [20, 3],
    ] as const);
    this.raftParams.electionTicks = timing[0];
    this.raftParams.heartbeatTicks = timing[1];
    this.snapshotReportsLie = this.extra.chance(0.3);
    // core-server/node/driver.ts times out in [E, 1.5E): narrower jitter, more split votes.
    if (this.extra.chance(0.4)) this.raftParams.electionJitterTicks = Math.max(1, Math.floor(timing[0] / 2));
    this.diskLatency = this.scenario.disk(r);
    this.snapshotEvery = this.scenario.snapshotEvery(r);
    this.net = new SimNetwork(
      r.fork(),
      this.scenario.net(r),
      (env, delayMs) => this.q.after(delayMs, { kind: 'deliver', env }),
      (env, cut) => this.dropped(env, cut),
    );
    // Drawn from its own stream so that adding this choice left the rest of each seed's run as it was.
    this.bootstrap = new SimRandom(opts.seed ^ 0x5bd1e995).chance(0.5) ? 'entries' : 'voters';
    const ids = Array.from({ length: opts.members }, (_, i) => memberId(i + 1));
    this.nextMemberNo = opts.members + 1;
    if (this.bootstrap === 'voters') {
      for (const id of ids) this.createMember(id, ids);
    } else {
      const boot: Entry[] = ids.map((id, i) => ({ term: 1, index: i + 1, type: 'confChange', data: encodeConfChange({ type: 'addNode', id }) }));
      for (const id of ids) {
        this.createMember(id, []).disk.preload([
          ...boot.map((entry) => ({ kind: 'entry' as const, entry })),
          { kind: 'hardState', hardState: { term: 1, vote: '', commit: boot.length } },
        ]);
      }
    }
    this.trace(
      `seed ${opts.seed} scenario ${this.scenario.name} driver ${this.driver} bootstrap ${this.bootstrap} raft ${JSON.stringify(this.raftParams)} net ${JSON.stringify(this.net.params)} disk ${JSON.stringify(this.diskLatency)} snapshotEvery ${this.snapshotEvery}`,
    );
  }

  // ------------------------------------------------------------------ running

  run(): SimStats {
    try {
      for (const m of this.members.values()) this.startMember(m);
      this.scheduleClients();
      this.scheduleFault();
      while (this.stats.events < this.opts.events) this.step();
      this.heal();
      this.requireProgress();
      this.finalChecks();
    } catch (err) {
      throw new SimFailure(this.opts.seed, this.opts.members, this.opts.events, this.scenario.name, err, this.driver);
    }
    this.stats.virtualMs = Math.round(this.q.now);
    this.stats.elections = this.checker.leaders.size;
    this.stats.commits = this.checker.committedMax;
    this.stats.acked = this.acked.length;
    this.stats.messages = this.net.stats.sent;
    return this.stats;
  }

  private step(): void {
    const t = this.q.pop();
    if (t === undefined) throw new Error('the event queue ran dry');
    // A loop event continues the input that scheduled it: it is not counted as one more event.
    if (t.event.kind !== 'loop') this.stats.events++;
    this.dispatch(t.event);
    this.checker.afterEvent(this.members.values());
    if (this.checker.leaders.size !== this.leadersSeen) {
      this.leadersSeen = this.checker.leaders.size;
      this.strikeNewLeader();
    }
  }

  /**
   * The nemesis: moments after a new leader starts taking proposals, strand
   * it (it reaches one peer), cut it off or kill it — so entries of
   * successive terms pile up on different minorities and logs diverge
   * (the ground Raft's figure 8 grows on).
   */
  private strikeNewLeader(): void {
    const p = this.scenario.nemesis ?? 0;
    if (p === 0 || this.phase !== 'chaos' || !this.rnd.chance(p)) return;
    const l = this.leader();
    if (l === undefined) return;
    const term = l.raw.raft.term;
    const kind = this.rnd.pick(['strandLeader', 'isolateLeader', 'crashLeader'] as const);
    this.later(this.rnd.between(5, 150), `nemesis: ${kind} ${l.id} (term ${term})`, () => {
      if (this.phase === 'chaos' && l.alive && l.raw.raft.role === 'leader' && l.raw.raft.term === term) this.inject(kind);
    });
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const m = this.members.get(ev.id)!;
        if (!m.alive || m.incarnation !== ev.inc) return;
        if (this.isPaused(m, ev)) return;
        m.raw.tick();
        m.pump();
        this.scheduleTick(m);
        return;
      }
      case 'deliver': {
        const msg = ev.env.msg;
        const to = this.members.get(msg.to);
        if (to === undefined || !to.alive) {
          this.dropped(ev.env, false);
          return;
        }
        if (this.isPaused(to, ev)) return;
        if (!this.net.arrives(ev.env)) return;
        if (this.tracer) this.trace(`deliver ${describe(msg)}`);
        to.raw.step(msg);
        to.pump();
        if (msg.type === 'snap') this.snapshotReport(ev.env, true);
        return;
      }
      case 'disk': {
        const m = this.members.get(ev.id)!;
        if (!m.alive || m.incarnation !== ev.inc) return;
        if (this.isPaused(m, ev)) return;
        m.diskDone(ev.token);
        return;
      }
      case 'loop': {
        const m = this.members.get(ev.id)!;
        if (!m.alive || m.incarnation !== ev.inc) return;
        if (this.isPaused(m, ev)) return;
        ev.run();
        return;
      }
      case 'act':
        if (this.tracer) this.trace(ev.what);
        ev.run();
        return;
    }
  }

  /**
   * A frozen member's events wait for it, in order, and run when it
   * resumes. Once anything waits, later events wait behind it even if the
   * pause has just ended, so nothing overtakes (disk completions stay FIFO).
   */
  private isPaused(m: SimMember, ev: SimEvent): boolean {
    const waiting = this.deferred.get(m.id)!;
    if (m.pausedUntil <= this.q.now && waiting.length === 0) return false;
    waiting.push(ev);
    return true;
  }

  /** Ends a pause (unless a longer one began meanwhile) and runs what waited, in order. */
  private resume(m: SimMember, force = false): void {
    if (!force && m.pausedUntil > this.q.now) return;
    m.pausedUntil = 0;
    const evs = this.deferred.get(m.id)!;
    this.deferred.set(m.id, []);
    for (const ev of evs) {
      this.dispatch(ev);
      this.checker.afterEvent(this.members.values());
    }
  }

  // ------------------------------------------------------------------ members

  private createMember(id: MemberId, voters: readonly MemberId[]): SimMember {
    const Driver = this.driver === 'pipelined' ? PipelinedMember : ReadyMember;
    const m = new Driver(id, voters, this.raftParams, this.rnd.fork(), { ...this.diskLatency }, this, this.opts.walReplay);
    this.members.set(id, m);
    this.deferred.set(id, []);
    // Clock drift: each member's tick interval is off by up to ±10%.
    this.tickMs.set(id, TICK_MS * this.rnd.between(0.9, 1.1));
    return m;
  }

  private startMember(m: SimMember): void {
    m.start();
    this.checker.started(m);
    this.trace(`start ${m.id} (life ${m.incarnation}) term ${m.raw.raft.term} commit ${m.raw.raft.raftLog.committed} last ${m.raw.raft.raftLog.lastIndex()} applied ${m.appliedIndex}`);
    this.inflight.set(`${m.id}/${m.incarnation}`, new Map());
    this.scheduleTick(m);
    m.pump();
  }

  private scheduleTick(m: SimMember): void {
    // Jitter on top of drift: a tick is never exactly on time.
    const period = this.tickMs.get(m.id)! + this.rnd.between(-3, 3);
    this.q.after(period, { kind: 'tick', id: m.id, inc: m.incarnation });
  }

  private alive(): SimMember[] {
    return [...this.members.values()].filter((m) => m.alive);
  }

  /** The live member that believes it leads at the highest term, if any. */
  private leader(): SimMember | undefined {
    let best: SimMember | undefined;
    for (const m of this.members.values()) {
      if (!m.alive || m.raw.raft.role !== 'leader') continue;
      if (best === undefined || m.raw.raft.term > best.raw.raft.term) best = m;
    }
    return best;
  }

  // ------------------------------------------------------------------ MemberEnv

  now(): number {
    return this.q.now;
  }

  send(from: SimMember, msgs: readonly Message[]): void {
    for (const msg of msgs) {
      if (this.durabilityChecks) this.checker.sent(from, msg);
      // Frozen so that no member can mutate what another one received.
      Object.freeze(msg);
      if (msg.type === 'app') {
        Object.freeze(msg.entries);
        for (const e of msg.entries) Object.freeze(e);
      }
      this.net.send({ msg, fromIncarnation: from.incarnation });
    }
  }

  diskOp(member: SimMember, token: number, doneAt: number): void {
    this.q.at(doneAt, { kind: 'disk', id: member.id, inc: member.incarnation, token });
  }

  loop(member: SimMember, run: () => void): void {
    // setImmediate runs after the I/O callbacks already due: mostly at once,
    // sometimes after a busy turn of the event loop (a burst of requests, a GC).
    const r = this.loopRnd;
    const delayMs = r.chance(0.9) ? r.between(0.005, 0.2) : r.between(0.5, 5);
    this.q.after(delayMs, { kind: 'loop', id: member.id, inc: member.incarnation, run });
  }

  readyTaken(): void {
    // Nothing to check when a Ready is taken: its effects are checked when it is done.
  }

  finished(member: SimMember, hs: HardState | undefined): void {
    if (hs !== undefined) this.checker.finished(member, hs.commit, hs.term);
    if (this.phase === 'chaos' && member.appliedIndex - member.storage.snapshot().meta.index >= this.snapshotEvery) {
      if (member.compact(this.rnd.int(0, 5))) this.stats.compactions++;
    }
  }

  commitMoved(member: SimMember): void {
    // Only with asyncStorageWrites: in Raft's default mode the leader counts itself at append (thesis §10.2.1).
    if (this.driver === 'pipelined' && this.durabilityChecks) this.checker.durableCommit(member, (id) => this.members.get(id));
  }

  applied(member: SimMember, e: Entry, hash: number): void {
    if (this.durabilityChecks) this.checker.appliedDurable(member, e);
    this.checker.applied(member, e, hash);
    const mine = this.inflight.get(`${member.id}/${member.incarnation}`);
    const p = mine?.get(e.index);
    if (p === undefined) return;
    mine!.delete(e.index);
    // Acknowledged to the client only if what was applied there is what was proposed.
    if (p.term === e.term && e.type === 'normal' && decoder.decode(e.data) === p.data) this.acked.push(p);
  }

  snapshotInstalled(member: SimMember, index: number, hash: number): void {
    this.stats.snapshotInstalls++;
    this.trace(`${member.id} installs snapshot at ${index}`);
    this.checker.snapshotInstalled(member, index, hash);
    // Proposals the snapshot jumped over are not seen applied by this member: they stay unacknowledged.
    const mine = this.inflight.get(`${member.id}/${member.incarnation}`);
    if (mine) for (const i of [...mine.keys()]) if (i <= index) mine.delete(i);
  }

  readState(member: SimMember, rs: ReadState): void {
    const floor = this.readFloor.get(rs.requestCtx);
    // A duplicated readIndex request can be answered twice; only known contexts carry a floor.
    if (floor === undefined) return;
    this.stats.reads++;
    if (rs.index < floor) {
      throw new Violation('linearizable read', `${member.id}: read ${rs.requestCtx} at index ${rs.index}, but ${floor} was committed before it was asked`);
    }
  }

  addNode(by: SimMember, cc: ConfChange, voters: MemberId[]): void {
    if (this.members.has(cc.id)) return;
    // Like etcd's `member add` then starting the member with
    // --initial-cluster-state existing: it boots with the configuration that includes it.
    const boot = this.bootstrap === 'voters' ? voters : [];
    this.trace(`${by.id} applied addNode ${cc.id}: starting it with voters [${boot.join(',')}]`);
    const m = this.createMember(cc.id, boot);
    this.startMember(m);
  }

  removedSelf(member: SimMember): void {
    this.trace(`${member.id} applied its own removal and stops`);
  }

  trace(line: string): void {
    if (this.tracer) this.tracer(`${this.q.now.toFixed(1).padStart(9)} #${this.stats.events} ${line}`);
  }

  // ------------------------------------------------------------------ network feedback

  private dropped(env: Envelope, cut: boolean): void {
    const msg = env.msg;
    if (msg.type === 'snap') this.snapshotReport(env, false);
    else if (cut) {
      // The transport's stream to that peer broke: tell Raft, later (never re-enter a Ready loop).
      this.later(0, `unreachable ${msg.from}>${msg.to}`, () => {
        const from = this.members.get(msg.from);
        if (!from?.alive || from.incarnation !== env.fromIncarnation) return;
        from.raw.reportUnreachable(msg.to);
        from.pump();
      });
    }
  }

  private snapshotReport(env: Envelope, delivered: boolean): void {
    const msg = env.msg;
    let ok = delivered;
    let delayMs = 0;
    if (this.snapshotReportsLie) {
      if (delivered && this.extra.chance(0.2)) ok = false;
      if (this.extra.chance(0.3)) delayMs = this.extra.between(1, 300);
    }
    this.later(delayMs, `reportSnapshot ${msg.from}>${msg.to} ${ok ? 'ok' : 'failed'}`, () => {
      const from = this.members.get(msg.from);
      if (!from?.alive || from.incarnation !== env.fromIncarnation) return;
      from.raw.reportSnapshot(msg.to, ok);
      from.pump();
    });
  }

  private later(delayMs: number, what: string, run: () => void): void {
    this.q.after(delayMs, { kind: 'act', what, run });
  }

  // ------------------------------------------------------------------ clients

  private scheduleClients(): void {
    const propose = (): void => {
      if (this.phase !== 'chaos') return;
      this.clientPropose();
      this.later(this.rnd.between(0, 2 * this.scenario.proposeEveryMs), 'client propose', propose);
    };
    const read = (): void => {
      if (this.phase !== 'chaos') return;
      this.clientRead();
      this.later(this.rnd.between(0, 2 * this.scenario.readEveryMs), 'client read', read);
    };
    this.later(this.rnd.between(0, this.scenario.proposeEveryMs), 'client propose', propose);
    this.later(this.rnd.between(0, this.scenario.readEveryMs), 'client read', read);
  }

  /** Proposes at a member that believes it leads (usually the newest such; sometimes a stale one). */
  private propose(prefix: string): { member: SimMember; p: Proposal } | undefined {
    const leaders = this.alive().filter((m) => m.raw.raft.role === 'leader');
    if (leaders.length === 0) return undefined;
    const m = this.rnd.chance(this.scenario.staleLeaderShare) ? this.rnd.pick(leaders) : this.leader()!;
    const data = `${prefix}${this.proposalNo++}`;
    const res = m.raw.propose(encoder.encode(data));
    this.stats.proposals++;
    if (!res.ok) {
      this.trace(`${m.id} refuses ${data}: ${res.code}`);
      return undefined;
    }
    const p = { index: res.index, term: res.term, data };
    this.inflight.get(`${m.id}/${m.incarnation}`)!.set(res.index, p);
    this.trace(`${m.id} proposes ${data} at ${res.index} term ${res.term}`);
    m.pump();
    return { member: m, p };
  }

  private clientPropose(): void {
    this.propose('v');
  }

  private clientRead(): void {
    const live = this.alive();
    if (live.length === 0) return;
    const m = this.rnd.pick(live);
    const ctx = `r${this.readNo++}`;
    // Linearizability: the read must reflect everything known committed (or applied) anywhere before it was asked.
    this.readFloor.set(ctx, Math.max(this.checker.committedMax, this.checker.appliedMax));
    m.raw.readIndex(ctx);
    m.pump();
  }

  // ------------------------------------------------------------------ faults

  /**
   * Faults come in storms separated by calm spells, so that between bursts
   * the cluster elects a leader, commits, compacts and catches members up —
   * and the next storm hits a cluster with real state.
   */
  private scheduleFault(): void {
    let storm = true;
    let spellEnd = this.q.now + this.rnd.between(2000, 8000);
    const next = (): void => {
      if (this.phase !== 'chaos') return;
      if (this.q.now >= spellEnd) {
        storm = !storm;
        spellEnd = this.q.now + (storm ? this.rnd.between(1000, 6000) : this.rnd.between(1000, 5000));
        this.trace(storm ? 'storm begins' : 'calm begins');
      }
      if (storm) {
        const kind = this.rnd.weighted(this.scenario.faults);
        this.trace(`fault ${kind}`);
        this.inject(kind);
      }
      this.later(this.rnd.between(0, 2 * this.scenario.faultEveryMs), 'fault', next);
    };
    // The first fault waits for the cluster to have elected a leader, most of the time.
    this.later(this.rnd.between(0, 2 * this.scenario.faultEveryMs) + (this.rnd.chance(0.7) ? 1500 : 0), 'fault', next);
  }

  private inject(kind: FaultKind): void {
    const r = this.rnd;
    const live = this.alive();
    const all = [...this.members.values()].filter((m) => !m.removed).map((m) => m.id);
    switch (kind) {
      case 'crash': {
        if (live.length === 0) return;
        // Mostly within fault tolerance (a majority stays up); sometimes not, to lose the quorum for a while.
        if (this.downCount() >= this.faultTolerance() && r.chance(0.8)) return;
        // Prefer a member with writes in flight: that is where crashes hurt.
        const busy = live.filter((m) => m.disk.busy());
        const m = busy.length > 0 && r.chance(0.7) ? r.pick(busy) : r.pick(live);
        this.crash(m);
        if (r.chance(0.9)) this.later(r.between(20, 2000), `restart ${m.id}`, () => this.restart(m));
        return;
      }
      case 'crashLeader': {
        const l = this.leader();
        if (l === undefined) return;
        this.crash(l);
        if (r.chance(0.9)) this.later(r.between(20, 1500), `restart ${l.id}`, () => this.restart(l));
        return;
      }
      case 'split':
      case 'asymmetric': {
        const ids = r.shuffle(all);
        const k = r.int(1, Math.max(1, ids.length - 1));
        const a = ids.slice(0, k);
        const b = ids.slice(k);
        const both = kind === 'split';
        this.partition(both ? `split ${a.join(',')} | ${b.join(',')}` : `one-way ${a.join(',')} -> ${b.join(',')} cut`, crossLinks(a, b, both));
        return;
      }
      case 'isolateLeader': {
        const l = this.leader();
        if (l === undefined) return;
        const others = all.filter((id) => id !== l.id);
        const how = r.pick(['both', 'out', 'in'] as const);
        const links = how === 'both' ? crossLinks([l.id], others, true) : how === 'out' ? crossLinks([l.id], others, false) : crossLinks(others, [l.id], false);
        this.partition(`isolate leader ${l.id} (${how})`, links);
        return;
      }
      case 'strandLeader': {
        // The leader reaches only one peer: what it appends from now on lands
        // on two members, not a majority — and it often dies soon after.
        const l = this.leader();
        if (l === undefined) return;
        const others = all.filter((id) => id !== l.id);
        if (others.length < 2) return;
        const keep = r.pick(others);
        this.partition(`strand leader ${l.id} (reaches only ${keep})`, crossLinks([l.id], others.filter((id) => id !== keep), false));
        if (r.chance(0.6)) {
          this.later(r.between(20, 400), `crash stranded leader ${l.id}`, () => {
            if (!l.alive) return;
            this.crash(l);
            this.later(r.between(200, 2000), `restart ${l.id}`, () => this.restart(l));
          });
        }
        return;
      }
      case 'swizzle':
        this.swizzle(all);
        return;
      case 'pause': {
        if (live.length === 0) return;
        if (this.downCount() >= this.faultTolerance() && r.chance(0.8)) return;
        const m = r.chance(0.5) && this.leader() ? this.leader()! : r.pick(live);
        const ms = r.between(50, 2500);
        this.stats.pauses++;
        this.trace(`pause ${m.id} for ${ms.toFixed(0)}ms`);
        m.pausedUntil = Math.max(m.pausedUntil, this.q.now + ms);
        this.later(ms, `resume ${m.id}`, () => this.resume(m));
        return;
      }
      case 'diskStall': {
        if (live.length === 0) return;
        const m = r.pick(live);
        const ms = r.between(500, 4000);
        this.stats.diskStalls++;
        const before = m.disk.latency;
        m.disk.latency = { ...before, spikeRate: 1 };
        this.later(ms, `disk of ${m.id} recovers`, () => {
          if (this.phase === 'chaos') m.disk.latency = before;
        });
        return;
      }
      case 'compact': {
        if (live.length === 0) return;
        if (r.pick(live).compact(r.int(0, 3))) this.stats.compactions++;
        return;
      }
      case 'confChange':
        this.changeMembership();
        return;
      case 'transfer': {
        const l = this.leader();
        if (l === undefined) return;
        const target = r.pick(l.raw.raft.voters());
        this.stats.transfers++;
        this.trace(`transfer ${l.id} -> ${target}`);
        l.raw.transferLeader(target);
        l.pump();
        return;
      }
      case 'netChange':
        this.net.params = this.scenario.net(r);
        this.trace(`net ${JSON.stringify(this.net.params)}`);
        return;
    }
  }

  /** Voters of the newest configuration that are down or frozen. */
  private downCount(): number {
    const l = this.leader();
    const voters = l !== undefined ? l.raw.raft.voters() : [...this.members.keys()];
    let down = 0;
    for (const id of voters) {
      const m = this.members.get(id);
      if (m === undefined || !m.alive || m.pausedUntil > this.q.now) down++;
    }
    return down;
  }

  private faultTolerance(): number {
    return Math.floor((this.opts.members - 1) / 2);
  }

  private crash(m: SimMember): void {
    const rep = m.crash();
    this.stats.crashes++;
    this.stats.lostWrites += rep.lost;
    if (rep.torn) this.stats.tornWrites++;
    this.deferred.set(m.id, []);
    m.pausedUntil = 0;
    this.trace(`crash ${m.id}: ${rep.flushed} buffered records reached the disk, ${rep.lost} lost${rep.torn ? ', one torn' : ''}${rep.snapshotSaved === undefined ? '' : `, snapshot save ${rep.snapshotSaved ? 'landed' : 'lost'}`}`);
  }

  private restart(m: SimMember): void {
    if (m.alive || m.removed) return;
    this.startMember(m);
  }

  private partition(what: string, links: [MemberId, MemberId][]): void {
    this.stats.partitions++;
    this.trace(`partition: ${what}`);
    const heal = this.net.cut(links);
    this.later(this.rnd.between(100, 2500), `heal partition: ${what}`, heal);
  }

  /** FoundationDB's swizzle-clog: clog a random subset one by one, then unclog them in another order. */
  private swizzle(all: MemberId[]): void {
    const r = this.rnd;
    const subset = r.shuffle(all).slice(0, r.int(1, all.length));
    this.stats.clogs++;
    const unclogs = new Map<MemberId, () => void>();
    let at = 0;
    for (const id of subset) {
      at += r.between(10, 300);
      this.later(at, `clog ${id}`, () => unclogs.set(id, this.net.clog(id, all)));
    }
    at += r.between(100, 2000);
    for (const id of r.shuffle(subset)) {
      at += r.between(10, 300);
      this.later(at, `unclog ${id}`, () => unclogs.get(id)?.());
    }
  }

  private changeMembership(): void {
    const l = this.leader();
    if (l === undefined) return;
    const voters = l.raw.raft.voters();
    const n = this.opts.members;
    const remove = voters.length > n || (voters.length === n && this.rnd.chance(0.5));
    let cc: ConfChange;
    if (remove && voters.length > 2) {
      cc = { type: 'removeNode', id: this.rnd.pick(voters) };
    } else {
      cc = { type: 'addNode', id: memberId(this.nextMemberNo++), context: 'sim' };
    }
    const res = l.raw.proposeConfChange(cc);
    this.trace(`${l.id} proposes ${cc.type} ${cc.id}: ${res.ok ? `index ${res.index}` : res.code}`);
    if (res.ok) this.stats.membershipChanges++;
    l.pump();
  }

  // ------------------------------------------------------------------ heal and progress

  private heal(): void {
    this.phase = 'heal';
    this.trace('HEAL: every fault removed, every crashed member restarted');
    this.net.healAll();
    for (const m of this.members.values()) {
      m.disk.latency = { spikeRate: 0, spikeMsMin: 0, spikeMsMax: 0, slowRate: 0.01 };
      if (m.pausedUntil > 0) this.resume(m, true);
      if (!m.alive && !m.removed) this.startMember(m);
    }
  }

  private requireProgress(): void {
    const start = this.q.now;
    const deadline = start + HEAL_TICKS_MAX * TICK_MS;
    let final: { member: SimMember; inc: number; p: Proposal } | undefined;
    let nextTry = start;
    while (this.q.now <= deadline) {
      if (this.q.now >= nextTry) {
        nextTry = this.q.now + TICK_MS / 2;
        // Lost for good once its proposer is gone, deposed, or leads a later term (a new leader's log replaced it).
        const stale =
          final !== undefined &&
          (!final.member.alive || final.member.incarnation !== final.inc || final.member.raw.raft.role !== 'leader' || final.member.raw.raft.term !== final.p.term);
        if ((final === undefined || stale) && !(final !== undefined && this.acked.includes(final.p))) {
          const got = this.propose('final');
          if (got !== undefined) final = { member: got.member, inc: got.member.incarnation, p: got.p };
        }
      }
      if (final !== undefined && this.acked.includes(final.p) && this.everyVoterApplied(final.p.index)) {
        this.stats.healTicks = Math.ceil((this.q.now - start) / TICK_MS);
        this.trace(`progress: ${final.p.data} at ${final.p.index} applied on every live voter after ${this.stats.healTicks} ticks`);
        return;
      }
      this.step();
    }
    const status = [...this.members.values()]
      .map((m) => (m.alive ? `${m.id}: ${m.raw.raft.role} term ${m.raw.raft.term} lead ${m.raw.raft.lead || '-'} commit ${m.raw.raft.raftLog.committed} applied ${m.appliedIndex} voters ${m.raw.raft.voters().join(',')}` : `${m.id}: ${m.removed ? 'removed' : 'down'}`))
      .join('; ');
    throw new Violation('progress', `no fresh proposal applied on every live voter within ${HEAL_TICKS_MAX} ticks of healing (${status})`);
  }

  /** Every voter of the current leader's configuration is up and has applied `index`. */
  private everyVoterApplied(index: number): boolean {
    const leader = this.leader();
    if (leader === undefined) return false;
    for (const id of leader.raw.raft.voters()) {
      const m = this.members.get(id);
      if (m === undefined || !m.alive || m.appliedIndex < index) return false;
    }
    return true;
  }

  /** Every acknowledged proposal survived: committed with its term at its index, and in every live voter's state. */
  private finalChecks(): void {
    const l = this.leader();
    for (const p of this.acked) {
      const t = this.checker.termCommittedAt(p.index);
      if (t !== undefined && t !== p.term) throw new Violation('durability', `acknowledged ${p.data} at ${p.index} (term ${p.term}) but term ${t} was committed there`);
      if (l !== undefined && p.index >= l.raw.raft.raftLog.firstIndex()) {
        const lt = l.raw.raft.raftLog.term(p.index);
        if (lt !== p.term) throw new Violation('durability', `acknowledged ${p.data} at ${p.index} (term ${p.term}) is not in leader ${l.id}'s log (term ${lt ?? 'none'})`);
      }
    }
    this.checkLogsMatch();
  }

  /** A last full comparison of every live log against every other (the incremental check's backstop). */
  private checkLogsMatch(): void {
    checkLogMatching(this.alive().map((m) => ({ id: m.id, log: m.raw.raft.raftLog })));
  }
}

function crossLinks(a: readonly MemberId[], b: readonly MemberId[], bothWays: boolean): [MemberId, MemberId][] {
  const out: [MemberId, MemberId][] = [];
  for (const x of a) {
    for (const y of b) {
      out.push([x, y]);
      if (bothWays) out.push([y, x]);
    }
  }
  return out;
}

export function describe(m: Message): string {
  const head = `${m.type} ${m.from}>${m.to} t${m.term}`;
  switch (m.type) {
    case 'app':
      return `${head} prev ${m.index}/${m.logTerm} n${m.entries.length}${m.entries.length > 0 ? ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]` : ''} commit ${m.commit}`;
    case 'appResp':
      return `${head} ${m.reject ? `reject ${m.index} hint ${m.rejectHint}/${m.logTerm}` : `ok ${m.index}`}`;
    case 'heartbeat':
      return `${head} commit ${m.commit}${m.context ? ` ctx ${m.context}` : ''}`;
    case 'preVote':
    case 'vote':
      return `${head} last ${m.index}/${m.logTerm}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head}${m.reject ? ' reject' : ' grant'}`;
    case 'snap':
      return `${head} snapshot ${m.snapshot.meta.index}/${m.snapshot.meta.term} voters ${m.snapshot.meta.voters.join(',')}`;
    case 'readIndexResp':
      return `${head} ${m.context} at ${m.index}`;
    default:
      return head;
  }
}

/** Runs one seed; throws SimFailure on any violation. */
export function simulate(opts: SimOptions): SimStats {
  return new Simulation(opts).run();
}
