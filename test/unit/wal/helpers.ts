// Shared fixtures for WAL tests: temp dirs, entries, an fsync-counting disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDisk, type Disk } from '../../../core-server/wal/disk.js';
import type { EntryRecord } from '../../../core-server/wal/record.js';

export const META = { memberId: '8e9e05c52164694d', clusterId: 'cdf818194e3a8c32' };

export function tempDir(prefix = 'rg-wal-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function entry(index: number, term = 1, text = `cmd-${index}`): EntryRecord {
  return { type: 'entry', term, index, data: new TextEncoder().encode(text) };
}

export function entries(from: number, to: number, term = 1): EntryRecord[] {
  const out: EntryRecord[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** What a test compares: index, term and the command text. */
export function view(ents: readonly EntryRecord[]): Array<[number, number, string]> {
  return ents.map((e) => [e.index, e.term, new TextDecoder().decode(e.data)]);
}

/** The real disk, counting file fsyncs that have completed. */
export function countingDisk(base: Disk = nodeDisk): { disk: Disk; fsyncs: () => number } {
  let n = 0;
  const disk: Disk = {
    ...base,
    async create(path) {
      const h = await base.create(path);
      return {
        writev: (c, p) => h.writev(c, p),
        sync: async () => {
          await h.sync();
          n++;
        },
        close: () => h.close(),
      };
    },
  };
  return { disk, fsyncs: () => n };
}
