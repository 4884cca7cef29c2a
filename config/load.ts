// loadConfig: the one way a Raftgate process gets its configuration.
// Precedence, highest first: flags > environment (RAFTGATE_*) > config file
// (--config-file or RAFTGATE_CONFIG_FILE) > defaults. Each source is
// validated on its own before merging, so an error always names the value
// the user wrote and where they wrote it, even if a higher source would have
// overridden it — a broken file is broken whatever else is set.
//
// The loader reads no globals: argv, env and cwd are passed in, so tests and
// the dev launcher can load many configs in one process.

import { isAbsolute, resolve as resolvePath } from 'node:path';

import { CONFIG_FILE_FLAG, parseArgv, wantsHelp } from './argv.js';
import { CONFIG_FILE_ENV, readEnv } from './env.js';
import { ConfigError } from './errors.js';
import { readConfigFile } from './file.js';
import type { RawValue } from './raw-value.js';
import { resolveCore, resolveDev, resolveProxy, type Merged, type Resolved, type SetValue } from './resolve.js';
import { fieldsOf, type ConfigFor, type ProcessKind } from './schema.js';
import { redactUrl } from './urls.js';

export interface LoadOptions {
  /** Arguments after the subcommand: for `raftgate core --name a`, ['--name', 'a']. */
  readonly argv: readonly string[];
  /** Usually process.env. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory that relative paths (config file, data dirs) resolve against; usually process.cwd(). */
  readonly cwd: string;
}

export type LoadResult<T> =
  | {
      readonly help: false;
      readonly config: T;
      /** Non-flag arguments, in order; the CLI decides whether it accepts any. */
      readonly positionals: string[];
      /** Things worth printing that do not stop the process (unknown RAFTGATE_* variables, ...). */
      readonly warnings: string[];
      /** Absolute path of the config file read, if any. */
      readonly configFile: string | undefined;
    }
  | {
      /** -h/--help was given: print helpText(kind) and exit 0. Nothing was validated. */
      readonly help: true;
      readonly config: undefined;
      readonly positionals: string[];
      readonly warnings: string[];
      readonly configFile: undefined;
    };

/** Loads, validates and resolves the configuration of one process kind; throws ConfigError. */
export function loadConfig<K extends ProcessKind>(kind: K, options: LoadOptions): LoadResult<ConfigFor<K>> {
  if (wantsHelp(options.argv)) {
    return { help: true, config: undefined, positionals: [], warnings: [], configFile: undefined };
  }
  const flags = parseArgv(kind, options.argv);
  const env = readEnv(kind, options.env);

  let fileValues: RawValue[] = [];
  let configFile: string | undefined;
  const fileRef =
    flags.configFile !== undefined
      ? { given: flags.configFile, field: `--${CONFIG_FILE_FLAG}`, source: 'flag' as const }
      : env.configFile !== undefined
        ? { given: env.configFile, field: CONFIG_FILE_ENV, source: 'env' as const }
        : undefined;
  if (fileRef !== undefined) {
    if (fileRef.given.trim() === '') throw new ConfigError({ field: fileRef.field, source: fileRef.source, reason: 'needs a path' });
    configFile = isAbsolute(fileRef.given) ? fileRef.given : resolvePath(options.cwd, fileRef.given);
    fileValues = readConfigFile(kind, { path: configFile, field: fileRef.field, source: fileRef.source });
  }

  // Validate highest precedence first so the first error reported is the one
  // the user most recently typed.
  const merged = new Map<string, SetValue>();
  for (const layer of [flags.values, env.values, fileValues]) {
    for (const raw of layer) {
      const value = validate(kind, raw);
      if (!merged.has(raw.key)) merged.set(raw.key, { value, origin: raw });
    }
  }

  const resolved = resolveKind(kind, merged, options.cwd);
  return {
    help: false,
    config: resolved.config as ConfigFor<K>,
    positionals: flags.positionals,
    warnings: [...env.warnings, ...resolved.warnings],
    configFile,
  };
}

function resolveKind(kind: ProcessKind, merged: Merged, cwd: string): Resolved<unknown> {
  switch (kind) {
    case 'core':
      return resolveCore(merged, cwd);
    case 'proxy':
      return resolveProxy(merged);
    case 'dev':
      return resolveDev(merged, cwd);
  }
}

function validate(kind: ProcessKind, raw: RawValue): unknown {
  const field = fieldsOf(kind)[raw.key];
  if (field === undefined) throw new Error(`assert: source produced unknown key ${raw.key}`);
  const r = field.schema.safeParse(raw.raw);
  if (r.success) return r.data;
  const reason = r.error.issues[0]?.message ?? 'is invalid';
  throw new ConfigError({
    field: raw.field,
    source: raw.source,
    file: raw.file,
    key: raw.key,
    reason: `${reason}, got ${show(raw.raw, field.secret)}`,
  });
}

const SHOWN_LENGTH_MAX = 80;

/** The offending value as the user wrote it, shortened, with any password hidden. */
function show(raw: unknown, secret: boolean): string {
  let text = typeof raw === 'string' ? JSON.stringify(secret ? redactUrl(raw) : raw) : secret ? '(hidden)' : JSON.stringify(raw) ?? String(raw);
  if (text.length > SHOWN_LENGTH_MAX) text = `${text.slice(0, SHOWN_LENGTH_MAX)}... (${text.length} characters)`;
  return text;
}
