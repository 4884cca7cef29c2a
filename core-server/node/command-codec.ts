// Log entries carry commands encoded with msgpack: compact, fast, and the same
// encoding the native protocol uses between proxies and the core.

import { Packr } from 'msgpackr';
import type { Command } from '../store/types.js';

// Records (not structured clones) so the bytes depend only on the values:
// the same command always encodes to the same bytes on every member.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeCommand(cmd: Command): Uint8Array {
  return packr.pack(cmd);
}

export function decodeCommand(bytes: Uint8Array): Command {
  const cmd = packr.unpack(bytes) as Command;
  if (cmd === null || typeof cmd !== 'object' || (cmd.op !== 'write' && cmd.op !== 'sync')) {
    throw Object.assign(new Error('log entry does not hold a command'), { code: 'RG_ERR_BAD_ENTRY' });
  }
  return cmd;
}
