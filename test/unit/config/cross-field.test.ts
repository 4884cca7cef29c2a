import { describe, expect, it } from 'vitest';

import { load, loadError, tempDir, writeFile } from './helpers.js';

describe('core: derived defaults', () => {
  it('derives data dir, advertise URLs, initial cluster and native URL from the fields they depend on', () => {
    const { config } = load('core', {
      argv: ['--name', 'n1', '--listen-client-urls', 'http://10.0.0.1:5000,http://127.0.0.1:5000', '--listen-peer-urls', 'http://10.0.0.1:5001'],
      cwd: '/var/lib',
    });
    expect(config.dataDir).toBe('/var/lib/n1.raftgate');
    expect(config.advertiseClientUrls).toEqual(['http://10.0.0.1:5000', 'http://127.0.0.1:5000']);
    expect(config.initialAdvertisePeerUrls).toEqual(['http://10.0.0.1:5001']);
    expect(config.initialCluster).toEqual([{ name: 'n1', peerUrls: ['http://10.0.0.1:5001'] }]);
    expect(config.listenNativeUrls).toEqual(['http://10.0.0.1:5002']);
  });

  it('gives a working single-member cluster with no configuration at all', () => {
    const { config, warnings } = load('core', { cwd: '/d' });
    expect(config).toMatchObject({
      name: 'default',
      dataDir: '/d/default.raftgate',
      listenClientUrls: ['http://127.0.0.1:2379'],
      listenPeerUrls: ['http://127.0.0.1:2380'],
      listenNativeUrls: ['http://127.0.0.1:2381'],
      initialCluster: [{ name: 'default', peerUrls: ['http://127.0.0.1:2380'] }],
      initialClusterToken: 'etcd-cluster',
      maxRequestBytes: 1_572_864,
      electionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
    });
    expect(warnings).toEqual([]);
  });

  it('keeps ephemeral port 0 for the derived native URL', () => {
    const { config } = load('core', { argv: ['--listen-client-urls', 'http://127.0.0.1:0', '--listen-peer-urls', 'http://127.0.0.1:0', '--initial-advertise-peer-urls', 'http://127.0.0.1:7000'] });
    expect(config.listenNativeUrls).toEqual(['http://127.0.0.1:0']);
  });

  it('warns when an unroutable listen address becomes the advertised one', () => {
    const { warnings } = load('core', { argv: ['--listen-client-urls', 'http://0.0.0.0:2379'] });
    expect(warnings).toEqual([
      '--advertise-client-urls includes http://0.0.0.0:2379, which others cannot connect to; set --advertise-client-urls to a routable address',
    ]);
  });

  it('warns that --enable-v2=false is ignored', () => {
    const r = load('core', { argv: ['--enable-v2=false'] });
    expect(r.config.enableV2).toBe(true);
    expect(r.warnings).toEqual(['--enable-v2=false ignored: the v2 API is always on']);
  });
});

describe('core: cross-field rules', () => {
  it('requires --initial-cluster to contain this member', () => {
    const err = loadError('core', { argv: ['--name', 'c', '--initial-cluster', 'a=http://127.0.0.1:2380,b=http://10.0.0.2:2380'] });
    expect(err.message).toBe(
      'invalid --initial-cluster (flag): must contain this member\'s name "c" (from --name (c, flag)); it lists a, b',
    );
  });

  it('blames the file key when the file supplied --initial-cluster', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'c.yaml', 'initialCluster: a=http://127.0.0.1:2380\n');
    const err = loadError('core', { argv: ['--config-file', file] });
    expect(err.message).toMatch(new RegExp(`^invalid initialCluster \\(file ${file}\\): must contain this member's name "default"`, 'u'));
  });

  it('requires this member\'s --initial-cluster URLs to match its advertised peer URLs', () => {
    const err = loadError('core', { argv: ['--name', 'a', '--initial-cluster', 'a=http://127.0.0.1:9999'] });
    expect(err.field).toBe('--initial-cluster');
    expect(err.reason).toBe('lists http://127.0.0.1:9999 for a but --initial-advertise-peer-urls is http://127.0.0.1:2380; they must match');
  });

  it('refuses malformed --initial-cluster entries and a URL claimed by two members', () => {
    expect(loadError('core', { argv: ['--initial-cluster', 'default=http://127.0.0.1:2380,b'] }).reason).toContain('entry "b" must have the form name=http://host:port');
    expect(loadError('core', { argv: ['--initial-cluster', 'default=http://127.0.0.1:2380,b=http://127.0.0.1:2380'] }).reason).toContain(
      'is listed for both default and b',
    );
  });

  it('requires an election timeout of at least 5x the heartbeat, blaming the field that was set', () => {
    expect(loadError('core', { argv: ['--election-timeout', '400'] }).message).toBe(
      'invalid --election-timeout (flag): must be at least 5x --heartbeat-interval (100ms, default) = 500ms, got 400ms',
    );
    expect(loadError('core', { env: { RAFTGATE_HEARTBEAT_INTERVAL: '300ms' } }).message).toBe(
      'invalid RAFTGATE_HEARTBEAT_INTERVAL (env): must be at most 1/5 of --election-timeout (1s, default), got 300ms',
    );
    expect(load('core', { argv: ['--heartbeat-interval', '200', '--election-timeout', '1s'] }).config.electionTimeoutMs).toBe(1000);
  });

  it('requires a request to fit in a WAL segment', () => {
    expect(loadError('core', { argv: ['--wal-segment-bytes', '1MiB'] }).message).toBe(
      'invalid --wal-segment-bytes (flag): --max-request-bytes (1.5MiB) must be smaller than --wal-segment-bytes (1MiB) so a request fits in one WAL segment',
    );
  });

  it('refuses two listeners on one port', () => {
    const err = loadError('core', { argv: ['--listen-native-urls', 'http://127.0.0.1:2380'] });
    expect(err.message).toBe('invalid --listen-native-urls (flag): http://127.0.0.1:2380 is also used by --listen-peer-urls; every listener needs its own port');
  });

  it('refuses a client port that leaves no room for the derived native port', () => {
    expect(loadError('core', { argv: ['--listen-client-urls', 'http://127.0.0.1:65534'] }).reason).toContain('set --listen-native-urls');
  });
});

describe('proxy: cross-field rules', () => {
  it('requires --endpoints', () => {
    expect(loadError('proxy').message).toBe(
      "missing --endpoints (or RAFTGATE_ENDPOINTS, or endpoints in the config file): list the core members' client URLs",
    );
  });

  it('keeps the default staleness within the ceiling', () => {
    expect(loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--max-staleness', '11s'] }).message).toBe(
      'invalid --max-staleness (flag): must not exceed --max-staleness-ceiling (10s, default), got 11s',
    );
    expect(loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--max-staleness-ceiling', '500ms'] }).reason).toBe(
      'must be at least --max-staleness (1s, default), got 500ms',
    );
  });

  it('refuses to forward to itself', () => {
    expect(loadError('proxy', { argv: ['--endpoints', 'http://127.0.0.1:2379'] }).reason).toBe(
      "http://127.0.0.1:2379 is this proxy's own listen URL; it would forward to itself",
    );
  });

  it('fills every production default', () => {
    const { config } = load('proxy', { argv: ['--endpoints', 'http://core-1:2379,http://core-2:2379'] });
    expect(config).toMatchObject({
      mode: 'readwrite',
      maxStalenessMs: 1000,
      maxStalenessCeilingMs: 10_000,
      cacheBytesMax: 64 * 1024 * 1024,
      eventHistoryMax: 1000,
      upstreamConnectionsPerMember: 4,
      l2RedisUrl: undefined,
      staleIfErrorCeilingMs: 60_000,
      upstreamProtocol: 'auto',
      upstreamTimeoutMs: 5000,
    });
  });

  it('takes the upstream protocol, timeout and stale-if-error ceiling, and refuses what it cannot use', () => {
    const { config } = load('proxy', { argv: ['--endpoints', 'http://a:1', '--upstream-protocol', 'etcd-v2', '--upstream-timeout', '2s', '--stale-if-error-ceiling', '5m'] });
    expect(config).toMatchObject({ upstreamProtocol: 'etcd-v2', upstreamTimeoutMs: 2000, staleIfErrorCeilingMs: 300_000 });
    expect(loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--upstream-protocol', 'grpc'] }).field).toBe('--upstream-protocol');
    expect(loadError('proxy', { argv: ['--endpoints', 'http://a:1', '--upstream-timeout', '10ms'] }).field).toBe('--upstream-timeout');
  });
});

describe('dev: cross-field rules', () => {
  it('refuses a base port that pushes member ports past 65535', () => {
    expect(loadError('dev', { argv: ['--members', '5', '--base-port', '65500'] }).message).toBe(
      'invalid --base-port (flag): 5 members need ports up to 65542; must be at most 65493',
    );
  });

  it('refuses a proxy port that a member uses', () => {
    expect(loadError('dev', { argv: ['--proxy-port', '12390'] }).message).toBe(
      'invalid --proxy-port (flag): port 12390 is used by a member (member ports derive from --base-port (12379, default))',
    );
  });

  it('refuses the two proxies sharing a port', () => {
    expect(loadError('dev', { argv: ['--readonly-proxy-port', '2379'] }).field).toBe('--readonly-proxy-port');
  });
});
