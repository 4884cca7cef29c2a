// An in-memory cluster of RawNodes for tests: a message queue between them
// with partitions, drops, duplicates and reordering; each node's Ready
// persisted into its MemoryStorage and its committed entries applied to a
// trivial state machine (the list of applied entries). Everything is
// deterministic given the seed. Safety checks run as the cluster runs and
// throw with a description of the violation.

import { Mulberry32 } from '../../core-server/raft/rng.js';
import { RawNode, type Ready } from '../../core-server/raft/raw-node.js';
import { MemoryStorage } from '../../core-server/raft/storage.js';
import { decodeConfChange } from '../../core-server/raft/conf-change.js';
import type { RaftLog } from '../../core-server/raft/log.js';
import type { Entry, Message, ReadState, Role } from '../../core-server/raft/types.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function ids(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i + 1).toString(16).padStart(16, '0'));
}

export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

export interface ClusterOptions {
  seed?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  /** Check log matching and leader completeness after every delivery (slower). */
  checkEveryStep?: boolean;
}

export interface SimNode {
  id: string;
  raw: RawNode;
  storage: MemoryStorage;
  /** Applied entries by index (the state machine); snapshot installs leave gaps. */
  applied: Map<number, Entry>;
  appliedIndex: number;
  readStates: ReadState[];
  lastCommit: number;
  /** A stopped node neither receives nor ticks (crash without restart). */
  stopped: boolean;
}

export class Cluster {
  readonly nodes = new Map<string, SimNode>();
  queue: Message[] = [];
  readonly rng: Mulberry32;
  private readonly opts: Required<Omit<ClusterOptions, 'seed'>>;
  /** Pairs "from>to" whose messages are dropped. */
  private cut = new Set<string>();
  /** Global record: index → "term:data" of the entry applied there by anyone (state-machine safety). */
  readonly appliedGlobal = new Map<number, string>();
  /** term → leader seen in that term (election safety). */
  readonly leaders = new Map<number, string>();
  delivered = 0;
  /** Test hook: messages for which this returns true are dropped at delivery. */
  dropIf: ((m: Message) => boolean) | undefined = undefined;

  constructor(memberIds: string[], opts: ClusterOptions = {}) {
    this.rng = new Mulberry32(opts.seed ?? 1);
    this.opts = {
      electionTicks: opts.electionTicks ?? 10,
      heartbeatTicks: opts.heartbeatTicks ?? 1,
      preVote: opts.preVote ?? true,
      checkQuorum: opts.checkQuorum ?? true,
      maxSizePerMsg: opts.maxSizePerMsg ?? 1024 * 1024,
      maxInflightMsgs: opts.maxInflightMsgs ?? 256,
      checkEveryStep: opts.checkEveryStep ?? false,
    };
    for (const id of memberIds) this.addNode(id, memberIds);
  }

  /** Creates a member whose bootstrap configuration is `voters` (for a joiner: the configuration including itself). */
  addNode(id: string, voters: string[]): SimNode {
    const storage = new MemoryStorage(voters);
    const raw = this.rawNode(id, storage, 0);
    const node: SimNode = { id, raw, storage, applied: new Map(), appliedIndex: 0, readStates: [], lastCommit: 0, stopped: false };
    this.nodes.set(id, node);
    return node;
  }

  private rawNode(id: string, storage: MemoryStorage, applied: number): RawNode {
    return new RawNode({
      id,
      storage,
      applied,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      rng: new Mulberry32(this.rng.nextInt(0x7fffffff) + 1),
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
      maxSizePerMsg: this.opts.maxSizePerMsg,
      maxInflightMsgs: this.opts.maxInflightMsgs,
    });
  }

  /**
   * Crash and restart: a new RawNode over the same (durable) storage; the
   * state machine keeps what it applied, as if restored from its own
   * snapshot. In-flight messages to and from it are unaffected.
   */
  restart(id: string): void {
    const n = this.node(id);
    n.raw = this.rawNode(id, n.storage, n.appliedIndex);
    // Membership as of what the state machine applied: storage's snapshot
    // voters, plus conf changes applied since (the driver replays them).
    for (const [index, e] of [...n.applied].sort((a, b) => a[0] - b[0])) {
      if (index > n.storage.snapshot().meta.index && e.type === 'confChange') n.raw.applyConfChange(decodeConfChange(e.data));
    }
    this.processReady(n);
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  // ------------------------------------------------------------ the driver

  /** The simplest correct driver: persist, then send, then apply, then advance. */
  processReady(n: SimNode): void {
    for (let guard = 0; n.raw.hasReady(); guard++) {
      if (guard > 1000) throw new Error(`node ${n.id}: Ready loop does not settle`);
      const rd: Ready = n.raw.ready();
      if (rd.softState?.role === 'leader') this.noteLeader(n);
      if (rd.snapshot) {
        n.storage.applySnapshot(rd.snapshot);
        n.appliedIndex = rd.snapshot.meta.index;
      }
      n.storage.append(rd.entries);
      if (rd.hardState) {
        if (rd.hardState.commit < n.lastCommit) throw new Error(`node ${n.id}: commit went back ${n.lastCommit} → ${rd.hardState.commit}`);
        n.lastCommit = rd.hardState.commit;
        n.storage.setHardState(rd.hardState);
      }
      for (const m of rd.messages) this.queue.push(m);
      for (const e of rd.committedEntries) this.apply(n, e);
      n.readStates.push(...rd.readStates);
      n.raw.advance(rd);
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) throw new Error(`node ${n.id}: applies ${e.index} after ${n.appliedIndex}`);
    const sig = `${e.term}:${e.type}:${text(e.data)}`;
    const seen = this.appliedGlobal.get(e.index);
    if (seen !== undefined && seen !== sig) {
      throw new Error(`state machine safety: index ${e.index} applied as ${seen} and as ${sig} (node ${n.id})`);
    }
    this.appliedGlobal.set(e.index, sig);
    n.applied.set(e.index, e);
    n.appliedIndex = e.index;
    if (e.type === 'confChange') n.raw.applyConfChange(decodeConfChange(e.data));
  }

  private noteLeader(n: SimNode): void {
    const term = n.raw.raft.term;
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== n.id) throw new Error(`election safety: ${prev} and ${n.id} both lead term ${term}`);
    this.leaders.set(term, n.id);
    // Leader completeness: every entry applied anywhere is in the new leader's log.
    const log = n.raw.raft.raftLog;
    for (const [index, sig] of this.appliedGlobal) {
      if (index < log.firstIndex()) continue; // folded into its snapshot
      const t = log.term(index);
      if (t === undefined || `${t}` !== sig.slice(0, sig.indexOf(':'))) {
        throw new Error(`leader completeness: leader ${n.id} term ${term} lacks applied entry ${index} (${sig})`);
      }
    }
  }

  // ------------------------------------------------------------ network

  isCut(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  /** Cuts every link between the groups (links inside a group stay). */
  partition(...groups: string[][]): void {
    this.cut.clear();
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
      }
    }
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Delivers queue[i] (or drops it if the link is cut or the target stopped). */
  deliverAt(i: number): void {
    const [m] = this.queue.splice(i, 1);
    if (m === undefined) return;
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    if (to === undefined || to.stopped || this.isCut(m.from, m.to) || this.dropIf?.(m) === true) {
      // The transport tells the sender a snapshot did not arrive.
      if (m.type === 'snap' && from && !from.stopped) {
        from.raw.reportSnapshot(m.to, false);
        this.processReady(from);
      }
      return;
    }
    this.delivered++;
    to.raw.step(m);
    this.processReady(to);
    if (m.type === 'snap' && from && !from.stopped) {
      from.raw.reportSnapshot(m.to, true);
      this.processReady(from);
    }
    if (this.opts.checkEveryStep) this.checkLogs();
  }

  /** Drops queue[i], reporting a lost snapshot as the transport would. */
  dropAt(i: number): void {
    const [m] = this.queue.splice(i, 1);
    if (m?.type === 'snap') {
      const from = this.nodes.get(m.from);
      if (from && !from.stopped) {
        from.raw.reportSnapshot(m.to, false);
        this.processReady(from);
      }
    }
  }

  /** Delivers in FIFO order until nothing is in flight. */
  stabilize(maxMessages = 100_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i > maxMessages) throw new Error('stabilize: messages do not settle');
      this.deliverAt(0);
    }
  }

  tick(id: string, n = 1): void {
    const node = this.node(id);
    for (let i = 0; i < n; i++) {
      if (node.stopped) return;
      node.raw.tick();
      this.processReady(node);
    }
  }

  /** Ticks every running node once (in a fixed order). */
  tickAll(): void {
    for (const n of this.nodes.values()) {
      if (n.stopped) continue;
      n.raw.tick();
      this.processReady(n);
    }
  }

  /** Ticks and delivers until `pred` holds; throws after maxTicks. */
  runUntil(pred: () => boolean, maxTicks = 500): number {
    for (let t = 0; t <= maxTicks; t++) {
      this.stabilize();
      if (pred()) return t;
      this.tickAll();
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  campaign(id: string): void {
    const n = this.node(id);
    n.raw.campaign();
    this.processReady(n);
  }

  propose(id: string, data: string): ReturnType<RawNode['propose']> {
    const n = this.node(id);
    const res = n.raw.propose(bytes(data));
    this.processReady(n);
    return res;
  }

  // ------------------------------------------------------------ queries

  role(id: string): Role {
    return this.node(id).raw.raft.role;
  }

  /** The running leader with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.stopped || n.raw.raft.role !== 'leader') continue;
      if (best === undefined || n.raw.raft.term > best.raw.raft.term) best = n;
    }
    return best;
  }

  /** Data of the normal, non-empty entries a node applied, in order. */
  appliedData(id: string): string[] {
    const out: string[] = [];
    for (const e of [...this.node(id).applied.values()].sort((a, b) => a.index - b.index)) {
      if (e.type === 'normal' && e.data.length > 0) out.push(text(e.data));
    }
    return out;
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree on it and on everything before. */
  checkLogs(): void {
    checkLogMatching([...this.nodes.values()].map((n) => ({ id: n.id, log: n.raw.raft.raftLog })));
  }

  /** Compacts a node's storage up to its applied index (keeping `keep` entries), as a driver would after a snapshot. */
  compact(id: string, keep = 0): boolean {
    const n = this.node(id);
    const at = n.appliedIndex;
    if (at <= n.storage.snapshot().meta.index || at > n.storage.lastIndex()) return false;
    n.storage.createSnapshot(at, n.raw.raft.voters(), bytes(`snap@${at}`));
    const to = at - keep;
    if (to > n.storage.firstIndex()) n.storage.compact(to);
    return true;
  }
}

/** Log matching: if two logs hold an entry with the same index and term, they agree on it and on everything before. */
export function checkLogMatching(list: readonly { id: string; log: RaftLog }[]): void {
  for (let a = 0; a < list.length; a++) {
    for (let b = a + 1; b < list.length; b++) {
      const la = list[a]!.log;
      const lb = list[b]!.log;
      const lo = Math.max(la.firstIndex(), lb.firstIndex());
      const hi = Math.min(la.lastIndex(), lb.lastIndex());
      if (hi < lo) continue;
      const ea = la.slice(lo, hi + 1, Infinity);
      const eb = lb.slice(lo, hi + 1, Infinity);
      if (ea === 'compacted' || eb === 'compacted') continue;
      // Find the highest index where terms match; below it everything must be identical.
      let top = -1;
      for (let i = ea.length - 1; i >= 0; i--) {
        if (ea[i]!.term === eb[i]!.term) {
          top = i;
          break;
        }
      }
      for (let i = 0; i <= top; i++) {
        const x = ea[i]!;
        const y = eb[i]!;
        if (x.term !== y.term || x.type !== y.type || text(x.data) !== text(y.data)) {
          throw new Error(
            `log matching: ${list[a]!.id} and ${list[b]!.id} agree at ${lo + top} but differ at ${x.index} (${x.term} vs ${y.term})`,
          );
        }
      }
    }
  }
}
