// Reads a WAL directory into the state a member restarts from. Read-only:
// what to do about a torn tail or corruption is decided by the caller
// (open truncates a torn tail, verify reports, repair cuts at corruption).

import { join } from 'node:path';
import type { Disk } from './disk.js';
import type { EntryRecord, HardStateRecord, SnapshotRecord } from './record.js';
import { scanSegment } from './segment-scan.js';
import { hex16, listSegments, type SegmentName } from './segment-name.js';

export interface WalMetadata {
  memberId: string;
  clusterId: string;
}
export type HardState = Omit<HardStateRecord, 'type'>;
export type SnapshotMarker = Omit<SnapshotRecord, 'type'>;

export interface WalProblem {
  kind: 'torn-tail' | 'corrupt';
  /** Segment file name (relative to the WAL directory). */
  file: string;
  offset: number;
  reason: string;
}

export interface SegmentReport {
  file: string;
  /** Records read cleanly. */
  records: number;
  /** Lowest and highest entry index among those records, null when none. */
  firstIndex: number | null;
  lastIndex: number | null;
  bytes: number;
}

export interface WalReplay {
  metadata: WalMetadata | null;
  hardState: HardState | null;
  snapshot: SnapshotMarker | null;
  /** Entries after the snapshot, contiguous, later writes having overwritten earlier ones. */
  entries: EntryRecord[];
}

export interface WalDirRead {
  segments: SegmentName[];
  reports: SegmentReport[];
  replay: WalReplay;
  /** Rolling CRC after the last good record. */
  crc: number;
  /** Seq of the segment where the newest snapshot marker was first written. */
  snapshotSeq: number | null;
  /** The first problem met; reading stops there. */
  problem: WalProblem | null;
}

/**
 * The entries a snapshot at (index, term) leaves of the log written before
 * its marker. A snapshot replaces the log up to its index; what follows is
 * kept only if it continues the snapshot — the log's own entry at that index
 * has the snapshot's term (a member's own snapshot of its log), or the log
 * no longer holds that index (released). A snapshot installed from the
 * leader over a log that diverged replaces the whole log: the old suffix,
 * from another term, must not come back after a restart.
 */
export function afterSnapshot(ents: EntryRecord[], index: number, term: number): EntryRecord[] {
  const first = ents[0];
  if (first === undefined || first.index > index) return ents;
  const at = ents[index - first.index];
  if (at === undefined) return []; // the log ended before the snapshot: nothing follows it
  if (at.term !== term) return []; // diverged: the snapshot replaces everything
  return ents.slice(index - first.index + 1);
}

export async function readWalDir(disk: Disk, dir: string): Promise<WalDirRead> {
  const segments = listSegments(await disk.readdir(dir));
  const reports: SegmentReport[] = [];
  const replay: WalReplay = { metadata: null, hardState: null, snapshot: null, entries: [] };
  let crc: number | null = null;
  let snapshotSeq: number | null = null;
  let firstEntryAt: { file: string; offset: number } | null = null;
  const out = (problem: WalProblem | null): WalDirRead => ({ segments, reports, replay, crc: crc ?? 0, snapshotSeq, problem });

  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const file = seg.name;
    if (i > 0 && seg.seq !== segments[i - 1]!.seq + 1) {
      return out({ kind: 'corrupt', file, offset: 0, reason: `segment ${hex16(segments[i - 1]!.seq + 1)}-*.wal is missing before it` });
    }
    const buf = await disk.readFile(join(dir, file));
    const scan = scanSegment(buf, crc, i === segments.length - 1);
    const report: SegmentReport = { file, records: 0, firstIndex: null, lastIndex: null, bytes: buf.length };
    reports.push(report);

    for (const { record: r, offset } of scan.records) {
      const bad = (reason: string): WalDirRead => out({ kind: 'corrupt', file, offset, reason });
      report.records++;
      switch (r.type) {
        case 'crc':
          break;
        case 'metadata':
          if (replay.metadata === null) replay.metadata = { memberId: r.memberId, clusterId: r.clusterId };
          else if (replay.metadata.memberId !== r.memberId || replay.metadata.clusterId !== r.clusterId) {
            return bad('metadata record differs from the one before it');
          }
          break;
        case 'hardState':
          replay.hardState = { term: r.term, vote: r.vote, commit: r.commit };
          break;
        case 'snapshot':
          if (replay.snapshot === null || r.index > replay.snapshot.index) {
            replay.snapshot = { index: r.index, term: r.term };
            snapshotSeq = seg.seq;
            replay.entries = afterSnapshot(replay.entries, r.index, r.term);
          }
          break;
        case 'entry': {
          if (replay.metadata === null) return bad('entry before any metadata record');
          report.firstIndex = report.firstIndex === null ? r.index : Math.min(report.firstIndex, r.index);
          report.lastIndex = report.lastIndex === null ? r.index : Math.max(report.lastIndex, r.index);
          if (replay.snapshot !== null && r.index <= replay.snapshot.index) break; // covered by the snapshot
          const ents = replay.entries;
          const first = ents[0];
          if (first === undefined || r.index < first.index) {
            // Starts the log, or overwrites all of it (a new leader's conflicting suffix).
            replay.entries = [r];
            firstEntryAt = { file, offset };
            break;
          }
          const last = ents[ents.length - 1]!;
          if (r.index > last.index + 1) return bad(`entry index ${r.index} leaves a gap after ${last.index}`);
          // Raft log truncation: an index that already exists replaces it and everything after.
          if (r.index <= last.index) ents.length = r.index - first.index;
          ents.push(r);
          break;
        }
      }
    }
    crc = scan.crc;
    if (scan.problem !== null) return out({ ...scan.problem, file });
  }

  const snap = replay.snapshot;
  const first = replay.entries[0];
  if (snap !== null && first !== undefined && first.index > snap.index + 1 && firstEntryAt !== null) {
    return out({ kind: 'corrupt', ...firstEntryAt, reason: `entries resume at ${first.index} but the snapshot ends at ${snap.index}` });
  }
  return out(null);
}
