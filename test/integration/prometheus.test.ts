// Prometheus for real: Debian's `prometheus` scrapes a running dev cluster
// (three members and two proxies) every second; after two scrapes its HTTP
// API says every target is up, and a request-rate query through the proxy
// returns a non-zero value. Needs dist/ and /usr/bin/prometheus.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDev, type DevHandle } from '../helpers/dev.js';
import { http } from '../helpers/http.js';
import { freePort, releasePort } from '../helpers/ports.js';

let dev: DevHandle;
let prom: ChildProcess | null = null;
let promOut = '';
let promUrl = '';
let promPort = 0;
const work = mkdtempSync(join(tmpdir(), 'raftgate-prom-'));

beforeAll(async () => {
  dev = await startDev();
  promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const t = (port: number) => `'127.0.0.1:${port}'`;
  writeFileSync(
    join(work, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: raftgate-core',
      '    static_configs:',
      `      - targets: [${dev.ports.members.map(t).join(', ')}]`,
      '  - job_name: raftgate-proxy',
      '    static_configs:',
      `      - targets: [${t(dev.ports.proxy)}, ${t(dev.ports.readonlyProxy)}]`,
      '',
    ].join('\n'),
  );
  prom = spawn(
    'prometheus',
    [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout!.on('data', (c: Buffer) => (promOut += c.toString()));
  prom.stderr!.on('data', (c: Buffer) => (promOut += c.toString()));
}, 90_000);

afterAll(async () => {
  if (prom !== null && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (prom.exitCode === null) prom.kill('SIGKILL');
  }
  await dev?.destroy();
  releasePort(promPort);
  rmSync(work, { recursive: true, force: true });
});

interface Target {
  labels: { job: string; instance: string };
  health: string;
  lastScrape: string;
  lastError: string;
}

async function query(q: string): Promise<{ value: [number, string] }[]> {
  const r = await http(promUrl, { method: 'GET', path: `/api/v1/query?query=${encodeURIComponent(q)}` });
  expect(r.status, r.text).toBe(200);
  return (r.json as { data: { result: { value: [number, string] }[] } }).data.result;
}

async function until<T>(f: () => Promise<T | undefined>, what: string, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${String(last)})\n--- prometheus ---\n${promOut}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('prometheus scraping a dev cluster', () => {
  test('every member and proxy is an up target, and the proxy request rate is non-zero', async () => {
    const proxy = `http://127.0.0.1:${dev.ports.proxy}`;
    // Traffic through the proxy while Prometheus scrapes.
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        await http(proxy, { method: 'PUT', path: `/v2/keys/prom/k${i % 10}`, form: [['value', String(i)]] }).catch(() => undefined);
        await http(proxy, { method: 'GET', path: `/v2/keys/prom/k${i % 10}` }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const targets = await until(async () => {
        const r = await http(promUrl, { method: 'GET', path: '/api/v1/targets' });
        if (r.status !== 200) return undefined;
        const list = (r.json as { data: { activeTargets: Target[] } }).data.activeTargets;
        return list.length === 5 && list.every((x) => x.health === 'up') ? list : undefined;
      }, 'all five targets up');
      expect(targets.map((x) => x.labels.job).sort()).toEqual(['raftgate-core', 'raftgate-core', 'raftgate-core', 'raftgate-proxy', 'raftgate-proxy']);
      // Two scrapes of every target: `up` has two samples each in the last 30 s.
      await until(async () => {
        const r = await query('count_over_time(up[30s])');
        return r.length === 5 && r.every((s) => Number(s.value[1]) >= 2) ? true : undefined;
      }, 'two scrapes of every target');
      const rate = await until(async () => {
        const r = await query('sum(rate(raftgate_proxy_http_requests_total{job="raftgate-proxy",route="keys"}[10s]))');
        const v = Number(r[0]?.value[1] ?? 0);
        return v > 0 ? v : undefined;
      }, 'a non-zero request rate through the proxy');
      expect(rate).toBeGreaterThan(0);
      // The core reports a leader, seen by Prometheus.
      const leaders = await query('sum(raftgate_core_is_leader)');
      expect(Number(leaders[0]?.value[1])).toBe(1);
    } finally {
      stop = true;
      await traffic;
    }
  }, 120_000);
});
