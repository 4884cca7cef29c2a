// What crosses a peer connection, and the shape checks a receiver applies
// before anything reaches Raft. PURE. Frames use the native protocol's
// framing (4-byte length + msgpack, core-server/api/native/codec.ts).
//
// Every member dials every peer and sends only on the connection it dialed;
// the peer answers on its own outbound connection. So a connection carries
// one direction of Raft traffic, and the only frames a dialer ever reads are
// a refusal (goaway) or the answer to a join query.

import type { Entry, Message, SnapMsg } from '../raft/types.js';
import type { MemberInfo } from '../node/types.js';

export const PEER_PROTOCOL_VERSION = 1;

/** What a connection is for; a snapshot gets its own so it never delays heartbeats. */
export type PeerPurpose = 'stream' | 'snapshot' | 'join';

export type PeerFrame =
  | { t: 'hello'; v: number; purpose: PeerPurpose; clusterId: string; from: string; to: string }
  | { t: 'msgs'; msgs: Message[] }
  /** A snapshot message without its data; `bytes` of data follow in 'chunk' frames, then 'snapEnd'. */
  | { t: 'snap'; msg: Omit<SnapMsg, 'snapshot'> & { snapshot: { meta: SnapMsg['snapshot']['meta'] } }; bytes: number }
  | { t: 'chunk'; data: Uint8Array }
  | { t: 'snapEnd' }
  /** A follower hands a proposal to the leader; `rid` is in the encoded command too. */
  | { t: 'fwd'; rid: string; conf: boolean; data: Uint8Array }
  /** The leader could not propose it (never sent on success: the proposer sees the entry applied). */
  | { t: 'fwdFail'; rid: string; code: string }
  /** Answer to a join query, then the connection closes. */
  | { t: 'cluster'; clusterId: string; members: MemberInfo[] }
  | { t: 'goaway'; code: PeerRefusal; message: string; clusterId: string };

export type PeerRefusal = 'RG_ERR_CLUSTER_MISMATCH' | 'RG_ERR_MEMBER_MISMATCH' | 'RG_ERR_MEMBER_REMOVED' | 'RG_ERR_PEER_PROTOCOL';

const MESSAGE_TYPES = new Set<string>([
  'preVote',
  'vote',
  'preVoteResp',
  'voteResp',
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'readIndex',
  'readIndexResp',
  'timeoutNow',
  'transferLeader',
]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function checkEntry(e: unknown): e is Entry {
  return isObj(e) && isNat(e.term) && isNat(e.index) && (e.type === 'normal' || e.type === 'confChange') && isBytes(e.data);
}

/**
 * A Raft message as a peer sent it, or a reason to drop the connection. Only
 * fields Raft reads are checked; a bug or a foreign process must not be able
 * to trip one of Raft's assertions and crash the member.
 */
export function checkMessage(v: unknown): Message | string {
  if (!isObj(v) || !isStr(v.type) || !MESSAGE_TYPES.has(v.type)) return 'not a raft message';
  if (!isStr(v.from) || !isStr(v.to) || !isNat(v.term)) return `${v.type}: bad from/to/term`;
  switch (v.type) {
    case 'preVote':
    case 'vote':
      if (!isNat(v.index) || !isNat(v.logTerm)) return `${v.type}: bad index/logTerm`;
      if (v.type === 'vote' && typeof v.transfer !== 'boolean') return 'vote: bad transfer';
      break;
    case 'preVoteResp':
    case 'voteResp':
      if (typeof v.reject !== 'boolean') return `${v.type}: bad reject`;
      break;
    case 'app':
      if (!isNat(v.index) || !isNat(v.logTerm) || !isNat(v.commit) || !Array.isArray(v.entries) || !v.entries.every(checkEntry)) return 'app: bad fields';
      break;
    case 'appResp':
      if (!isNat(v.index) || typeof v.reject !== 'boolean' || !isNat(v.rejectHint) || !isNat(v.logTerm)) return 'appResp: bad fields';
      break;
    case 'heartbeat':
      if (!isNat(v.commit) || !isStr(v.context)) return 'heartbeat: bad fields';
      break;
    case 'heartbeatResp':
    case 'readIndex':
      if (!isStr(v.context)) return `${v.type}: bad context`;
      break;
    case 'readIndexResp':
      if (!isStr(v.context) || !isNat(v.index)) return 'readIndexResp: bad fields';
      break;
    case 'transferLeader':
      if (!isStr(v.transferee)) return 'transferLeader: bad transferee';
      break;
    case 'snap':
      return 'snap: snapshots travel on a snapshot connection';
  }
  return v as unknown as Message;
}

/** Checks a frame's outer shape; Raft messages inside 'msgs' are checked one by one with checkMessage. */
export function checkFrame(v: unknown): PeerFrame | string {
  if (!isObj(v) || !isStr(v.t)) return 'not a peer frame';
  switch (v.t) {
    case 'hello':
      if (!isNat(v.v) || !isStr(v.clusterId) || !isStr(v.from) || !isStr(v.to)) return 'hello: bad fields';
      if (v.purpose !== 'stream' && v.purpose !== 'snapshot' && v.purpose !== 'join') return 'hello: bad purpose';
      break;
    case 'msgs':
      if (!Array.isArray(v.msgs)) return 'msgs: not a list';
      break;
    case 'snap': {
      const m = v.msg;
      if (!isObj(m) || !isStr(m.from) || !isStr(m.to) || !isNat(m.term) || !isNat(v.bytes)) return 'snap: bad fields';
      const s = m.snapshot;
      if (!isObj(s) || !isObj(s.meta) || !isNat(s.meta.index) || !isNat(s.meta.term) || !Array.isArray(s.meta.voters) || !s.meta.voters.every(isStr)) {
        return 'snap: bad meta';
      }
      break;
    }
    case 'chunk':
      if (!isBytes(v.data)) return 'chunk: bad data';
      break;
    case 'snapEnd':
      break;
    case 'fwd':
      if (!isStr(v.rid) || typeof v.conf !== 'boolean' || !isBytes(v.data)) return 'fwd: bad fields';
      break;
    case 'fwdFail':
      if (!isStr(v.rid) || !isStr(v.code)) return 'fwdFail: bad fields';
      break;
    case 'cluster':
      if (!isStr(v.clusterId) || !Array.isArray(v.members)) return 'cluster: bad fields';
      break;
    case 'goaway':
      if (!isStr(v.code) || !isStr(v.message)) return 'goaway: bad fields';
      break;
    default:
      return `unknown frame ${v.t}`;
  }
  return v as unknown as PeerFrame;
}
