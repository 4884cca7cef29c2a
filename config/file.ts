// Config files: YAML or JSON (JSON is parsed by the YAML parser too, so both
// report syntax errors with a line number and both refuse duplicate keys).
// The top level is a mapping whose keys are the camelCase config key
// (maxStalenessMs), the flag name (max-staleness) or the flag in camelCase
// (maxStaleness). An unknown key is an error naming it: a misspelt key that
// was silently ignored would leave a default running that nobody chose.
// Paths inside the file resolve against the working directory, as etcd's do.

import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';

import { LineCounter, parseDocument } from 'yaml';

import { ConfigError, type ConfigSource } from './errors.js';
import type { RawValue } from './raw-value.js';
import { fieldsOf, PROCESS_KINDS, type ProcessKind } from './schema.js';
import { closest } from './suggest.js';

/** A config file is a page of settings; anything bigger is a mistake (or an attack). */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024;

export interface FileReference {
  /** Absolute path. */
  readonly path: string;
  /** How the file was named: `--config-file` or `RAFTGATE_CONFIG_FILE`. */
  readonly field: string;
  readonly source: ConfigSource;
}

function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z0-9])/gu, (_, c: string) => c.toUpperCase());
}

/** Every spelling a file may use for each key of a process kind. */
export function fileKeysOf(kind: ProcessKind): Map<string, string> {
  const names = new Map<string, string>();
  for (const [key, f] of Object.entries(fieldsOf(kind))) {
    names.set(key, key);
    names.set(f.flag, key);
    names.set(camelCase(f.flag), key);
  }
  return names;
}

export function readConfigFile(kind: ProcessKind, ref: FileReference): RawValue[] {
  const text = readText(ref);
  const format = extname(ref.path).toLowerCase() === '.json' ? 'JSON' : 'YAML';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const line = lineCounter.linePos(syntax.pos[0]).line;
    const what = syntax.message.split('\n')[0] ?? syntax.message;
    throw new ConfigError({
      field: ref.path,
      source: 'file',
      file: ref.path,
      reason: what,
      message: `${format} syntax error in ${ref.path} line ${line}: ${what}`,
    });
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined) return []; // an empty file sets nothing
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError({
      field: ref.path,
      source: 'file',
      file: ref.path,
      reason: 'not a mapping',
      message: `config file ${ref.path} must be a mapping of keys to values`,
    });
  }

  const names = fileKeysOf(kind);
  const values: RawValue[] = [];
  const writtenFor = new Map<string, string>();
  for (const [written, raw] of Object.entries(data as Record<string, unknown>)) {
    const key = names.get(written);
    if (key === undefined) throw unknownKey(kind, written, ref.path, names);
    const earlier = writtenFor.get(key);
    if (earlier !== undefined) {
      throw new ConfigError({ field: written, source: 'file', file: ref.path, key, reason: `sets the same field as ${earlier}` });
    }
    writtenFor.set(key, written);
    values.push({ key, raw, field: written, source: 'file', file: ref.path });
  }
  return values;
}

function readText(ref: FileReference): string {
  try {
    const size = statSync(ref.path).size;
    if (size > CONFIG_FILE_BYTES_MAX) throw Object.assign(new Error(`larger than ${CONFIG_FILE_BYTES_MAX} bytes`), { code: 'RG_TOO_BIG' });
    return readFileSync(ref.path, 'utf8');
  } catch (err) {
    const reason = readFailure(err);
    throw new ConfigError({
      field: ref.field,
      source: ref.source,
      reason,
      message: `cannot read config file ${ref.path}: ${reason}`,
    });
  }
}

function readFailure(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

function unknownKey(kind: ProcessKind, written: string, file: string, names: Map<string, string>): ConfigError {
  const owners = PROCESS_KINDS.filter((k) => k !== kind && fileKeysOf(k).has(written));
  const near = closest(written, names.keys());
  const hint = owners.length > 0 ? ` (it configures raftgate ${owners.join(' and ')})` : near === undefined ? '' : ` (did you mean ${near}?)`;
  return new ConfigError({
    field: written,
    source: 'file',
    file,
    reason: `unknown key for raftgate ${kind}${hint}`,
  });
}
