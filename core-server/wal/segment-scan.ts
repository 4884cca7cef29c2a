// Reads the frames of one segment and classifies how it ends. Pure.
//
// The torn-tail rule (only the LAST segment may have a torn tail; at offset o
// of a file of S bytes, the first frame that does not read cleanly):
//   T1  S - o < 16: the header itself is incomplete.
//   T2  the header fails its check and every byte in [o, S) is zero
//       (space the filesystem extended but never filled).
//   T3  the header is sound but o + 16 + length > S: the payload is incomplete.
//   T4  the frame is complete, its rolling CRC fails, and every byte after it
//       is zero (or there is none): the last write landed only partly.
// Anything else that fails to read (a bad header followed by non-zero bytes,
// a CRC failure followed by more data, a valid CRC over a malformed payload,
// or any failure in a segment that is not the last) is corruption.
//
// etcd applies the same idea (io.ErrUnexpectedEOF on the last file, and a CRC
// failure counts as torn only when a sector of the record is all zeros); we
// add the header CRC so a damaged length can never pass for a torn tail.

import { decodeFrame, type WalRecord } from './record.js';

export interface ScanProblem {
  kind: 'torn-tail' | 'corrupt';
  offset: number;
  reason: string;
}

export interface ScannedRecord {
  record: WalRecord;
  offset: number;
}

export interface SegmentScan {
  records: ScannedRecord[];
  /** Offset just past the last good frame. */
  end: number;
  /** Rolling CRC after the last good frame. */
  crc: number;
  problem: ScanProblem | null;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Scans a segment. `seed` is the rolling CRC the previous segment ended with,
 * or null for the oldest segment on disk. The first record must be a crc
 * record whose value equals the seed: that is what links segment files.
 */
export function scanSegment(buf: Uint8Array, seed: number | null, isLast: boolean): SegmentScan {
  const records: ScannedRecord[] = [];
  let crc = seed ?? 0;
  let at = 0;
  const stop = (kind: 'torn-tail' | 'corrupt', reason: string): SegmentScan => ({
    records,
    end: at,
    crc,
    problem: { kind: isLast ? kind : 'corrupt', offset: at, reason: isLast || kind === 'corrupt' ? reason : `${reason} (in a segment that is not the last)` },
  });

  while (at < buf.length) {
    const first = records.length === 0;
    const r = decodeFrame(buf, at, first && seed === null ? null : crc);
    switch (r.kind) {
      case 'short-header':
        return stop('torn-tail', 'incomplete frame header');
      case 'bad-header':
        return allZero(buf, at) ? stop('torn-tail', 'zero-filled tail') : stop('corrupt', r.reason);
      case 'short-payload':
        return stop('torn-tail', 'incomplete frame payload');
      case 'bad-crc':
        return allZero(buf, r.end) ? stop('torn-tail', 'checksum mismatch in the final frame') : stop('corrupt', 'record checksum mismatch');
      case 'bad-payload':
        return stop('corrupt', r.reason);
      case 'record':
        if (first) {
          if (r.record.type !== 'crc') return stop('corrupt', 'segment does not start with a crc record');
          if (seed !== null && r.record.prevCrc !== seed) return stop('corrupt', 'segment does not continue the previous segment (crc link mismatch)');
        } else if (r.record.type === 'crc') {
          return stop('corrupt', 'crc record in the middle of a segment');
        }
        records.push({ record: r.record, offset: at });
        crc = r.crc;
        at = r.end;
        break;
    }
  }
  if (records.length === 0) return stop('torn-tail', 'empty segment');
  return { records, end: at, crc, problem: null };
}
