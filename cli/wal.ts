// `raftgate wal verify DATA_DIR`: read-only check of a member's WAL and
// snapshots (exit 0 when clean or only a torn tail, which start-up repairs;
// 1 when damage was found). `raftgate wal repair DATA_DIR`: cut the WAL at the
// first damaged record, copying the rest aside — an operator's explicit
// choice to lose what follows, never done automatically.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { verifyWal, formatVerifyReport, repairWal } from '../core-server/wal/index.js';
import { verifySnapshots, formatSnapshotReport } from '../core-server/snap/index.js';

const USAGE = 'usage: raftgate wal verify DATA_DIR | raftgate wal repair DATA_DIR';

export async function runWalCommand(args: string[]): Promise<number> {
  const [sub, dataDir, ...extra] = args;
  if ((sub !== 'verify' && sub !== 'repair') || dataDir === undefined || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const walDir = join(dataDir, 'member', 'wal');
  const snapDir = join(dataDir, 'member', 'snap');
  if (!existsSync(walDir)) {
    console.error(`raftgate: ${walDir} does not exist; is ${dataDir} a member's --data-dir?`);
    return 2;
  }
  if (sub === 'repair') {
    const r = await repairWal(walDir);
    if (r.cut.length === 0) {
      console.log(`${walDir}: no damage found; nothing changed`);
      return 0;
    }
    for (const [i, p] of r.cut.entries()) {
      console.log(`cut ${p.file} at offset ${p.offset} (${p.reason}); original kept as ${r.setAside[i] ?? '?'}`);
    }
    console.log('the member will start from the records before the cut; writes after it are lost on this member');
    return 0;
  }
  const wal = await verifyWal(walDir);
  console.log(formatVerifyReport(wal));
  let ok = wal.ok;
  if (existsSync(snapDir)) {
    const snaps = await verifySnapshots(snapDir);
    console.log(formatSnapshotReport(snaps));
    ok = ok && snaps.ok;
  }
  if (!ok) console.log(`\nto start anyway from the records before the damage: raftgate wal repair ${dataDir}`);
  return ok ? 0 : 1;
}
