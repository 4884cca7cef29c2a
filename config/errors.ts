// Configuration errors. Bad config must stop the process with one line that
// names the field exactly as the user wrote it (flag, env var or file key),
// where the value came from and why it was refused, so the fix is obvious
// without reading the source. Every such failure is a ConfigError with the
// stable code RG_ERR_CONFIG; the CLI prints `raftgate: <message>` and exits 2.

/** Where a configuration value came from, in order of precedence. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ConfigErrorFacts {
  /** The field as the user wrote it: `--snapshot-count`, `RAFTGATE_SNAPSHOT_COUNT`, `snapshotCount`. */
  readonly field: string;
  readonly source: ConfigSource;
  /** Why the value was refused, e.g. `must be a positive integer, got "abc"`. */
  readonly reason: string;
  /** The schema key (camelCase) the field maps to, when there is one. */
  readonly key?: string | undefined;
  /** The config file, when source is 'file'. */
  readonly file?: string | undefined;
  /** A complete message, for failures that are not "invalid value" (unreadable file, syntax error). */
  readonly message?: string | undefined;
}

export class ConfigError extends Error {
  readonly code = 'RG_ERR_CONFIG';
  readonly field: string;
  readonly source: ConfigSource;
  readonly reason: string;
  readonly key: string | undefined;
  readonly file: string | undefined;

  constructor(facts: ConfigErrorFacts) {
    super(facts.message ?? `invalid ${facts.field} (${sourceText(facts.source, facts.file)}): ${facts.reason}`);
    this.name = 'ConfigError';
    this.field = facts.field;
    this.source = facts.source;
    this.reason = facts.reason;
    this.key = facts.key;
    this.file = facts.file;
  }
}

export function sourceText(source: ConfigSource, file: string | undefined): string {
  return source === 'file' && file !== undefined ? `file ${file}` : source;
}

/** Process exit status for an error thrown while loading config: 2 (usage error) for ConfigError, else 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof ConfigError ? 2 : 1;
}
