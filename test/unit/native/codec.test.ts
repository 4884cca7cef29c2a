// Framing: any split of any sequence of frames decodes to the same messages;
// an oversized or undecodable frame is refused with a stable code.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FrameDecoder, NativeProtocolError, encodeFrame } from '../../../core-server/api/native/codec.js';

const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const message = fc.record({ t: fc.constantFrom('req', 'events', 'progress'), id: fc.nat(), body: jsonish });

/** Cut `buf` at the given positions (any order, duplicates allowed). */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('native codec', () => {
  test('any split of any sequence of frames decodes identically', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)));
        const d = new FrameDecoder();
        const got: unknown[] = [];
        for (const chunk of splitAt(stream, cuts)) got.push(...d.push(chunk));
        expect(got).toEqual(msgs);
        expect(d.pendingBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  test('byte-at-a-time decoding of a large frame', () => {
    const m = { t: 'events', id: 1, events: Array.from({ length: 200 }, (_, i) => ({ action: 'set', node: { key: `/k${i}`, value: 'x'.repeat(i) } })) };
    const f = encodeFrame(m);
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (let i = 0; i < f.length; i++) got.push(...d.push(f.subarray(i, i + 1)));
    expect(got).toEqual([m]);
  });

  test('a frame declared over the limit is refused before it is buffered, and the decoder stays failed', () => {
    const d = new FrameDecoder(1024);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1025, 0);
    let err: unknown;
    try {
      d.push(head);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeProtocolError);
    expect((err as NativeProtocolError).code).toBe('RG_ERR_NATIVE_FRAME_TOO_LARGE');
    expect(() => d.push(encodeFrame({ t: 'ping', n: 1 }))).toThrow(/FRAME_TOO_LARGE/);
  });

  test('a frame exactly at the limit is accepted; encodeFrame refuses to build one over it', () => {
    const f = encodeFrame('x'.repeat(100));
    const len = f.readUInt32BE(0);
    expect(new FrameDecoder(len).push(f)).toEqual(['x'.repeat(100)]);
    expect(() => encodeFrame('x'.repeat(100), len - 1)).toThrow(/RG_ERR_NATIVE_FRAME_TOO_LARGE/);
  });

  test('an empty or undecodable frame is RG_ERR_NATIVE_BAD_FRAME', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0]))).toThrow(/RG_ERR_NATIVE_BAD_FRAME/);
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 2, 0x92, 0x01]))).toThrow(/RG_ERR_NATIVE_BAD_FRAME/);
  });

  test('useRecords is off: the payload is plain msgpack maps', () => {
    const f = encodeFrame({ a: 1 });
    // fixmap of 1 entry, fixstr "a", positive fixint 1
    expect([...f.subarray(4)]).toEqual([0x81, 0xa1, 0x61, 0x01]);
  });
});
