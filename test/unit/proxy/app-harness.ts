// A proxy app over a FakeUpstream and an injected clock, for inject() tests;
// and helpers shared by the proxy's app tests.

import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../config/index.js';
import type { ProxyConfig } from '../../../config/index.js';
import { buildProxy } from '../../../proxy/app.js';
import type { RedisLike } from '../../../proxy/cache/l2.js';
import { FakeUpstream } from './fake-upstream.js';

export const silent = pino({ level: 'silent' });
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export function proxyConfig(argv: readonly string[] = []): ProxyConfig {
  const r = loadConfig('proxy', { argv: ['--endpoints', 'http://127.0.0.1:1', ...argv], env: {}, cwd: '/' });
  if (r.help) throw new Error('unexpected --help');
  return r.config;
}

export interface ProxyHarness {
  app: FastifyInstance;
  up: FakeUpstream;
  clock: { ms: number };
  registry: Registry;
  config: ProxyConfig;
}

export async function makeProxy(argv: readonly string[] = [], o: { up?: FakeUpstream; redis?: RedisLike } = {}): Promise<ProxyHarness> {
  const config = proxyConfig(argv);
  const up = o.up ?? new FakeUpstream();
  const clock = { ms: Date.UTC(2026, 10, 22, 4, 0, 0) };
  up.nowMs = () => clock.ms;
  const registry = new Registry();
  const app = buildProxy(config, { upstream: up, registry, logger: silent, clock: { nowMs: () => clock.ms }, ...(o.redis ? { redis: o.redis } : {}) });
  await app.ready();
  return { app, up, clock, registry, config };
}

/** Poll until cond() holds; bounded. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The value of one sample in a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const kv of (m[2] ?? '').slice(1, -1).split(/,(?=[a-zA-Z_]+=")/)) {
      const i = kv.indexOf('=');
      if (i > 0) got[kv.slice(0, i)] = kv.slice(i + 2, -1);
    }
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
