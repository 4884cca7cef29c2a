// Public surface of the write-ahead log.

export { crc32c } from './crc32c.js';
export { nodeDisk, type Disk, type DiskHandle } from './disk.js';
export { StorageError, isStorageError, type StorageErrorCode, type StorageErrorFacts } from './errors.js';
export { armFailpoint, disarmFailpoint, failpoint, parseFailpoints, FAILPOINT_NAMES, type FailpointAction, type FailpointName } from './failpoint.js';
export { MemoryDisk } from './memory-disk.js';
export { afterSnapshot } from './reader.js';
export type { HardState, SegmentReport, SnapshotMarker, WalMetadata, WalProblem } from './reader.js';
export type { AppendRecord, EntryRecord, HardStateRecord, MetadataRecord, SnapshotRecord, WalRecord } from './record.js';
export { repairWal, type WalRepairResult } from './repair.js';
export { formatVerifyReport, verifyWal, type WalVerifyReport } from './verify.js';
export { openWal, SEGMENT_BYTES_MAX_DEFAULT, Wal, type TornTailRepair, type WalOptions, type WalRecovery, type WalStats } from './wal.js';
