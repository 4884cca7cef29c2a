// Snapshot files: atomic save, newest-valid load, pruning, verification.
//
// Save is temp file → write → fsync → rename → fsync dir, so a crash at any
// point leaves either the old set of snapshots or the old set plus the new
// one, never a half-written `.snap`. Load refuses a damaged newest snapshot
// rather than falling back to an older one: the WAL may already have
// released the entries between the two, and starting from the older image
// would silently lose them.
//
// Memory: save writes the caller's buffer directly after a 40-byte header;
// load reads the file into one buffer and returns a view of its payload. A
// 60 MB snapshot costs 60 MB, not a multiple of it.

import { join } from 'node:path';
import { nodeDisk, type Disk } from '../wal/disk.js';
import { StorageError } from '../wal/errors.js';
import { failpoint } from '../wal/failpoint.js';
import { checkSnapFile, encodeSnapHeader, parseSnapName, snapName, type SnapName } from './snap-file.js';

export const SNAPSHOT_KEEP_MAX_DEFAULT = 5;
export const SNAPSHOT_BYTES_MAX_DEFAULT = 2 * 1024 * 1024 * 1024 - 1;
const TMP_SUFFIX = '.tmp';

export interface Snapshot {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface LoadedSnapshot extends Snapshot {
  /** Full path of the file it came from. */
  file: string;
}

export interface SnapOptions {
  disk?: Disk;
  /** How many snapshot files to keep after a save (oldest go first). */
  keepMax?: number;
  /** Larger snapshot files are refused rather than read into memory. */
  snapshotBytesMax?: number;
}

function listSnaps(names: readonly string[]): SnapName[] {
  const out: SnapName[] = [];
  for (const n of names) {
    const s = parseSnapName(n);
    if (s !== null) out.push(s);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function fp(name: 'snapBeforeRename' | 'snapAfterRename'): Promise<void> {
  const p = failpoint(name);
  if (p !== undefined) await p;
}

/** Writes a snapshot atomically, then prunes to `keepMax` files. Returns the file's path. */
export async function saveSnapshot(dir: string, snap: Snapshot, opts: SnapOptions = {}): Promise<string> {
  const disk = opts.disk ?? nodeDisk;
  const keepMax = opts.keepMax ?? SNAPSHOT_KEEP_MAX_DEFAULT;
  if (!Number.isSafeInteger(keepMax) || keepMax < 1) throw new RangeError('keepMax must be a positive integer');
  if (!(snap.data instanceof Uint8Array)) throw new TypeError('snapshot data must be a Uint8Array');
  const header = encodeSnapHeader(snap.term, snap.index, snap.data);
  await disk.mkdirp(dir);

  const name = snapName(snap.term, snap.index);
  const path = join(dir, name);
  const tmp = path + TMP_SUFFIX;
  if ((await disk.size(tmp)) !== null) await disk.unlink(tmp); // left by a crash mid-save
  const h = await disk.create(tmp);
  try {
    await h.writev([header, snap.data], 0);
    await h.sync();
  } finally {
    await h.close();
  }
  await fp('snapBeforeRename');
  await disk.rename(tmp, path);
  await fp('snapAfterRename');
  await disk.fsyncDir(dir);

  const snaps = listSnaps(await disk.readdir(dir)).filter((s) => s.name !== name);
  const excess = snaps.length + 1 - keepMax;
  if (excess > 0) {
    for (const old of snaps.slice(0, excess)) await disk.unlink(join(dir, old.name));
    await disk.fsyncDir(dir);
  }
  return path;
}

interface FileCheck {
  data: Uint8Array | null;
  bytes: number;
  problem: { offset: number; reason: string } | null;
}

async function checkFile(disk: Disk, dir: string, s: SnapName, bytesMax: number): Promise<FileCheck> {
  const path = join(dir, s.name);
  const size = await disk.size(path);
  if (size === null) return { data: null, bytes: 0, problem: { offset: 0, reason: 'file vanished while being read' } };
  if (size > bytesMax) {
    throw new StorageError('RG_ERR_SNAP_TOO_LARGE', `snapshot ${path} is ${size} bytes, over the limit of ${bytesMax}`, { file: path });
  }
  const buf = await disk.readFile(path);
  const c = checkSnapFile(buf);
  const bad = (offset: number, reason: string): FileCheck => ({ data: null, bytes: buf.length, problem: { offset, reason } });
  if ('reason' in c) return bad(c.offset, c.reason);
  // A sound file under another snapshot's name (renamed or copied) is refused too.
  if (c.term !== s.term || c.index !== s.index) return bad(8, `header says term ${c.term} index ${c.index}, the file name says term ${s.term} index ${s.index}`);
  return { data: c.payload, bytes: buf.length, problem: null };
}

function corrupt(dir: string, file: string, offset: number, reason: string): StorageError {
  const path = join(dir, file);
  return new StorageError(
    'RG_ERR_SNAP_CORRUPT',
    `snapshot is corrupt: ${reason} in ${path} at byte offset ${offset}. Raftgate will not fall back to an older snapshot, ` +
      `because the log entries after it may already be released. Check with \`raftgate wal verify\`; restore this member from a healthy peer ` +
      `(or move the file aside if an older snapshot and the WAL still cover the gap).`,
    { file: path, offset },
  );
}

/**
 * Loads the newest snapshot, or null when there is none. Removes temp files
 * left by a crash during a save (this is the start-up path). Refuses with
 * RG_ERR_SNAP_CORRUPT when the newest file is damaged.
 */
export async function loadNewestSnapshot(dir: string, opts: SnapOptions = {}): Promise<LoadedSnapshot | null> {
  const disk = opts.disk ?? nodeDisk;
  const names = await disk.readdir(dir);
  const leftovers = names.filter((n) => n.endsWith(TMP_SUFFIX) && parseSnapName(n.slice(0, -TMP_SUFFIX.length)) !== null);
  for (const n of leftovers) await disk.unlink(join(dir, n));
  if (leftovers.length > 0) await disk.fsyncDir(dir);

  const newest = listSnaps(names).pop();
  if (newest === undefined) return null;
  const c = await checkFile(disk, dir, newest, opts.snapshotBytesMax ?? SNAPSHOT_BYTES_MAX_DEFAULT);
  if (c.problem !== null || c.data === null) {
    const p = c.problem ?? { offset: 0, reason: 'unreadable' };
    throw corrupt(dir, newest.name, p.offset, p.reason);
  }
  return { term: newest.term, index: newest.index, data: c.data, file: join(dir, newest.name) };
}

export interface SnapshotFileReport {
  file: string;
  term: number;
  index: number;
  bytes: number;
  ok: boolean;
  problem?: { offset: number; reason: string };
}

export interface SnapshotVerifyReport {
  /** True when every snapshot file is intact. */
  ok: boolean;
  dir: string;
  files: SnapshotFileReport[];
  /** The file a member would load (the newest), or null. */
  newest: string | null;
  /** Temp files from an interrupted save; removed at the next start. */
  leftovers: string[];
}

/** Read-only check of every snapshot file, for `raftgate wal verify`. */
export async function verifySnapshots(dir: string, opts: SnapOptions = {}): Promise<SnapshotVerifyReport> {
  const disk = opts.disk ?? nodeDisk;
  const names = await disk.readdir(dir);
  const snaps = listSnaps(names);
  const files: SnapshotFileReport[] = [];
  for (const s of snaps) {
    let c: FileCheck;
    try {
      c = await checkFile(disk, dir, s, opts.snapshotBytesMax ?? SNAPSHOT_BYTES_MAX_DEFAULT);
    } catch (err) {
      c = { data: null, bytes: 0, problem: { offset: 0, reason: (err as Error).message } };
    }
    const f: SnapshotFileReport = { file: s.name, term: s.term, index: s.index, bytes: c.bytes, ok: c.problem === null };
    if (c.problem !== null) f.problem = c.problem;
    files.push(f);
  }
  return {
    ok: files.every((f) => f.ok),
    dir,
    files,
    newest: snaps[snaps.length - 1]?.name ?? null,
    leftovers: names.filter((n) => n.endsWith(TMP_SUFFIX)),
  };
}

export function formatSnapshotReport(r: SnapshotVerifyReport): string {
  const lines = [`snapshots ${r.dir}`];
  if (r.files.length === 0) lines.push('  (none)');
  for (const f of r.files) {
    const state = f.ok ? 'ok' : `CORRUPT at offset ${f.problem?.offset}: ${f.problem?.reason}`;
    lines.push(`  ${f.file}  term ${f.term} index ${f.index}  ${f.bytes} bytes  ${state}${f.file === r.newest ? '  (newest)' : ''}`);
  }
  for (const t of r.leftovers) lines.push(`  ${t}  leftover from an interrupted save; removed at the next start`);
  lines.push(r.ok ? 'OK' : 'FAILED: damaged snapshot files; a member refuses to start if the newest one is damaged.');
  return lines.join('\n');
}
