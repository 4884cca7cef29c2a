// The write-ahead log: open/recover, group-committed appends, segment
// cutting and release. Byte layout: record.ts; on-disk policy: design.md.
//
// Group commit: append() encodes its records at once (so the rolling CRC
// follows call order) and queues the bytes. One flush loop runs at a time;
// each pass takes everything queued, writes it, fsyncs once and resolves every
// caller whose bytes it covered. Appends that arrive during an fsync wait for
// the next pass, so N concurrent callers cost about two fsyncs, not N.

import { join } from 'node:path';
import { nodeDisk, type Disk, type DiskHandle } from './disk.js';
import { StorageError } from './errors.js';
import { failpoint } from './failpoint.js';
import { readWalDir, type HardState, type SnapshotMarker, type WalDirRead, type WalMetadata, type WalProblem } from './reader.js';
import { encodeRecords, verifyFrames, type AppendRecord, type EntryRecord, type WalRecord } from './record.js';
import { parseSegmentName, segmentName } from './segment-name.js';

export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

export interface WalOptions {
  /** Defaults to the real filesystem. */
  disk?: Disk;
  /** A segment is cut once it reaches this size (checked after each append). */
  segmentBytesMax?: number;
  /** Member and cluster ids written first into a new WAL; required to create one. */
  metadata?: WalMetadata;
}

export interface TornTailRepair {
  file: string;
  offset: number;
  reason: string;
  /** Where the segment was copied before being truncated. */
  brokenCopy: string;
}

export interface WalRecovery {
  /** True when this call created the WAL. */
  created: boolean;
  metadata: WalMetadata;
  hardState: HardState | null;
  snapshot: SnapshotMarker | null;
  /** Entries after the snapshot, contiguous, in index order. */
  entries: EntryRecord[];
  tornTail: TornTailRepair | null;
}

export interface WalStats {
  appendCalls: number;
  records: number;
  flushes: number;
  fsyncs: number;
  bytesWritten: number;
  segments: number;
}

interface Segment {
  seq: number;
  firstIndex: number;
  name: string;
  handle: DiskHandle | null;
  written: number;
}

interface Chunk {
  seg: Segment;
  bytes: Uint8Array;
  /** Rolling CRC before and after these bytes, re-checked just before writing. */
  seedCrc: number;
  endCrc: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers get this promise and handle it; this only stops an unobserved
  // rejection (no caller left) from crashing the process twice.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export function walCorruptError(dir: string, p: WalProblem): StorageError {
  const file = join(dir, p.file);
  return new StorageError(
    'RG_ERR_WAL_CORRUPT',
    `WAL is corrupt: ${p.reason} in ${file} at byte offset ${p.offset}. ` +
      `Raftgate will not start on a damaged log, because records after the damage may hold acknowledged writes. ` +
      `Inspect it with \`raftgate wal verify ${dir}\`; then either restore this member from a healthy peer, or run ` +
      `\`raftgate wal repair ${dir}\` to cut the log at the damage (the file is copied aside first; records from that point are lost).`,
    { file, offset: p.offset },
  );
}

/** `<base><suffix>`, or `<base>.<n><suffix>` with the first n not already in `dir`. */
export async function uniqueName(disk: Disk, dir: string, base: string, suffix: string): Promise<string> {
  const names = new Set(await disk.readdir(dir));
  if (!names.has(base + suffix)) return base + suffix;
  for (let n = 1; ; n++) if (!names.has(`${base}.${n}${suffix}`)) return `${base}.${n}${suffix}`;
}

/** Copies a segment aside as `<name>.broken` (never losing bytes silently), then cuts it at `offset`. */
export async function truncateSegment(disk: Disk, dir: string, file: string, offset: number): Promise<string> {
  const path = join(dir, file);
  const broken = join(dir, await uniqueName(disk, dir, file, '.broken'));
  await disk.copyFile(path, broken);
  // A segment with nothing valid left carries no data; removing it keeps the rule that every segment starts with a crc record.
  if (offset === 0) await disk.unlink(path);
  else await disk.truncate(path, offset);
  await disk.fsyncDir(dir);
  return broken;
}

/** Removes segment files left half-created (`<segment>.tmp`) by a crash during a cut. */
async function removeTempSegments(disk: Disk, dir: string): Promise<void> {
  let removed = false;
  for (const name of await disk.readdir(dir)) {
    if (name.endsWith('.tmp') && parseSegmentName(name.slice(0, -4)) !== null) {
      await disk.unlink(join(dir, name));
      removed = true;
    }
  }
  if (removed) await disk.fsyncDir(dir);
}

/**
 * Opens the WAL in `dir`, creating it (with `opts.metadata`) when there is
 * none. Recovers a torn tail; refuses corruption with RG_ERR_WAL_CORRUPT.
 * Always starts a fresh segment, so the writer never appends to a file it did
 * not create in this process.
 */
export async function openWal(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; recovered: WalRecovery }> {
  const disk = opts.disk ?? nodeDisk;
  const segmentBytesMax = opts.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  if (!Number.isSafeInteger(segmentBytesMax) || segmentBytesMax < 1) throw new RangeError('segmentBytesMax must be a positive integer');
  await disk.mkdirp(dir);
  await removeTempSegments(disk, dir);

  let read: WalDirRead = await readWalDir(disk, dir);
  let tornTail: TornTailRepair | null = null;
  if (read.problem?.kind === 'corrupt') throw walCorruptError(dir, read.problem);
  if (read.problem?.kind === 'torn-tail') {
    const p = read.problem;
    const brokenCopy = await truncateSegment(disk, dir, p.file, p.offset);
    tornTail = { file: join(dir, p.file), offset: p.offset, reason: p.reason, brokenCopy };
    read = await readWalDir(disk, dir);
    if (read.problem !== null) throw walCorruptError(dir, read.problem);
  }

  const created = read.segments.length === 0;
  let metadata: WalMetadata;
  if (created) {
    if (opts.metadata === undefined) {
      throw new StorageError('RG_ERR_WAL_NO_METADATA', `no WAL in ${dir}, and no member and cluster ids were given to create one`);
    }
    metadata = { memberId: opts.metadata.memberId, clusterId: opts.metadata.clusterId };
  } else {
    if (read.replay.metadata === null) {
      throw walCorruptError(dir, { kind: 'corrupt', file: read.segments[0]!.name, offset: 0, reason: 'no metadata record in any segment' });
    }
    metadata = read.replay.metadata;
  }

  const wal = new Wal(disk, dir, segmentBytesMax, metadata, read);
  await wal.sync();
  const { hardState, snapshot, entries } = read.replay;
  return { wal, recovered: { created, metadata, hardState, snapshot, entries, tornTail } };
}

export class Wal {
  private readonly segments: Segment[];
  private seg!: Segment;
  private segBytes = 0;
  private crc: number;
  private lastEntryIndex: number;
  private hardState: HardState | null;
  private snapshot: SnapshotMarker | null;
  private snapshotSeq: number | null;

  private pending: Chunk[] = [];
  private pendingDone: Deferred | null = null;
  private inflightDone: Deferred | null = null;
  private flushing = false;
  private failure: StorageError | null = null;
  private closed = false;
  private readonly counters: WalStats = { appendCalls: 0, records: 0, flushes: 0, fsyncs: 0, bytesWritten: 0, segments: 0 };

  /** Use openWal(). */
  constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly segmentBytesMax: number,
    private readonly metadata: WalMetadata,
    read: WalDirRead,
  ) {
    this.segments = read.segments.map((s) => ({ ...s, handle: null, written: 0 }));
    this.crc = read.crc;
    const ents = read.replay.entries;
    this.lastEntryIndex = ents.length > 0 ? ents[ents.length - 1]!.index : 0;
    this.hardState = read.replay.hardState;
    this.snapshot = read.replay.snapshot;
    this.snapshotSeq = read.snapshotSeq;
    this.cut();
  }

  /** Index of the last entry appended (0 when none). */
  lastIndex(): number {
    return this.lastEntryIndex;
  }

  stats(): WalStats {
    return { ...this.counters, segments: this.segments.length };
  }

  /** Segment file names currently making up the log, oldest first. */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Appends records; resolves once they are durable (after the fsync that
   * covers them). Entry indexes must continue the log: at most one past the
   * last entry (or the snapshot), and an index that already exists overwrites
   * it and drops everything after it, as Raft's log truncation requires.
   */
  append(records: readonly AppendRecord[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StorageError('RG_ERR_WAL_CLOSED', 'WAL is closed'));
    if (records.length === 0) return this.sync();

    let last = this.lastEntryIndex;
    let snapIndex = this.snapshot?.index ?? 0;
    let hardState = this.hardState;
    let snapshot = this.snapshot;
    for (const r of records) {
      if (r.type === 'entry') {
        if (!(r.data instanceof Uint8Array)) return usage('entry data must be a Uint8Array');
        if (!Number.isSafeInteger(r.index) || r.index <= snapIndex) return usage(`entry index ${r.index} is not after the snapshot at ${snapIndex}`);
        if (r.index > Math.max(last, snapIndex) + 1) return usage(`entry index ${r.index} leaves a gap after ${Math.max(last, snapIndex)}`);
        last = r.index;
      } else if (r.type === 'snapshot') {
        if (!Number.isSafeInteger(r.index) || r.index < snapIndex) return usage(`snapshot marker ${r.index} is older than ${snapIndex}`);
        snapIndex = r.index;
        snapshot = { index: r.index, term: r.term };
      } else if (r.type === 'hardState') {
        hardState = { term: r.term, vote: r.vote, commit: r.commit };
      } else {
        return usage(`cannot append a record of type ${(r as WalRecord).type}`);
      }
    }
    let enc;
    try {
      enc = encodeRecords(records, this.crc);
    } catch (err) {
      return usage((err as Error).message);
    }

    if (snapshot !== this.snapshot) this.snapshotSeq = this.seg.seq;
    this.lastEntryIndex = last;
    this.hardState = hardState;
    this.snapshot = snapshot;
    this.enqueue({ seg: this.seg, bytes: enc.bytes, seedCrc: this.crc, endCrc: enc.crc });
    this.crc = enc.crc;
    this.segBytes += enc.bytes.length;
    this.counters.appendCalls++;
    this.counters.records += records.length;
    const done = this.pendingDone!.promise;
    if (this.segBytes >= this.segmentBytesMax) this.cut();
    return done;
  }

  /** Resolves once everything appended so far is durable. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.pendingDone !== null) return this.pendingDone.promise;
    if (this.inflightDone !== null) return this.inflightDone.promise;
    return Promise.resolve();
  }

  /**
   * Deletes whole segments that hold nothing past `index`. Call after a
   * snapshot at `index` is saved and its marker appended: the segment holding
   * the newest marker and everything after it are kept.
   */
  async releaseTo(index: number): Promise<string[]> {
    if (this.failure !== null) throw this.failure;
    if (this.snapshot === null || this.snapshotSeq === null || this.snapshot.index < index) {
      throw new StorageError('RG_ERR_WAL_USAGE', `releaseTo(${index}) without a snapshot marker at or after ${index}`);
    }
    await this.sync(); // the marker must be durable before older segments go
    const released: string[] = [];
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      const next = this.segments[1]!;
      // Live entries in s all precede next.firstIndex (the next index expected when s was cut).
      if (s.seq >= this.snapshotSeq || next.firstIndex - 1 > index) break;
      await this.disk.unlink(join(this.dir, s.name));
      this.segments.shift();
      released.push(s.name);
    }
    if (released.length > 0) await this.disk.fsyncDir(this.dir);
    return released;
  }

  /** Waits for pending appends, then closes the current segment. Further appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.sync();
    } finally {
      for (const s of this.segments) {
        if (s.handle !== null) await s.handle.close();
        s.handle = null;
      }
    }
  }

  private cut(): void {
    const prev = this.segments[this.segments.length - 1];
    const seq = prev === undefined ? 0 : prev.seq + 1;
    const firstIndex = Math.max(this.lastEntryIndex, this.snapshot?.index ?? 0) + 1;
    // Each segment repeats the metadata and the latest hard state and snapshot
    // marker, so releasing older segments never loses them.
    const header: WalRecord[] = [{ type: 'crc', prevCrc: this.crc }, { type: 'metadata', ...this.metadata }];
    if (this.hardState !== null) header.push({ type: 'hardState', ...this.hardState });
    if (this.snapshot !== null) header.push({ type: 'snapshot', ...this.snapshot });
    const enc = encodeRecords(header, this.crc);
    const seg: Segment = { seq, firstIndex, name: segmentName(seq, firstIndex), handle: null, written: 0 };
    this.segments.push(seg);
    this.enqueue({ seg, bytes: enc.bytes, seedCrc: this.crc, endCrc: enc.crc });
    this.seg = seg;
    this.crc = enc.crc;
    this.segBytes = enc.bytes.length;
  }

  private enqueue(chunk: Chunk): void {
    this.pending.push(chunk);
    if (this.pendingDone === null) this.pendingDone = deferred();
    if (!this.flushing) {
      this.flushing = true;
      // A microtask, not now: every append made in the same tick joins this flush.
      queueMicrotask(() => void this.flushLoop());
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 && this.failure === null) {
      const chunks = this.pending;
      const done = this.pendingDone!;
      this.pending = [];
      this.pendingDone = null;
      this.inflightDone = done;
      try {
        await this.writeOut(chunks);
        this.counters.flushes++;
        done.resolve();
      } catch (err) {
        // After a failed write or fsync the kernel's view of the file is
        // unknown (fsyncgate): poison the WAL; the member must restart and recover.
        this.failure =
          err instanceof StorageError ? err : new StorageError('RG_ERR_WAL_IO', `WAL write or fsync failed in ${this.dir}: ${(err as Error).message}`, { cause: err });
        done.reject(this.failure);
      }
    }
    if (this.failure !== null && this.pendingDone !== null) {
      this.pendingDone.reject(this.failure);
      this.pendingDone = null;
      this.pending = [];
    }
    this.inflightDone = null;
    this.flushing = false;
  }

  private async fsync(h: DiskHandle): Promise<void> {
    const before = failpoint('walBeforeFsync');
    if (before !== undefined) await before;
    await h.sync();
    this.counters.fsyncs++;
    const after = failpoint('walAfterFsync');
    if (after !== undefined) await after;
  }

  private async writeOut(chunks: Chunk[]): Promise<void> {
    let i = 0;
    while (i < chunks.length) {
      const seg = chunks[i]!.seg;
      let j = i;
      while (j < chunks.length && chunks[j]!.seg === seg) j++;
      const group = chunks.slice(i, j);
      i = j;
      for (const c of group) {
        const why = verifyFrames(c.bytes, c.seedCrc, c.endCrc);
        // An encoder bug or memory corruption: never write it.
        if (why !== null) throw new StorageError('RG_ERR_WAL_CORRUPT', `WAL batch for ${seg.name} failed its write-time check: ${why}`);
      }
      let body = group;
      if (seg.handle === null) {
        await this.createSegment(seg, group[0]!);
        body = group.slice(1);
      }
      if (body.length === 0) continue;
      const bytes = body.map((c) => c.bytes);
      let n = 0;
      for (const b of bytes) n += b.length;
      await seg.handle!.writev(bytes, seg.written);
      seg.written += n;
      this.counters.bytesWritten += n;
      await this.fsync(seg.handle!);
    }
  }

  /**
   * Writes a segment's header records to `<name>.tmp`, fsyncs, renames and
   * fsyncs the directory: a segment file exists only with its whole header,
   * so it always starts with a crc record and the metadata.
   */
  private async createSegment(seg: Segment, header: Chunk): Promise<void> {
    const path = join(this.dir, seg.name);
    const h = await this.disk.create(`${path}.tmp`);
    await h.writev([header.bytes], 0);
    await this.fsync(h);
    await this.disk.rename(`${path}.tmp`, path);
    await this.disk.fsyncDir(this.dir);
    seg.handle = h;
    seg.written = header.bytes.length;
    this.counters.bytesWritten += header.bytes.length;
    // Every chunk of older segments was written before this header was queued: close them.
    for (const s of this.segments) {
      if (s !== seg && s.handle !== null) {
        await s.handle.close();
        s.handle = null;
      }
    }
  }
}

function usage(message: string): Promise<never> {
  return Promise.reject(new StorageError('RG_ERR_WAL_USAGE', message));
}
