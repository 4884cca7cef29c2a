// Public surface of snapshot storage.

export { checkSnapFile, decodeSnapHeader, encodeSnapHeader, parseSnapName, snapName, SNAP_HEADER_BYTES, type SnapFileCheck, type SnapHeader } from './snap-file.js';
export {
  formatSnapshotReport,
  loadNewestSnapshot,
  saveSnapshot,
  SNAPSHOT_BYTES_MAX_DEFAULT,
  SNAPSHOT_KEEP_MAX_DEFAULT,
  verifySnapshots,
  type LoadedSnapshot,
  type Snapshot,
  type SnapOptions,
  type SnapshotFileReport,
  type SnapshotVerifyReport,
} from './snapshotter.js';
