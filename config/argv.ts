// Command-line flags, parsed from the schema's own field list so every field
// has a flag and nothing else does. Accepted forms follow Go's flag package,
// which etcd uses, so etcd command lines parse unchanged:
//   --name value   --name=value   -name value   (one or two dashes)
//   --fresh        --fresh=false  (a boolean never takes the next argument)
// A flag given twice, or one the schema does not know, is an error: a typo
// must not be silently ignored. `--` ends the flags.

import { ConfigError } from './errors.js';
import type { RawValue } from './raw-value.js';
import { fieldsOf, PROCESS_KINDS, type ProcessKind } from './schema.js';
import { closest } from './suggest.js';

export const CONFIG_FILE_FLAG = 'config-file';
export const ARGV_ENTRIES_MAX = 1024;

export interface ParsedArgv {
  readonly values: RawValue[];
  readonly configFile: string | undefined;
  readonly help: boolean;
  readonly positionals: string[];
}

/** True if -h/--help appears before `--`; checked first so help never fails on a bad flag. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help' || arg === '-help') return true;
  }
  return false;
}

export function parseArgv(kind: ProcessKind, argv: readonly string[]): ParsedArgv {
  if (argv.length > ARGV_ENTRIES_MAX) {
    throw new ConfigError({ field: 'argv', source: 'flag', reason: `more than ${ARGV_ENTRIES_MAX} arguments`, message: `too many arguments (more than ${ARGV_ENTRIES_MAX})` });
  }
  const fields = fieldsOf(kind);
  const byFlag = new Map(Object.entries(fields).map(([key, f]) => [f.flag, { key, isBoolean: f.valueKind === 'boolean' }]));
  const values: RawValue[] = [];
  const seen = new Set<string>();
  const positionals: string[] = [];
  let configFile: string | undefined;
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/u, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const written = `--${name}`;
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const known = byFlag.get(name);
    if (known === undefined && name !== CONFIG_FILE_FLAG) throw unknownFlag(kind, name, [...byFlag.keys(), CONFIG_FILE_FLAG]);
    if (seen.has(name)) {
      throw new ConfigError({ field: written, source: 'flag', key: known?.key, reason: 'given more than once' });
    }
    seen.add(name);

    let raw: string;
    if (eq !== -1) {
      raw = body.slice(eq + 1);
    } else if (known?.isBoolean === true) {
      raw = 'true';
    } else {
      const next = argv[i + 1];
      // A following flag is far more likely a forgotten value than a value
      // that starts with "--"; such a value can still be given as --flag=--x.
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new ConfigError({ field: written, source: 'flag', key: known?.key, reason: 'needs a value' });
      }
      raw = next;
      i++;
    }
    if (known === undefined) configFile = raw;
    else values.push({ key: known.key, raw, field: written, source: 'flag' });
  }
  return { values, configFile, help, positionals };
}

function unknownFlag(kind: ProcessKind, name: string, flags: string[]): ConfigError {
  const owners = PROCESS_KINDS.filter((k) => k !== kind && Object.values(fieldsOf(k)).some((f) => f.flag === name));
  const near = closest(name, flags);
  const hint = owners.length > 0 ? ` (it is a flag of raftgate ${owners.join(' and ')})` : near === undefined ? '' : ` (did you mean --${near}?)`;
  return new ConfigError({
    field: `--${name}`,
    source: 'flag',
    reason: 'unknown flag',
    message: `unknown flag --${name} for raftgate ${kind}${hint}`,
  });
}
