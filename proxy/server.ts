// Starts a proxy as a process: logger, metrics registry, upstream, optional
// Redis, the app, and its listeners. The thin I/O shell around app.ts;
// nothing here decides what a request means.

import net from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { ProxyConfig } from '../config/schema.js';
import { redactUrl } from '../config/urls.js';
import { buildProxy } from './app.js';
import type { Clock } from './app.js';
import type { RedisLike } from './cache/l2.js';
import { createUpstream } from './upstream/index.js';
import type { Upstream } from './upstream/types.js';

export interface ProxyServer {
  readonly app: FastifyInstance;
  /** The URLs actually listened on (a configured port 0 becomes the real one). */
  readonly urls: string[];
  close(): Promise<void>;
}

export interface ProxyServerDeps {
  logger?: Logger;
  clock?: Clock;
  upstream?: Upstream;
}

/** Redis commands that take longer than this are given up: a slow L2 must never slow a read. */
const L2_COMMAND_TIMEOUT_MS = 100;

export async function startProxyServer(config: ProxyConfig, deps: ProxyServerDeps = {}): Promise<ProxyServer> {
  const log = deps.logger ?? pino({ level: config.logLevel, base: { proxy: config.listenClientUrls[0], mode: config.mode } });
  const registry = new Registry();
  const upstream =
    deps.upstream ??
    createUpstream(
      {
        endpoints: config.endpoints,
        protocol: config.upstreamProtocol,
        connectionsPerMember: config.upstreamConnectionsPerMember,
        healthCheckIntervalMs: config.healthCheckIntervalMs,
        requestTimeoutMs: config.upstreamTimeoutMs,
        historyMax: config.eventHistoryMax,
      },
      log,
    );
  let redis: Redis | null = null;
  if (config.l2RedisUrl !== undefined) {
    redis = new Redis(config.l2RedisUrl, {
      commandTimeout: L2_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      // Fail at once while disconnected rather than queue reads behind a dead Redis.
      enableOfflineQueue: false,
      retryStrategy: (times) => Math.min(2000, 50 * times),
    });
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'L2 redis error'));
    log.info({ url: redactUrl(config.l2RedisUrl) }, 'L2 cache in redis');
  }
  const app = buildProxy(config, {
    upstream,
    registry,
    logger: log,
    ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
    ...(redis !== null ? { redis: redis as unknown as RedisLike } : {}),
  });
  await app.ready();

  const urls: string[] = [];
  const extra: net.Server[] = [];
  const [first, ...rest] = config.listenClientUrls.map((u) => new URL(u));
  if (first === undefined) throw new Error('RG_ERR_PROXY_CONFIG: no listen client URL');
  const host = (u: URL): string => u.hostname.replace(/^\[|\]$/g, '');
  await app.listen({ host: host(first), port: Number(first.port) });
  const addr = app.server.address() as net.AddressInfo;
  urls.push(`http://${first.hostname}:${addr.port}`);
  for (const u of rest) {
    // More listeners hand their sockets to the same server: same limits, same timeouts.
    const srv = net.createServer((socket) => app.server.emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(Number(u.port), host(u), () => resolve());
    });
    extra.push(srv);
    urls.push(`http://${u.hostname}:${(srv.address() as net.AddressInfo).port}`);
  }
  log.info({ urls, endpoints: config.endpoints, mode: config.mode }, 'proxy serving client requests');

  let closing: Promise<void> | null = null;
  return {
    app,
    urls,
    close() {
      closing ??= (async () => {
        for (const s of extra) s.close();
        await app.close();
        if (redis !== null) redis.disconnect();
        log.info('proxy stopped');
      })();
      return closing;
    },
  };
}
