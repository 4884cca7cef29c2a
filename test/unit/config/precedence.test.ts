// flags > env > file > defaults: the same field is set in every layer and
// each combination of layers is tried, so removing any one layer must reveal
// the next one down.

import { describe, expect, it } from 'vitest';

import type { ProcessKind } from '../../../config/index.js';
import { load, tempDir, writeFile } from './helpers.js';

interface Case {
  readonly kind: ProcessKind;
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly raw: { readonly file: string; readonly env: string; readonly flag: string };
  readonly want: { readonly file: unknown; readonly env: unknown; readonly flag: unknown; readonly default: unknown };
  readonly baseArgv?: readonly string[];
}

const cases: Case[] = [
  {
    kind: 'core',
    key: 'snapshotCount',
    flag: 'snapshot-count',
    env: 'RAFTGATE_SNAPSHOT_COUNT',
    raw: { file: '111', env: '222', flag: '333' },
    want: { file: 111, env: 222, flag: 333, default: 100_000 },
  },
  {
    kind: 'core',
    key: 'heartbeatIntervalMs',
    flag: 'heartbeat-interval',
    env: 'RAFTGATE_HEARTBEAT_INTERVAL',
    raw: { file: '50ms', env: '60', flag: '0.07s' },
    want: { file: 50, env: 60, flag: 70, default: 100 },
  },
  {
    kind: 'proxy',
    key: 'cacheBytesMax',
    flag: 'cache-bytes-max',
    env: 'RAFTGATE_CACHE_BYTES_MAX',
    raw: { file: '1MiB', env: '2MiB', flag: '3145728' },
    want: { file: 1 << 20, env: 2 << 20, flag: 3 << 20, default: 64 << 20 },
    baseArgv: ['--endpoints', 'http://core-1:2379'],
  },
  {
    kind: 'proxy',
    key: 'endpoints',
    flag: 'endpoints',
    env: 'RAFTGATE_ENDPOINTS',
    raw: { file: 'http://f:1', env: 'http://e:1,http://e:2', flag: 'http://g:1' },
    want: { file: ['http://f:1'], env: ['http://e:1', 'http://e:2'], flag: ['http://g:1'], default: 'error' },
  },
  {
    kind: 'dev',
    key: 'basePort',
    flag: 'base-port',
    env: 'RAFTGATE_BASE_PORT',
    raw: { file: '20000', env: '21000', flag: '22000' },
    want: { file: 20_000, env: 21_000, flag: 22_000, default: 12_379 },
  },
];

const layerSets = [0, 1, 2, 3, 4, 5, 6, 7].map((bits) => ({
  file: (bits & 1) !== 0,
  env: (bits & 2) !== 0,
  flag: (bits & 4) !== 0,
}));

describe('precedence: flag > env > file > default', () => {
  for (const c of cases) {
    it.each(layerSets)(`${c.kind} ${c.key} with flag=$flag env=$env file=$file`, (layers) => {
      const dir = tempDir();
      const file = writeFile(dir, 'c.yaml', layers.file ? `${c.flag}: ${JSON.stringify(c.raw.file)}\n` : '{}\n');
      const argv = [...(c.baseArgv ?? []), '--config-file', file, ...(layers.flag ? [`--${c.flag}`, c.raw.flag] : [])];
      const env = layers.env ? { [c.env]: c.raw.env } : {};
      const want = layers.flag ? c.want.flag : layers.env ? c.want.env : layers.file ? c.want.file : c.want.default;
      if (want === 'error') {
        expect(() => load(c.kind, { argv, env })).toThrow(/missing --endpoints/u);
        return;
      }
      const { config } = load(c.kind, { argv, env });
      expect((config as Record<string, unknown>)[c.key]).toEqual(want);
    });
  }

  it('lets a flag turn off a boolean the environment turned on', () => {
    expect(load('dev', { argv: ['--fresh=false'], env: { RAFTGATE_FRESH: 'true' } }).config.fresh).toBe(false);
    expect(load('dev', { env: { RAFTGATE_FRESH: 'true' } }).config.fresh).toBe(true);
  });

  it('reads the config file named by --config-file in preference to RAFTGATE_CONFIG_FILE', () => {
    const dir = tempDir();
    const fromFlag = writeFile(dir, 'flag.yaml', 'snapshot-count: 5\n');
    const fromEnv = writeFile(dir, 'env.yaml', 'snapshot-count: 6\n');
    expect(load('core', { argv: ['--config-file', fromFlag], env: { RAFTGATE_CONFIG_FILE: fromEnv } }).config.snapshotCount).toBe(5);
    expect(load('core', { env: { RAFTGATE_CONFIG_FILE: fromEnv } }).config.snapshotCount).toBe(6);
  });

  it('reports a bad value in a lower layer even when a higher layer overrides it', () => {
    // A broken file is broken whatever else is set; finding out later, when
    // the flag is dropped, would be worse.
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'snapshot-count: lots\n');
    expect(() => load('core', { argv: ['--config-file', file, '--snapshot-count', '5'] })).toThrow(`invalid snapshot-count (file ${file})`);
  });
});
