// Shared by the config tests: load with files written to a fresh temp dir,
// and capture the ConfigError a load is expected to throw.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'vitest';

import { ConfigError, loadConfig, type ConfigFor, type ProcessKind } from '../../../config/index.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'raftgate-config-'));
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export interface LoadInput {
  readonly argv?: readonly string[];
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
}

export function load<K extends ProcessKind>(kind: K, input: LoadInput = {}): { config: ConfigFor<K>; warnings: string[]; positionals: string[] } {
  const r = loadConfig(kind, { argv: input.argv ?? [], env: input.env ?? {}, cwd: input.cwd ?? '/work/dir' });
  if (r.help) throw new Error('unexpected help');
  return { config: r.config, warnings: r.warnings, positionals: r.positionals };
}

export function loadError(kind: ProcessKind, input: LoadInput = {}): ConfigError {
  try {
    load(kind, input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}
