import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../config/index.js';
import { load, loadError } from './helpers.js';

describe('command-line flags', () => {
  it.each([
    [['--name', 'a']],
    [['--name=a']],
    [['-name', 'a']],
    [['-name=a']],
  ])('accepts %j as etcd (Go flag syntax) does', (argv) => {
    expect(load('core', { argv }).config.name).toBe('a');
  });

  it('runs an etcd 3.4 command line unchanged', () => {
    const argv = [
      '--name', 'infra1',
      '--listen-client-urls', 'http://127.0.0.1:2379',
      '--advertise-client-urls', 'http://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:12380',
      '--initial-advertise-peer-urls', 'http://127.0.0.1:12380',
      '--initial-cluster-token', 'etcd-cluster-1',
      '--initial-cluster', 'infra1=http://127.0.0.1:12380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380',
      '--initial-cluster-state', 'new',
      '--enable-v2',
      '--heartbeat-interval', '250',
      '--election-timeout', '1250',
    ]; // prettier-ignore
    const { config } = load('core', { argv, cwd: '/srv' });
    expect(config.name).toBe('infra1');
    expect(config.dataDir).toBe('/srv/infra1.raftgate');
    expect(config.initialCluster.map((m) => m.name)).toEqual(['infra1', 'infra2', 'infra3']);
    expect(config.heartbeatIntervalMs).toBe(250);
    expect(config.electionTimeoutMs).toBe(1250);
  });

  it('treats a bare boolean flag as true and never lets it take the next argument', () => {
    expect(load('dev', { argv: ['--fresh'] }).config.fresh).toBe(true);
    expect(load('dev', { argv: ['--fresh=false'] }).config.fresh).toBe(false);
    const r = load('dev', { argv: ['--fresh', 'false'] });
    expect(r.config.fresh).toBe(true);
    expect(r.positionals).toEqual(['false']);
  });

  it('returns positionals, and everything after -- as positionals', () => {
    expect(load('dev', { argv: ['x', '--yes', 'y', '--', '--fresh'] })).toMatchObject({ positionals: ['x', 'y', '--fresh'], config: { fresh: false, yes: true } });
  });

  it('names an unknown flag and suggests the likely one', () => {
    const err = loadError('core', { argv: ['--snaphot-count', '5'] });
    expect(err.message).toBe('unknown flag --snaphot-count for raftgate core (did you mean --snapshot-count?)');
    expect(err.field).toBe('--snaphot-count');
  });

  it('says which process a flag belongs to when given to the wrong one', () => {
    expect(loadError('core', { argv: ['--endpoints', 'http://a:1'] }).message).toBe(
      'unknown flag --endpoints for raftgate core (it is a flag of raftgate proxy)',
    );
  });

  it('refuses a flag given twice', () => {
    expect(loadError('core', { argv: ['--name', 'a', '--name', 'b'] }).message).toBe('invalid --name (flag): given more than once');
  });

  it('refuses a value flag with no value, including one followed by another flag', () => {
    expect(loadError('core', { argv: ['--name'] }).message).toBe('invalid --name (flag): needs a value');
    expect(loadError('core', { argv: ['--name', '--snapshot-count', '5'] }).message).toBe('invalid --name (flag): needs a value');
    expect(loadError('core', { argv: ['--config-file'] }).message).toBe('invalid --config-file (flag): needs a value');
  });

  it('recognises -h and --help before anything else is validated', () => {
    for (const argv of [['-h'], ['--help'], ['--bogus', '--help'], ['--snapshot-count', 'abc', '-h']]) {
      expect(loadConfig('proxy', { argv, env: {}, cwd: '/' }).help).toBe(true);
    }
    expect(load('dev', { argv: ['--', '--help'] }).positionals).toEqual(['--help']);
  });
});

describe('environment variables', () => {
  it('reads RAFTGATE_ + the flag in SCREAMING_SNAKE_CASE', () => {
    const { config } = load('proxy', { env: { RAFTGATE_ENDPOINTS: 'http://a:1', RAFTGATE_MAX_STALENESS: '250ms', RAFTGATE_MODE: 'readonly' } });
    expect(config).toMatchObject({ endpoints: ['http://a:1'], maxStalenessMs: 250, mode: 'readonly' });
  });

  it('treats an empty variable as unset', () => {
    expect(load('core', { env: { RAFTGATE_SNAPSHOT_COUNT: '' } }).config.snapshotCount).toBe(100_000);
  });

  it('warns about unknown RAFTGATE_ variables, with a suggestion, and ignores other variables', () => {
    const { warnings } = load('core', { env: { RAFTGATE_SNAPHOT_COUNT: '5', PATH: '/bin', ETCD_NAME: 'x' } });
    expect(warnings).toEqual(['unknown environment variable RAFTGATE_SNAPHOT_COUNT ignored (did you mean RAFTGATE_SNAPSHOT_COUNT?)']);
  });

  it('warns, without failing, about a variable meant for another process', () => {
    const { warnings } = load('core', { env: { RAFTGATE_ENDPOINTS: 'http://a:1' } });
    expect(warnings).toEqual(['RAFTGATE_ENDPOINTS is not used by raftgate core (it configures raftgate proxy); ignored']);
  });
});
