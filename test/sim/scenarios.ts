// Scenarios: each seed runs one of these, chosen by the seed itself, so the
// replay command needs nothing but the seed. A scenario sets the rates of
// the fault injector and the parameters of network, disks and Raft; the
// faults themselves are the same everywhere (simulator.ts).

import type { DiskLatency } from './disk.js';
import type { RaftParams } from './member.js';
import type { NetParams } from './net.js';
import type { SimRandom } from './random.js';

export type FaultKind =
  | 'crash'
  | 'crashLeader'
  | 'split'
  | 'asymmetric'
  | 'isolateLeader'
  | 'strandLeader'
  | 'swizzle'
  | 'pause'
  | 'diskStall'
  | 'compact'
  | 'confChange'
  | 'transfer'
  | 'netChange';

export interface Scenario {
  name: string;
  /** Mean virtual ms between two injected faults or operator actions. */
  faultEveryMs: number;
  faults: Record<FaultKind, number>;
  /** Mean virtual ms between client proposals, and between ReadIndex reads. */
  proposeEveryMs: number;
  /** Share of proposals sent to a random member that believes it leads (often a deposed one). */
  staleLeaderShare: number;
  /** Probability that a newly elected leader is struck (stranded, cut off or killed) moments after it starts. */
  nemesis?: number;
  readEveryMs: number;
  /** A member snapshots and compacts after this many applied entries. */
  snapshotEvery: (r: SimRandom) => number;
  net: (r: SimRandom) => NetParams;
  disk: (r: SimRandom) => DiskLatency;
  raft: (r: SimRandom) => RaftParams;
}

const none: Record<FaultKind, number> = {
  crash: 0,
  crashLeader: 0,
  split: 0,
  asymmetric: 0,
  isolateLeader: 0,
  strandLeader: 0,
  swizzle: 0,
  pause: 0,
  diskStall: 0,
  compact: 0,
  confChange: 0,
  transfer: 0,
  netChange: 0,
};

function lossyNet(r: SimRandom, lossMax: number, dupMax: number): NetParams {
  return {
    lossRate: r.chance(0.3) ? 0 : r.between(0, lossMax),
    dupRate: r.chance(0.3) ? 0 : r.between(0, dupMax),
    slowRate: r.between(0, 0.1),
    delayMsMin: 0.1,
    delayMsMax: r.between(1, 15),
    slowMsMax: r.between(30, 400),
  };
}

function cloudDisk(r: SimRandom, spikeRateMax: number): DiskLatency {
  return { spikeRate: r.between(0, spikeRateMax), spikeMsMin: 500, spikeMsMax: 3000, slowRate: r.between(0, 0.1) };
}

function raftParams(r: SimRandom): RaftParams {
  return {
    electionTicks: 10,
    heartbeatTicks: 1,
    maxSizePerMsg: r.pick([64, 512, 1024 * 1024]),
    maxInflightMsgs: r.pick([1, 4, 32, 256]),
    preVote: r.chance(0.85),
    leaderParallel: r.chance(0.5),
  };
}

export const SCENARIOS: readonly Scenario[] = [
  // Goal: every fault at a moderate rate at once — the default mix, where
  // faults overlap in ways no one would write by hand.
  {
    name: 'mixed',
    faultEveryMs: 250,
    faults: { ...none, crash: 3, split: 2, asymmetric: 1, isolateLeader: 1, swizzle: 1, pause: 1, diskStall: 1, compact: 2, confChange: 1, transfer: 1, netChange: 1 },
    proposeEveryMs: 90,
    staleLeaderShare: 0.2,
    readEveryMs: 200,
    snapshotEvery: (r) => r.int(5, 60),
    net: (r) => lossyNet(r, 0.1, 0.05),
    disk: (r) => cloudDisk(r, 0.01),
    raft: raftParams,
  },
  // Goal: crashes at the worst moments — while records sit in the page cache
  // or an fsync or snapshot save is in flight, so writes are lost or torn —
  // and fsyncs that stall for seconds. Nothing acknowledged may be lost, and
  // what is durable must always be a valid point to restart from.
  {
    name: 'disk',
    faultEveryMs: 220,
    faults: { ...none, crash: 6, pause: 1, diskStall: 3, compact: 2, split: 1, transfer: 1 },
    proposeEveryMs: 60,
    staleLeaderShare: 0.2,
    readEveryMs: 250,
    snapshotEvery: (r) => r.int(3, 30),
    net: (r) => lossyNet(r, 0.02, 0.02),
    disk: (r) => cloudDisk(r, 0.05),
    raft: raftParams,
  },
  // Goal: a hostile network — symmetric and one-way partitions, the leader
  // cut off, swizzle-clogging, loss, duplication and reordering. Election
  // safety must hold throughout, and the cluster must recover once healed.
  {
    name: 'network',
    faultEveryMs: 220,
    faults: { ...none, split: 3, asymmetric: 3, isolateLeader: 2, swizzle: 3, pause: 1, netChange: 2, compact: 1, crash: 1 },
    proposeEveryMs: 90,
    staleLeaderShare: 0.2,
    readEveryMs: 150,
    snapshotEvery: (r) => r.int(10, 80),
    net: (r) => lossyNet(r, 0.25, 0.15),
    disk: (r) => cloudDisk(r, 0.002),
    raft: raftParams,
  },
  // Goal: membership churn — remove and add members one at a time (new
  // members catch up by snapshot), leader transfers, frequent compaction,
  // with crashes and partitions on top. Configurations must change safely
  // and a joining member must converge on the same history.
  {
    name: 'membership',
    faultEveryMs: 250,
    faults: { ...none, confChange: 4, transfer: 3, compact: 3, crash: 2, split: 1, isolateLeader: 1, pause: 1 },
    proposeEveryMs: 90,
    staleLeaderShare: 0.2,
    readEveryMs: 200,
    snapshotEvery: (r) => r.int(3, 25),
    net: (r) => lossyNet(r, 0.05, 0.05),
    disk: (r) => cloudDisk(r, 0.005),
    raft: raftParams,
  },
  // Goal: leadership churn with entries stranded on deposed leaders — the
  // leader is cut off (often only its outbound links) or killed right after
  // taking proposals, appends carry one entry each, so logs diverge in their
  // uncommitted suffixes and old-term entries get re-replicated by later
  // leaders. This is where commit-by-counting mistakes (Raft figure 8) and
  // log-truncation mistakes live.
  {
    name: 'elections',
    faultEveryMs: 180,
    faults: { ...none, isolateLeader: 4, strandLeader: 4, crashLeader: 3, crash: 1, split: 2, pause: 1, transfer: 1, compact: 1 },
    proposeEveryMs: 30,
    staleLeaderShare: 0.5,
    nemesis: 0.6,
    readEveryMs: 200,
    snapshotEvery: (r) => r.int(20, 100),
    net: (r) => lossyNet(r, 0.1, 0.05),
    disk: (r) => cloudDisk(r, 0.005),
    raft: (r) => ({ ...raftParams(r), maxSizePerMsg: 64, maxInflightMsgs: r.pick([1, 2, 4]) }),
  },
];

export function scenarioFor(seed: number): Scenario {
  return SCENARIOS[(seed >>> 0) % SCENARIOS.length]!;
}
