// The core member's client HTTP API: etcd 3.4's v2 surface, built as a
// fastify instance that never listens (server code calls listen; tests use
// inject).
//
// Routing is done here rather than by fastify's router, because etcd's
// answers depend on Go's ServeMux: it routes on the percent-DECODED path
// ("/v2/keys%2Ffoo" is a key request), redirects unclean paths with 301, and
// answers unknown paths with a text 404. Fastify's router would also refuse
// escapes such as %FF that Go accepts (as U+FFFD). So every request is
// rewritten to "/" for fastify's router, and `dispatch` resolves the
// original URL the way Go does.
//
// Fastify's own failures (body too large, a bad URL, a broken body stream)
// are mapped to etcd-shaped 4xx answers; nothing a client sends can produce
// a 500 or an unhandled rejection.

import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { KvNode } from '../node/types.js';
import { Ecode, V2Error } from '../store/v2-error.js';
import { healthAnswer, machinesAnswer, membersAnswer, membersChangeOf, runMembersChange, statsAnswer, versionAnswer } from './info-routes.js';
import { createKeysHandler } from './keys-route.js';
import { NATIVE_DISCOVERY_PATH, nativeDiscoveryAnswer } from './native/discovery.js';
import { SNAPSHOT_PATH, STATUS_PATH, snapshotBytes, statusAnswer, type OpsDeps } from './ops-routes.js';
import { createCoreMetrics } from './metrics.js';
import type { RouteLabel } from './metrics.js';
import { BAD_REQUEST, NOT_FOUND, isKeysPath, methodNotAllowed, resolveTarget } from './v2-request.js';
import type { HttpAnswer } from './v2-request.js';
import { CORS_HEADERS, H_ETCD_INDEX, JSON_TYPE, errorBody } from './v2-response.js';

export interface CoreAppOptions {
  node: KvNode;
  registry: Registry;
  logger?: FastifyBaseLogger;
  /** Largest request body read; larger ones get etcd's 400 "http: POST too large" before any parsing. */
  bodyBytesMax: number;
  /** Client watches open at once; beyond this a watch is refused with 503. */
  watchersMax: number;
  /** How long /health waits for a linearizable read before saying false. */
  healthTimeoutMs?: number;
  /** Native-protocol URLs, announced at GET /raftgate/v1/native for proxies. */
  nativeUrls?: readonly string[];
  /** Bytes of WAL and snapshots on disk, for /raftgate/v1/status. */
  dataBytes?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    rgRoute: RouteLabel;
  }
}

const CORS_ENTRIES = Object.entries(CORS_HEADERS);

function assertPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`RG_ERR_API_CONFIG: ${name} must be a positive integer, got ${v}`);
}

/** etcd's answer to a form over Go's 10 MiB limit ("http: POST too large"): 400, code 210. */
function tooLarge(): HttpAnswer {
  const e = new V2Error(Ecode.InvalidForm, 'http: POST too large', 0);
  return { kind: 'http', status: 400, headers: { 'Content-Type': JSON_TYPE, [H_ETCD_INDEX]: '0', Connection: 'close' }, body: errorBody(e) };
}

function v2Answer(status: number, e: V2Error): HttpAnswer {
  return { kind: 'http', status, headers: { 'Content-Type': JSON_TYPE, [H_ETCD_INDEX]: String(e.index) }, body: errorBody(e) };
}

export function buildCoreApp(opts: CoreAppOptions): FastifyInstance {
  assertPositiveInt('bodyBytesMax', opts.bodyBytesMax);
  assertPositiveInt('watchersMax', opts.watchersMax);
  const { node } = opts;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 1000;
  const startMs = node.nowMs();

  const app = Fastify({
    ...(opts.logger !== undefined ? { loggerInstance: opts.logger } : {}),
    bodyLimit: opts.bodyBytesMax,
    // Per-request log lines would cost more than the hot GET itself; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    return503OnClosing: true,
    requestIdHeader: false,
    rewriteUrl: () => '/',
    // A URL fastify's router cannot decode is the same request Go's server
    // refuses with a bare 400; answer exactly that.
    frameworkErrors: (_err, _req, reply) => {
      sendAnswer(reply, BAD_REQUEST);
    },
  });
  const log = app.log;

  function sendAnswer(reply: FastifyReply, a: HttpAnswer): FastifyReply {
    if (!('Content-Type' in a.headers)) {
      // Go sends no Content-Type on e.g. a 301 to a PUT; fastify would add
      // application/octet-stream to any payload, so write this one raw.
      const body = Buffer.from(a.body);
      reply.hijack();
      reply.raw.writeHead(a.status, { ...CORS_HEADERS, ...a.headers, 'Content-Length': String(body.length) });
      reply.raw.end(body);
      metrics.observe(reply.request.rgRoute, reply.request.raw.method ?? '', a.status, null);
      return reply;
    }
    reply.code(a.status);
    for (const [k, v] of CORS_ENTRIES) reply.header(k, v);
    for (const k in a.headers) reply.header(k, a.headers[k]!);
    // A Buffer keeps fastify from rewriting the Content-Type (it appends a charset to strings).
    return reply.send(Buffer.from(a.body));
  }

  let keys: ReturnType<typeof createKeysHandler> | null = null;
  const metrics = createCoreMetrics(opts.registry, node, () => keys?.activeWatchers() ?? 0);
  keys = createKeysHandler({ node, metrics, log, watchersMax: opts.watchersMax, sendAnswer });
  const keysHandler = keys;
  const ops: OpsDeps = {
    node,
    dataBytes: opts.dataBytes ?? (() => 0),
    watchers: () => keysHandler.activeWatchers(),
    ...(node.stateImage !== undefined ? { stateImage: () => node.stateImage!() } : {}),
  };

  // Every content type is read as raw bytes: the keys handler decides, as
  // Go's ParseForm does, which bodies are forms; others are ignored.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.decorateRequest('rgRoute', 'other');

  app.addHook('onRequest', async (request, reply) => {
    for (const [k, v] of CORS_ENTRIES) reply.header(k, v);
    void request;
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.rgRoute, request.raw.method ?? '', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendAnswer(reply, tooLarge());
    // A Content-Type fastify cannot parse: Go reads no body then either, and
    // the keys handler reports the exact mime error etcd gives (210).
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      request.body = undefined;
      return dispatch(request, reply);
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      // A request fastify could not read (bad Content-Length, aborted body...):
      // etcd's ParseForm would fail the same way, with 210.
      return sendAnswer(reply, v2Answer(400, new V2Error(Ecode.InvalidForm, err.message, 0)));
    }
    log.error({ err, url: request.originalUrl }, 'core API request failed');
    return sendAnswer(reply, v2Answer(500, new V2Error(Ecode.RaftInternal, err.message, 0)));
  });

  async function health(): Promise<boolean> {
    if (node.leaderId() === null) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        node.linearizableBarrier(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('health check timed out')), healthTimeoutMs);
        }),
      ]);
      return true;
    } catch {
      return false;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async function dispatch(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const method = request.raw.method ?? '';
    const rawUrl = request.originalUrl;
    // etcd's CORS wrapper answers OPTIONS on any path before routing.
    if (method === 'OPTIONS') {
      request.rgRoute = 'options';
      // Written raw: fastify would add a Content-Type that etcd does not send.
      reply.hijack();
      reply.raw.writeHead(200, { ...CORS_HEADERS, 'Content-Length': '0' });
      reply.raw.end();
      metrics.observe('options', method, 200, null);
      return undefined;
    }
    const target = resolveTarget(method, rawUrl);
    if (target.kind === 'http') return sendAnswer(reply, target);
    const path = target.path;
    if (isKeysPath(path)) {
      request.rgRoute = 'keys';
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      return keysHandler.handle(reply, method, path, target.rawQuery, request.headers['content-type'], body);
    }
    switch (path) {
      case '/version':
        request.rgRoute = 'version';
        return sendAnswer(reply, versionAnswer(method));
      case '/health':
        request.rgRoute = 'health';
        if (method !== 'GET') return sendAnswer(reply, methodNotAllowed('GET'));
        return sendAnswer(reply, healthAnswer(await health()));
      case '/metrics':
        request.rgRoute = 'metrics';
        return reply.code(200).header('Content-Type', opts.registry.contentType).send(await opts.registry.metrics());
      case '/v2/machines':
        request.rgRoute = 'machines';
        return sendAnswer(reply, machinesAnswer(method, node));
      case '/v2/stats/self':
      case '/v2/stats/store':
      case '/v2/stats/leader':
        request.rgRoute = 'stats';
        return sendAnswer(reply, statsAnswer(method, path.slice('/v2/stats/'.length) as 'self' | 'store' | 'leader', node, { startMs }));
    }
    if (path === NATIVE_DISCOVERY_PATH) return sendAnswer(reply, nativeDiscoveryAnswer(method, node, opts.nativeUrls ?? []));
    if (path === STATUS_PATH) return sendAnswer(reply, statusAnswer(method, ops));
    if (path === SNAPSHOT_PATH) {
      if (method !== 'GET') return sendAnswer(reply, methodNotAllowed('GET'));
      const snap = snapshotBytes(ops);
      if (snap === null) return sendAnswer(reply, NOT_FOUND);
      return reply
        .code(200)
        .header('Content-Type', 'application/octet-stream')
        .header('X-Raftgate-Snapshot-Index', String(snap.index))
        .header('X-Raftgate-Snapshot-Term', String(snap.term))
        .send(snap.bytes);
    }
    if (path === '/v2/members' || path.startsWith('/v2/members/')) {
      request.rgRoute = 'members';
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      const change = membersChangeOf(method, path, node, request.headers['content-type'], body);
      if (change === null) return sendAnswer(reply, membersAnswer(method, path, node, request.headers['content-type']));
      if ('status' in change) return sendAnswer(reply, change);
      return sendAnswer(reply, await runMembersChange(change, node, path.slice('/v2/members/'.length)));
    }
    return sendAnswer(reply, NOT_FOUND);
  }

  // One route for every method; the not-found handler catches methods
  // fastify has no route for.
  app.route({ method: app.supportedMethods, url: '/', handler: dispatch });
  app.setNotFoundHandler(dispatch);

  return app;
}
