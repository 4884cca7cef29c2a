// Operating errors of the storage layer: stable codes plus the facts an
// operator needs (which file, which byte). Callers branch on `code`, never on
// the message, and the CLI prints the message as-is.

export type StorageErrorCode =
  /** A WAL checksum or structure failure that is not a torn tail: start-up must stop. */
  | 'RG_ERR_WAL_CORRUPT'
  /** A write or fsync failed; the WAL is poisoned and the process should restart. */
  | 'RG_ERR_WAL_IO'
  /** The WAL was used after close() or after an I/O failure. */
  | 'RG_ERR_WAL_CLOSED'
  /** A caller broke the WAL's contract (index gap, oversize record, bad release). */
  | 'RG_ERR_WAL_USAGE'
  /** A new WAL was requested without the member and cluster ids to put in it. */
  | 'RG_ERR_WAL_NO_METADATA'
  /** The newest snapshot file is damaged: start-up must stop. */
  | 'RG_ERR_SNAP_CORRUPT'
  /** A snapshot is larger than the configured limit. */
  | 'RG_ERR_SNAP_TOO_LARGE';

export interface StorageErrorFacts {
  file?: string;
  offset?: number;
  cause?: unknown;
}

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: StorageErrorCode, message: string, facts: StorageErrorFacts = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.name = 'StorageError';
    this.code = code;
    this.file = facts.file;
    this.offset = facts.offset;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
