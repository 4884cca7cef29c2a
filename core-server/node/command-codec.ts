// Log entries carry commands encoded with msgpack: compact, fast, and the same
// encoding the native protocol uses between proxies and the core.
//
// A normal Raft entry holds one LogCommand: a store command (a client write,
// or the leader's clock for TTL expiry) or a membership fact (a member's name
// and URLs, which Raft itself does not know). `rid` names the proposal, so
// the member that proposed it — possibly a follower that forwarded it to the
// leader — finds its waiting caller when it applies the entry.

import { Decoder, Encoder } from '@msgpack/msgpack';
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

// Plain msgpack maps, so the bytes depend only on the values: the same
// command encodes to the same bytes on every member.

// One encoder and decoder for the process: msgpack's encode()/decode()
// helpers build a new one (and a 2 KiB buffer) on every call, which showed
// in the write path's profile. Encoder.encode returns a copy, never a view of
// its reused buffer, and both are re-entrant (they clone when nested).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

export function encodeCommand(cmd: LogCommand): Uint8Array {
  return encoder.encode(cmd);
}

export function decodeCommand(bytes: Uint8Array): LogCommand {
  const cmd = decoder.decode(bytes) as LogCommand;
  if (cmd === null || typeof cmd !== 'object' || (cmd.op !== 'write' && cmd.op !== 'sync' && cmd.op !== 'member')) {
    throw Object.assign(new Error('log entry does not hold a command'), { code: 'RG_ERR_BAD_ENTRY' });
  }
  return cmd;
}
