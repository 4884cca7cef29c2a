import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { load, loadError, tempDir, writeFile } from './helpers.js';

describe('config files', () => {
  it('reads YAML with flag-style, camelCase-flag and config-key spellings', () => {
    const dir = tempDir();
    const file = writeFile(
      dir,
      'proxy.yaml',
      ['# a proxy', 'endpoints: [http://a:2379, http://b:2379]', 'max-staleness: 250ms', 'maxStalenessCeiling: 2s', 'cacheBytesMax: 1.5MiB', 'idleTimeoutMs: 60000'].join('\n'),
    );
    const { config } = load('proxy', { argv: ['--config-file', file] });
    expect(config).toMatchObject({
      endpoints: ['http://a:2379', 'http://b:2379'],
      maxStalenessMs: 250,
      maxStalenessCeilingMs: 2000,
      cacheBytesMax: 1.5 * 1024 * 1024,
      idleTimeoutMs: 60_000,
    });
  });

  it('reads JSON, with native numbers, booleans and lists', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'dev.json', JSON.stringify({ members: 5, fresh: true, 'base-port': 30000, logLevel: 'debug' }));
    expect(load('dev', { argv: ['--config-file', file] }).config).toMatchObject({ members: 5, fresh: true, basePort: 30000, logLevel: 'debug' });
  });

  it('accepts --initial-cluster as a YAML mapping', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'name: a\ninitial-cluster:\n  a: http://127.0.0.1:2380\n  b: [http://10.0.0.2:2380]\n');
    expect(load('core', { argv: ['--config-file', file] }).config.initialCluster).toEqual([
      { name: 'a', peerUrls: ['http://127.0.0.1:2380'] },
      { name: 'b', peerUrls: ['http://10.0.0.2:2380'] },
    ]);
  });

  it('resolves a relative config path and data dir against cwd', () => {
    const dir = tempDir();
    writeFile(dir, 'c.yaml', 'data-dir: state\n');
    const r = load('core', { argv: ['--config-file', 'c.yaml'], cwd: dir });
    expect(r.config.dataDir).toBe(join(dir, 'state'));
  });

  it('treats an empty file as setting nothing', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'empty.yaml', '# nothing yet\n');
    expect(load('core', { argv: ['--config-file', file] }).config.snapshotCount).toBe(100_000);
  });

  it('names an unknown key and suggests the likely one', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'snapshotCont: 5\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toBe(
      `invalid snapshotCont (file ${file}): unknown key for raftgate core (did you mean snapshotCount?)`,
    );
  });

  it('says which process a key belongs to when the file is given to the wrong one', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'endpoints: http://a:1\n');
    expect(loadError('core', { argv: ['--config-file', file] }).reason).toBe('unknown key for raftgate core (it configures raftgate proxy)');
  });

  it('refuses two spellings of the same key', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'snapshot-count: 5\nsnapshotCount: 6\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toBe(`invalid snapshotCount (file ${file}): sets the same field as snapshot-count`);
  });

  it('reports YAML syntax errors with the line', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'name: a\nsnapshot-count: 5\nlog-level: debug: x\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toBe(
      `YAML syntax error in ${file} line 3: Nested mappings are not allowed in compact mappings`,
    );
  });

  it('reports duplicate YAML keys as a syntax error rather than keeping the last', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'name: a\nname: b\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toMatch(new RegExp(`^YAML syntax error in ${file} line 2: `, 'u'));
  });

  it('reports JSON syntax errors as JSON, with the line', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.json', '{\n  "name": "a",\n  "snapshotCount": 5,,\n}\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toMatch(new RegExp(`^JSON syntax error in ${file} line 3: `, 'u'));
  });

  it('refuses a file whose top level is not a mapping', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', '- name\n- a\n');
    expect(loadError('core', { argv: ['--config-file', file] }).message).toBe(`config file ${file} must be a mapping of keys to values`);
  });

  it('says why a file cannot be read, and which setting named it', () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.yaml');
    const err = loadError('core', { env: { RAFTGATE_CONFIG_FILE: missing } });
    expect(err.message).toBe(`cannot read config file ${missing}: no such file`);
    expect(err.field).toBe('RAFTGATE_CONFIG_FILE');
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(loadError('core', { argv: ['--config-file', sub] }).message).toBe(`cannot read config file ${sub}: is a directory`);
  });

  it('refuses a file over the size limit', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'big.yaml', `# ${'x'.repeat(1024 * 1024)}\n`);
    expect(loadError('core', { argv: ['--config-file', file] }).message).toMatch(/^cannot read config file .*: larger than 1048576 bytes$/u);
  });
});
