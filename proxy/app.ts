// The proxy's HTTP app: etcd's v2 client API in front of an Upstream, built
// as a fastify instance that never listens (server.ts listens; tests use
// inject()).
//
//   request ─► connection refused? ─► 429/503 + Retry-After (limits/)
//           ─► readonly and not GET? ─► 501, as etcd's readonly proxy
//           ─► Go-style routing (resolveTarget: 301 / 404 / 400 as a member)
//           ─► /v2/keys ─► in-flight limit ─► keys-handler.ts
//              /version /health /ready /metrics /raftgate/v1/status: answered here
//              /v2/members /v2/machines /v2/stats/*: passed to a member
//
// Routing is done by `dispatch`, not fastify's router, for the same reason
// as the member's app (core-server/api/app.ts): Go's mux routes on the
// decoded path, redirects unclean paths, and accepts escapes fastify would
// refuse. Parsing, rendering and watch streaming are the member's own code.

import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ProxyConfig } from '../config/schema.js';
import { healthAnswer, versionAnswer } from '../core-server/api/info-routes.js';
import { STATUS_PATH } from '../core-server/api/ops-routes.js';
import { BAD_REQUEST, NOT_FOUND, isKeysPath, methodNotAllowed, resolveTarget } from '../core-server/api/v2-request.js';
import type { HttpAnswer } from '../core-server/api/v2-request.js';
import { goJson } from '../core-server/api/go-json.js';
import { CORS_HEADERS, H_ETCD_INDEX, JSON_TYPE, errorBody } from '../core-server/api/v2-response.js';
import type { WatchEnd } from '../core-server/api/watch-response.js';
import type { StoreEvent } from '../core-server/store/types.js';
import { Ecode, V2Error } from '../core-server/store/v2-error.js';
import { L2Cache } from './cache/l2.js';
import type { RedisLike } from './cache/l2.js';
import { ReadCache } from './cache/read-cache.js';
import { CLIENT_CAUSE } from './errors.js';
import { createKeysHandler } from './keys-handler.js';
import type { KeysHandler } from './keys-handler.js';
import { attachConnectionGate } from './limits/connection-gate.js';
import type { ConnectionGate } from './limits/connection-gate.js';
import { refusal } from './limits/refusal.js';
import type { LimitReason } from './limits/refusal.js';
import { InflightLimiter, WatcherLimiter } from './limits/slot-limiter.js';
import { createProxyMetrics } from './metrics.js';
import type { ProxyMetrics, ProxyRoute, RefusedLimit } from './metrics.js';
import type { ProxyStatus } from './status.js';
import type { Upstream, ViewSink } from './upstream/types.js';
import { UpstreamView } from './watch/upstream-view.js';

export interface Clock {
  nowMs(): number;
}

export interface ProxyDeps {
  upstream: Upstream;
  registry: Registry;
  logger: Logger;
  clock?: Clock;
  /** The shared L2 cache's Redis client (ioredis); absent: no L2. */
  redis?: RedisLike;
}

/** What tests and server.ts may look at (decorated on the instance as `raftgate`). */
export interface ProxyInternals {
  readonly view: UpstreamView;
  readonly cache: ReadCache;
  readonly l2: L2Cache | null;
  readonly upstream: Upstream;
  readonly sink: ProxySink;
  readonly keys: KeysHandler;
  readonly inflight: InflightLimiter;
  readonly watchers: WatcherLimiter;
  readonly gate: ConnectionGate;
  readonly metrics: ProxyMetrics;
  /** Whether the proxy would answer /ready with 200 now. */
  ready(): { ready: boolean; reason: string };
  /** What GET /raftgate/v1/status answers now. */
  status(): ProxyStatus;
}

declare module 'fastify' {
  interface FastifyInstance {
    raftgate: ProxyInternals;
  }
  interface FastifyRequest {
    rgProxyRoute: ProxyRoute;
    /** Already counted in metrics (a raw or hijacked answer; a watch counts itself when it ends). */
    rgCounted: boolean;
    rgStartMs: number;
  }
}

/**
 * The view's feed: the Upstream delivers here. Large batches are applied in
 * chunks no bigger than a watcher's queue, so a watcher that drains on every
 * wake-up (every HTTP watcher does) is never cut off by a burst alone.
 */
export class ProxySink implements ViewSink {
  private isSynced = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly view: UpstreamView,
    private readonly clock: Clock,
    private readonly chunkMax: number,
  ) {}

  get index(): number {
    return this.view.index;
  }

  get synced(): boolean {
    return this.isSynced;
  }

  events(events: StoreEvent[]): void {
    const now = this.clock.nowMs();
    if (events.length <= this.chunkMax) {
      this.view.applyEvents(events, now);
      return;
    }
    for (let i = 0; i < events.length; i += this.chunkMax) this.view.applyEvents(events.slice(i, i + this.chunkMax), now);
  }

  progress(etcdIndex: number): void {
    this.view.applyProgress(etcdIndex, this.clock.nowMs());
  }

  resync(etcdIndex: number): void {
    this.view.resync(etcdIndex, this.clock.nowMs());
    if (!this.isSynced) {
      this.isSynced = true;
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }

  /** Resyncs after the first sync (the first one is how every proxy starts). */
  get resyncs(): number {
    return Math.max(0, this.view.stats().resyncs - (this.isSynced ? 1 : 0));
  }

  whenSynced(timeoutMs: number): Promise<boolean> {
    if (this.isSynced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}

const CORS_ENTRIES = Object.entries(CORS_HEADERS);
/**
 * A client watch stops taking events while this much is unsent; its queue of
 * --watcher-buffer-max events then fills, and overflowing it closes the watch.
 */
const WATCH_PAUSE_ABOVE_BYTES = 64 * 1024;
const systemClock: Clock = { nowMs: () => Date.now() };
/** Operator paths: answered in readonly mode whatever the method (a non-GET gets what it gets in readwrite). */
const OPERATOR_PATHS: ReadonlySet<string> = new Set(['/metrics', STATUS_PATH]);

function v2Answer(status: number, e: V2Error): HttpAnswer {
  return { kind: 'http', status, headers: { 'Content-Type': JSON_TYPE, [H_ETCD_INDEX]: String(e.index) }, body: errorBody(e) };
}

/**
 * The members' client URLs, as a client that asked THIS proxy should use
 * them: the proxy's own URL. A client that syncs its endpoints from
 * /v2/members (etcdctl and the Go client do by default) would otherwise
 * leave the proxy for the members after its first request — through
 * etcd's own v2 proxy too. Peer URLs and ids are untouched.
 */
export function advertiseSelf(route: ProxyRoute, body: Buffer, selfUrl: string): Buffer {
  if (route === 'machines') return Buffer.from(selfUrl);
  if (route !== 'members') return body;
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  const fix = (m: unknown): void => {
    if (m !== null && typeof m === 'object' && Array.isArray((m as { clientURLs?: unknown }).clientURLs)) (m as { clientURLs: string[] }).clientURLs = [selfUrl];
  };
  const list = (j as { members?: unknown }).members;
  if (Array.isArray(list)) list.forEach(fix);
  else fix(j);
  const text = goJson(j);
  // Keep the member's framing: /v2/members ends in a newline (json.Encoder).
  return Buffer.from(body.toString('utf8').endsWith('\n') ? text + '\n' : text);
}

function headerOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function countedLimit(reason: LimitReason): RefusedLimit {
  switch (reason) {
    case 'connections_per_client':
      return 'connections_per_client';
    case 'inflight':
    case 'inflight_per_client':
      return 'inflight';
    case 'watchers':
    case 'watchers_per_client':
      return 'watchers';
    case 'body_bytes':
      return 'body_bytes';
    default:
      return 'connections';
  }
}

export function buildProxy(config: ProxyConfig, deps: ProxyDeps): FastifyInstance {
  const clock = deps.clock ?? systemClock;
  const upstream = deps.upstream;
  const readonly = config.mode === 'readonly';
  const view = new UpstreamView({ historyMax: config.eventHistoryMax, watcherQueueMax: config.watcherBufferMax });
  const cacheEnabled = config.cacheBytesMax > 0 && config.maxStalenessMs > 0;
  const cache = new ReadCache(view, { cacheBytesMax: Math.max(1, config.cacheBytesMax) });
  const sink = new ProxySink(view, clock, config.watcherBufferMax);
  const inflight = new InflightLimiter({ inflightMax: config.inflightMax });
  const watcherLimiter = new WatcherLimiter({ watchersMax: config.watchersMax });
  let slowWatchers = 0;

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.bodyBytesMax,
    // Per-request log lines would cost more than a cached GET; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // close() ends open watches too: their clients re-watch (here or elsewhere) from their last index.
    forceCloseConnections: true,
    requestIdHeader: false,
    rewriteUrl: () => '/',
    keepAliveTimeout: config.idleTimeoutMs,
    // Watches last as long as the client likes; only the headers are timed.
    requestTimeout: 0,
    http: { headersTimeout: config.headerTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.headerTimeoutMs / 2))) },
    frameworkErrors: (_err, _req, reply) => {
      sendAnswer(reply, BAD_REQUEST);
    },
  });
  const log = app.log;

  const staleness = {
    maxStalenessMs: config.maxStalenessMs,
    maxStalenessCeilingMs: config.maxStalenessCeilingMs,
    staleIfErrorCeilingMs: config.staleIfErrorCeilingMs,
  };
  const readyStalenessMs = config.maxStalenessMs > 0 ? config.maxStalenessMs : 1000;

  let keys: KeysHandler | null = null;
  const upstreamLag = (): number => Math.max(0, upstream.status().etcdIndexSeen - view.index);
  const metrics = createProxyMetrics(deps.registry, {
    cacheBytes: () => cache.stats().bytes,
    cacheEntries: () => cache.stats().entries,
    stalenessSeconds: () => view.staleness(clock.nowMs()) / 1000,
    maxStalenessSeconds: config.maxStalenessMs / 1000,
    viewIndex: () => view.index,
    watchers: () => keys?.watchers() ?? 0,
    upstreamWatchStreams: () => upstream.status().watchStreams,
    connections: () => gate.limiter.open,
    membersUp: () => upstream.status().membersUp,
    upstreamWatchLagEvents: upstreamLag,
    watchersDropped: () => ({ overflow: view.stats().watchersOverflowed + slowWatchers, cleared: view.stats().watchersCleared }),
    resyncs: () => sink.resyncs,
    cacheEvictions: () => cache.stats().evictions,
    cacheInvalidations: () => cache.stats().invalidations,
    upstreamWatchReconnects: () => upstream.status().watchReconnects,
  });
  const gate = attachConnectionGate(
    app.server,
    { connectionsMax: config.connectionsMax, connectionsPerClientMax: config.connectionsPerClientMax },
    (reason) => metrics.refused(countedLimit(reason)),
  );
  const l2 =
    deps.redis === undefined ? null : new L2Cache({ redis: deps.redis, clusterId: () => upstream.status().clusterId, logger: deps.logger });

  function sendRaw(reply: FastifyReply, status: number, headers: Record<string, string>, body: Buffer): FastifyReply {
    reply.hijack();
    reply.raw.writeHead(status, { ...headers, 'Content-Length': String(body.length) });
    reply.raw.end(body);
    reply.request.rgCounted = true;
    metrics.observeRequest(reply.request.rgProxyRoute, reply.request.raw.method ?? '', status, (performance.now() - reply.request.rgStartMs) / 1000);
    return reply;
  }

  function sendAnswer(reply: FastifyReply, a: HttpAnswer): FastifyReply {
    // Go sends no Content-Type on e.g. a 301 to a PUT; fastify would add one.
    if (!('Content-Type' in a.headers)) return sendRaw(reply, a.status, { ...CORS_HEADERS, ...a.headers }, Buffer.from(a.body));
    reply.code(a.status);
    for (const [k, v] of CORS_ENTRIES) reply.header(k, v);
    for (const k in a.headers) reply.header(k, a.headers[k]!);
    // A Buffer keeps fastify from appending a charset to the Content-Type.
    return reply.send(Buffer.from(a.body));
  }

  function refuse(reply: FastifyReply, reason: LimitReason, countIt = true): FastifyReply {
    if (countIt) metrics.refused(countedLimit(reason));
    const r = refusal(reason, view.index);
    reply.code(r.status);
    for (const [k, v] of CORS_ENTRIES) reply.header(k, v);
    for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
    return reply.send(Buffer.from(r.body));
  }

  function ready(): { ready: boolean; reason: string } {
    const s = upstream.status();
    if (s.watchStreams < 1 || !sink.synced) return { ready: false, reason: 'upstream watch stream not live' };
    const st = view.staleness(clock.nowMs());
    if (st > readyStalenessMs) return { ready: false, reason: `view ${Math.round(st)} ms stale (bound ${readyStalenessMs} ms)` };
    return { ready: true, reason: 'ok' };
  }

  function status(): ProxyStatus {
    const s = upstream.status();
    const c = cache.stats();
    const counts = metrics.cacheCounts();
    const st = view.staleness(clock.nowMs());
    return {
      kind: 'proxy',
      mode: config.mode,
      stalenessMs: Number.isFinite(st) ? Math.round(st) : null,
      maxStalenessMs: config.maxStalenessMs,
      viewIndex: view.index,
      watchers: keys?.watchers() ?? 0,
      upstreamWatchStreams: s.watchStreams,
      upstreamMembersUp: s.membersUp,
      cacheHits: counts.hits,
      cacheMisses: counts.misses,
      cacheEntries: c.entries,
      cacheBytes: c.bytes,
      upstreamLagEvents: upstreamLag(),
      members: upstream.members(),
    };
  }

  keys = createKeysHandler({
    upstream,
    view,
    cache,
    l2,
    metrics,
    log,
    nowMs: () => clock.nowMs(),
    staleness,
    cacheEnabled,
    indexWaitMs: Math.min(config.upstreamTimeoutMs, 1000),
    acceptWatcher: (client) => watcherLimiter.accept(client),
    whenSynced: (ms) => sink.whenSynced(ms),
    refuse: (reply, reason) => refuse(reply, reason),
    watchPauseAboveBytes: WATCH_PAUSE_ABOVE_BYTES,
    onWatchEnd: (end: WatchEnd) => {
      if (end === 'slow') slowWatchers++;
    },
    sendAnswer,
  });
  const keysHandler = keys;

  app.decorate('raftgate', {
    view,
    cache,
    l2,
    upstream,
    sink,
    keys: keysHandler,
    inflight,
    watchers: watcherLimiter,
    gate,
    metrics,
    ready,
    status,
  } satisfies ProxyInternals);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.decorateRequest('rgProxyRoute', 'other');
  app.decorateRequest('rgCounted', false);
  app.decorateRequest('rgStartMs', 0);

  app.addHook('onReady', async () => {
    upstream.start(sink, { attempt: (op, member, seconds) => metrics.observeUpstream(op, member, seconds) });
  });
  app.addHook('onClose', async () => {
    await upstream.close();
    cache.close();
  });

  // Before the body is read: a refused connection or a readonly write costs nothing more.
  app.addHook('onRequest', async (request, reply) => {
    request.rgStartMs = performance.now();
    for (const [k, v] of CORS_ENTRIES) reply.header(k, v);
    const refusedFor = gate.refusedReason(request.raw.socket);
    if (refusedFor !== null) {
      reply.header('Connection', 'close');
      return refuse(reply, refusedFor, false);
    }
    const method = request.raw.method ?? '';
    if (readonly && method !== 'GET' && !OPERATOR_PATHS.has(request.originalUrl.split('?')[0] ?? '')) {
      // etcd's readonly proxy: every non-GET is 501 with an empty body, before routing.
      return sendRaw(reply, 501, {}, Buffer.alloc(0));
    }
    return undefined;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (request.rgCounted) return;
    metrics.observeRequest(request.rgProxyRoute, request.raw.method ?? '', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return refuse(reply, 'body_bytes');
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      request.body = undefined;
      return dispatch(request, reply);
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) return sendAnswer(reply, v2Answer(400, new V2Error(Ecode.InvalidForm, err.message, 0)));
    log.error({ err, url: request.originalUrl }, 'proxy request failed');
    return sendAnswer(reply, v2Answer(500, new V2Error(Ecode.RaftInternal, err.message, 0)));
  });

  async function forward(request: FastifyRequest, reply: FastifyReply, target: 'any' | 'leader'): Promise<FastifyReply> {
    const ct = headerOf(request.headers['content-type']);
    try {
      const a = await upstream.forward({
        method: request.raw.method ?? 'GET',
        rawUrl: request.originalUrl,
        headers: ct === undefined ? {} : { 'content-type': ct },
        ...(Buffer.isBuffer(request.body) ? { body: request.body } : {}),
        target,
      });
      const host = headerOf(request.headers.host);
      const body = a.status === 200 && host !== undefined ? advertiseSelf(request.rgProxyRoute, a.body, `http://${host}`) : a.body;
      return sendRaw(reply, a.status, a.headers, body);
    } catch (err) {
      log.warn({ err: (err as Error).message, url: request.originalUrl }, 'pass-through to a member failed');
      reply.header('Retry-After', '1');
      return sendAnswer(reply, v2Answer(503, new V2Error(Ecode.RaftInternal, CLIENT_CAUSE.unreachable, view.index)));
    }
  }

  async function limited(request: FastifyRequest, reply: FastifyReply, run: (release: () => void) => Promise<FastifyReply | undefined>): Promise<FastifyReply | undefined> {
    const g = inflight.accept(request.raw.socket?.remoteAddress ?? 'unknown');
    if (!g.ok) return refuse(reply, g.reason);
    reply.raw.once('close', g.release);
    try {
      return await run(g.release);
    } catch (err) {
      g.release();
      throw err;
    }
  }

  async function dispatch(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const method = request.raw.method ?? '';
    const rawUrl = request.originalUrl;
    if (method === 'OPTIONS') {
      // etcd's CORS wrapper answers OPTIONS on any path before routing.
      return sendRaw(reply, 200, { ...CORS_HEADERS }, Buffer.alloc(0));
    }
    const target = resolveTarget(method, rawUrl);
    if (target.kind === 'http') return sendAnswer(reply, target);
    const path = target.path;
    if (isKeysPath(path)) {
      request.rgProxyRoute = 'keys';
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      const client = request.raw.socket?.remoteAddress ?? 'unknown';
      return limited(request, reply, (release) => keysHandler.handle(reply, client, method, path, target.rawQuery, request.headers, body, release));
    }
    switch (path) {
      case '/version':
        request.rgProxyRoute = 'version';
        return sendAnswer(reply, versionAnswer(method));
      case '/health':
        request.rgProxyRoute = 'health';
        return sendAnswer(reply, healthAnswer(upstream.status().membersUp > 0));
      case '/ready': {
        request.rgProxyRoute = 'ready';
        const r = ready();
        return reply
          .code(r.ready ? 200 : 503)
          .header('Content-Type', JSON_TYPE)
          .send(Buffer.from(JSON.stringify({ ready: r.ready, reason: r.reason, viewIndex: view.index }) + '\n'));
      }
      case '/metrics':
        request.rgProxyRoute = 'metrics';
        return reply.code(200).header('Content-Type', deps.registry.contentType).send(await deps.registry.metrics());
      case STATUS_PATH:
        request.rgProxyRoute = 'status';
        // As a member answers it: GET only.
        if (method !== 'GET') return sendAnswer(reply, methodNotAllowed('GET'));
        return reply.code(200).header('Content-Type', JSON_TYPE).send(Buffer.from(JSON.stringify(status()) + '\n'));
      case '/v2/machines':
        request.rgProxyRoute = 'machines';
        return limited(request, reply, () => forward(request, reply, 'any'));
      case '/v2/stats/self':
      case '/v2/stats/store':
      case '/v2/stats/leader':
        request.rgProxyRoute = 'stats';
        return limited(request, reply, () => forward(request, reply, path === '/v2/stats/leader' ? 'leader' : 'any'));
    }
    if (path === '/v2/members' || path.startsWith('/v2/members/')) {
      request.rgProxyRoute = 'members';
      return limited(request, reply, () => forward(request, reply, 'any'));
    }
    return sendAnswer(reply, NOT_FOUND);
  }

  app.route({ method: app.supportedMethods, url: '/', handler: dispatch });
  app.setNotFoundHandler(dispatch);
  return app;
}
