// Log entries carry commands encoded with msgpack (core-server/msgpack.ts):
// compact, fast, and the same encoding the native protocol uses between
// proxies and the core.
//
// A normal Raft entry holds one LogCommand: a store command (a client write,
// or the leader's clock for TTL expiry) or a membership fact (a member's name
// and URLs, which Raft itself does not know). `rid` names the proposal, so
// the member that proposed it — possibly a follower that forwarded it to the
// leader — finds its waiting caller when it applies the entry.

import { pack, unpack } from '../msgpack.js';
import type { Command } from '../store/types.js';

/** A member's attributes, published through the log so every member agrees on them. */
export interface MemberCommand {
  op: 'member';
  id: string;
  name?: string;
  clientURLs?: string[];
  peerURLs?: string[];
}

export type LogCommand = (Command | MemberCommand) & { rid?: string };

export function encodeCommand(cmd: LogCommand): Uint8Array {
  return pack(cmd);
}

export function decodeCommand(bytes: Uint8Array): LogCommand {
  const cmd = unpack(bytes) as LogCommand;
  if (cmd === null || typeof cmd !== 'object' || (cmd.op !== 'write' && cmd.op !== 'sync' && cmd.op !== 'member')) {
    throw Object.assign(new Error('log entry does not hold a command'), { code: 'RG_ERR_BAD_ENTRY' });
  }
  return cmd;
}
