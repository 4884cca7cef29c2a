// The data Raft reads, persists and sends. Shapes follow etcd-io/raft's
// raftpb, narrowed to what Raftgate uses: member ids are strings (16 hex
// digits, see core-server/node/ids.ts) and '' means "none".

/** A member id; '' (NONE) means no member. */
export type MemberId = string;
export const NONE: MemberId = '';

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft for 'normal'; an encoded ConfChange for 'confChange'. Empty on a leader's no-op. */
  data: Uint8Array;
}

/**
 * What must be durable before a member answers a vote or acknowledges an
 * append. The WAL stores exactly this shape (wal/record.ts HardStateRecord).
 */
export interface HardState {
  term: number;
  /** Member voted for in `term`, '' for none. */
  vote: MemberId;
  commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export interface SnapshotMeta {
  /** Last entry the snapshot covers. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** The voters as of `index`: a snapshot carries membership, since the entries that made it are gone. */
  voters: MemberId[];
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application's state at meta.index, opaque to Raft. */
  data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = { meta: { index: 0, term: 0, voters: [] }, data: new Uint8Array(0) };

/** One voter added or removed; the payload of a 'confChange' entry. */
export interface ConfChange {
  type: 'addNode' | 'removeNode';
  id: MemberId;
  /** Opaque to Raft: the application's facts about the member (its name and URLs), applied with the change. */
  context?: string;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting (never persisted). */
export interface SoftState {
  lead: MemberId;
  role: Role;
}

/** A linearizable read point: once the state machine has applied `index`, the read tagged `requestCtx` may be served. */
export interface ReadState {
  index: number;
  requestCtx: string;
}

// ---------------------------------------------------------------------------
// Messages. Every message names sender, receiver and the sender's term; the
// discriminant is `type`. Local events (tick, campaign, propose) are methods
// on RawNode, not messages, so this union is exactly what crosses the wire.

interface MessageBase {
  from: MemberId;
  to: MemberId;
  /**
   * The sender's term; for preVote the term the sender would campaign at.
   * 0 only on readIndex forwarded by a follower, which is treated as a local
   * request on the leader (as in etcd), never as a term signal.
   */
  term: number;
}

export interface PreVoteMsg extends MessageBase {
  type: 'preVote';
  /** Candidate's last log index and term, for the up-to-date check. */
  index: number;
  logTerm: number;
}
export interface VoteMsg extends MessageBase {
  type: 'vote';
  index: number;
  logTerm: number;
  /** Set when campaigning on timeoutNow: lets the vote through a follower's leader lease. */
  transfer: boolean;
}
export interface VoteRespMsg extends MessageBase {
  type: 'preVoteResp' | 'voteResp';
  reject: boolean;
}
export interface AppMsg extends MessageBase {
  type: 'app';
  /** Index and term of the entry just before `entries` (the consistency check). */
  index: number;
  logTerm: number;
  entries: Entry[];
  /** Leader's commit index. */
  commit: number;
}
export interface AppRespMsg extends MessageBase {
  type: 'appResp';
  /** Accepted: last index now known to match. Rejected: the prev index that did not match. */
  index: number;
  reject: boolean;
  /** On reject: the follower's guess at the largest index that may match... */
  rejectHint: number;
  /** ...and its term there (0 if unknown), so the leader can skip a whole term per round trip. */
  logTerm: number;
}
export interface HeartbeatMsg extends MessageBase {
  type: 'heartbeat';
  /** min(follower's match, leader's commit): never tells a follower to commit what it may not have. */
  commit: number;
  /** ReadIndex request context this round confirms ('' none). */
  context: string;
}
export interface HeartbeatRespMsg extends MessageBase {
  type: 'heartbeatResp';
  context: string;
}
export interface SnapMsg extends MessageBase {
  type: 'snap';
  snapshot: Snapshot;
}
export interface ReadIndexMsg extends MessageBase {
  type: 'readIndex';
  context: string;
}
export interface ReadIndexRespMsg extends MessageBase {
  type: 'readIndexResp';
  context: string;
  index: number;
}
export interface TimeoutNowMsg extends MessageBase {
  type: 'timeoutNow';
}
/** Asks the leader to hand leadership to `transferee` (sent by a follower that was asked locally). */
export interface TransferLeaderMsg extends MessageBase {
  type: 'transferLeader';
  transferee: MemberId;
}

export type Message =
  | PreVoteMsg
  | VoteMsg
  | VoteRespMsg
  | AppMsg
  | AppRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | SnapMsg
  | ReadIndexMsg
  | ReadIndexRespMsg
  | TimeoutNowMsg
  | TransferLeaderMsg;

export type MessageType = Message['type'];

/** Responses are dropped when they come from a member not in the configuration. */
export function isResponseMsg(t: MessageType): boolean {
  return t === 'preVoteResp' || t === 'voteResp' || t === 'appResp' || t === 'heartbeatResp' || t === 'readIndexResp';
}

/** Stable codes for refusals a caller must handle (operating errors, not bugs). */
export type RaftErrorCode =
  | 'ERR_PROPOSAL_DROPPED'
  | 'ERR_CONF_CHANGE_PENDING'
  | 'ERR_NOT_LEADER'
  | 'ERR_TRANSFER_IN_PROGRESS';

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; code: RaftErrorCode };

export function entriesBytes(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += entryBytes(e);
  return n;
}

/** Approximate wire size: payload plus a fixed header, so empty entries still count. */
export function entryBytes(e: Entry): number {
  return e.data.byteLength + 24;
}
