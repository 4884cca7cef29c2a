// Public surface of the pure Raft core. Drivers use RawNode and MemoryStorage;
// the rest are the data types that cross its boundary.

export { RawNode, type Ready, type Status, type ProgressStatus } from './raw-node.js';
export type { Raft, RaftConfig } from './raft.js';
export { MemoryStorage, type Storage, type InitialState } from './storage.js';
export { Mulberry32, type Rng } from './rng.js';
export { assert, AssertionError, ASSERT_CODE } from './assert.js';
export { encodeConfChange, decodeConfChange, applyToVoters } from './conf-change.js';
export type { ProgressState } from './progress.js';
export {
  NONE,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  isEmptyHardState,
  isResponseMsg,
  type MemberId,
  type Entry,
  type EntryType,
  type HardState,
  type SnapshotMeta,
  type Snapshot,
  type ConfChange,
  type Role,
  type SoftState,
  type ReadState,
  type Message,
  type MessageType,
  type RaftErrorCode,
  type ProposeResult,
} from './types.js';
