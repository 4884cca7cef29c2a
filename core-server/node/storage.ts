// A member's durable state: the WAL (Raft's hard state and every log entry,
// in order) and the newest snapshot (the state machine at some index). The
// driver saves each Ready through it; start-up reads it back.
//
//   <data-dir>/member/wal/   segments of framed records (see wal/design.md)
//   <data-dir>/member/snap/  <term>-<index>.snap files
//
// Saving a snapshot is ordered so that a crash between any two steps loses
// nothing: (1) write the snapshot file atomically, (2) append a snapshot
// marker to the WAL, (3) release WAL segments wholly below the snapshot. On
// start, entries at or below the snapshot's index are skipped, so a crash
// after (1) but before (2) replays correctly too.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Entry, HardState } from '../raft/types.js';
import { afterSnapshot, openWal, StorageError, type AppendRecord, type EntryRecord, type Wal } from '../wal/index.js';
import { loadNewestSnapshot, saveSnapshot } from '../snap/index.js';

export interface MemberStorageOptions {
  walSegmentBytes: number;
  /** Ids for a brand-new data dir; an existing one keeps the ids it was created with. */
  newIdentity: () => { memberId: string; clusterId: string };
  /** Runs only when the data dir holds no WAL yet, before one is created (a joining member learns its ids here). */
  beforeCreate?: () => Promise<void>;
  logger?: Logger;
}

export interface StoredSnapshot {
  index: number;
  term: number;
  /** The encoded state machine (see state-image.ts). */
  data: Uint8Array;
}

export interface MemberStorage {
  readonly memberId: string;
  readonly clusterId: string;
  readonly dataDir: string;
  /** True when this start created the data dir. */
  readonly created: boolean;
  readonly snapshot: StoredSnapshot | null;
  readonly hardState: HardState | null;
  /** Entries after the snapshot, in index order. */
  readonly entries: readonly EntryRecord[];
  /** Drops the replayed entries once handed to Raft, so they are not held twice. */
  releaseReplay(): void;
  /** Makes a Ready's hard state and entries durable (one write, one fsync). */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  /** Writes the snapshot file, marks it in the WAL, releases older segments. */
  saveSnapshot(snap: StoredSnapshot): Promise<void>;
  close(): Promise<void>;
}

export async function openMemberStorage(dataDir: string, opts: MemberStorageOptions): Promise<MemberStorage> {
  const walDir = join(dataDir, 'member', 'wal');
  const snapDir = join(dataDir, 'member', 'snap');

  const snap = await loadNewestSnapshot(snapDir);
  if (snap && !hasWalSegments(walDir)) {
    throw new StorageError(
      'RG_ERR_WAL_CORRUPT',
      `${snapDir} holds a snapshot at index ${snap.index} but ${walDir} holds no WAL; refusing to start from a partial data dir (restore the WAL, or remove ${dataDir} to start empty)`,
      { file: walDir, offset: 0 },
    );
  }
  if (!hasWalSegments(walDir) && opts.beforeCreate !== undefined) await opts.beforeCreate();
  const { wal, recovered } = await openWal(walDir, {
    segmentBytesMax: opts.walSegmentBytes,
    metadata: opts.newIdentity(),
  });
  if (recovered.tornTail) {
    opts.logger?.warn(
      { file: recovered.tornTail.file, offset: recovered.tornTail.offset, brokenCopy: recovered.tornTail.brokenCopy },
      'WAL had a torn tail (an interrupted write); truncated it after copying the segment aside',
    );
  }

  const snapIndex = snap?.index ?? 0;
  let entries: EntryRecord[] = recovered.entries;
  if (snap !== null && snap.index > (recovered.snapshot?.index ?? 0)) {
    // A crash came between writing the snapshot file and marking it in the
    // WAL. Replay as if the marker were there (the snapshot replaces the log
    // it covers, and a diverged suffix with it), and write the marker now, or
    // the WAL would take the next entry after the snapshot for a gap.
    entries = afterSnapshot(entries, snap.index, snap.term);
    await wal.append([{ type: 'snapshot', index: snap.index, term: snap.term }]);
  }
  entries = entries.filter((e) => e.index > snapIndex);
  const first = entries[0];
  if (first !== undefined && first.index !== snapIndex + 1) {
    await wal.close();
    throw new StorageError(
      'RG_ERR_WAL_CORRUPT',
      `WAL in ${walDir} starts at index ${first.index} but the newest snapshot ends at ${snapIndex}; entries ${snapIndex + 1}..${first.index - 1} are missing`,
      { file: walDir, offset: 0 },
    );
  }

  return {
    memberId: recovered.metadata.memberId,
    clusterId: recovered.metadata.clusterId,
    dataDir,
    created: recovered.created,
    snapshot: snap ? { index: snap.index, term: snap.term, data: snap.data } : null,
    hardState: recovered.hardState,
    get entries() {
      return entries;
    },
    releaseReplay() {
      entries = [];
    },
    save(hardState, ents) {
      const records: AppendRecord[] = [];
      for (const e of ents) {
        records.push(e.type === 'confChange' ? { type: 'entry', term: e.term, index: e.index, data: e.data, conf: true } : { type: 'entry', term: e.term, index: e.index, data: e.data });
      }
      // After the entries: a crash between the two leaves the old hard state,
      // whose commit never points past what is on disk.
      if (hardState !== undefined) records.push({ type: 'hardState', term: hardState.term, vote: hardState.vote, commit: hardState.commit });
      return wal.append(records);
    },
    async saveSnapshot(s) {
      await saveSnapshot(snapDir, { index: s.index, term: s.term, data: s.data });
      await wal.append([{ type: 'snapshot', index: s.index, term: s.term }]);
      await wal.releaseTo(s.index);
    },
    close: () => closeWal(wal),
  };
}

async function closeWal(wal: Wal): Promise<void> {
  await wal.close();
}

function hasWalSegments(walDir: string): boolean {
  return existsSync(walDir) && readdirSync(walDir).some((f) => f.endsWith('.wal'));
}
