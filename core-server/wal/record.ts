// WAL record framing. Pure: encode/decode over Uint8Array, no I/O.
//
// Frame layout (all integers little-endian):
//
//   offset  size  field
//   0       4     payloadLength  u32, bytes of payload that follow the header
//   4       1     type           u8: 1 metadata, 2 entry, 3 hardState, 4 crc, 5 snapshot,
//                                6 entry carrying a Raft membership change
//   5       3     reserved       zero
//   8       4     headerCrc      crc32c(bytes 0..8)
//   12      4     recordCrc      crc32c(bytes 0..8 ++ payload), seeded with the
//                                previous record's recordCrc (the rolling CRC)
//   16      n     payload
//
// Why a separate header CRC: the length is what tells a reader where the next
// frame starts. Without its own check, one flipped bit in a middle record's
// length would make the rest of the file look like an incomplete frame, i.e.
// a torn tail, and recovery would silently cut off good records. With it, a
// reader trusts a length only after the header checks out.
//
// Why rolling: each recordCrc is seeded with the previous one, so a record
// cannot be moved, dropped or replayed without the next check failing.
//
// Payloads:
//   metadata   u16 len + utf8 memberId, u16 len + utf8 clusterId
//   entry      u64 term, u64 index, data (rest of payload, opaque); the same for type 6
//   hardState  u64 term, u64 commit, u16 len + utf8 vote ('' = no vote)
//   crc        u32 prevCrc (the rolling CRC before this segment; starts a segment)
//   snapshot   u64 index, u64 term
// u64 fields hold JavaScript safe integers (< 2^53).

import { crc32c } from './crc32c.js';

export const FRAME_HEADER_BYTES = 16;
/** Largest payload a frame may carry; a header claiming more is damage, not data. */
export const RECORD_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;
const STRING_BYTES_MAX = 0xffff;

export const RecordType = {
  metadata: 1,
  entry: 2,
  hardState: 3,
  crc: 4,
  snapshot: 5,
  /** An entry whose data is a Raft conf change: the log must say which entries change membership. */
  confEntry: 6,
} as const;

export interface MetadataRecord {
  type: 'metadata';
  memberId: string;
  clusterId: string;
}
export interface EntryRecord {
  type: 'entry';
  term: number;
  index: number;
  /** One encoded command, opaque to the WAL. */
  data: Uint8Array;
  /** A Raft membership change rather than a command (written as record type 6). */
  conf?: boolean;
}
export interface HardStateRecord {
  type: 'hardState';
  term: number;
  /** Member id voted for in `term`, '' for none. */
  vote: string;
  commit: number;
}
export interface SnapshotRecord {
  type: 'snapshot';
  index: number;
  term: number;
}
/** Starts every segment; carries the rolling CRC across segment files. */
export interface CrcRecord {
  type: 'crc';
  prevCrc: number;
}

export type WalRecord = MetadataRecord | EntryRecord | HardStateRecord | SnapshotRecord | CrcRecord;
/** What callers may append; metadata and crc records are written by the WAL itself. */
export type AppendRecord = EntryRecord | HardStateRecord | SnapshotRecord;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 0x1_0000_0000;

function assertU64(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`WAL record field ${name} must be a non-negative safe integer, got ${n}`);
}

function encodeString(name: string, s: string): Uint8Array {
  const b = textEncoder.encode(s);
  if (b.length > STRING_BYTES_MAX) throw new RangeError(`WAL record field ${name} is longer than ${STRING_BYTES_MAX} bytes`);
  return b;
}

/** Payload size, and pre-encoded strings so each record is encoded once. */
function measure(r: WalRecord): { size: number; strings: Uint8Array[] } {
  switch (r.type) {
    case 'entry':
      assertU64('term', r.term);
      assertU64('index', r.index);
      return { size: 16 + r.data.length, strings: [] };
    case 'hardState': {
      assertU64('term', r.term);
      assertU64('commit', r.commit);
      const vote = encodeString('vote', r.vote);
      return { size: 18 + vote.length, strings: [vote] };
    }
    case 'snapshot':
      assertU64('index', r.index);
      assertU64('term', r.term);
      return { size: 16, strings: [] };
    case 'crc':
      if (!Number.isInteger(r.prevCrc) || r.prevCrc < 0 || r.prevCrc >= TWO_32) throw new RangeError('crc record prevCrc must be u32');
      return { size: 4, strings: [] };
    case 'metadata': {
      const m = encodeString('memberId', r.memberId);
      const c = encodeString('clusterId', r.clusterId);
      return { size: 4 + m.length + c.length, strings: [m, c] };
    }
  }
}

/** Writes a non-negative safe integer as a little-endian u64 (shared with the snapshot header). */
export function putU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, n % TWO_32, true);
  v.setUint32(at + 4, Math.floor(n / TWO_32), true);
}

export interface EncodedBatch {
  bytes: Uint8Array;
  /** Rolling CRC after the last frame: the seed for whatever is encoded next. */
  crc: number;
}

/**
 * Encodes records into one contiguous buffer of frames, chaining the rolling
 * CRC from `prevCrc`. One allocation per batch keeps small-entry appends cheap.
 */
export function encodeRecords(records: readonly WalRecord[], prevCrc: number): EncodedBatch {
  const sizes: number[] = new Array<number>(records.length);
  const strings: Uint8Array[][] = new Array<Uint8Array[]>(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const m = measure(records[i]!);
    if (m.size > RECORD_PAYLOAD_BYTES_MAX) throw new RangeError(`WAL record payload of ${m.size} bytes exceeds ${RECORD_PAYLOAD_BYTES_MAX}`);
    sizes[i] = m.size;
    strings[i] = m.strings;
    total += FRAME_HEADER_BYTES + m.size;
  }
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crc = prevCrc;
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const size = sizes[i]!;
    const p = at + FRAME_HEADER_BYTES;
    view.setUint32(at, size, true);
    bytes[at + 4] = r.type === 'entry' && r.conf === true ? RecordType.confEntry : RecordType[r.type];
    view.setUint32(at + 8, crc32c(bytes, 0, at, at + 8), true);
    switch (r.type) {
      case 'entry':
        putU64(view, p, r.term);
        putU64(view, p + 8, r.index);
        bytes.set(r.data, p + 16);
        break;
      case 'hardState': {
        const vote = strings[i]![0]!;
        putU64(view, p, r.term);
        putU64(view, p + 8, r.commit);
        view.setUint16(p + 16, vote.length, true);
        bytes.set(vote, p + 18);
        break;
      }
      case 'snapshot':
        putU64(view, p, r.index);
        putU64(view, p + 8, r.term);
        break;
      case 'crc':
        view.setUint32(p, r.prevCrc, true);
        break;
      case 'metadata': {
        const [m, c] = strings[i]! as [Uint8Array, Uint8Array];
        view.setUint16(p, m.length, true);
        bytes.set(m, p + 2);
        view.setUint16(p + 2 + m.length, c.length, true);
        bytes.set(c, p + 4 + m.length);
        break;
      }
    }
    crc = crc32c(bytes, crc, at, at + 8);
    crc = crc32c(bytes, crc, p, p + size);
    view.setUint32(at + 12, crc, true);
    at = p + size;
  }
  return { bytes, crc };
}

/** Outcome of reading one frame at an offset; torn-vs-corrupt policy is the caller's. */
export type FrameResult =
  | { kind: 'record'; record: WalRecord; end: number; crc: number }
  /** Fewer than FRAME_HEADER_BYTES remain. */
  | { kind: 'short-header' }
  /** headerCrc mismatch, non-zero reserved bytes, or an impossible length. */
  | { kind: 'bad-header'; reason: string }
  /** The header is sound but the payload runs past the end of the buffer. */
  | { kind: 'short-payload'; end: number }
  /** The frame is complete but its rolling CRC does not match. */
  | { kind: 'bad-crc'; end: number }
  /** The CRC matched but the payload does not decode: a bug or a foreign file, never a torn write. */
  | { kind: 'bad-payload'; end: number; reason: string };

/** Reads a little-endian u64; null when it exceeds 2^53 (shared with the snapshot header). */
export function getU64(v: DataView, at: number): number | null {
  const hi = v.getUint32(at + 4, true);
  if (hi >= 0x20_0000) return null; // would exceed 2^53
  return hi * TWO_32 + v.getUint32(at, true);
}

/**
 * Reads the frame at `offset`. `prevCrc` is the rolling CRC before it; pass
 * null when it is unknown (the first record of the oldest segment still on
 * disk), in which case only a crc record is accepted and its own payload is
 * the seed.
 */
export function decodeFrame(buf: Uint8Array, offset: number, prevCrc: number | null): FrameResult {
  if (buf.length - offset < FRAME_HEADER_BYTES) return { kind: 'short-header' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerCrc = view.getUint32(offset + 8, true);
  if (crc32c(buf, 0, offset, offset + 8) !== headerCrc) return { kind: 'bad-header', reason: 'header checksum mismatch' };
  if (buf[offset + 5] !== 0 || buf[offset + 6] !== 0 || buf[offset + 7] !== 0) {
    return { kind: 'bad-header', reason: 'reserved header bytes are not zero' };
  }
  const size = view.getUint32(offset, true);
  if (size > RECORD_PAYLOAD_BYTES_MAX) return { kind: 'bad-header', reason: `payload length ${size} exceeds the limit` };
  const type = buf[offset + 4]!;
  const p = offset + FRAME_HEADER_BYTES;
  const end = p + size;
  if (end > buf.length) return { kind: 'short-payload', end };

  let seed = prevCrc;
  if (seed === null) {
    if (type !== RecordType.crc || size !== 4) return { kind: 'bad-payload', end, reason: 'the first record of a segment must be a crc record' };
    seed = view.getUint32(p, true);
  }
  let crc = crc32c(buf, seed, offset, offset + 8);
  crc = crc32c(buf, crc, p, end);
  if (crc !== view.getUint32(offset + 12, true)) return { kind: 'bad-crc', end };

  const bad = (reason: string): FrameResult => ({ kind: 'bad-payload', end, reason });
  switch (type) {
    case RecordType.entry:
    case RecordType.confEntry: {
      if (size < 16) return bad('entry payload too short');
      const term = getU64(view, p);
      const index = getU64(view, p + 8);
      if (term === null || index === null) return bad('entry term or index out of range');
      const data = buf.subarray(p + 16, end);
      const record: EntryRecord = type === RecordType.confEntry ? { type: 'entry', term, index, data, conf: true } : { type: 'entry', term, index, data };
      return { kind: 'record', record, end, crc };
    }
    case RecordType.hardState: {
      if (size < 18) return bad('hardState payload too short');
      const term = getU64(view, p);
      const commit = getU64(view, p + 8);
      const len = view.getUint16(p + 16, true);
      if (term === null || commit === null) return bad('hardState term or commit out of range');
      if (18 + len !== size) return bad('hardState vote length mismatch');
      const vote = decodeUtf8(buf.subarray(p + 18, end));
      if (vote === null) return bad('hardState vote is not UTF-8');
      return { kind: 'record', record: { type: 'hardState', term, vote, commit }, end, crc };
    }
    case RecordType.snapshot: {
      if (size !== 16) return bad('snapshot payload size mismatch');
      const index = getU64(view, p);
      const term = getU64(view, p + 8);
      if (term === null || index === null) return bad('snapshot term or index out of range');
      return { kind: 'record', record: { type: 'snapshot', index, term }, end, crc };
    }
    case RecordType.crc: {
      if (size !== 4) return bad('crc payload size mismatch');
      return { kind: 'record', record: { type: 'crc', prevCrc: view.getUint32(p, true) }, end, crc };
    }
    case RecordType.metadata: {
      if (size < 4) return bad('metadata payload too short');
      const mLen = view.getUint16(p, true);
      if (4 + mLen > size) return bad('metadata memberId length mismatch');
      const cLen = view.getUint16(p + 2 + mLen, true);
      if (4 + mLen + cLen !== size) return bad('metadata clusterId length mismatch');
      const memberId = decodeUtf8(buf.subarray(p + 2, p + 2 + mLen));
      const clusterId = decodeUtf8(buf.subarray(p + 4 + mLen, end));
      if (memberId === null || clusterId === null) return bad('metadata ids are not UTF-8');
      return { kind: 'record', record: { type: 'metadata', memberId, clusterId }, end, crc };
    }
    default:
      return bad(`unknown record type ${type}`);
  }
}

function decodeUtf8(b: Uint8Array): string | null {
  try {
    return textDecoder.decode(b);
  } catch {
    return null;
  }
}

/**
 * Re-checks a freshly encoded buffer of frames before it goes to disk: every
 * header CRC and the rolling chain from `prevCrc` to `expectCrc`. This is the
 * "check when written" half; reading checks again. Returns a reason or null.
 */
export function verifyFrames(bytes: Uint8Array, prevCrc: number, expectCrc: number): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crc = prevCrc;
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < FRAME_HEADER_BYTES) return `short frame at ${at}`;
    if (crc32c(bytes, 0, at, at + 8) !== view.getUint32(at + 8, true)) return `header checksum mismatch at ${at}`;
    const end = at + FRAME_HEADER_BYTES + view.getUint32(at, true);
    if (end > bytes.length) return `frame at ${at} overruns the batch`;
    crc = crc32c(bytes, crc, at, at + 8);
    crc = crc32c(bytes, crc, at + FRAME_HEADER_BYTES, end);
    if (crc !== view.getUint32(at + 12, true)) return `record checksum mismatch at ${at}`;
    at = end;
  }
  return crc === expectCrc ? null : 'rolling checksum does not reach the expected value';
}
