// The process helpers other suites rely on: each starts a real server on free
// loopback ports, stop() really ends that pid and removes its data dir, and a
// Raftgate member survives kill -9 + restart on the same ports and data.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startEtcd } from './etcd.js';
import { startRaftgateCore } from './raftgate.js';
import { http } from './http.js';
import { freePorts } from './ports.js';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test helpers', () => {
  it('freePorts hands out distinct ports', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('startEtcd serves the v2 API and stop() ends the pid and removes the data dir', async () => {
    const etcd = await startEtcd();
    try {
      const put = await http(etcd.clientUrl, { method: 'PUT', path: '/v2/keys/h', form: [['value', 'x']] });
      expect(put.status).toBe(201);
      expect(put.json).toMatchObject({ action: 'set', node: { key: '/h', value: 'x' } });
    } finally {
      await etcd.stop();
    }
    expect(pidAlive(etcd.pid)).toBe(false);
    expect(existsSync(etcd.dataDir)).toBe(false);
  });

  it('startRaftgateCore survives kill9() + restart() with its data', async () => {
    const rg = await startRaftgateCore();
    try {
      const put = await http(rg.clientUrl, { method: 'PUT', path: '/v2/keys/h', form: [['value', 'kept']] });
      expect(put.status, rg.describe()).toBe(201);
      const firstPid = rg.pid;
      await rg.kill9();
      expect(pidAlive(firstPid)).toBe(false);
      await rg.restart();
      expect(rg.pid).not.toBe(firstPid);
      const got = await http(rg.clientUrl, { method: 'GET', path: '/v2/keys/h' });
      expect(got.json, rg.describe()).toMatchObject({ node: { key: '/h', value: 'kept' } });
    } finally {
      await rg.stop();
    }
    expect(existsSync(rg.dataDir)).toBe(false);
  });
});
