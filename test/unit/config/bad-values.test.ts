// Table-driven over the schema itself: every field of every process kind, fed
// an invalid value as a flag, an env var and a file key, must stop the load
// with a ConfigError that names the field as written and the source. A field
// added to the schema is covered here without anyone writing a test for it;
// a new kind of value fails below until it gets an invalid example.

import { describe, expect, it } from 'vitest';

import { fieldsOf, PROCESS_KINDS, type ValueKind } from '../../../config/index.js';
import { loadError, tempDir, writeFile } from './helpers.js';

const invalidExample: Readonly<Record<ValueKind, string>> = {
  string: 'x'.repeat(5000),
  integer: 'abc',
  duration: '5 parsecs',
  bytes: '12XB',
  boolean: 'maybe',
  enum: 'bogus',
  'listen-urls': 'https://127.0.0.1:2379',
  urls: 'ftp://core-1:2379',
  'redis-url': 'http://cache:6379',
  'initial-cluster': 'member-without-url',
};

const cases = PROCESS_KINDS.flatMap((kind) =>
  Object.entries(fieldsOf(kind)).map(([key, f]) => ({ kind, key, flag: f.flag, env: f.env, value: invalidExample[f.valueKind] })),
);

describe('every field refuses an invalid value from every source', () => {
  it('has an invalid example for every kind of value in use', () => {
    for (const c of cases) expect(c.value, `${c.kind}.${c.key}`).toBeDefined();
    expect(cases.length).toBeGreaterThan(40);
  });

  it.each(cases)('$kind --$flag as a flag', ({ kind, key, flag, value }) => {
    const err = loadError(kind, { argv: [`--${flag}=${value}`] });
    expect(err.code).toBe('RG_ERR_CONFIG');
    expect(err.key).toBe(key);
    expect(err.field).toBe(`--${flag}`);
    expect(err.source).toBe('flag');
    expect(err.message.startsWith(`invalid --${flag} (flag): `)).toBe(true);
    expect(err.reason).toMatch(/, got /u);
  });

  it.each(cases)('$kind $env as an env var', ({ kind, key, env, value }) => {
    const err = loadError(kind, { env: { [env]: value } });
    expect(err.key).toBe(key);
    expect(err.field).toBe(env);
    expect(err.source).toBe('env');
    expect(err.message.startsWith(`invalid ${env} (env): `)).toBe(true);
  });

  it.each(cases)('$kind $key as a file key', ({ kind, key, value }) => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.json', JSON.stringify({ [key]: value }));
    const err = loadError(kind, { argv: ['--config-file', file] });
    expect(err.key).toBe(key);
    expect(err.field).toBe(key);
    expect(err.source).toBe('file');
    expect(err.message.startsWith(`invalid ${key} (file ${file}): `)).toBe(true);
  });
});

describe('reasons a user can act on', () => {
  it('matches the documented message for a bad integer', () => {
    expect(loadError('core', { argv: ['--snapshot-count', 'abc'] }).message).toBe(
      'invalid --snapshot-count (flag): must be a positive integer, got "abc"',
    );
    expect(loadError('core', { env: { RAFTGATE_SNAPSHOT_COUNT: '0' } }).message).toBe(
      'invalid RAFTGATE_SNAPSHOT_COUNT (env): must be an integer from 1 to 100000000, got "0"',
    );
  });

  it('refuses https URLs because TLS is not supported yet', () => {
    expect(loadError('proxy', { argv: ['--endpoints', 'https://core-1:2379'] }).reason).toContain('TLS is not supported yet');
    expect(loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--l2-redis-url', 'rediss://cache:6380'] }).reason).toContain(
      'TLS is not supported yet',
    );
  });

  it('refuses URLs etcd would refuse: a path, no port, a host name to bind to', () => {
    expect(loadError('core', { argv: ['--advertise-client-urls', 'http://a:2379/v2'] }).reason).toContain('no path');
    expect(loadError('core', { argv: ['--advertise-client-urls', 'http://a'] }).reason).toContain('http://host:port');
    expect(loadError('core', { argv: ['--listen-peer-urls', 'http://node-1:2380'] }).reason).toContain('IP address');
  });

  it('never prints the password of a redis URL', () => {
    const err = loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--l2-redis-url', 'redis://:hunter2@cache:6379/abc'] });
    expect(err.message).toContain('database number');
    expect(err.message).not.toContain('hunter2');
  });

  it('refuses values of the wrong type in files', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'members: 4\nfresh: 1\n');
    expect(loadError('dev', { argv: ['--config-file', file] }).message).toBe(`invalid members (file ${file}): must be 3 or 5, got 4`);
    const file2 = writeFile(dir, 'd.yaml', 'fresh: 1\n');
    expect(loadError('dev', { argv: ['--config-file', file2] }).reason).toBe('must be true or false, got 1');
  });

  it('refuses durations out of range and sub-millisecond durations', () => {
    expect(loadError('core', { argv: ['--election-timeout', '2m'] }).reason).toBe('must be from 5ms to 50s, got "2m"');
    expect(loadError('proxy', { argv: ['--idle-timeout', '1500us'] }).reason).toContain('must be a duration');
  });
});

describe('defaults', () => {
  it.each(cases)('$kind --$flag: the default passes its own schema unchanged', ({ kind, key }) => {
    const f = fieldsOf(kind)[key];
    if (f?.default === undefined) return; // required or derived: covered by cross-field tests
    expect(f.schema.parse(f.default)).toEqual(f.default);
  });
});
