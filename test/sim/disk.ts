// A member's simulated disk: a WAL (a stream of records) and one snapshot
// file, with the durability rules of a real disk and the replay rules of
// core-server/wal + core-server/node/storage.ts:
//
//   write(rec) ──► page cache (buffered) ──sync()──► durable once the sync completes
//   saveSnapshot(s) ──────────────────────────────► the file appears atomically when it completes
//
// Operations complete in the order they were issued, each after a latency
// drawn from a distribution with rare spikes of seconds (cloud disks, seed
// 000 slide 19). A crash keeps what is durable plus, as a real page cache
// might have flushed it, a random prefix of the buffered records, and may
// tear the record after that prefix (a partial frame). recover() then reads
// what a restarting member would: the newest snapshot file, the last hard
// state, and the WAL's entries after the snapshot, a torn tail truncated.
//
// One replay rule goes beyond core-server/wal/design.md as written: a
// snapshot installed from the leader replaces the whole log (Raft's
// restore() keeps nothing), so entries written before it survive a restart
// only if the WAL's own entry at the snapshot's index has the snapshot's
// term (then they continue it, as after a local compaction). Otherwise an
// overwritten suffix would come back after the snapshot (test/sim seed 1395).
// walReplay 'production' replays by the rules as written, to show that.
//
// The disk also keeps a durable view: the (index, term) of every entry a
// restart would read back now, the newest snapshot that covers a prefix,
// and the last durable hard state. It is updated as records become durable,
// so the checker can ask "is this durable here?" in O(1) after any event.
// It is what lets the invariants check the driver's durability rules when
// the driver breaks them, not only when a crash later exposes it.

import type { Entry, HardState, Snapshot } from '../../core-server/raft/types.js';
import type { SimRandom } from './random.js';

export type WalRecord =
  | { kind: 'entry'; entry: Entry }
  | { kind: 'hardState'; hardState: HardState }
  /** The WAL's snapshot marker: entries at or below it are ignored on replay. */
  | { kind: 'snapMarker'; index: number; term: number }
  /** A record that only partly reached the disk before a crash. */
  | { kind: 'torn' };

export interface DiskLatency {
  /** Probability that one operation stalls for seconds. */
  spikeRate: number;
  spikeMsMin: number;
  spikeMsMax: number;
  /** Probability of a merely slow operation (tens of milliseconds). */
  slowRate: number;
}

export interface Recovered {
  hardState: HardState | undefined;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous, in index order. */
  entries: Entry[];
}

export interface CrashReport {
  /** Buffered records that were lost. */
  lost: number;
  /** Buffered records that happened to reach the disk anyway. */
  flushed: number;
  torn: boolean;
  /** A snapshot file save was in progress: did its rename happen? */
  snapshotSaved: boolean | undefined;
}

type Op = { token: number; kind: 'sync'; coversSeq: number } | { token: number; kind: 'snapshot'; snapshot: Snapshot };

/**
 * 'contract': the replay the Ready contract requires (see above).
 * 'production': core-server/wal + node/storage.ts as written today, where a
 * snapshot drops only the entries at or below its index.
 */
export type WalReplay = 'contract' | 'production';

/** Thrown when the disk holds something a real WAL would refuse to start from (or refuse to write). */
export class DiskCorruption extends Error {}

export class SimDisk {
  private durable: WalRecord[] = [];
  /** Written but not yet known durable, with the write sequence number each got. */
  private buffered: { seq: number; rec: WalRecord }[] = [];
  private writeSeq = 0;
  private snapFile: Snapshot | undefined = undefined;
  private ops: Op[] = [];
  private nextToken = 1;
  private lastDoneAt = 0;
  /** Highest snapshot marker written (the WAL refuses entries at or below it). */
  private markerIndex = 0;
  /** Durable hard-state commit, to check it never goes back on disk. */
  durableCommit = 0;
  /** The last durable hard state (what a restart would start from). */
  durableHardState: HardState | undefined = undefined;
  /** Durable view: term of the durable entry at each index above `durableCovered`. */
  private durableTerms: number[] = [];
  /** Durable view: every index up to here is covered by a durable snapshot (file or WAL marker). */
  private durableCovered = 0;
  syncs = 0;

  constructor(
    private readonly rnd: SimRandom,
    public latency: DiskLatency,
    private readonly replay: WalReplay = 'contract',
  ) {}

  /** Records that are on disk before the member first starts (a new cluster's bootstrap entries, fsynced at creation). */
  preload(recs: readonly WalRecord[]): void {
    for (const r of recs) this.makeDurable(r);
  }

  /** Appends a record to the page cache (not durable until a covering sync completes). */
  write(rec: WalRecord): void {
    if (rec.kind === 'entry' && rec.entry.index <= this.markerIndex) {
      // core-server/wal/wal.ts refuses this as a usage error: the driver wrote an entry the snapshot covers.
      throw new DiskCorruption(`WAL usage: entry ${rec.entry.index} written at or below the snapshot marker ${this.markerIndex}`);
    }
    if (rec.kind === 'snapMarker') this.markerIndex = Math.max(this.markerIndex, rec.index);
    this.buffered.push({ seq: ++this.writeSeq, rec });
  }

  /** Starts an fsync of everything written so far; returns its token and completion time. */
  sync(now: number): { token: number; doneAt: number } {
    this.syncs++;
    return this.issue(now, { token: this.nextToken++, kind: 'sync', coversSeq: this.writeSeq });
  }

  /** Starts an atomic snapshot-file save (temp, fsync, rename, fsync dir). */
  saveSnapshot(now: number, snapshot: Snapshot): { token: number; doneAt: number } {
    return this.issue(now, { token: this.nextToken++, kind: 'snapshot', snapshot });
  }

  private issue(now: number, op: Op): { token: number; doneAt: number } {
    this.ops.push(op);
    // One queue: an operation cannot complete before one issued earlier.
    const doneAt = Math.max(this.lastDoneAt, now + this.latencyMs());
    this.lastDoneAt = doneAt;
    return { token: op.token, doneAt };
  }

  private latencyMs(): number {
    const l = this.latency;
    if (l.spikeRate > 0 && this.rnd.chance(l.spikeRate)) return this.rnd.between(l.spikeMsMin, l.spikeMsMax);
    if (this.rnd.chance(l.slowRate)) return this.rnd.between(10, 120);
    return this.rnd.between(0.2, 4);
  }

  /** The operation `token` finished (the simulator calls this at its completion time). */
  complete(token: number): void {
    const op = this.ops[0];
    if (op === undefined || op.token !== token) throw new Error(`disk: completion of ${token} out of order`);
    this.ops.shift();
    if (op.kind === 'snapshot') {
      this.snapshotLanded(op.snapshot);
      return;
    }
    let n = 0;
    while (n < this.buffered.length && this.buffered[n]!.seq <= op.coversSeq) n++;
    for (const b of this.buffered.splice(0, n)) this.makeDurable(b.rec);
  }

  private snapshotLanded(snap: Snapshot): void {
    if (this.snapFile !== undefined && snap.meta.index <= this.snapFile.meta.index) return;
    this.snapFile = snap;
    this.viewSnapshot(snap.meta.index, snap.meta.term);
  }

  private makeDurable(rec: WalRecord): void {
    switch (rec.kind) {
      case 'hardState':
        if (rec.hardState.commit < this.durableCommit) {
          throw new Error(`durable commit went back from ${this.durableCommit} to ${rec.hardState.commit}`);
        }
        this.durableCommit = rec.hardState.commit;
        this.durableHardState = rec.hardState;
        break;
      case 'entry': {
        // The replay rule: an entry replaces the one at its index and everything after it.
        const e = rec.entry;
        if (e.index <= this.durableCovered) break;
        this.durableTerms.length = e.index;
        this.durableTerms[e.index] = e.term;
        break;
      }
      case 'snapMarker':
        this.viewSnapshot(rec.index, rec.term);
        break;
      case 'torn':
        break;
    }
    this.durable.push(rec);
  }

  /** A snapshot at (index, term) became durable: it covers its prefix, and replaces a suffix that diverged from it. */
  private viewSnapshot(index: number, term: number): void {
    if (index <= this.durableCovered) return;
    if (this.replay === 'contract' && this.durableTerms[index] !== term) this.durableTerms.length = index + 1;
    this.durableCovered = index;
  }

  /** Whether a restart now would read entry (index, term) back (or a snapshot covering it). */
  holds(index: number, term: number): boolean {
    return index <= this.durableCovered || this.durableTerms[index] === term;
  }

  /** Whether a restart now would read back some entry at every index up to `index`. */
  holdsUpTo(index: number): boolean {
    return index <= this.durableCovered || this.durableTerms.length > index;
  }

  /** Power loss: pending operations die, the page cache is partly flushed, maybe torn. */
  crash(): CrashReport {
    let snapshotSaved: boolean | undefined;
    for (const op of this.ops) {
      if (op.kind !== 'snapshot') continue;
      // A snapshot file is its own file (temp, fsync, rename): whether its
      // rename happened is independent of the WAL's page cache, and of any
      // other snapshot save in flight (a pipelining driver can have WAL
      // writes and a compaction's save in flight at once).
      const landed = this.rnd.chance(0.5);
      snapshotSaved = snapshotSaved === true || landed;
      if (landed) this.snapshotLanded(op.snapshot);
    }
    const kept = this.rnd.int(0, this.buffered.length);
    const torn = kept < this.buffered.length && this.rnd.chance(0.5);
    for (let i = 0; i < kept; i++) this.makeDurable(this.buffered[i]!.rec);
    if (torn) this.durable.push({ kind: 'torn' });
    const report: CrashReport = { lost: this.buffered.length - kept, flushed: kept, torn, snapshotSaved };
    this.buffered = [];
    this.ops = [];
    return report;
  }

  /**
   * What a restarting member reads, by the production rules: a torn final
   * record is truncated (anywhere else it would be corruption); hardState:
   * last wins; a snapshot marker drops entries at or below it; an entry
   * whose index exists replaces it and everything after it. Then the
   * entries at or below the newest snapshot file are skipped and the rest
   * must follow it without a gap.
   */
  recover(): Recovered {
    const last = this.durable[this.durable.length - 1];
    if (last?.kind === 'torn') this.durable.pop();
    let hardState: HardState | undefined;
    let markerIndex = 0;
    let ents: Entry[] = [];
    for (const rec of this.durable) {
      switch (rec.kind) {
        case 'torn':
          throw new DiskCorruption('a torn record in the middle of the WAL');
        case 'hardState':
          hardState = rec.hardState;
          break;
        case 'snapMarker':
          // A marker at or below the current one changes nothing (a restart writes its snapshot's marker again).
          if (rec.index <= markerIndex) break;
          ents = this.afterSnapshot(ents, rec.index, rec.term);
          markerIndex = rec.index;
          break;
        case 'entry': {
          const e = rec.entry;
          if (e.index <= markerIndex) break;
          const first = ents[0];
          if (first !== undefined && e.index < first.index) ents = [];
          else if (first !== undefined && e.index <= first.index + ents.length - 1) ents.length = e.index - first.index;
          const prev = ents[ents.length - 1];
          const expected = prev !== undefined ? prev.index + 1 : markerIndex + 1;
          if (e.index !== expected) throw new DiskCorruption(`WAL entry ${e.index} leaves a gap after ${expected - 1}`);
          ents.push(e);
          break;
        }
      }
    }
    const snapIndex = this.snapFile?.meta.index ?? 0;
    // The snapshot file may be newer than the WAL's marker (a crash between saving one and appending the other).
    const entries = this.snapFile !== undefined && snapIndex > markerIndex ? this.afterSnapshot(ents, snapIndex, this.snapFile.meta.term) : ents.filter((e) => e.index > snapIndex);
    const firstKept = entries[0];
    if (firstKept !== undefined && firstKept.index !== snapIndex + 1) {
      throw new DiskCorruption(`WAL starts at ${firstKept.index} but the newest snapshot ends at ${snapIndex}`);
    }
    this.markerIndex = markerIndex;
    // The durable view becomes exactly what this restart read.
    this.durableCovered = Math.max(snapIndex, markerIndex);
    this.durableTerms = [];
    for (const e of entries) this.durableTerms[e.index] = e.term;
    return { hardState, snapshot: this.snapFile, entries };
  }

  /** The entries that follow a snapshot at (index, term): those after it, if the WAL's entry at index is the snapshot's own. */
  private afterSnapshot(ents: Entry[], index: number, term: number): Entry[] {
    const after = ents.filter((e) => e.index > index);
    if (this.replay === 'production' || after.length === 0) return after;
    const at = ents.find((e) => e.index === index);
    return at !== undefined && at.term === term ? after : [];
  }

  /** Whether any operation is still in flight (a crash now can lose or tear something). */
  busy(): boolean {
    return this.ops.length > 0 || this.buffered.length > 0;
  }
}
