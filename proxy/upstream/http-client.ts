// HTTP to members (undici): discovery, health checks, pass-through of the
// non-keys routes, and — in front of real etcd — every keys request. One
// Agent per proxy with a bounded pool per member, so the members see a few
// keep-alive connections, never one per client.
//
// sent / not sent: a request that failed while CONNECTING (refused, timed
// out, unresolvable) never reached the member, so a write may be retried
// elsewhere; any later failure leaves the outcome unknown.

import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { ProxyError } from '../errors.js';

export interface HttpClientOptions {
  /** Connections per member origin. */
  connectionsPerOrigin: number;
  connectTimeoutMs?: number;
  /** Largest answer body read from a member. */
  bodyBytesMax?: number;
}

export interface HttpAnswerRaw {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpCall {
  method: string;
  /** Path and query, sent as given. */
  path: string;
  headers?: Readonly<Record<string, string>>;
  body?: Buffer | string;
  timeoutMs: number;
  signal?: AbortSignal;
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Headers that describe one hop, not the answer (RFC 9110 §7.6.1), plus those the proxy recomputes. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'content-length', 'date']);

export function flattenHeaders(raw: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** An answer's headers minus the hop-by-hop ones, for passing through. */
export function endToEndHeaders(h: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!HOP_HEADERS.has(k)) out[k] = v;
  return out;
}

function errCode(err: unknown): string {
  let e: unknown = err;
  // undici wraps the socket's error as `cause`.
  for (let i = 0; i < 3 && e !== null && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR') return c;
    e = (e as { cause?: unknown }).cause;
  }
  return 'UNKNOWN';
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly bodyBytesMax: number;

  constructor(o: HttpClientOptions) {
    this.agent = new Agent({
      connections: o.connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      connect: { timeout: o.connectTimeoutMs ?? 1000 },
    });
    this.bodyBytesMax = o.bodyBytesMax ?? 64 << 20;
  }

  /**
   * One request. Rejects with ProxyError(RG_ERR_PROXY_UPSTREAM_UNAVAILABLE)
   * whose `sent` says whether the member may have seen it.
   */
  async call(baseUrl: string, c: HttpCall): Promise<HttpAnswerRaw> {
    const origin = new URL(baseUrl).origin;
    let res: Dispatcher.ResponseData;
    const signal = c.signal === undefined ? AbortSignal.timeout(c.timeoutMs) : AbortSignal.any([c.signal, AbortSignal.timeout(c.timeoutMs)]);
    try {
      res = await this.agent.request({
        origin,
        path: c.path,
        method: c.method as Dispatcher.HttpMethod,
        headers: c.headers === undefined ? {} : { ...c.headers },
        body: c.body,
        signal,
        headersTimeout: c.timeoutMs,
        bodyTimeout: c.timeoutMs,
      });
    } catch (err) {
      const code = errCode(err);
      throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `${c.method} ${origin}${c.path}: ${code} ${(err as Error).message}`, {
        sent: !NOT_SENT_CODES.has(code),
        facts: { origin, code },
      });
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of res.body) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        bytes += b.length;
        if (bytes > this.bodyBytesMax) {
          res.body.destroy();
          throw new Error(`answer larger than ${this.bodyBytesMax} bytes`);
        }
        chunks.push(b);
      }
    } catch (err) {
      throw new ProxyError('RG_ERR_PROXY_UPSTREAM_BAD_ANSWER', `${c.method} ${origin}${c.path}: reading the answer failed: ${(err as Error).message}`, {
        sent: true,
        facts: { origin },
      });
    }
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks) };
  }

  /** Start a request and hand back the streaming response (watches). */
  async open(baseUrl: string, c: Omit<HttpCall, 'timeoutMs'> & { headersTimeoutMs: number; signal: AbortSignal }): Promise<Dispatcher.ResponseData> {
    const origin = new URL(baseUrl).origin;
    try {
      return await this.agent.request({
        origin,
        path: c.path,
        method: c.method as Dispatcher.HttpMethod,
        headers: c.headers === undefined ? {} : { ...c.headers },
        body: c.body,
        signal: c.signal,
        headersTimeout: c.headersTimeoutMs,
        // A long poll may wait as long as it likes for its event.
        bodyTimeout: 0,
      });
    } catch (err) {
      const code = errCode(err);
      throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `${c.method} ${origin}${c.path}: ${code} ${(err as Error).message}`, {
        sent: !NOT_SENT_CODES.has(code),
        facts: { origin, code },
      });
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
