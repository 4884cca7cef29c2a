// The loopback flag builders `raftgate dev`, the benchmarks and the test
// harnesses start members and proxies with: what they build must load.

import { describe, expect, it } from 'vitest';

import { loopbackInitialCluster, proxyFlags } from '../../../config/index.js';
import { load } from './helpers.js';

describe('config/member-flags', () => {
  it('loopbackInitialCluster lists each member at its 127.0.0.1 peer port, in order', () => {
    const cluster = loopbackInitialCluster([{ name: 'm1', peerPort: 12380 }, { name: 'm2', peerPort: 22380 }]);
    expect(cluster).toBe('m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380');
    const { config } = load('core', { argv: ['--name', 'm1', '--initial-advertise-peer-urls', 'http://127.0.0.1:12380', '--initial-cluster', cluster] });
    expect(config.initialCluster).toEqual([
      { name: 'm1', peerUrls: ['http://127.0.0.1:12380'] },
      { name: 'm2', peerUrls: ['http://127.0.0.1:22380'] },
    ]);
  });

  it('proxyFlags gives a proxy its mode, loopback listen URL, endpoints and log level', () => {
    const flags = proxyFlags({ mode: 'readonly', port: 2479, endpoints: ['http://127.0.0.1:12379', 'http://127.0.0.1:22379'], logLevel: 'warn' });
    expect(flags).toEqual(['--mode', 'readonly', '--listen-client-urls', 'http://127.0.0.1:2479', '--endpoints', 'http://127.0.0.1:12379,http://127.0.0.1:22379', '--log-level', 'warn']);
    const { config } = load('proxy', { argv: flags });
    expect(config.mode).toBe('readonly');
    expect(config.listenClientUrls).toEqual(['http://127.0.0.1:2479']);
    expect(config.endpoints).toEqual(['http://127.0.0.1:12379', 'http://127.0.0.1:22379']);
  });
});
