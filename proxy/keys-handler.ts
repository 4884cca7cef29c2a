// /v2/keys at the proxy: the request is parsed at the edge with the member's
// own parser (bad input gets etcd's exact error here, without a round trip),
// then
//
//   GET/HEAD           ─► the time-bounded cache (cache/serve-read.ts), or a
//                         read through to a member (single-flight per key)
//   GET quorum=true    ─► a member, linearizable, never cached
//   GET wait=true      ─► the proxy's own watcher hub, fed by its ONE
//                         upstream stream; headers flushed at registration
//   PUT/POST/DELETE    ─► the leader (upstream/), retried only when unsent
//
// Every answer carries X-Etcd-Index (the index it reflects), X-Cache (HIT,
// L2-HIT, MISS, STALE for stale-if-error, BYPASS for writes, quorum reads and
// watches), Age (whole seconds) and X-Raftgate-Staleness-Ms. Answers never go
// back in index: each one raises the cache's answeredIndexMax, and a read
// that would answer below it waits for the view (read-your-writes).

import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { KEYS_ALLOW, methodNotAllowed, parseKeyRequest } from '../core-server/api/v2-request.js';
import type { GetKeyRequest, HttpAnswer, WriteKeyRequest } from '../core-server/api/v2-request.js';
import { CORS_HEADERS, H_CLUSTER_ID, H_ETCD_INDEX, H_RAFT_INDEX, H_RAFT_TERM, JSON_TYPE, errorBody, eventBody, eventStatus, renderedEvent } from '../core-server/api/v2-response.js';
import { pipeWatcher } from '../core-server/api/watch-response.js';
import type { WatchEnd } from '../core-server/api/watch-response.js';
import { cleanPath } from '../core-server/store/key-path.js';
import type { ReadOptions, StoreEvent } from '../core-server/store/types.js';
import { Ecode, V2Error } from '../core-server/store/v2-error.js';
import { readPolicy } from './cache/cache-control.js';
import type { StalenessConfig } from './cache/cache-control.js';
import type { L2Cache } from './cache/l2.js';
import { cacheKey } from './cache/read-cache.js';
import type { GetAnswer, LoadedAnswer, ReadCache } from './cache/read-cache.js';
import { serveRead } from './cache/serve-read.js';
import { CLIENT_CAUSE, isProxyError } from './errors.js';
import type { Grant, Refused } from './limits/slot-limiter.js';
import type { ProxyMetrics } from './metrics.js';
import type { KeysAnswer, Upstream } from './upstream/types.js';
import type { UpstreamView } from './watch/upstream-view.js';

export const H_CACHE = 'X-Cache';
export const H_AGE = 'Age';
export const H_STALENESS_MS = 'X-Raftgate-Staleness-Ms';

export type CacheVerdict = 'HIT' | 'L2-HIT' | 'MISS' | 'STALE' | 'BYPASS';

export interface KeysContext {
  upstream: Upstream;
  view: UpstreamView;
  cache: ReadCache;
  l2: L2Cache | null;
  metrics: ProxyMetrics;
  log: FastifyBaseLogger;
  nowMs(): number;
  staleness: StalenessConfig;
  /** false: every read goes to a member (--cache-bytes-max 0 or --max-staleness 0). */
  cacheEnabled: boolean;
  /** How long a read may wait for the view to reach an index already answered. */
  indexWaitMs: number;
  /** Take a watcher slot for this client, or be refused. */
  acceptWatcher(client: string): Grant | Refused;
  /** Resolves true once the view is synced (false after timeoutMs). */
  whenSynced(timeoutMs: number): Promise<boolean>;
  /** A refusal for a limit, rendered and counted by the app. */
  refuse(reply: FastifyReply, reason: Refused['reason']): FastifyReply;
  /** Unsent bytes above which a stream watcher stops taking events (its queue then bounds it). */
  watchPauseAboveBytes: number;
  onWatchEnd(end: WatchEnd): void;
  sendAnswer(reply: FastifyReply, a: HttpAnswer): FastifyReply;
}

export interface KeysHandler {
  /** `onWatching` runs once a watch is registered: it gives back the request's in-flight slot (a watch holds a watcher slot instead). */
  handle(
    reply: FastifyReply,
    client: string,
    method: string,
    path: string,
    rawQuery: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | undefined,
    onWatching: () => void,
  ): Promise<FastifyReply | undefined>;
  /** Client watches open now. */
  watchers(): number;
}

interface Freshness {
  verdict: CacheVerdict;
  ageMs: number;
}

export function createKeysHandler(ctx: KeysContext): KeysHandler {
  let watchers = 0;
  let raftIndex = 0;
  let raftTerm = 0;
  const fromL2 = new WeakSet<object>();

  function clusterHeader(reply: FastifyReply): void {
    const c = ctx.upstream.status().clusterId;
    if (c !== null) reply.header(H_CLUSTER_ID, c);
  }

  function freshness(reply: FastifyReply, f: Freshness): void {
    reply.header(H_CACHE, f.verdict);
    reply.header(H_AGE, String(Math.floor(f.ageMs / 1000)));
    reply.header(H_STALENESS_MS, String(Math.round(f.ageMs)));
  }

  function noteRaft(a: KeysAnswer): void {
    if (a.kind !== 'event') return;
    if (a.raftIndex > raftIndex) raftIndex = a.raftIndex;
    if (a.raftTerm > raftTerm) raftTerm = a.raftTerm;
  }

  function sendError(reply: FastifyReply, e: V2Error, f: Freshness | null, status = e.status): FastifyReply {
    reply.code(status).header('Content-Type', JSON_TYPE);
    clusterHeader(reply);
    reply.header(H_ETCD_INDEX, String(e.index));
    if (f !== null) freshness(reply, f);
    return reply.send(Buffer.from(errorBody(e)));
  }

  function sendEvent(reply: FastifyReply, ev: StoreEvent, raft: { index: number; term: number }, noValueOnSuccess: boolean, f: Freshness): FastifyReply {
    reply.code(eventStatus(ev)).header('Content-Type', JSON_TYPE);
    clusterHeader(reply);
    reply.header(H_ETCD_INDEX, String(ev.etcdIndex)).header(H_RAFT_INDEX, String(raft.index)).header(H_RAFT_TERM, String(raft.term));
    freshness(reply, f);
    return reply.send(noValueOnSuccess ? Buffer.from(eventBody(ev, true)) : renderedEvent(ev));
  }

  function sendGetAnswer(reply: FastifyReply, a: GetAnswer, raft: { index: number; term: number }, f: Freshness): FastifyReply {
    return a instanceof V2Error ? sendError(reply, a, f) : sendEvent(reply, a, raft, false, f);
  }

  /** 503 (safe to retry) or 500 (a write that may have been applied), in etcd's error shape. */
  function sendUpstreamFailure(reply: FastifyReply, err: unknown): FastifyReply {
    if (isProxyError(err, 'RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN')) {
      ctx.log.warn({ err: err.message }, 'write outcome unknown: the member went away before answering');
      return sendError(reply, new V2Error(Ecode.RaftInternal, CLIENT_CAUSE.outcomeUnknown, ctx.view.index), { verdict: 'BYPASS', ageMs: 0 }, 500);
    }
    if (!isProxyError(err)) ctx.log.error({ err }, 'proxy request failed');
    const cause = isProxyError(err, 'RG_ERR_PROXY_UPSTREAM_BAD_ANSWER') ? CLIENT_CAUSE.badAnswer : CLIENT_CAUSE.unreachable;
    reply.header('Retry-After', '1');
    return sendError(reply, new V2Error(Ecode.RaftInternal, cause, ctx.view.index), { verdict: 'BYPASS', ageMs: 0 }, 503);
  }

  function toGetAnswer(a: KeysAnswer): GetAnswer {
    return a.kind === 'event' ? a.event : a.error;
  }

  /** (Each attempt on a member is timed by the Upstream itself: UpstreamObserver.) */
  async function upstreamGet(g: GetKeyRequest, quorum: boolean): Promise<KeysAnswer> {
    const a = await ctx.upstream.get({ path: g.path, recursive: g.recursive, sorted: g.sorted, quorum });
    noteRaft(a);
    return a;
  }

  async function load(g: GetKeyRequest, opts: ReadOptions, policyMaxStaleMs: number, readThrough: boolean): Promise<GetAnswer | LoadedAnswer> {
    const key = cacheKey(g.path, opts);
    const l2 = ctx.l2;
    // The shared cache only while this proxy's own view is within the bound:
    // the view is what vouches for another proxy's answer.
    if (l2 !== null && !readThrough && ctx.view.staleness(ctx.nowMs()) <= policyMaxStaleMs) {
      const hit = await l2.get(key, cleanPath(g.path), ctx.view);
      if (hit !== null) {
        fromL2.add(hit.answer);
        return hit;
      }
    }
    const a = toGetAnswer(await upstreamGet(g, false));
    l2?.put(key, a);
    return a;
  }

  async function cachedRead(reply: FastifyReply, g: GetKeyRequest, headers: Record<string, string | string[] | undefined>): Promise<FastifyReply> {
    const opts: ReadOptions = { recursive: g.recursive, sorted: g.sorted };
    let policy = readPolicy(headers['cache-control'], ctx.staleness);
    if (!ctx.cacheEnabled) policy = { ...policy, readThrough: true, staleIfErrorMs: null };
    const r = await serveRead(ctx.cache, g.path, opts, policy, {
      nowMs: ctx.nowMs,
      load: () => load(g, opts, policy.maxStaleMs, policy.readThrough),
      waitForIndex: async (i) => {
        await ctx.view.whenIndex(i, AbortSignal.timeout(ctx.indexWaitMs));
      },
      viewIndex: () => ctx.view.index,
    });
    const raft = { index: raftIndex, term: raftTerm };
    switch (r.source) {
      case 'hit':
      case 'stale-if-error':
        ctx.metrics.cacheHit();
        return sendGetAnswer(reply, r.answer, raft, { verdict: r.source === 'hit' ? 'HIT' : 'STALE', ageMs: r.ageMs });
      case 'upstream': {
        const l2hit = fromL2.has(r.answer);
        if (l2hit) ctx.metrics.cacheHit();
        else ctx.metrics.cacheMiss();
        return sendGetAnswer(reply, r.answer, raft, { verdict: l2hit ? 'L2-HIT' : 'MISS', ageMs: 0 });
      }
      case 'unavailable': {
        ctx.metrics.cacheMiss();
        reply.header('Retry-After', '1');
        const s = ctx.view.staleness(ctx.nowMs());
        return sendError(reply, r.error, { verdict: 'MISS', ageMs: Number.isFinite(s) ? s : 0 }, 503);
      }
    }
  }

  async function quorumRead(reply: FastifyReply, g: GetKeyRequest): Promise<FastifyReply> {
    let a: KeysAnswer;
    try {
      a = await upstreamGet(g, true);
    } catch (err) {
      return sendUpstreamFailure(reply, err);
    }
    const ans = toGetAnswer(a);
    ctx.cache.noteAnswered(ans instanceof V2Error ? ans.index : ans.etcdIndex);
    const f: Freshness = { verdict: 'BYPASS', ageMs: 0 };
    return a.kind === 'event' ? sendEvent(reply, a.event, { index: a.raftIndex, term: a.raftTerm }, false, f) : sendError(reply, a.error, f);
  }

  async function watch(reply: FastifyReply, client: string, g: GetKeyRequest, onWatching: () => void): Promise<FastifyReply | undefined> {
    const grant = ctx.acceptWatcher(client);
    if (!grant.ok) return ctx.refuse(reply, grant.reason);
    // Grant.release is idempotent: every way out below may call it.
    try {
      // A watch on a view that never synced would be cut off with a 401 at the first sync.
      if (!(await ctx.whenSynced(ctx.indexWaitMs))) {
        grant.release();
        reply.header('Retry-After', '1');
        return sendError(reply, new V2Error(Ecode.RaftInternal, CLIENT_CAUSE.unreachable, ctx.view.index), null, 503);
      }
      const w = ctx.view.watch(g.path, { recursive: g.recursive, stream: g.stream, sinceIndex: g.waitIndex });
      if (w instanceof V2Error) {
        grant.release();
        return sendError(reply, w, null);
      }
      watchers++;
      onWatching();
      reply.request.rgProxyRoute = 'keys_watch';
      reply.request.rgCounted = true;
      reply.hijack();
      const res = reply.raw;
      const c = ctx.upstream.status().clusterId;
      const staleMs = ctx.view.staleness(ctx.nowMs());
      res.writeHead(200, {
        ...CORS_HEADERS,
        'Content-Type': JSON_TYPE,
        ...(c !== null ? { [H_CLUSTER_ID]: c } : {}),
        [H_ETCD_INDEX]: String(w.startIndex),
        [H_RAFT_INDEX]: String(raftIndex),
        [H_RAFT_TERM]: String(raftTerm),
        [H_CACHE]: 'BYPASS',
        [H_AGE]: String(Math.floor(staleMs / 1000)),
        [H_STALENESS_MS]: String(Math.round(staleMs)),
      });
      // The client can tell its watch is live the moment it is registered (etcd's v2 proxy cannot).
      res.flushHeaders();
      pipeWatcher(w, res, g.stream, ctx.log, {
        pauseAboveBytes: ctx.watchPauseAboveBytes,
        onDone: (end) => {
          watchers--;
          grant.release();
          ctx.onWatchEnd(end);
          ctx.metrics.observeRequest('keys_watch', 'GET', 200, null);
        },
      });
      return undefined;
    } catch (err) {
      grant.release();
      throw err;
    }
  }

  async function write(reply: FastifyReply, w: WriteKeyRequest): Promise<FastifyReply> {
    let a: KeysAnswer;
    try {
      a = await ctx.upstream.write(w);
    } catch (err) {
      return sendUpstreamFailure(reply, err);
    }
    noteRaft(a);
    const f: Freshness = { verdict: 'BYPASS', ageMs: 0 };
    if (a.kind === 'error') {
      ctx.cache.noteAnswered(a.error.index);
      return sendError(reply, a.error, f);
    }
    // Read-your-writes: no later read through this proxy answers below it.
    ctx.cache.noteAnswered(a.event.etcdIndex);
    return sendEvent(reply, a.event, { index: a.raftIndex, term: a.raftTerm }, w.noValueOnSuccess, f);
  }

  return {
    async handle(reply, client, method, path, rawQuery, headers, body, onWatching) {
      if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT' && method !== 'POST' && method !== 'DELETE') {
        return ctx.sendAnswer(reply, methodNotAllowed(KEYS_ALLOW));
      }
      const ct = headers['content-type'];
      const parsed = parseKeyRequest(method, path, rawQuery, Array.isArray(ct) ? ct[0] : ct, body);
      if (parsed instanceof V2Error) return sendError(reply, parsed, null);
      if (parsed.kind === 'write') return write(reply, parsed);
      // HEAD never waits and never goes through Raft (etcd's Head handler).
      if (parsed.method === 'HEAD') return cachedRead(reply, parsed, headers);
      // quorum=true wins over wait=true: etcd turns it into a QGET.
      if (parsed.quorum) return quorumRead(reply, parsed);
      if (parsed.wait) return watch(reply, client, parsed, onWatching);
      return cachedRead(reply, parsed, headers);
    },
    watchers: () => watchers,
  };
}
