// The /v2/keys handler: a parsed request in, etcd's answer out. Reads and
// watches go to the local store (after a linearizable barrier for
// quorum=true); writes go through node.propose and are answered only once
// applied. Every outcome is written here, so no failure can reach fastify's
// default handler or leave a client without an answer.

import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import type { KvNode } from '../node/types.js';
import type { StoreEvent } from '../store/types.js';
import { Ecode, V2Error } from '../store/v2-error.js';
import type { CoreMetrics } from './metrics.js';
import { KEYS_ALLOW, methodNotAllowed, parseKeyRequest, toWriteRequest } from './v2-request.js';
import type { GetKeyRequest, HttpAnswer, WriteKeyRequest } from './v2-request.js';
import { CORS_HEADERS, H_CLUSTER_ID, H_ETCD_INDEX, H_RAFT_INDEX, H_RAFT_TERM, JSON_TYPE, errorBody, eventBody, eventStatus } from './v2-response.js';
import { pipeWatcher } from './watch-response.js';

// Bodies go to fastify as Buffers: for a string it would re-parse the
// Content-Type on every reply and append "; charset=utf-8", which etcd does
// not send.

export interface KeysDeps {
  node: KvNode;
  metrics: CoreMetrics;
  log: FastifyBaseLogger;
  watchersMax: number;
  sendAnswer: (reply: FastifyReply, a: HttpAnswer) => FastifyReply;
}

export interface KeysHandler {
  handle(reply: FastifyReply, method: string, path: string, rawQuery: string, contentType: string | undefined, body: Buffer | undefined): Promise<FastifyReply | undefined>;
  /** Client watches open now. */
  activeWatchers(): number;
}

export function createKeysHandler(deps: KeysDeps): KeysHandler {
  const { node, metrics, log } = deps;
  let watchers = 0;

  function sendError(reply: FastifyReply, e: V2Error): FastifyReply {
    return reply
      .code(e.status)
      .header('Content-Type', JSON_TYPE)
      .header(H_CLUSTER_ID, node.clusterId)
      .header(H_ETCD_INDEX, String(e.index))
      .send(Buffer.from(errorBody(e)));
  }

  function sendEvent(reply: FastifyReply, ev: StoreEvent, raftIndex: number, raftTerm: number, noValueOnSuccess: boolean): FastifyReply {
    return reply
      .code(eventStatus(ev))
      .header('Content-Type', JSON_TYPE)
      .header(H_CLUSTER_ID, node.clusterId)
      .header(H_ETCD_INDEX, String(ev.etcdIndex))
      .header(H_RAFT_INDEX, String(raftIndex))
      .header(H_RAFT_TERM, String(raftTerm))
      .send(Buffer.from(eventBody(ev, noValueOnSuccess)));
  }

  /** etcd's writeKeyError for anything that is not a v2 error: 500, code 300, logged. */
  function sendInternal(reply: FastifyReply, err: unknown): FastifyReply {
    if (err instanceof V2Error) return sendError(reply, err);
    log.error({ err }, 'v2 keys request failed');
    const message = err instanceof Error ? err.message : String(err);
    return sendError(reply, new V2Error(Ecode.RaftInternal, message, 0));
  }

  function read(reply: FastifyReply, g: GetKeyRequest): FastifyReply {
    const r = node.store.get(g.path, { recursive: g.recursive, sorted: g.sorted }, node.nowMs());
    if (r instanceof V2Error) return sendError(reply, r);
    return sendEvent(reply, r, node.raftIndex, node.raftTerm, false);
  }

  function watch(reply: FastifyReply, g: GetKeyRequest): FastifyReply | undefined {
    if (watchers >= deps.watchersMax) {
      // Refuse at once rather than queue: the client retries, the member stays up.
      metrics.watcherRefused();
      return reply
        .code(503)
        .header('Content-Type', JSON_TYPE)
        .header(H_CLUSTER_ID, node.clusterId)
        .header(H_ETCD_INDEX, String(node.store.index))
        .header('Retry-After', '1')
        .send(Buffer.from(errorBody(new V2Error(Ecode.RaftInternal, 'too many watchers', node.store.index))));
    }
    const w = node.store.watch(g.path, { recursive: g.recursive, stream: g.stream, sinceIndex: g.waitIndex });
    if (w instanceof V2Error) return sendError(reply, w);
    watchers++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...CORS_HEADERS,
      'Content-Type': JSON_TYPE,
      [H_CLUSTER_ID]: node.clusterId,
      [H_ETCD_INDEX]: String(w.startIndex),
      [H_RAFT_INDEX]: String(node.raftIndex),
      [H_RAFT_TERM]: String(node.raftTerm),
    });
    // A long poll must see its headers now, not when the event comes.
    res.flushHeaders();
    pipeWatcher(w, res, g.stream, log, {
      onDone: () => {
        watchers--;
        metrics.observe('keys_watch', 'GET', 200, null);
      },
    });
    return undefined;
  }

  async function get(reply: FastifyReply, g: GetKeyRequest): Promise<FastifyReply | undefined> {
    // HEAD never waits and never goes through Raft (etcd's Head handler).
    if (g.method === 'HEAD') return read(reply, g);
    // quorum=true wins over wait=true: etcd turns it into a QGET, a plain read.
    if (g.quorum) {
      await node.linearizableBarrier();
      return read(reply, g);
    }
    if (g.wait) return watch(reply, g);
    return read(reply, g);
  }

  async function write(reply: FastifyReply, w: WriteKeyRequest): Promise<FastifyReply> {
    const out = await node.propose(toWriteRequest(w, node.nowMs()));
    if (out.result instanceof V2Error) return sendError(reply, out.result);
    return sendEvent(reply, out.result, out.raftIndex, out.raftTerm, w.noValueOnSuccess);
  }

  return {
    async handle(reply, method, path, rawQuery, contentType, body) {
      if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT' && method !== 'POST' && method !== 'DELETE') {
        return deps.sendAnswer(reply, methodNotAllowed(KEYS_ALLOW));
      }
      const parsed = parseKeyRequest(method, path, rawQuery, contentType, body);
      if (parsed instanceof V2Error) return sendError(reply, parsed);
      // etcd's auth check reads its store once per parsed keys request (see KeyStore.countFailedGet).
      node.store.countFailedGet();
      try {
        return parsed.kind === 'get' ? await get(reply, parsed) : await write(reply, parsed);
      } catch (err) {
        return sendInternal(reply, err);
      }
    },
    activeWatchers: () => watchers,
  };
}
