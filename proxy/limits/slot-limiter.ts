// Counting limits with a global cap and an optional per-client cap: client
// connections, in-flight requests and watchers are all "slots" held between
// an accept and a release. Acquiring never waits: it is granted or refused
// at once with the limit that refused (shed load by refusing, never by
// blocking). Per-client state exists only while the client holds a slot, so
// memory is bounded by the global cap.

import type { LimitReason } from './refusal.js';

export interface SlotLimits {
  /** Slots held at once by everyone. */
  totalMax: number;
  /** Slots held at once by one client (address); null = no per-client cap. */
  perClientMax: number | null;
}

/** A held slot; release() is idempotent (call it on close, however the request ended). */
export interface Grant {
  ok: true;
  release(): void;
}

export interface Refused {
  ok: false;
  reason: LimitReason;
}

function checkMax(name: string, v: number | null): void {
  if (v !== null && (!Number.isInteger(v) || v < 0)) throw new Error(`RG_ERR_PROXY_CONFIG: ${name} must be a non-negative integer`);
}

export class SlotLimiter {
  private readonly limits: SlotLimits;
  private readonly totalReason: LimitReason;
  private readonly perClientReason: LimitReason;
  private readonly byClient = new Map<string, number>();
  private held = 0;
  private readonly refusedBy = new Map<LimitReason, number>();
  private grantedCount = 0;

  constructor(limits: SlotLimits, totalReason: LimitReason, perClientReason: LimitReason) {
    checkMax('totalMax', limits.totalMax);
    checkMax('perClientMax', limits.perClientMax);
    this.limits = { ...limits };
    this.totalReason = totalReason;
    this.perClientReason = perClientReason;
  }

  /** Take a slot for `client`, or be told at once which limit refuses. */
  accept(client: string): Grant | Refused {
    const mine = this.byClient.get(client) ?? 0;
    // The client's own cap first: a client over its share hears that it is
    // the one to slow down (429) even when the proxy is also full.
    const per = this.limits.perClientMax;
    if (per !== null && mine >= per) return this.refuse(this.perClientReason);
    if (this.held >= this.limits.totalMax) return this.refuse(this.totalReason);
    this.byClient.set(client, mine + 1);
    this.held++;
    this.grantedCount++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.held--;
        const n = (this.byClient.get(client) ?? 1) - 1;
        if (n === 0) this.byClient.delete(client);
        else this.byClient.set(client, n);
      },
    };
  }

  /** Slots held now. */
  get open(): number {
    return this.held;
  }

  /** Slots held now by one client. */
  openFor(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  /** Clients holding at least one slot. */
  get clients(): number {
    return this.byClient.size;
  }

  /** Slots granted since start (a counter). */
  get granted(): number {
    return this.grantedCount;
  }

  /** Refusals since start, by the limit that refused (counters for metrics). */
  refusals(): Partial<Record<LimitReason, number>> {
    return Object.fromEntries(this.refusedBy) as Partial<Record<LimitReason, number>>;
  }

  private refuse(reason: LimitReason): Refused {
    this.refusedBy.set(reason, (this.refusedBy.get(reason) ?? 0) + 1);
    return { ok: false, reason };
  }
}

/** Client connections: total and per client address. */
export class ConnectionLimiter extends SlotLimiter {
  constructor(limits: { connectionsMax: number; connectionsPerClientMax: number | null }) {
    super({ totalMax: limits.connectionsMax, perClientMax: limits.connectionsPerClientMax }, 'connections', 'connections_per_client');
  }
}

/** Requests being served at once (watches excluded: they have their own limit). */
export class InflightLimiter extends SlotLimiter {
  constructor(limits: { inflightMax: number; inflightPerClientMax?: number | null }) {
    super({ totalMax: limits.inflightMax, perClientMax: limits.inflightPerClientMax ?? null }, 'inflight', 'inflight_per_client');
  }
}

/** Client watchers (long polls and streams) held open at once. */
export class WatcherLimiter extends SlotLimiter {
  constructor(limits: { watchersMax: number; watchersPerClientMax?: number | null }) {
    super({ totalMax: limits.watchersMax, perClientMax: limits.watchersPerClientMax ?? null }, 'watchers', 'watchers_per_client');
  }
}
