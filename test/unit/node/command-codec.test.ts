// The log's command encoding: the bytes depend only on the command (every
// member writes the same bytes for the same entry), every result is a value
// of its own (never changed by a later encode), and it round-trips — 64-bit
// integers come back as numbers, undefined fields are left out.

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

test('the same command gives the same bytes, which round-trip exactly', () => {
  const out = cmds.map((c) => encodeCommand(c));
  for (let i = 0; i < cmds.length; i++) {
    expect(Buffer.from(encodeCommand(structuredClone(cmds[i]!))).equals(Buffer.from(out[i]!))).toBe(true);
    expect(decodeCommand(out[i]!)).toEqual(cmds[i]);
  }
  // Earlier results are untouched by later encodes.
  const first = Buffer.from(out[0]!);
  for (let i = 0; i < 2000; i++) encodeCommand(cmds[1]!);
  expect(Buffer.from(out[0]!).equals(first)).toBe(true);
  expect(decodeCommand(out[0]!)).toEqual(cmds[0]);
});

test('an undefined field is left out; a log entry that is not a command is refused', () => {
  const w = { op: 'write', req: { ...(cmds[1] as Extract<Command, { op: 'write' }>).req }, rid: undefined } as unknown as Command;
  expect(Object.keys(decodeCommand(encodeCommand(w)))).toEqual(['op', 'req']);
  expect(() => decodeCommand(new Uint8Array([0x91, 0x01]))).toThrow('log entry does not hold a command');
});
