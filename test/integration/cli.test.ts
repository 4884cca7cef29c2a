// The raftgate command as a user meets it: help, bad config, bad usage.
// Needs dist/ (npm test builds first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/raftgate.js', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('raftgate CLI', () => {
  test('--help lists every command and exits 0', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['core', 'dev', 'wal']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  test('core --help lists etcd flag names with defaults', () => {
    const r = run(['core', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--name', '--data-dir', '--listen-client-urls', '--initial-cluster', '--snapshot-count']) {
      expect(r.stdout).toContain(f);
    }
  });

  test('an unknown command exits 2 and says so', () => {
    const r = run(['serve']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "serve"');
  });

  test.each([
    [['core', '--snapshot-count', 'abc'], {}, /invalid --snapshot-count \(flag\)/],
    [['core'], { RAFTGATE_SNAPSHOT_COUNT: '-1' }, /invalid RAFTGATE_SNAPSHOT_COUNT \(env\)/],
    [['core', '--listen-client-urls', 'https://127.0.0.1:1'], {}, /--listen-client-urls.*TLS is not supported yet/],
    [['core', '--nmae', 'x'], {}, /--nmae/],
    [['dev', '--members', '4'], {}, /--members/],
  ] as const)('bad config %j exits 2 naming the field', (args, env, message) => {
    const r = run([...args], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
  });

  test('a bad value in a config file exits 2 naming the file and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-'));
    dirs.push(dir);
    const file = join(dir, 'core.yaml');
    writeFileSync(file, 'name: a\nsnapshot-count: lots\n');
    const r = run(['core', '--config-file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/snapshot-count|snapshotCount/);
  });

  test('wal verify without a data dir prints usage and exits 2', () => {
    const r = run(['wal', 'verify']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: raftgate wal');
  });

  test('wal verify on a directory that is not a data dir exits 2 with what to check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-'));
    dirs.push(dir);
    const r = run(['wal', 'verify', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is " + dir + " a member's --data-dir?");
  });
});
