// A one-member Raftgate cluster in this process: the real Raft driver
// (core-server/node/driver.ts) over a log kept in memory, for unit tests of
// the layers above it (v2 API, native protocol, proxy). The log can be made
// to hang (a write stays in flight until released) or to fail.

import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Entry, HardState } from '../../core-server/raft/types.js';
import { RaftNode, type DurableLog, type PeerNetwork } from '../../core-server/node/driver.js';
import type { StoredSnapshot } from '../../core-server/node/storage.js';
import type { StoreOptions } from '../../core-server/store/index.js';

/** A durable log that lives in memory; `hang` holds writes until release(), `fail` rejects them. */
export class MemoryLog implements DurableLog {
  readonly entries: Entry[] = [];
  hardState: HardState | null = null;
  snapshots: StoredSnapshot[] = [];
  hang = false;
  fail: Error | null = null;
  writes = 0;
  private held: (() => void)[] = [];

  async save(hs: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.writes++;
    if (this.hang) await new Promise<void>((r) => this.held.push(r));
    if (this.fail !== null) throw this.fail;
    const first = entries[0];
    if (first !== undefined) {
      const at = this.entries.findIndex((e) => e.index >= first.index);
      if (at >= 0) this.entries.length = at;
      this.entries.push(...entries);
    }
    if (hs !== undefined) this.hardState = hs;
  }

  async saveSnapshot(snap: StoredSnapshot): Promise<void> {
    if (this.fail !== null) throw this.fail;
    this.snapshots.push(snap);
  }

  /** Lets every held write go on. */
  release(): void {
    this.hang = false;
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  /** Writes waiting in release(). */
  get heldWrites(): number {
    return this.held.length;
  }
}

const noNetwork: PeerNetwork = { send: () => {}, forward: () => false, forwardFail: () => {}, setPeers: () => {} };

export interface MemoryMemberOptions {
  memberId?: string;
  clusterId?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  clock?: { nowMs(): number };
  store?: StoreOptions;
  snapshotCount?: number;
  registry?: Registry;
  /** Restart from this log (what a previous member left on its "disk") instead of bootstrapping a new one. */
  restartFrom?: MemoryLog;
  /** false: return once started, without waiting to lead. */
  waitReady?: boolean;
}

export interface MemoryMember {
  node: RaftNode;
  log: MemoryLog;
  registry: Registry;
}

/** Starts a one-member cluster and (unless waitReady is false) waits until it leads and has applied its first entries. */
export async function startMemoryMember(o: MemoryMemberOptions = {}): Promise<MemoryMember> {
  const log = o.restartFrom ?? new MemoryLog();
  const restart = o.restartFrom !== undefined;
  const snap = log.snapshots.at(-1) ?? null;
  const memberId = o.memberId ?? '99bca5ffd3b6b513';
  const peerURLs = o.peerURLs ?? ['http://127.0.0.1:1'];
  const registry = o.registry ?? new Registry();
  const node = new RaftNode({
    memberId,
    clusterId: o.clusterId ?? 'a10e20a2639400db',
    name: o.name ?? 't',
    peerURLs,
    clientURLs: o.clientURLs ?? ['http://127.0.0.1:2'],
    log,
    network: noNetwork,
    clock: o.clock ?? { nowMs: () => Date.now() },
    logger: pino({ level: 'silent' }),
    registry,
    recovered: { snapshot: snap, hardState: log.hardState, entries: log.entries.filter((e) => e.index > (snap?.index ?? 0)).map((e) => ({ type: 'entry' as const, index: e.index, term: e.term, conf: e.type === 'confChange', data: e.data })) },
    bootstrap: restart ? null : [{ id: memberId, name: o.name ?? 't', peerURLs, clientURLs: [] }],
    heartbeatMs: 10,
    electionTimeoutMs: 100,
    snapshotCount: o.snapshotCount ?? 100_000,
    ...(o.store !== undefined ? { storeOptions: o.store } : {}),
  });
  await node.start();
  if (o.waitReady === false) return { node, log, registry };
  // Leading, its no-op applied, its name and client URLs published: what a client sees of a fresh member.
  for (let i = 0; i < 1000; i++) {
    const me = node.members()[0];
    if (node.isLeader() && me !== undefined && me.clientURLs.length > 0) {
      await node.linearizableBarrier();
      return { node, log, registry };
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('the in-memory member did not become a ready leader');
}
