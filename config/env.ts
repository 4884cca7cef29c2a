// Environment variables: RAFTGATE_ + the flag in SCREAMING_SNAKE_CASE.
// An empty variable counts as unset, because `FOO=` in a compose file or a
// Kubernetes manifest usually means "leave the default". Unknown RAFTGATE_*
// variables are warnings, not errors: one environment is often shared by a
// core member, a proxy and scripts, and a variable meant for another process
// must not stop this one — but the warning still catches a typo.

import { envNameFor } from './field-types.js';
import { CONFIG_FILE_FLAG } from './argv.js';
import type { RawValue } from './raw-value.js';
import { fieldsOf, PROCESS_KINDS, type ProcessKind } from './schema.js';
import { closest } from './suggest.js';

export const ENV_PREFIX = 'RAFTGATE_';
export const CONFIG_FILE_ENV = envNameFor(CONFIG_FILE_FLAG);

/**
 * RAFTGATE_* variables that are not configuration: fault-test failpoints
 * (core-server/wal/failpoint.ts) and the dev launcher's parent watch
 * (cli/main.ts). Known, so never warned about.
 */
export const NON_CONFIG_ENV: ReadonlySet<string> = new Set(['RAFTGATE_FAILPOINTS', 'RAFTGATE_FAILPOINTS_DELAY_MS', 'RAFTGATE_EXIT_WITH_PARENT']);

export interface ParsedEnv {
  readonly values: RawValue[];
  readonly configFile: string | undefined;
  readonly warnings: string[];
}

export function readEnv(kind: ProcessKind, env: Readonly<Record<string, string | undefined>>): ParsedEnv {
  const byEnv = new Map(Object.entries(fieldsOf(kind)).map(([key, f]) => [f.env, key]));
  const values: RawValue[] = [];
  const warnings: string[] = [];
  let configFile: string | undefined;
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (name === CONFIG_FILE_ENV) {
      configFile = raw;
      continue;
    }
    if (NON_CONFIG_ENV.has(name)) continue;
    const key = byEnv.get(name);
    if (key !== undefined) {
      values.push({ key, raw, field: name, source: 'env' });
      continue;
    }
    const owners = PROCESS_KINDS.filter((k) => k !== kind && Object.values(fieldsOf(k)).some((f) => f.env === name));
    if (owners.length > 0) {
      warnings.push(`${name} is not used by raftgate ${kind} (it configures raftgate ${owners.join(' and ')}); ignored`);
    } else {
      const near = closest(name, [...byEnv.keys(), CONFIG_FILE_ENV]);
      warnings.push(`unknown environment variable ${name} ignored${near === undefined ? '' : ` (did you mean ${near}?)`}`);
    }
  }
  return { values, configFile, warnings };
}
