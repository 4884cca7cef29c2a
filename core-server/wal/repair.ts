// `raftgate wal repair DIR`: an operator's explicit decision to lose the
// records after a corruption so the member can start. Nothing is deleted:
// the damaged segment is copied aside before it is truncated at the first bad
// record, and every later segment (which can no longer chain its CRC) is
// renamed aside as `.broken`.

import { join } from 'node:path';
import { nodeDisk, type Disk } from './disk.js';
import { readWalDir, type WalProblem } from './reader.js';
import { truncateSegment, uniqueName } from './wal.js';

export interface WalRepairResult {
  /** The problems found and cut, in order; empty when the WAL was sound. */
  cut: WalProblem[];
  /** Files written aside (`*.broken`). */
  setAside: string[];
}

const ROUNDS_MAX = 8;

export async function repairWal(dir: string, opts: { disk?: Disk } = {}): Promise<WalRepairResult> {
  const disk = opts.disk ?? nodeDisk;
  const result: WalRepairResult = { cut: [], setAside: [] };
  for (let round = 0; round < ROUNDS_MAX; round++) {
    const read = await readWalDir(disk, dir);
    const p = read.problem;
    if (p === null) return result;
    result.cut.push(p);
    result.setAside.push(await truncateSegment(disk, dir, p.file, p.offset));
    const at = read.segments.findIndex((s) => s.name === p.file);
    for (const later of read.segments.slice(at + 1)) {
      const aside = await uniqueName(disk, dir, later.name, '.broken');
      await disk.rename(join(dir, later.name), join(dir, aside));
      result.setAside.push(join(dir, aside));
    }
    await disk.fsyncDir(dir);
  }
  throw new Error(`wal repair: ${dir} still has problems after ${ROUNDS_MAX} rounds`);
}
