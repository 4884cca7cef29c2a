// Log entries carry commands encoded with msgpack: compact, fast, and the same
// encoding the native protocol uses between proxies and the core.

import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Command } from '../store/types.js';

// Plain msgpack maps, so the bytes depend only on the values: the same
// command encodes to the same bytes on every member.

// One encoder and decoder for the process: msgpack's encode()/decode()
// helpers build a new one (and a 2 KiB buffer) on every call, which showed
// in the write path's profile. Encoder.encode returns a copy, never a view of
// its reused buffer, and both are re-entrant (they clone when nested).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

export function encodeCommand(cmd: Command): Uint8Array {
  return encoder.encode(cmd);
}

export function decodeCommand(bytes: Uint8Array): Command {
  const cmd = decoder.decode(bytes) as Command;
  if (cmd === null || typeof cmd !== 'object' || (cmd.op !== 'write' && cmd.op !== 'sync')) {
    throw Object.assign(new Error('log entry does not hold a command'), { code: 'RG_ERR_BAD_ENTRY' });
  }
  return cmd;
}
