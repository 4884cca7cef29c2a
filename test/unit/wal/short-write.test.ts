// A writev that stops short (IOV_MAX chunks, a signal, >2 GiB) is finished
// with plain writes of exactly what it left: each chunk's remainder, at the
// file position it belongs at.
import { expect, test } from 'vitest';
import { unwritten } from '../../../core-server/wal/disk.js';

const chunks: Uint8Array[] = [new Uint8Array(3), new Uint8Array(4), new Uint8Array(5)];

test('the remainders after a short writev, at their file positions', () => {
  const at = (written: number) => [...unwritten(chunks, 100, written)].map((r) => [chunks.indexOf(r.chunk), r.off, r.pos]);
  expect(at(0)).toEqual([[0, 0, 100], [1, 0, 103], [2, 0, 107]]);
  expect(at(5)).toEqual([[1, 2, 105], [2, 0, 107]]);
  expect(at(7)).toEqual([[2, 0, 107]]);
  expect(at(11)).toEqual([[2, 4, 111]]);
  expect(at(12)).toEqual([]);
});
