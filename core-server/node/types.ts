// What the client-facing layers (v2 HTTP API, native protocol) need from a
// core member. The Raft driver (driver.ts) implements it; so can a test
// double, which is why the layers above depend on this, not on the driver.

import type { KeyStore, StoreEvent, WriteRequest } from '../store/types.js';
import type { V2Error } from '../store/v2-error.js';

export interface MemberInfo {
  /** 16 hex digits, as etcd prints member ids. */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export interface WriteOutcome {
  result: StoreEvent | V2Error;
  /** Raft log index and term of the entry that carried the write. */
  raftIndex: number;
  raftTerm: number;
}

export interface KvNode {
  /** Local reads and watches go straight to the store; writes never do. */
  readonly store: KeyStore;
  readonly memberId: string;
  readonly clusterId: string;
  readonly name: string;
  /** Applied raft index and current term (X-Raft-Index, X-Raft-Term). */
  readonly raftIndex: number;
  readonly raftTerm: number;
  /** Member id of the leader, or null while there is none. */
  leaderId(): string | null;
  members(): MemberInfo[];
  /** Resolves once the write is durable and applied (or rejects: no leader, stopping). */
  propose(req: WriteRequest): Promise<WriteOutcome>;
  /** Resolves when a read issued now would be linearizable (quorum=true). */
  linearizableBarrier(): Promise<void>;
  /** The local clock, for rendering TTLs and computing deadlines. */
  nowMs(): number;
  /** Membership changes (POST/PUT/DELETE /v2/members); absent where the node cannot change membership. */
  addMember?(peerURLs: string[]): Promise<MemberInfo>;
  removeMember?(id: string): Promise<void>;
  updateMember?(id: string, peerURLs: string[]): Promise<void>;
  /** Raft's view of this member, where there is one. */
  status?(): RaftStatus;
  /** The state machine at the applied index, encoded as a snapshot payload. */
  stateImage?(): { index: number; term: number; data: Uint8Array };
}

export interface RaftStatus {
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  role: string;
  /** Leader id, '' for none. */
  lead: string;
  voters: string[];
}
