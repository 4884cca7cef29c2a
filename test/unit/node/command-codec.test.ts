// The log's command encoding must not depend on how the encoder is held: the
// shared Encoder gives byte-for-byte what msgpack's one-shot encode() gave,
// so WALs written before and after read back the same, and every result is a
// private copy (never a view of the reused buffer).

import { encode } from '@msgpack/msgpack';
import { expect, test } from 'vitest';
import { decodeCommand, encodeCommand } from '../../../core-server/node/command-codec.js';
import type { Command } from '../../../core-server/store/types.js';

const cmds: Command[] = [
  { op: 'sync', nowMs: 1_790_000_000_123 },
  {
    op: 'write',
    req: { method: 'PUT', path: '/a/b', value: 'x'.repeat(5000), dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, expireAtMs: null, nowMs: 17 },
  },
  {
    op: 'write',
    req: { method: 'DELETE', path: '/日本', value: '', dir: true, prevExist: true, prevValue: 'p', prevIndex: 2 ** 40, recursive: true, refresh: false, expireAtMs: 1e13, nowMs: 1e12 },
  },
];

test('encodes exactly as msgpack encode() with ignoreUndefined, and round-trips', () => {
  const out = cmds.map((c) => encodeCommand(c));
  for (let i = 0; i < cmds.length; i++) {
    expect(Buffer.from(out[i]!).equals(Buffer.from(encode(cmds[i]!, { ignoreUndefined: true })))).toBe(true);
    expect(decodeCommand(out[i]!)).toEqual(cmds[i]);
  }
  // Earlier results are untouched by later encodes.
  expect(decodeCommand(out[0]!)).toEqual(cmds[0]);
  expect(out[0]!.buffer).not.toBe(out[1]!.buffer);
});
