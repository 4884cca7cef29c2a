// A value as it arrived from one source, before validation, remembering how
// the user wrote its name so errors can quote it back.

import type { ConfigSource } from './errors.js';

export interface Origin {
  /** The field as written: `--snapshot-count`, `RAFTGATE_SNAPSHOT_COUNT`, `snapshot-count`. */
  readonly field: string;
  readonly source: ConfigSource;
  readonly file?: string | undefined;
}

export interface RawValue extends Origin {
  /** camelCase schema key. */
  readonly key: string;
  readonly raw: unknown;
}
