// Log entries carry commands encoded with msgpack: compact, fast, and the same
// encoding the native protocol uses between proxies and the core.

import { decode, encode } from '@msgpack/msgpack';
import type { Command } from '../store/types.js';

// Plain msgpack maps, so the bytes depend only on the values: the same
// command encodes to the same bytes on every member.

export function encodeCommand(cmd: Command): Uint8Array {
  return encode(cmd, { ignoreUndefined: true });
}

export function decodeCommand(bytes: Uint8Array): Command {
  const cmd = decode(bytes) as Command;
  if (cmd === null || typeof cmd !== 'object' || (cmd.op !== 'write' && cmd.op !== 'sync')) {
    throw Object.assign(new Error('log entry does not hold a command'), { code: 'RG_ERR_BAD_ENTRY' });
  }
  return cmd;
}
