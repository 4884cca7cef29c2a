// A member's durable state: the WAL (every command, in order) and the newest
// snapshot (the store image at some index). The driver appends through it;
// start-up reads it back.
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
import { decode, encode } from '@msgpack/msgpack';
import type { Logger } from 'pino';
import { openWal, StorageError, type Wal, type EntryRecord } from '../wal/index.js';
import { loadNewestSnapshot, saveSnapshot } from '../snap/index.js';
import type { LogEntry, LogSink } from './single-node.js';

export interface MemberStorageOptions {
  walSegmentBytes: number;
  /** Ids for a brand-new data dir; an existing one keeps the ids it was created with. */
  newIdentity: () => { memberId: string; clusterId: string };
  logger?: Logger;
}

export interface MemberStorage extends LogSink {
  readonly memberId: string;
  readonly clusterId: string;
  /** True when this start created the data dir. */
  readonly created: boolean;
  readonly snapshot: { index: number; term: number; image: unknown } | null;
  /** Entries after the snapshot, in index order. */
  readonly entries: readonly EntryRecord[];
  /** Drops the replayed entries once applied, so they are not held in memory. */
  releaseReplay(): void;
  saveSnapshot(index: number, term: number, image: unknown): Promise<void>;
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
  let entries = recovered.entries.filter((e) => e.index > snapIndex);
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
    created: recovered.created,
    snapshot: snap ? { index: snap.index, term: snap.term, image: decode(snap.data) as unknown } : null,
    get entries() {
      return entries;
    },
    releaseReplay() {
      entries = [];
    },
    append(batch: LogEntry[]): Promise<void> {
      return wal.append(batch.map((e) => ({ type: 'entry' as const, term: e.term, index: e.index, data: e.data })));
    },
    async saveSnapshot(index: number, term: number, image: unknown): Promise<void> {
      await saveSnapshot(snapDir, { index, term, data: encode(image, { ignoreUndefined: true }) });
      await wal.append([{ type: 'snapshot', index, term }]);
      await wal.releaseTo(index);
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
