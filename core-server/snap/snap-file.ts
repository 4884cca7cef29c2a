// Snapshot file naming and header. Pure: no I/O.
//
// File name: `<term 16 hex>-<index 16 hex>.snap`, so the newest (highest
// term, then highest index) sorts last. Layout, little-endian:
//
//   offset  size  field
//   0       8     magic "RGSNAP\0\x01" (format version 1)
//   8       8     term           u64
//   16      8     index          u64
//   24      8     payloadLength  u64
//   32      4     payloadCrc     crc32c(payload)
//   36      4     headerCrc      crc32c(bytes 0..36)
//   40      n     payload        the state machine image, opaque here
//
// The file must be exactly 40 + payloadLength bytes and its term and index
// must match its name: a truncated, extended or renamed file is refused.

import { crc32c } from '../wal/crc32c.js';
import { getU64, putU64 } from '../wal/record.js';
import { hex16 } from '../wal/segment-name.js';

export const SNAP_HEADER_BYTES = 40;
const MAGIC = new Uint8Array([0x52, 0x47, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x01]);
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapName {
  term: number;
  index: number;
  name: string;
}

export function snapName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

export function parseSnapName(name: string): SnapName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const term = Number.parseInt(m[1]!, 16);
  const index = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return null;
  return { term, index, name };
}

export function encodeSnapHeader(term: number, index: number, payload: Uint8Array): Uint8Array {
  for (const [k, n] of [['term', term], ['index', index]] as const) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`snapshot ${k} must be a non-negative safe integer, got ${n}`);
  }
  const h = new Uint8Array(SNAP_HEADER_BYTES);
  const v = new DataView(h.buffer);
  h.set(MAGIC, 0);
  putU64(v, 8, term);
  putU64(v, 16, index);
  putU64(v, 24, payload.length);
  v.setUint32(32, crc32c(payload), true);
  v.setUint32(36, crc32c(h, 0, 0, 36), true);
  return h;
}

export interface SnapHeader {
  term: number;
  index: number;
  payloadLength: number;
  payloadCrc: number;
}

/** Decodes and checks a header; returns the header or where and why it is bad. */
export function decodeSnapHeader(buf: Uint8Array): SnapHeader | { offset: number; reason: string } {
  if (buf.length < SNAP_HEADER_BYTES) return { offset: buf.length, reason: `file is ${buf.length} bytes, shorter than the ${SNAP_HEADER_BYTES}-byte header` };
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (crc32c(buf, 0, 0, 36) !== v.getUint32(36, true)) return { offset: 0, reason: 'header checksum mismatch' };
  for (let i = 0; i < MAGIC.length; i++) if (buf[i] !== MAGIC[i]) return { offset: 0, reason: 'not a Raftgate snapshot (bad magic or version)' };
  const term = getU64(v, 8);
  const index = getU64(v, 16);
  const payloadLength = getU64(v, 24);
  if (term === null || index === null || payloadLength === null) return { offset: 8, reason: 'header field out of range' };
  return { term, index, payloadLength, payloadCrc: v.getUint32(32, true) };
}

/** A snapshot file's term, index and payload, or where and why the file is refused. */
export type SnapFileCheck = { term: number; index: number; payload: Uint8Array } | { offset: number; reason: string };

const CRC_CHUNK_BYTES = 1 << 20;

/**
 * Checks a whole snapshot file: its header, that it is exactly header plus
 * payload long, and the payload's checksum. The checksum runs over 1 MiB
 * chunks, calling `onProgress` with the bytes checked so far, so a large
 * file can show progress. Whether the file's name matches is the caller's
 * concern (the payload is a view of `buf`, not a copy).
 */
export function checkSnapFile(buf: Uint8Array, onProgress?: (bytesChecked: number) => void): SnapFileCheck {
  const h = decodeSnapHeader(buf);
  if ('reason' in h) return h;
  const want = SNAP_HEADER_BYTES + h.payloadLength;
  if (buf.length < want) return { offset: buf.length, reason: `file is truncated: ${buf.length} of ${want} bytes` };
  if (buf.length > want) return { offset: want, reason: `file has ${buf.length - want} bytes after the payload` };
  let crc = 0;
  for (let at = SNAP_HEADER_BYTES; at < buf.length; at += CRC_CHUNK_BYTES) {
    const end = Math.min(buf.length, at + CRC_CHUNK_BYTES);
    crc = crc32c(buf, crc, at, end);
    onProgress?.(end);
  }
  if (crc !== h.payloadCrc) return { offset: SNAP_HEADER_BYTES, reason: 'payload checksum mismatch' };
  return { term: h.term, index: h.index, payload: buf.subarray(SNAP_HEADER_BYTES) };
}
