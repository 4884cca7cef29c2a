// An in-memory Disk that remembers what has been made durable, for tests and
// simulation. crash() forgets everything that was not fsynced: file contents
// roll back to their last sync and directory entries to their last directory
// fsync, as on a real machine that loses power.

import { posix } from 'node:path';
import type { Disk, DiskHandle } from './disk.js';

interface Inode {
  data: Uint8Array;
  synced: Uint8Array;
}

interface Dir {
  entries: Map<string, Inode>;
  synced: Map<string, Inode>;
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}

export class MemoryDisk implements Disk {
  private readonly dirs = new Map<string, Dir>();
  /** Counters so tests can assert on I/O, e.g. one fsync per group commit. */
  readonly counts = { fileSyncs: 0, dirSyncs: 0, writes: 0 };
  /** Bumped by crash(): handles from before a crash belong to a dead process and fail. */
  private epoch = 0;

  private dir(path: string): Dir {
    const d = this.dirs.get(posix.normalize(path));
    if (d === undefined) throw enoent(path);
    return d;
  }

  private split(path: string): [Dir, string] {
    return [this.dir(posix.dirname(path)), posix.basename(path)];
  }

  private inode(path: string): Inode {
    const [d, name] = this.split(path);
    const ino = d.entries.get(name);
    if (ino === undefined) throw enoent(path);
    return ino;
  }

  /** Drops every write, create, rename and delete that was not fsynced. */
  crash(): void {
    this.epoch++;
    for (const d of this.dirs.values()) {
      d.entries = new Map(d.synced);
      for (const ino of d.entries.values()) ino.data = ino.synced;
    }
  }

  async mkdirp(dir: string): Promise<void> {
    // Directories are treated as durable once made; the WAL's interest is files.
    let d = posix.normalize(dir);
    while (!this.dirs.has(d)) {
      this.dirs.set(d, { entries: new Map(), synced: new Map() });
      const parent = posix.dirname(d);
      if (parent === d) break;
      d = parent;
    }
  }

  async readdir(dir: string): Promise<string[]> {
    const d = this.dirs.get(posix.normalize(dir));
    return d === undefined ? [] : [...d.entries.keys()].sort();
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.inode(path).data.slice();
  }

  async size(path: string): Promise<number | null> {
    const [d, name] = [this.dirs.get(posix.dirname(posix.normalize(path))), posix.basename(path)];
    return d?.entries.get(name)?.data.length ?? null;
  }

  async create(path: string): Promise<DiskHandle> {
    const [d, name] = this.split(path);
    if (d.entries.has(name)) throw Object.assign(new Error(`EEXIST: '${path}'`), { code: 'EEXIST' });
    const ino: Inode = { data: new Uint8Array(0), synced: new Uint8Array(0) };
    d.entries.set(name, ino);
    const counts = this.counts;
    const born = this.epoch;
    const alive = (): void => {
      if (this.epoch !== born) throw Object.assign(new Error('EIO: handle from before a simulated crash'), { code: 'EIO' });
    };
    return {
      async writev(chunks, position) {
        alive();
        counts.writes++;
        let len = 0;
        for (const c of chunks) len += c.length;
        const end = Math.max(ino.data.length, position + len);
        const next = new Uint8Array(end);
        next.set(ino.data);
        let at = position;
        for (const c of chunks) {
          next.set(c, at);
          at += c.length;
        }
        ino.data = next;
      },
      async sync() {
        alive();
        counts.fileSyncs++;
        ino.synced = ino.data;
      },
      async close() {},
    };
  }

  async truncate(path: string, length: number): Promise<void> {
    const ino = this.inode(path);
    ino.data = ino.data.slice(0, length);
    ino.synced = ino.data;
  }

  async copyFile(from: string, to: string): Promise<void> {
    const src = this.inode(from);
    const [d, name] = this.split(to);
    if (d.entries.has(name)) throw Object.assign(new Error(`EEXIST: '${to}'`), { code: 'EEXIST' });
    d.entries.set(name, { data: src.data, synced: src.data });
  }

  async rename(from: string, to: string): Promise<void> {
    const ino = this.inode(from);
    const [fd, fname] = this.split(from);
    const [td, tname] = this.split(to);
    fd.entries.delete(fname);
    td.entries.set(tname, ino);
  }

  async unlink(path: string): Promise<void> {
    this.inode(path);
    const [d, name] = this.split(path);
    d.entries.delete(name);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.counts.dirSyncs++;
    const d = this.dir(dir);
    d.synced = new Map(d.entries);
  }

  /** Test helper: overwrite a file's bytes (both current and durable). */
  poke(path: string, data: Uint8Array): void {
    const ino = this.inode(path);
    ino.data = data.slice();
    ino.synced = ino.data;
  }
}
