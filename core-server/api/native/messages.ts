// The native protocol's messages (see design.md). PURE: types and a shape
// check for what arrives off the wire; no I/O.
//
// Every message is a msgpack map with a `t` field naming its type. Request
// and watch ids are chosen by the client, unique among its in-flight
// requests and open watches on that connection.

import type { StoreEvent, WriteRequest } from '../../store/types.js';
import type { V2ErrorBody } from '../../store/v2-error.js';

export const NATIVE_PROTOCOL_VERSION = 1;

// ---- client -> core -------------------------------------------------------

/** First frame from the client. */
export interface ClientHello {
  t: 'hello';
  version: number;
  /** Who is connecting (for logs), e.g. "proxy-7f3a". */
  client: string;
}

export interface GetOp {
  op: 'get';
  path: string;
  recursive: boolean;
  sorted: boolean;
  /** Linearizable: the core passes its read barrier first. */
  quorum: boolean;
}

/**
 * A write exactly as the proxy parsed it (parseKeyRequest's WriteKeyRequest):
 * the core, not the proxy, turns `ttl` into an absolute deadline with its
 * own clock (toWriteRequest), so proxies with skewed clocks cannot disagree.
 */
export interface WriteOp {
  op: 'write';
  req: Omit<WriteRequest, 'expireAtMs' | 'nowMs'>;
  /** Seconds; null = "ttl=" (clears); absent = none. */
  ttl?: number | null;
  /** Decimal string of a ttl above 2^53, for Go's exact overflow arithmetic. */
  ttlExact?: string;
}

export type RequestMsg = { t: 'req'; id: number } & (GetOp | WriteOp);

/** Every event from sinceIndex on (0 = from the next one). */
export interface WatchMsg {
  t: 'watch';
  id: number;
  sinceIndex: number;
}

export interface CancelMsg {
  t: 'cancel';
  id: number;
}

/** Either side may ping; the other answers pong with the same n. */
export interface PingMsg {
  t: 'ping';
  n: number;
}
export interface PongMsg {
  t: 'pong';
  n: number;
}

export type ClientMsg = ClientHello | RequestMsg | WatchMsg | CancelMsg | PingMsg | PongMsg;

// ---- core -> client -------------------------------------------------------

export interface ServerHello {
  t: 'hello';
  version: number;
  clusterId: string;
  memberId: string;
  name: string;
  /** null while there is no leader (or it is not known). */
  leaderId: string | null;
  etcdIndex: number;
}

interface ResponseBase {
  t: 'res';
  id: number;
}

/** A read's or write's event; the proxy renders it with eventBody()/eventStatus(). */
export interface OkResponse extends ResponseBase {
  ok: StoreEvent;
  etcdIndex: number;
  raftIndex: number;
  raftTerm: number;
}

/** etcd's error object, as the client should see it. The write (if any) was not applied. */
export interface ErrResponse extends ResponseBase {
  err: V2ErrorBody;
  raftIndex: number;
  raftTerm: number;
}

export type FailReason = 'not-leader' | 'overloaded' | 'stopping';

/**
 * The core did not run the request at all: safe to retry it elsewhere.
 * `leaderId` names the leader when known (for not-leader).
 */
export interface FailResponse extends ResponseBase {
  fail: FailReason;
  message: string;
  leaderId: string | null;
}

export type ResponseMsg = OkResponse | ErrResponse | FailResponse;

/**
 * A batch of consecutive events, oldest first. Across batches of one watch
 * the indexes are contiguous: no gaps, no repeats. TTL refreshes carry
 * `refresh: true` (ordinary v2 watchers must not see them; a cache must).
 */
export interface EventsMsg {
  t: 'events';
  id: number;
  events: StoreEvent[];
}

/** Every event up to etcdIndex has been sent: the stream is current as of now. */
export interface ProgressMsg {
  t: 'progress';
  id: number;
  etcdIndex: number;
}

/**
 * Why a watch ended. 'cleared': its next event is no longer in the core's
 * history (err is etcd's 401) — resync. 'slow': the reader fell too far
 * behind on the socket. 'cancelled': the client asked. 'stopping': the
 * member is shutting down. 'refused': too many watches on this connection.
 */
export type WatchEndReason = 'cleared' | 'slow' | 'cancelled' | 'stopping' | 'refused';

export interface WatchEndMsg {
  t: 'watchEnd';
  id: number;
  reason: WatchEndReason;
  err: V2ErrorBody | null;
}

/** Sent just before the core closes the connection on purpose. */
export interface GoAwayMsg {
  t: 'goaway';
  code: string;
  message: string;
}

export type ServerMsg = ServerHello | ResponseMsg | EventsMsg | ProgressMsg | WatchEndMsg | GoAwayMsg | PingMsg | PongMsg;

// ---- shape checks -----------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isUint = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
const isStr = (x: unknown): x is string => typeof x === 'string';

function isWriteReq(r: unknown): r is WriteOp['req'] {
  if (!isObj(r)) return false;
  const m = r.method;
  return (
    (m === 'PUT' || m === 'POST' || m === 'DELETE') &&
    isStr(r.path) &&
    r.path.startsWith('/') &&
    isStr(r.value) &&
    isBool(r.dir) &&
    (r.prevExist === null || isBool(r.prevExist)) &&
    isStr(r.prevValue) &&
    isUint(r.prevIndex) &&
    isBool(r.recursive) &&
    isBool(r.refresh)
  );
}

/** The message, or a reason it is malformed (the connection is then closed). */
export function checkClientMsg(m: unknown): ClientMsg | string {
  if (!isObj(m)) return 'message is not a map';
  switch (m.t) {
    case 'hello':
      return isUint(m.version) && isStr(m.client) ? (m as unknown as ClientHello) : 'bad hello';
    case 'ping':
    case 'pong':
      return isUint(m.n) ? (m as unknown as PingMsg) : `bad ${m.t}`;
    case 'cancel':
      return isUint(m.id) ? (m as unknown as CancelMsg) : 'bad cancel';
    case 'watch':
      return isUint(m.id) && isUint(m.sinceIndex) ? (m as unknown as WatchMsg) : 'bad watch';
    case 'req':
      if (!isUint(m.id)) return 'request without a valid id';
      if (m.op === 'get') {
        return isStr(m.path) && m.path.startsWith('/') && isBool(m.recursive) && isBool(m.sorted) && isBool(m.quorum)
          ? (m as unknown as RequestMsg)
          : 'bad get';
      }
      if (m.op === 'write') {
        const ttlOk = m.ttl === undefined || m.ttl === null || isUint(m.ttl) || (typeof m.ttl === 'number' && m.ttl >= 0 && Number.isInteger(m.ttl));
        const exactOk = m.ttlExact === undefined || (isStr(m.ttlExact) && /^[0-9]{1,20}$/.test(m.ttlExact));
        return isWriteReq(m.req) && ttlOk && exactOk ? (m as unknown as RequestMsg) : 'bad write';
      }
      return 'unknown op';
    default:
      return `unknown message type ${JSON.stringify(m.t)}`;
  }
}
