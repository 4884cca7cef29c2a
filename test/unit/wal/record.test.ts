import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeRecords, FRAME_HEADER_BYTES, verifyFrames, type WalRecord } from '../../../core-server/wal/record.js';

const u64 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const id = fc.string({ maxLength: 20 });
const arbRecord: fc.Arbitrary<WalRecord> = fc.oneof(
  fc.record({ type: fc.constant('entry' as const), term: u64, index: u64, data: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ type: fc.constant('entry' as const), term: u64, index: u64, data: fc.uint8Array({ maxLength: 64 }), conf: fc.constant(true) }),
  fc.record({ type: fc.constant('hardState' as const), term: u64, vote: id, commit: u64 }),
  fc.record({ type: fc.constant('snapshot' as const), index: u64, term: u64 }),
  fc.record({ type: fc.constant('metadata' as const), memberId: id, clusterId: id }),
  fc.record({ type: fc.constant('crc' as const), prevCrc: fc.nat({ max: 0xffffffff }) }),
);

/** Decodes every frame in `bytes` from the given rolling seed. */
function decodeAll(bytes: Uint8Array, seed: number): { records: WalRecord[]; crc: number } {
  const records: WalRecord[] = [];
  let crc = seed;
  let at = 0;
  while (at < bytes.length) {
    const r = decodeFrame(bytes, at, crc);
    if (r.kind !== 'record') throw new Error(`frame at ${at}: ${r.kind}`);
    records.push(r.record);
    crc = r.crc;
    at = r.end;
  }
  return { records, crc };
}

const norm = (rs: WalRecord[]): unknown[] => rs.map((r) => (r.type === 'entry' ? { ...r, data: Array.from(r.data) } : r));

describe('WAL record framing', () => {
  it('round-trips any sequence of records and any rolling seed', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 8 }), fc.nat({ max: 0xffffffff }), (records, seed) => {
        const enc = encodeRecords(records, seed);
        const dec = decodeAll(enc.bytes, seed);
        expect(norm(dec.records)).toEqual(norm(records));
        expect(dec.crc).toBe(enc.crc);
        expect(verifyFrames(enc.bytes, seed, enc.crc)).toBeNull();
      }),
    );
  });

  it('lays out the header as documented: length, type, zero bytes, header CRC, record CRC', () => {
    const { bytes } = encodeRecords([{ type: 'entry', term: 3, index: 7, data: new Uint8Array([0xaa, 0xbb]) }], 0);
    const v = new DataView(bytes.buffer);
    expect(bytes.length).toBe(FRAME_HEADER_BYTES + 16 + 2);
    expect(v.getUint32(0, true)).toBe(18);
    expect(bytes[4]).toBe(2);
    expect(Array.from(bytes.subarray(5, 8))).toEqual([0, 0, 0]);
    expect(v.getUint32(16, true)).toBe(3); // term
    expect(v.getUint32(24, true)).toBe(7); // index
    expect(Array.from(bytes.subarray(32))).toEqual([0xaa, 0xbb]);
  });

  it('rolling CRC: swapping two records, or replaying one, is detected', () => {
    const e = (i: number): WalRecord => ({ type: 'entry', term: 1, index: i, data: new Uint8Array([i]) });
    const a = encodeRecords([e(1)], 0);
    const b = encodeRecords([e(2)], a.crc);
    // b then a: each frame is intact on its own but out of order.
    const swapped = new Uint8Array(a.bytes.length + b.bytes.length);
    swapped.set(b.bytes);
    swapped.set(a.bytes, b.bytes.length);
    expect(decodeFrame(swapped, 0, 0).kind).toBe('bad-crc');
    // a, a: the replayed copy fails because its seed is now a's CRC.
    expect(decodeFrame(a.bytes, 0, a.crc).kind).toBe('bad-crc');
    expect(verifyFrames(swapped, 0, b.crc)).not.toBeNull();
  });

  it('a damaged length is caught by the header CRC, never read as a length', () => {
    const { bytes } = encodeRecords([{ type: 'hardState', term: 1, vote: 'a', commit: 1 }], 0);
    for (let i = 0; i < 12; i++) {
      const c = bytes.slice();
      c[i]! ^= 0x40;
      expect(decodeFrame(c, 0, 0).kind).toBe('bad-header');
    }
  });

  it('reports incomplete frames as short, never as records', () => {
    const { bytes } = encodeRecords([{ type: 'entry', term: 1, index: 1, data: new Uint8Array(10) }], 0);
    for (let n = 0; n < bytes.length; n++) {
      const r = decodeFrame(bytes.subarray(0, n), 0, 0);
      expect(r.kind).toBe(n < FRAME_HEADER_BYTES ? 'short-header' : 'short-payload');
    }
  });

  it('refuses values it cannot store exactly', () => {
    expect(() => encodeRecords([{ type: 'entry', term: -1, index: 1, data: new Uint8Array() }], 0)).toThrow(RangeError);
    expect(() => encodeRecords([{ type: 'snapshot', index: 2 ** 53, term: 1 }], 0)).toThrow(RangeError);
  });

  it('only accepts a crc record as the first frame when the seed is unknown', () => {
    const seeded = encodeRecords([{ type: 'crc', prevCrc: 0x1234 }, { type: 'snapshot', index: 1, term: 1 }], 0x1234);
    const first = decodeFrame(seeded.bytes, 0, null);
    expect(first.kind).toBe('record');
    const notCrc = encodeRecords([{ type: 'snapshot', index: 1, term: 1 }], 0);
    expect(decodeFrame(notCrc.bytes, 0, null).kind).toBe('bad-payload');
  });
});
