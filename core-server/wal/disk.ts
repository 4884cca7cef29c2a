// The storage layer's only door to the filesystem. Injected so tests can
// count fsyncs and a simulation can drop unsynced writes (memory-disk.ts);
// nodeDisk is the real thing over node:fs/promises.

import { constants, promises as fsp, writeSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DiskHandle {
  /** Writes every chunk, in order, starting at `position`; short writes throw. */
  writev(chunks: readonly Uint8Array[], position: number): Promise<void>;
  /** fsync: returns once everything written so far is durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  /** Creates the directory and its parents; fsyncs each new directory's parent. */
  mkdirp(dir: string): Promise<void>;
  /** Entry names in `dir`; [] when it does not exist. */
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** Size in bytes, or null when the file does not exist. */
  size(path: string): Promise<number | null>;
  /** Creates a new file for writing; fails if it exists. */
  create(path: string): Promise<DiskHandle>;
  /** Shortens a file and fsyncs it. */
  truncate(path: string, length: number): Promise<void>;
  /** Copies a file to a new name (fails if it exists) and fsyncs the copy. */
  copyFile(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory: makes creates, renames and deletes in it durable. */
  fsyncDir(dir: string): Promise<void>;
}

/**
 * Writes up to this many bytes synchronously, on the event loop. A WAL write
 * is a copy into the page cache (tens of microseconds for a batch of small
 * entries); sending it to libuv's threadpool instead costs two thread
 * wake-ups, which on a busy machine take far longer than the copy and sit on
 * every write's critical path. Bigger writes still go to the threadpool so
 * one huge batch cannot stall the loop. The fsync that makes them durable is
 * always asynchronous.
 */
export const SYNC_WRITE_BYTES_MAX = 1 << 20;

class NodeHandle implements DiskHandle {
  constructor(private readonly fh: fsp.FileHandle) {}

  writev(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let want = 0;
    for (const c of chunks) want += c.length;
    if (want > SYNC_WRITE_BYTES_MAX) return this.writevAsync(chunks, position, want);
    try {
      writevSyncAll(this.fh.fd, chunks, position, want);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private async writevAsync(chunks: readonly Uint8Array[], position: number, want: number): Promise<void> {
    // writev may stop short (e.g. >2 GiB, or IOV_MAX chunks); finish with plain writes.
    const { bytesWritten } = await this.fh.writev(chunks as Uint8Array[], position);
    if (bytesWritten === want) return;
    for (const r of unwritten(chunks, position, bytesWritten)) {
      for (let off = r.off, pos = r.pos; off < r.chunk.length; ) {
        const { bytesWritten: n } = await this.fh.write(r.chunk, off, r.chunk.length - off, pos);
        if (n <= 0) throw new Error(`short write at ${pos}`);
        off += n;
        pos += n;
      }
    }
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** writevSync that finishes a short write (IOV_MAX chunks, signals) with plain writes. */
function writevSyncAll(fd: number, chunks: readonly Uint8Array[], position: number, want: number): void {
  const n = writevSync(fd, chunks as Uint8Array[], position);
  if (n === want) return;
  for (const r of unwritten(chunks, position, n)) {
    for (let off = r.off, pos = r.pos; off < r.chunk.length; ) {
      const w = writeSync(fd, r.chunk, off, r.chunk.length - off, pos);
      if (w <= 0) throw new Error(`short write at ${pos}`);
      off += w;
      pos += w;
    }
  }
}

/** What a writev that stopped after `written` bytes left to write: each chunk's remainder and its file position. */
export function* unwritten(chunks: readonly Uint8Array[], position: number, written: number): Generator<{ chunk: Uint8Array; off: number; pos: number }> {
  let skip = written;
  let pos = position + written;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    yield { chunk, off: skip, pos };
    pos += chunk.length - skip;
    skip = 0;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const nodeDisk: Disk = {
  async mkdirp(dir) {
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // Make every newly created level durable in its parent.
    let d = dir;
    for (;;) {
      await fsyncDirectory(dirname(d));
      if (d === first || dirname(d) === d) break;
      d = dirname(d);
    }
  },
  async readdir(dir) {
    try {
      return await fsp.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  async readFile(path) {
    return fsp.readFile(path);
  },
  async size(path) {
    try {
      return (await fsp.stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  async create(path) {
    return new NodeHandle(await fsp.open(path, 'wx'));
  },
  async truncate(path, length) {
    const fh = await fsp.open(path, 'r+');
    try {
      await fh.truncate(length);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async copyFile(from, to) {
    await fsp.copyFile(from, to, constants.COPYFILE_EXCL);
    const fh = await fsp.open(to, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  fsyncDir: fsyncDirectory,
};
