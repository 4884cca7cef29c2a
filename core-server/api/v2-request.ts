// Parsing and validation of a v2 keys request, exactly as etcd 3.4 does it
// (v2http/client.go parseKeyRequest, after Go's ServeMux and ParseForm).
//
// PURE: bytes in, a decision out. The core's HTTP app and the proxy both use
// it, so a malformed request gets etcd's answer from whichever process sees it
// first, and the core never receives a command that etcd would have refused.
//
// The checks run in etcd's order, because a request with two faults must get
// the error etcd gives for the first one:
//
//   target ─► bad escape in path: 400 text (Go's server)
//          ─► unclean path ("//", ".", ".."): 301 to the clean path (ServeMux)
//          ─► not /v2/keys[/...]: 404 text
//   method ─► not HEAD GET PUT POST DELETE: 405 text
//   form   ─► ParseForm error (bad Content-Type, bad escape, ';'): 210
//   fields ─► prevIndex, waitIndex (203) ─► recursive sorted wait dir quorum
//             stream (209) ─► wait on non-GET (209) ─► empty prevValue (201)
//          ─► noValueOnSuccess (209) ─► ttl (202) ─► prevExist (209)
//          ─► refresh (209), value on refresh (211), no ttl on refresh (212)

import { Ecode, V2Error } from '../store/v2-error.js';
import type { WriteRequest } from '../store/types.js';
import { parseMediaType } from './go-mime.js';
import { parseGoBool, parseGoUint64 } from './go-strconv.js';
import type { FormValues } from './go-url.js';
import { bytesOf, decodeGoUtf8, escapePath, goPathClean, htmlEscape, muxCleanPath, parseQueryInto, splitTarget, unescape, EscapeError } from './go-url.js';

export interface RawV2Request {
  method: string;
  /** Path and query exactly as received. */
  rawUrl: string;
  contentType: string | undefined;
  body: string | Uint8Array | undefined;
}

/** An answer that is not a v2 error: the text/HTML bodies Go's net/http writes itself. */
export interface HttpAnswer {
  kind: 'http';
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

export interface GetKeyRequest {
  kind: 'get';
  method: 'GET' | 'HEAD';
  /** Canonical key ("/" for the root). */
  path: string;
  recursive: boolean;
  sorted: boolean;
  quorum: boolean;
  wait: boolean;
  waitIndex: number;
  stream: boolean;
}

/** A validated write; the clock-dependent fields are filled by toWriteRequest. */
export interface WriteKeyRequest {
  kind: 'write';
  req: Omit<WriteRequest, 'expireAtMs' | 'nowMs'>;
  /** Seconds from `ttl`; null when given empty ("ttl=" clears); undefined when absent. Both mean no TTL. */
  ttl: number | null | undefined;
  /** The exact value when `ttl` is above 2^53 (Go's overflow arithmetic needs every bit). */
  ttlExact?: bigint;
  /** etcd's noValueOnSuccess: a successful set/create/update/CAS answers only the action. */
  noValueOnSuccess: boolean;
}

export type V2KeyRequest = GetKeyRequest | WriteKeyRequest;

export const KEYS_PREFIX = '/v2/keys';
export const KEYS_ALLOW = 'HEAD,GET,PUT,POST,DELETE';
/** Go's ParseForm reads at most 10 MB of form body. */
export const FORM_BYTES_MAX = 10 << 20;

const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** Go's http.Error text answer (405, 404...). */
export function textAnswer(status: number, body: string, extra?: Record<string, string>): HttpAnswer {
  return {
    kind: 'http',
    status,
    headers: { 'Content-Type': TEXT_PLAIN, 'X-Content-Type-Options': 'nosniff', ...extra },
    body: body + '\n',
  };
}

export function methodNotAllowed(allow: string | null): HttpAnswer {
  return textAnswer(405, 'Method Not Allowed', allow === null ? undefined : { Allow: allow });
}

export const NOT_FOUND: HttpAnswer = textAnswer(404, '404 page not found');

/** Go's server refuses a request-target whose path does not unescape. */
export const BAD_REQUEST: HttpAnswer = {
  kind: 'http',
  status: 400,
  headers: { 'Content-Type': TEXT_PLAIN, Connection: 'close' },
  body: '400 Bad Request',
};

/** ServeMux's redirect to the cleaned path (http.Redirect, 301). */
function redirect(method: string, cleanPath: string, rawQuery: string): HttpAnswer {
  const location = escapePath(cleanPath) + (rawQuery === '' ? '' : '?' + rawQuery);
  const getOrHead = method === 'GET' || method === 'HEAD';
  const headers: Record<string, string> = { Location: location };
  if (getOrHead) headers['Content-Type'] = 'text/html; charset=utf-8';
  const body = method === 'GET' ? '<a href="' + htmlEscape(location) + '">Moved Permanently</a>.\n\n' : '';
  return { kind: 'http', status: 301, headers, body };
}

/** The decoded, mux-clean path of a request, or the answer Go's server gives instead. */
export interface ResolvedTarget {
  kind: 'target';
  path: string;
  rawQuery: string;
}

export function resolveTarget(method: string, rawUrl: string): ResolvedTarget | HttpAnswer {
  const { rawPath, rawQuery } = splitTarget(rawUrl);
  const path = unescape(rawPath, false);
  if (path instanceof EscapeError) return BAD_REQUEST;
  const clean = muxCleanPath(path);
  if (clean !== path && method !== 'CONNECT') return redirect(method, clean, rawQuery);
  return { kind: 'target', path, rawQuery };
}

/** Whether a decoded path is served by the keys handler (ServeMux patterns "/v2/keys" and "/v2/keys/"). */
export function isKeysPath(path: string): boolean {
  return path === KEYS_PREFIX || path.startsWith(KEYS_PREFIX + '/');
}

function isKeysMethod(m: string): m is 'HEAD' | 'GET' | 'PUT' | 'POST' | 'DELETE' {
  return m === 'GET' || m === 'PUT' || m === 'POST' || m === 'DELETE' || m === 'HEAD';
}

function invalid(code: (typeof Ecode)[keyof typeof Ecode], cause: string): V2Error {
  // etcd's request errors carry index 0: they are refused before the store.
  return new V2Error(code, cause, 0);
}

/** Go's r.ParseForm: body values (form-encoded PUT/POST/PATCH) first, then the query's. */
export function parseForm(method: string, rawQuery: string, contentType: string | undefined, body: string | Uint8Array | undefined): { form: FormValues; error: string | null } {
  const form: FormValues = new Map();
  let error: string | null = null;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const ct = contentType === undefined || contentType === '' ? 'application/octet-stream' : contentType;
    const mt = parseMediaType(ct);
    error = mt.error;
    if (mt.mediaType === 'application/x-www-form-urlencoded') {
      const bytes = body === undefined ? new Uint8Array(0) : typeof body === 'string' ? bytesOf(body) : body;
      if (bytes.length > FORM_BYTES_MAX) return { form, error: 'http: POST too large' };
      // Form text is URL-escaped ASCII; other bytes pass through unescape as-is.
      const e = parseQueryInto(form, decodeGoUtf8(bytes));
      error ??= e;
    }
  }
  const e = parseQueryInto(form, rawQuery);
  error ??= e;
  return { form, error };
}

function first(form: FormValues, key: string): string | undefined {
  const v = form.get(key);
  return v === undefined ? undefined : v[0];
}

/** getBool: absent is false; present must parse. */
function boolField(form: FormValues, key: string): boolean | null {
  const v = first(form, key);
  return v === undefined ? false : parseGoBool(v);
}

/** getUint64: absent is 0; present must parse. */
function uintField(form: FormValues, key: string): number | null {
  const v = first(form, key);
  return v === undefined ? 0 : parseGoUint64(v);
}

/**
 * etcd's parseKeyRequest over a request already routed to the keys handler
 * (decoded, mux-clean path under /v2/keys, allowed method).
 */
export function parseKeyRequest(
  method: 'HEAD' | 'GET' | 'PUT' | 'POST' | 'DELETE',
  decodedPath: string,
  rawQuery: string,
  contentType: string | undefined,
  body: string | Uint8Array | undefined,
): V2KeyRequest | V2Error {
  const { form, error } = parseForm(method, rawQuery, contentType, body);
  if (error !== null) return invalid(Ecode.InvalidForm, error);
  const path = goPathClean('/' + decodedPath.slice(KEYS_PREFIX.length));

  const prevIndex = uintField(form, 'prevIndex');
  if (prevIndex === null) return invalid(Ecode.IndexNaN, 'invalid value for "prevIndex"');
  const waitIndex = uintField(form, 'waitIndex');
  if (waitIndex === null) return invalid(Ecode.IndexNaN, 'invalid value for "waitIndex"');

  const recursive = boolField(form, 'recursive');
  if (recursive === null) return invalid(Ecode.InvalidField, 'invalid value for "recursive"');
  const sorted = boolField(form, 'sorted');
  if (sorted === null) return invalid(Ecode.InvalidField, 'invalid value for "sorted"');
  const wait = boolField(form, 'wait');
  if (wait === null) return invalid(Ecode.InvalidField, 'invalid value for "wait"');
  const dir = boolField(form, 'dir');
  if (dir === null) return invalid(Ecode.InvalidField, 'invalid value for "dir"');
  const quorum = boolField(form, 'quorum');
  if (quorum === null) return invalid(Ecode.InvalidField, 'invalid value for "quorum"');
  const stream = boolField(form, 'stream');
  if (stream === null) return invalid(Ecode.InvalidField, 'invalid value for "stream"');

  if (wait && method !== 'GET') return invalid(Ecode.InvalidField, '"wait" can only be used with GET requests');

  const prevValues = form.get('prevValue');
  const prevValue = prevValues?.[0] ?? '';
  if (prevValues !== undefined && prevValue === '') return invalid(Ecode.PrevValueRequired, '"prevValue" cannot be empty');

  const noValueOnSuccess = boolField(form, 'noValueOnSuccess');
  if (noValueOnSuccess === null) return invalid(Ecode.InvalidField, 'invalid value for "noValueOnSuccess"');

  // TTL is nullable: absent or empty means none.
  const ttlText = first(form, 'ttl');
  let ttl: number | null | undefined = ttlText === undefined ? undefined : null;
  if (ttlText !== undefined && ttlText !== '') {
    ttl = parseGoUint64(ttlText);
    if (ttl === null) return invalid(Ecode.TTLNaN, 'invalid value for "ttl"');
  }

  let prevExist: boolean | null = null;
  const prevExistText = first(form, 'prevExist');
  if (prevExistText !== undefined) {
    prevExist = parseGoBool(prevExistText);
    if (prevExist === null) return invalid(Ecode.InvalidField, 'invalid value for prevExist');
  }

  let refresh = false;
  const refreshText = first(form, 'refresh');
  if (refreshText !== undefined) {
    const r = parseGoBool(refreshText);
    if (r === null) return invalid(Ecode.InvalidField, 'invalid value for refresh');
    refresh = r;
    if (refresh) {
      const v = first(form, 'value');
      if (v !== undefined && v !== '') return invalid(Ecode.RefreshValue, 'A value was provided on a refresh');
      if (ttl === undefined || ttl === null) return invalid(Ecode.RefreshTTLRequired, 'No TTL value set');
    }
  }

  if (method === 'GET' || method === 'HEAD') {
    return { kind: 'get', method, path, recursive, sorted, quorum, wait, waitIndex, stream };
  }
  return {
    kind: 'write',
    req: {
      method,
      path,
      value: first(form, 'value') ?? '',
      dir,
      prevExist,
      prevValue,
      prevIndex,
      recursive,
      refresh,
    },
    ttl,
    ...(typeof ttl === 'number' && ttl > Number.MAX_SAFE_INTEGER && ttlText !== undefined ? { ttlExact: BigInt(ttlText) } : {}),
    noValueOnSuccess,
  };
}

/** The whole front door: routing as Go's server and mux do it, then parseKeyRequest. */
export function parseV2KeyRequest(input: RawV2Request): V2KeyRequest | V2Error | HttpAnswer {
  const target = resolveTarget(input.method, input.rawUrl);
  if (target.kind === 'http') return target;
  if (!isKeysPath(target.path)) return NOT_FOUND;
  if (!isKeysMethod(input.method)) return methodNotAllowed(KEYS_ALLOW);
  return parseKeyRequest(input.method, target.path, target.rawQuery, input.contentType, input.body);
}

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/**
 * The write etcd would log: Expiration = now + ttl seconds in int64
 * nanoseconds, wrapping on overflow exactly as Go's time arithmetic does (a
 * huge ttl can land in the past or before 2000, which the store then treats
 * as no TTL, as etcd's store does).
 */
export function toWriteRequest(w: WriteKeyRequest, nowMs: number): WriteRequest {
  let expireAtMs: number | null = null;
  if (typeof w.ttl === 'number') {
    if (w.ttl <= 1_000_000_000) {
      // Thirty years: no int64 overflow is possible, plain arithmetic is exact.
      expireAtMs = nowMs + w.ttl * 1000;
    } else {
      const durNs = BigInt.asIntN(64, (w.ttlExact ?? BigInt(w.ttl)) * NS_PER_S);
      const expNs = BigInt.asIntN(64, BigInt(Math.trunc(nowMs)) * NS_PER_MS + durNs);
      expireAtMs = Number(expNs / NS_PER_MS);
    }
  }
  // Spelled out rather than spread ({...w.req, expireAtMs, nowMs}), which
  // showed in the write path's profile. The key order is the spread's: the
  // command is logged as a msgpack map, so it fixes the bytes in the WAL.
  const r = w.req;
  return {
    method: r.method,
    path: r.path,
    value: r.value,
    dir: r.dir,
    prevExist: r.prevExist,
    prevValue: r.prevValue,
    prevIndex: r.prevIndex,
    recursive: r.recursive,
    refresh: r.refresh,
    expireAtMs,
    nowMs,
  };
}
