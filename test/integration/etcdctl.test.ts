// etcdctl (ETCDCTL_API=2) against a Raftgate member, as a user types it.
//
// Every command runs against Raftgate AND against a real etcd 3.4
// (--enable-v2) with the same keys. Raftgate must print what etcd prints and
// exit with the same code (the "[index]" in error lines is the only thing
// normalised, since the two stores start at different indexes); the
// expectations written out below are also checked against etcd, so they
// cannot drift from etcd's real behaviour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startRaftgateCore, type RaftgateHandle } from '../helpers/raftgate.js';
import { startEtcd, type EtcdHandle } from '../helpers/etcd.js';
import { spawnManaged, type ManagedProcess } from '../helpers/process.js';

const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';
const COMMAND_TIMEOUT_MS = 10_000;
const env = { ...process.env, ETCDCTL_API: '2' };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function etcdctl(endpoint: string, args: readonly string[]): Result {
  const r = spawnSync(ETCDCTL, ['--endpoints', endpoint, ...args], { env, encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const normalise = (r: Result): Result => ({ ...r, stderr: r.stderr.replace(/\[\d+\]/g, '[N]') });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('etcdctl (ETCDCTL_API=2) against Raftgate, compared with etcd 3.4', () => {
  let rg: RaftgateHandle;
  let etcd: EtcdHandle;

  beforeAll(async () => {
    [rg, etcd] = await Promise.all([startRaftgateCore(), startEtcd()]);
  });

  afterAll(async () => {
    await Promise.all([rg?.stop(), etcd?.stop()]);
  });

  /** Runs on both; Raftgate's result (normalised) must equal etcd's; returns Raftgate's. */
  function both(...args: string[]): Result {
    const want = normalise(etcdctl(etcd.clientUrl, args));
    const got = normalise(etcdctl(rg.clientUrl, args));
    expect(got, `etcdctl ${args.join(' ')}: Raftgate vs etcd\n${rg.describe()}`).toEqual(want);
    return got;
  }

  it('set prints the value; get prints it back', () => {
    expect(both('set', '/t1/a', 'one')).toEqual({ code: 0, stdout: 'one\n', stderr: '' });
    expect(both('get', '/t1/a')).toEqual({ code: 0, stdout: 'one\n', stderr: '' });
    expect(both('set', '/t1/a', 'two')).toEqual({ code: 0, stdout: 'two\n', stderr: '' });
    expect(both('get', '/t1/a')).toEqual({ code: 0, stdout: 'two\n', stderr: '' });
  });

  it('get of a missing key exits 4 with "Error:  100: Key not found"', () => {
    // etcd names the first path component that is missing, not the whole key.
    expect(both('get', '/t2/missing')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t2) [N]\n' });
    both('set', '/t2/present', 'p');
    expect(both('get', '/t2/missing')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t2/missing) [N]\n' });
  });

  it('mk creates once; mk on an existing key fails with 105 Key already exists', () => {
    expect(both('mk', '/t3/a', 'x')).toEqual({ code: 0, stdout: 'x\n', stderr: '' });
    expect(both('mk', '/t3/a', 'y')).toEqual({ code: 4, stdout: '', stderr: 'Error:  105: Key already exists (/t3/a) [N]\n' });
    expect(both('get', '/t3/a').stdout).toBe('x\n');
  });

  it('mkdir creates a directory (silently); twice is 105; get on it says it is a directory', () => {
    expect(both('mkdir', '/t4/d')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(both('mkdir', '/t4/d')).toEqual({ code: 4, stdout: '', stderr: 'Error:  105: Key already exists (/t4/d) [N]\n' });
    expect(both('get', '/t4/d')).toEqual({ code: 1, stdout: '', stderr: '/t4/d: is a directory\n' });
    expect(both('set', '/t4/d', 'v')).toEqual({ code: 4, stdout: '', stderr: 'Error:  102: Not a file (/t4/d) [N]\n' });
  });

  it('update changes an existing key and fails with 100 on a missing one', () => {
    expect(both('update', '/t5/a', 'u')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t5) [N]\n' });
    both('set', '/t5/a', 'one');
    expect(both('update', '/t5/a', 'u')).toEqual({ code: 0, stdout: 'u\n', stderr: '' });
    expect(both('get', '/t5/a').stdout).toBe('u\n');
  });

  it('rm prints the previous value; rm of a missing key is 100; rm of a directory is 102', () => {
    both('set', '/t6/a', 'gone');
    expect(both('rm', '/t6/a')).toEqual({ code: 0, stdout: 'PrevNode.Value: gone\n', stderr: '' });
    expect(both('rm', '/t6/a')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t6/a) [N]\n' });
    both('mkdir', '/t6/d');
    expect(both('rm', '/t6/d')).toEqual({ code: 4, stdout: '', stderr: 'Error:  102: Not a file (/t6/d) [N]\n' });
    expect(both('set', '--swap-with-value', 'wrong', '/t6/d/x', 'v').code).toBe(4);
  });

  it('rmdir removes an empty directory, refuses a non-empty one with 108, and a missing one with 100', () => {
    both('mkdir', '/t7/empty');
    expect(both('rmdir', '/t7/empty')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(both('rmdir', '/t7/empty')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t7/empty) [N]\n' });
    both('set', '/t7/full/x', '1');
    expect(both('rmdir', '/t7/full')).toEqual({ code: 4, stdout: '', stderr: 'Error:  108: Directory not empty (/t7/full) [N]\n' });
    expect(both('get', '/t7/full/x').stdout).toBe('1\n');
  });

  it('ls -r lists every key below a directory; --sort orders them', () => {
    both('set', '/t8/dir/x', '1');
    both('set', '/t8/dir/sub/y', '2');
    both('set', '/t8/b', '3');
    const all = ['/t8/b', '/t8/dir', '/t8/dir/sub', '/t8/dir/sub/y', '/t8/dir/x'];
    // Unsorted order is the map order of each server; compare as sets.
    for (const url of [rg.clientUrl, etcd.clientUrl]) {
      const r = etcdctl(url, ['ls', '-r', '/t8']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(all);
    }
    expect(both('ls', '-r', '--sort', '/t8')).toEqual({ code: 0, stdout: all.map((k) => `${k}\n`).join(''), stderr: '' });
    expect(both('ls', '--sort', '/t8')).toEqual({ code: 0, stdout: '/t8/b\n/t8/dir\n', stderr: '' });
    expect(both('ls', '/t8/missing')).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t8/missing) [N]\n' });
  });

  it('set --ttl shows the TTL and the key expires', async () => {
    expect(both('set', '--ttl', '30', '/t9/a', 'v')).toEqual({ code: 0, stdout: 'v\n', stderr: '' });
    const ext = etcdctl(rg.clientUrl, ['-o', 'extended', 'get', '/t9/a']);
    expect(ext.code, ext.stderr).toBe(0);
    expect(ext.stdout).toMatch(/^Key: \/t9\/a\nCreated-Index: \d+\nModified-Index: \d+\nTTL: (30|29)\nIndex: \d+\n\nv\n$/);

    both('set', '--ttl', '1', '/t9/short', 'v');
    // Both must forget it within a few seconds (etcd checks expiry every 500 ms).
    for (const url of [rg.clientUrl, etcd.clientUrl]) {
      let r = etcdctl(url, ['get', '/t9/short']);
      for (let i = 0; i < 50 && r.code === 0; i++) {
        await sleep(100);
        r = etcdctl(url, ['get', '/t9/short']);
      }
      expect(normalise(r), `${url === rg.clientUrl ? 'Raftgate' : 'etcd'} should expire a 1 s TTL within about 5 s`).toEqual({ code: 4, stdout: '', stderr: 'Error:  100: Key not found (/t9/short) [N]\n' });
    }
  });

  /** Starts a long-running etcdctl, writes `value` until it has printed `expect`, bounded. */
  async function writeUntil(proc: ManagedProcess, url: string, key: string, value: string, done: () => boolean): Promise<void> {
    for (let i = 0; i < 20 && !done(); i++) {
      // The watch request may not have reached the server yet; a write that
      // lands before it is (correctly) not seen, so write again.
      await sleep(150);
      const r = etcdctl(url, ['set', key, value]);
      expect(r.code, r.stderr).toBe(0);
      for (let j = 0; j < 10 && !done(); j++) await sleep(50);
    }
    expect(done(), `no output from ${proc.describe()}`).toBe(true);
  }

  it('watch waits for a change, prints the new value and exits 0', async () => {
    for (const url of [rg.clientUrl, etcd.clientUrl]) {
      const proc = spawnManaged(ETCDCTL, ['--endpoints', url, 'watch', '/t10/w'], { env });
      try {
        await sleep(200);
        expect(proc.alive(), `watch exited before any write: ${proc.describe()}`).toBe(true);
        await writeUntil(proc, url, '/t10/w', 'hello', () => !proc.alive());
        await new Promise<void>((r) => (proc.child.exitCode !== null ? r() : proc.child.once('exit', () => r())));
        expect(proc.child.exitCode, proc.describe()).toBe(0);
        expect(proc.output.text()).toBe('hello\n');
      } finally {
        await proc.stop(1_000);
      }
    }
  });

  it('watch -r prints the action and key of a change below the directory', async () => {
    for (const url of [rg.clientUrl, etcd.clientUrl]) {
      const proc = spawnManaged(ETCDCTL, ['--endpoints', url, 'watch', '-r', '/t11'], { env });
      try {
        await writeUntil(proc, url, '/t11/k', 'v1', () => !proc.alive());
        await new Promise<void>((r) => (proc.child.exitCode !== null ? r() : proc.child.once('exit', () => r())));
        expect(proc.child.exitCode, proc.describe()).toBe(0);
        expect(proc.output.text()).toBe('[set] /t11/k\nv1\n');
      } finally {
        await proc.stop(1_000);
      }
    }
  });

  it('exec-watch runs the command with ETCD_WATCH_* set on each change', async () => {
    // etcdctl 3.4 only finds the key before `--` when a flag precedes it (its
    // argument parsing swaps them otherwise, on etcd too), hence --recursive.
    const script = 'printf "%s %s %s\\n" "$ETCD_WATCH_ACTION" "$ETCD_WATCH_KEY" "$ETCD_WATCH_VALUE"';
    for (const url of [rg.clientUrl, etcd.clientUrl]) {
      const proc = spawnManaged(ETCDCTL, ['--endpoints', url, 'exec-watch', '--recursive', '/t12/k', '--', 'sh', '-c', script], { env });
      const timer = setTimeout(() => void proc.kill9(), 15_000); // a hard bound whatever happens
      try {
        await writeUntil(proc, url, '/t12/k', 'v1', () => proc.output.text().includes('set /t12/k v1\n'));
        // It keeps watching: a second change runs the command again.
        await writeUntil(proc, url, '/t12/k', 'v2', () => proc.output.text().includes('set /t12/k v2\n'));
        expect(proc.alive(), 'exec-watch keeps running after a change').toBe(true);
        const lines = proc.output.text().split('\n').filter((l) => l !== '');
        expect(new Set(lines), proc.describe()).toEqual(new Set(['set /t12/k v1', 'set /t12/k v2']));
      } finally {
        clearTimeout(timer);
        await proc.stop(1_000);
      }
    }
  });
});
