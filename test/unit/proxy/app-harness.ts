// A proxy app over a FakeUpstream and an injected clock, for inject() tests;
// and helpers shared by the proxy's app tests.

import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../config/index.js';
import type { ProxyConfig } from '../../../config/index.js';
import { buildProxy } from '../../../proxy/app.js';
import type { RedisLike } from '../../../proxy/cache/l2.js';
import { FakeUpstream } from './fake-upstream.js';
import { makeHarness } from '../api/harness.js';

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

export { sample, until } from '../../helpers/proxy.js';

/** A proxy app listening on an ephemeral loopback port (for tests that need real sockets). */
export async function listenProxy(argv: readonly string[] = []): Promise<ProxyHarness & { base: string }> {
  const h = await makeProxy(argv);
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...h, base: `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}` };
}

export interface SideBySideRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' | 'HEAD';
  url: string;
  payload?: string;
}

/**
 * Runs `body` with an in-memory member beside the proxy `h`; `send` gives
 * one request to both, the member's answer first (the proxy's own upstream
 * is h.up, so the two never share state).
 */
export async function besideMember(
  h: ProxyHarness,
  body: (send: (r: SideBySideRequest) => Promise<{ want: LightMyRequestResponse; got: LightMyRequestResponse }>) => Promise<void>,
): Promise<void> {
  const member = await makeHarness();
  try {
    await body(async (r) => {
      const req = { method: r.method, url: r.url, headers: FORM, ...(r.payload !== undefined ? { payload: r.payload } : {}) };
      const want = await member.app.inject(req);
      return { want, got: await h.app.inject(req) };
    });
  } finally {
    await member.app.close();
    await member.node.stop();
  }
}
