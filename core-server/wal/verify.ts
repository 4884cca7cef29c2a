// Read-only inspection of a WAL directory for `raftgate wal verify DIR`.

import { nodeDisk, type Disk } from './disk.js';
import { readWalDir, type HardState, type SegmentReport, type SnapshotMarker, type WalMetadata, type WalProblem } from './reader.js';

export interface WalVerifyReport {
  /** True when a member could start on this WAL (a torn tail is truncated at start, so it is still ok). */
  ok: boolean;
  dir: string;
  segments: SegmentReport[];
  /** Index of the last live entry, else the snapshot's index, else null. */
  lastIndex: number | null;
  metadata: WalMetadata | null;
  hardState: HardState | null;
  snapshot: SnapshotMarker | null;
  problem?: WalProblem;
}

export async function verifyWal(dir: string, opts: { disk?: Disk } = {}): Promise<WalVerifyReport> {
  const read = await readWalDir(opts.disk ?? nodeDisk, dir);
  const { metadata, hardState, snapshot, entries } = read.replay;
  const last = entries[entries.length - 1];
  const report: WalVerifyReport = {
    ok: read.problem === null || read.problem.kind === 'torn-tail',
    dir,
    segments: read.reports,
    lastIndex: last?.index ?? snapshot?.index ?? null,
    metadata,
    hardState,
    snapshot,
  };
  if (read.segments.length === 0) {
    report.ok = false;
    report.problem = { kind: 'corrupt', file: '', offset: 0, reason: 'no WAL segments in this directory' };
  } else if (read.problem !== null) {
    report.problem = read.problem;
  }
  return report;
}

export function formatVerifyReport(r: WalVerifyReport): string {
  const lines: string[] = [`WAL ${r.dir}`];
  if (r.metadata !== null) lines.push(`  member ${r.metadata.memberId}  cluster ${r.metadata.clusterId}`);
  for (const s of r.segments) {
    const range = s.firstIndex === null ? 'no entries' : `entries ${s.firstIndex}..${s.lastIndex}`;
    lines.push(`  ${s.file}  ${s.bytes} bytes  ${s.records} records  ${range}`);
  }
  if (r.snapshot !== null) lines.push(`  snapshot marker: index ${r.snapshot.index} term ${r.snapshot.term}`);
  if (r.hardState !== null) lines.push(`  hard state: term ${r.hardState.term} vote ${r.hardState.vote || '(none)'} commit ${r.hardState.commit}`);
  lines.push(`  last index: ${r.lastIndex ?? '(none)'}`);
  const p = r.problem;
  if (p === undefined) lines.push('OK');
  else if (p.kind === 'torn-tail') lines.push(`OK with a torn tail: ${p.reason} in ${p.file} at offset ${p.offset}; it will be copied aside and truncated at the next start.`);
  else if (p.file === '') lines.push(`FAILED: ${p.reason}`);
  else lines.push(`CORRUPT: ${p.reason} in ${p.file} at offset ${p.offset}. A member will refuse to start; restore it from a peer, or run \`raftgate wal repair ${r.dir}\` to cut the log there.`);
  return lines.join('\n');
}
