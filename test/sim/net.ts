// The simulated network between members. A message sent from a to b:
//
//   cut a>b (partition) ─────────────► dropped at once (and again at delivery, for
//                                      messages already on the wire when the cut came)
//   clogged a>b ─────────────────────► held; released (with fresh delays) on unclog
//   lost (lossRate) ─────────────────► dropped
//   otherwise ───────────────────────► delivered after delay; sometimes twice (dupRate);
//                                      sometimes late (slowRate), which reorders
//
// Links are directed, so a one-way cut is an asymmetric partition. Cuts and
// clogs are counted per link: overlapping faults each release only their own.

import type { MemberId, Message } from '../../core-server/raft/types.js';
import type { SimRandom } from './random.js';

export interface NetParams {
  lossRate: number;
  dupRate: number;
  /** Probability a message is late (tens to hundreds of ms), which reorders it. */
  slowRate: number;
  delayMsMin: number;
  delayMsMax: number;
  slowMsMax: number;
}

export interface Envelope {
  msg: Message;
  /** The sender's life that sent it: a snapshot report goes only to that life. */
  fromIncarnation: number;
}

export const HEALTHY_NET: NetParams = { lossRate: 0, dupRate: 0, slowRate: 0, delayMsMin: 0.1, delayMsMax: 2, slowMsMax: 0 };

function link(from: MemberId, to: MemberId): string {
  return `${from}>${to}`;
}

export class SimNetwork {
  private readonly cuts = new Map<string, number>();
  private readonly clogs = new Map<string, number>();
  private readonly held = new Map<string, Envelope[]>();
  stats = { sent: 0, lost: 0, duplicated: 0, cutDrops: 0, held: 0 };

  constructor(
    private readonly rnd: SimRandom,
    public params: NetParams,
    /** Schedules delivery of `env` after `delayMs`. */
    private readonly schedule: (env: Envelope, delayMs: number) => void,
    /** A message was dropped; `cut` when by a partition (the transport notices a broken stream). */
    private readonly onDrop: (env: Envelope, cut: boolean) => void,
  ) {}

  isCut(from: MemberId, to: MemberId): boolean {
    return (this.cuts.get(link(from, to)) ?? 0) > 0;
  }

  isClogged(from: MemberId, to: MemberId): boolean {
    return (this.clogs.get(link(from, to)) ?? 0) > 0;
  }

  send(env: Envelope): void {
    const { from, to } = env.msg;
    this.stats.sent++;
    if (this.isCut(from, to)) {
      this.stats.cutDrops++;
      this.onDrop(env, true);
      return;
    }
    if (this.isClogged(from, to)) {
      this.hold(env);
      return;
    }
    const p = this.params;
    if (p.lossRate > 0 && this.rnd.chance(p.lossRate)) {
      this.stats.lost++;
      this.onDrop(env, false);
      return;
    }
    this.schedule(env, this.delay());
    if (p.dupRate > 0 && this.rnd.chance(p.dupRate)) {
      this.stats.duplicated++;
      this.schedule(env, this.delay());
    }
  }

  private delay(): number {
    const p = this.params;
    if (p.slowRate > 0 && this.rnd.chance(p.slowRate)) return this.rnd.between(p.delayMsMax, Math.max(p.delayMsMax, p.slowMsMax));
    return this.rnd.between(p.delayMsMin, p.delayMsMax);
  }

  /**
   * At delivery time: whether `env` still gets through. A message that was
   * on the wire when its link was cut is lost; one whose link was clogged
   * meanwhile waits for the unclog.
   */
  arrives(env: Envelope): boolean {
    const { from, to } = env.msg;
    if (this.isCut(from, to)) {
      this.stats.cutDrops++;
      this.onDrop(env, true);
      return false;
    }
    if (this.isClogged(from, to)) {
      this.hold(env);
      return false;
    }
    return true;
  }

  private hold(env: Envelope): void {
    this.stats.held++;
    const l = link(env.msg.from, env.msg.to);
    const q = this.held.get(l);
    if (q === undefined) this.held.set(l, [env]);
    else q.push(env);
  }

  /** Cuts the given directed links; returns the function that restores them. */
  cut(links: readonly [MemberId, MemberId][]): () => void {
    for (const [a, b] of links) bump(this.cuts, link(a, b), 1);
    let healed = false;
    return () => {
      if (healed) return;
      healed = true;
      for (const [a, b] of links) bump(this.cuts, link(a, b), -1);
    };
  }

  /** Clogs every link into and out of `id`; returns the function that unclogs them. */
  clog(id: MemberId, all: readonly MemberId[]): () => void {
    const links: string[] = [];
    for (const o of all) {
      if (o === id) continue;
      links.push(link(id, o), link(o, id));
    }
    for (const l of links) bump(this.clogs, l, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const l of links) {
        if (bump(this.clogs, l, -1) === 0) this.release(l);
      }
    };
  }

  private release(l: string): void {
    const q = this.held.get(l);
    if (q === undefined) return;
    this.held.delete(l);
    for (const env of q) this.schedule(env, this.delay());
  }

  /** Every cut and clog removed, held messages released, no more loss or duplication. */
  healAll(): void {
    this.cuts.clear();
    this.clogs.clear();
    for (const l of [...this.held.keys()]) this.release(l);
    this.params = HEALTHY_NET;
  }
}

function bump(m: Map<string, number>, k: string, by: number): number {
  const v = (m.get(k) ?? 0) + by;
  if (v <= 0) m.delete(k);
  else m.set(k, v);
  return Math.max(0, v);
}
