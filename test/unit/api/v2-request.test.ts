// The pure v2 request parser against answers recorded from etcd 3.4.23
// (--enable-v2): every expected code and cause below was seen on the wire.

import { describe, expect, test } from 'vitest';
import { parseV2KeyRequest, toWriteRequest } from '../../../core-server/api/index.js';
import type { HttpAnswer, RawV2Request, V2KeyRequest, WriteKeyRequest } from '../../../core-server/api/index.js';
import { V2Error } from '../../../core-server/store/v2-error.js';
import { parseGoBool, parseGoUint64, goQuote } from '../../../core-server/api/go-strconv.js';
import { parseMediaType } from '../../../core-server/api/go-mime.js';
import { goJson } from '../../../core-server/api/go-json.js';
import { goDurationFromMs } from '../../../core-server/api/go-duration.js';

const FORM_CT = 'application/x-www-form-urlencoded';

function parse(method: string, rawUrl: string, body?: string, contentType?: string): V2KeyRequest | V2Error | HttpAnswer {
  const input: RawV2Request = { method, rawUrl, contentType: contentType ?? (body === undefined ? undefined : FORM_CT), body };
  return parseV2KeyRequest(input);
}

function err(r: V2KeyRequest | V2Error | HttpAnswer): { code: number; cause: string; status: number } {
  if (!(r instanceof V2Error)) throw new Error('expected a V2Error, got ' + JSON.stringify(r));
  return { code: r.errorCode, cause: r.cause, status: r.status };
}

function ok(r: V2KeyRequest | V2Error | HttpAnswer): V2KeyRequest {
  if (r instanceof V2Error || r.kind === 'http') throw new Error('expected a request, got ' + JSON.stringify(r));
  return r;
}

function write(r: V2KeyRequest | V2Error | HttpAnswer): WriteKeyRequest {
  const v = ok(r);
  if (v.kind !== 'write') throw new Error('expected a write');
  return v;
}

function http(r: V2KeyRequest | V2Error | HttpAnswer): HttpAnswer {
  if (r instanceof V2Error || r.kind !== 'http') throw new Error('expected an HTTP answer, got ' + JSON.stringify(r));
  return r;
}

describe('field validation (codes and causes as etcd sends them)', () => {
  test.each([
    ['/v2/keys/foo?recursive=yes', 209, 'invalid value for "recursive"'],
    ['/v2/keys/foo?recursive=', 209, 'invalid value for "recursive"'],
    ['/v2/keys/foo?recursive', 209, 'invalid value for "recursive"'],
    ['/v2/keys/foo?sorted=bad', 209, 'invalid value for "sorted"'],
    ['/v2/keys/foo?wait=bad', 209, 'invalid value for "wait"'],
    ['/v2/keys/foo?dir=bad', 209, 'invalid value for "dir"'],
    ['/v2/keys/foo?quorum=bad', 209, 'invalid value for "quorum"'],
    ['/v2/keys/foo?stream=bad', 209, 'invalid value for "stream"'],
    ['/v2/keys/foo?waitIndex=-1', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?waitIndex=', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?waitIndex=%2B5', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?waitIndex=0x5', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?waitIndex=99999999999999999999', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?prevIndex=1_000', 203, 'invalid value for "prevIndex"'],
    // prevIndex is checked before waitIndex, and both before the booleans.
    ['/v2/keys/foo?recursive=bad&waitIndex=bad', 203, 'invalid value for "waitIndex"'],
    ['/v2/keys/foo?noValueOnSuccess=maybe', 209, 'invalid value for "noValueOnSuccess"'],
    ['/v2/keys/foo?a=%zz', 210, 'invalid URL escape "%zz"'],
    ['/v2/keys/foo?a=%z', 210, 'invalid URL escape "%z"'],
    ['/v2/keys/foo?a=1;b=2', 210, 'invalid semicolon separator in query'],
    // The semicolon error wins over an earlier bad escape (Go assigns it unconditionally).
    ['/v2/keys/foo?a=%zz&b;c', 210, 'invalid semicolon separator in query'],
    ['/v2/keys/foo?wait=true&stream=bad', 209, 'invalid value for "stream"'],
  ])('GET %s → %i', (url, code, cause) => {
    const e = err(parse('GET', url));
    expect(e.code).toBe(code);
    expect(e.cause).toBe(cause);
    expect(e.status).toBe(400);
  });

  test.each([
    ['ttl=abc', 202, 'invalid value for "ttl"'],
    ['ttl=-5', 202, 'invalid value for "ttl"'],
    ['refresh=true&value=x', 211, 'A value was provided on a refresh'],
    ['refresh=true&value=', 212, 'No TTL value set'],
    ['refresh=true&ttl=', 212, 'No TTL value set'],
    ['refresh=yes', 209, 'invalid value for refresh'],
    ['refresh=', 209, 'invalid value for refresh'],
    ['prevExist=maybe', 209, 'invalid value for prevExist'],
    ['prevExist=', 209, 'invalid value for prevExist'],
    ['prevValue=', 201, '"prevValue" cannot be empty'],
    ['prevIndex=abc', 203, 'invalid value for "prevIndex"'],
    ['value=%zz', 210, 'invalid URL escape "%zz"'],
    ['value=a;b', 210, 'invalid semicolon separator in query'],
    ['wait=true', 209, '"wait" can only be used with GET requests'],
  ])('PUT body %s → %i', (body, code, cause) => {
    const e = err(parse('PUT', '/v2/keys/q', body));
    expect(e).toMatchObject({ code, cause });
  });

  test('wait is refused on HEAD, DELETE and POST too', () => {
    for (const m of ['HEAD', 'DELETE', 'POST']) {
      expect(err(parse(m, '/v2/keys/q?wait=true')).code).toBe(209);
    }
  });
});

describe('form and query', () => {
  test('a form body value wins over the query value (Go ParseForm order)', () => {
    expect(write(parse('PUT', '/v2/keys/q?value=fromquery', 'value=frombody')).req.value).toBe('frombody');
  });

  test('a non-form body is ignored, the query counts', () => {
    for (const ct of ['text/plain', 'application/json', 'multipart/form-data; boundary=x', '']) {
      expect(write(parse('PUT', '/v2/keys/q?value=fromquery', 'value=frombody', ct)).req.value).toBe('fromquery');
    }
  });

  test('the form media type is matched case-insensitively, with parameters', () => {
    expect(write(parse('PUT', '/v2/keys/q', 'value=upper', 'APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8')).req.value).toBe('upper');
  });

  test('the body of a DELETE is never read (Go parses forms only for POST, PUT, PATCH)', () => {
    const w = write(parse('DELETE', '/v2/keys/q?prevValue=zzz', 'prevValue=upper'));
    expect(w.req.prevValue).toBe('zzz');
  });

  test.each([
    ['bad type;;', 'mime: expected slash after first token'],
    ['a/', 'mime: expected token after slash'],
    ['a/b c', 'mime: unexpected content after media subtype'],
    [';x=1', 'mime: no media type'],
    ['a/b; x', 'mime: invalid media parameter'],
    ['a/b; x=1; x=2', 'mime: duplicate parameter name'],
  ])('Content-Type %j → 210 %s', (ct, cause) => {
    expect(err(parse('PUT', '/v2/keys/q', 'value=x', ct))).toMatchObject({ code: 210, cause });
  });

  test('mime rules that are not errors', () => {
    expect(parseMediaType('bad')).toEqual({ mediaType: 'bad', error: null });
    expect(parseMediaType('a/b;')).toEqual({ mediaType: 'a/b', error: null });
    expect(parseMediaType('a/b; x="q\\"v"; x="q\\"v"')).toEqual({ mediaType: 'a/b', error: null });
  });

  test('+ and %20 are spaces in forms; empty ttl clears; first value counts', () => {
    const w = write(parse('PUT', '/v2/keys/q', 'value=a+b%20c&ttl=&value=second'));
    expect(w.req.value).toBe('a b c');
    expect(w.ttl).toBeNull();
    expect(toWriteRequest(w, 1000).expireAtMs).toBeNull();
  });

  test('value absent and value empty are both ""', () => {
    expect(write(parse('PUT', '/v2/keys/q')).req.value).toBe('');
    expect(write(parse('PUT', '/v2/keys/q?value=')).req.value).toBe('');
  });

  test('dir with a value is accepted (the store ignores the value)', () => {
    const w = write(parse('PUT', '/v2/keys/d1?dir=true&value=x'));
    expect(w.req).toMatchObject({ dir: true, value: 'x' });
  });

  test('all write fields', () => {
    const w = write(parse('PUT', '/v2/keys/a/b?prevExist=false&prevValue=pv&prevIndex=7&ttl=5&recursive=T&noValueOnSuccess=1', 'value=v'));
    expect(w.req).toEqual({ method: 'PUT', path: '/a/b', value: 'v', dir: false, prevExist: false, prevValue: 'pv', prevIndex: 7, recursive: true, refresh: false });
    expect(w.noValueOnSuccess).toBe(true);
    expect(toWriteRequest(w, 1_000_000)).toMatchObject({ expireAtMs: 1_005_000, nowMs: 1_000_000 });
  });

  test('refresh with a ttl is a valid write', () => {
    const w = write(parse('PUT', '/v2/keys/q', 'refresh=true&ttl=50'));
    expect(w.req.refresh).toBe(true);
    expect(w.ttl).toBe(50);
  });

  test('unknown parameters are ignored', () => {
    expect(ok(parse('GET', '/v2/keys/q?x&y=1&zz=%41'))).toMatchObject({ kind: 'get', path: '/q' });
  });
});

describe('gets', () => {
  test('all get fields, with Go booleans', () => {
    expect(ok(parse('GET', '/v2/keys/foo?recursive=TRUE&sorted=t&quorum=1&wait=True&waitIndex=05&stream=true'))).toEqual({
      kind: 'get',
      method: 'GET',
      path: '/foo',
      recursive: true,
      sorted: true,
      quorum: true,
      wait: true,
      waitIndex: 5,
      stream: true,
    });
  });

  test('the largest uint64 is a valid waitIndex', () => {
    const g = ok(parse('GET', '/v2/keys/foo?wait=true&waitIndex=18446744073709551615'));
    expect(g.kind === 'get' && g.waitIndex).toBe(Number(18446744073709551615n));
  });
});

describe('paths, as Go ServeMux and etcd see them', () => {
  test.each([
    ['/v2/keys', '/'],
    ['/v2/keys/', '/'],
    ['/v2/keys/foo/', '/foo'],
    ['/v2/keys/f%6Fo', '/foo'],
    ['/v2/keys%2Ffoo', '/foo'],
    ['/v2/keys/foo%2F', '/foo'],
    ['/v2/keys/a%20b', '/a b'],
    ['/v2/keys/a+b', '/a+b'],
    ['/v2/keys/%C3%A9', '/é'],
    ['/v2/keys/%FF', '/\ufffd'],
    ['/v2/keys/a%00b', '/a\u0000b'],
    ['/v2/keys/foo#frag', '/foo#frag'],
    ['http://example.com/v2/keys/abs', '/abs'],
  ])('%s → key %j', (url, key) => {
    const g = ok(parse('GET', url));
    expect(g.kind === 'get' && g.path).toBe(key);
  });

  test.each([
    ['/v2/keys//foo', '/v2/keys/foo'],
    ['/v2/keys/a/../foo', '/v2/keys/foo'],
    ['/v2/keys/./foo', '/v2/keys/foo'],
    ['/v2/keys/..', '/v2'],
    ['/v2/keys/../../x', '/x'],
    ['/v2/keys/%2e%2e/x', '/v2/x'],
    ['/v2/keys/a%2F..%2Ffoo', '/v2/keys/foo'],
    ['/v2/keys/foo%2F%2F', '/v2/keys/foo/'],
    ['/v2/keys/foo/..', '/v2/keys'],
    ['/v2/keys//a%20b?x=1', '/v2/keys/a%20b?x=1'],
  ])('%s → 301 %s', (url, location) => {
    const a = http(parse('GET', url));
    expect(a.status).toBe(301);
    expect(a.headers.Location).toBe(location);
    expect(a.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(a.body).toBe(`<a href="${location.replace(/&/g, '&amp;')}">Moved Permanently</a>.\n\n`);
  });

  test('a redirect for PUT has no body and no Content-Type; the query is kept', () => {
    const a = http(parse('PUT', '/v2/keys//foo?value=x'));
    expect(a).toEqual({ kind: 'http', status: 301, headers: { Location: '/v2/keys/foo?value=x' }, body: '' });
  });

  test('a bad escape in the path is Go server\'s bare 400', () => {
    expect(http(parse('GET', '/v2/keys/f%zzo'))).toMatchObject({ status: 400, body: '400 Bad Request' });
  });

  test('paths outside /v2/keys are 404 text', () => {
    for (const u of ['/v2/keysfoo', '/v2/Keys/foo', '/nothing']) {
      expect(http(parse('GET', u))).toMatchObject({ status: 404, body: '404 page not found\n' });
    }
  });

  test('405 for other methods, with etcd\'s Allow', () => {
    const a = http(parse('PATCH', '/v2/keys/foo'));
    expect(a.status).toBe(405);
    expect(a.headers).toMatchObject({ Allow: 'HEAD,GET,PUT,POST,DELETE', 'X-Content-Type-Options': 'nosniff' });
    expect(a.body).toBe('Method Not Allowed\n');
  });

  test('the redirect comes before the method check (as in Go)', () => {
    expect(http(parse('PATCH', '/v2/keys//foo')).status).toBe(301);
  });
});

describe('ttl arithmetic', () => {
  test('a huge ttl wraps like Go int64 nanoseconds', () => {
    const now = Date.UTC(2026, 10, 22);
    const w = write(parse('PUT', '/v2/keys/t?ttl=18446744073709551615'));
    // (2^64-1) s * 1e9 wraps to -1e9 ns: one second in the past, as etcd shows (ttl -1).
    expect(toWriteRequest(w, now).expireAtMs).toBe(now - 1000);
    const big = write(parse('PUT', '/v2/keys/t?ttl=9223372037'));
    expect(toWriteRequest(big, now).expireAtMs).toBeLessThan(Date.UTC(2000, 0, 1));
  });
});

describe('Go helpers', () => {
  test('ParseBool', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(f)).toBe(false);
    for (const x of ['', 'yes', 'tRUE', ' true', 'on']) expect(parseGoBool(x)).toBeNull();
  });

  test('ParseUint', () => {
    expect(parseGoUint64('0')).toBe(0);
    expect(parseGoUint64('007')).toBe(7);
    expect(parseGoUint64('18446744073709551615')).toBe(Number(18446744073709551615n));
    for (const x of ['', '-1', '+1', '1e3', ' 1', '18446744073709551616', '1_0']) expect(parseGoUint64(x)).toBeNull();
  });

  test('Quote', () => {
    expect(goQuote('%zz')).toBe('"%zz"');
    expect(goQuote('%\xff')).toBe('"%\\xff"');
    expect(goQuote('%"\\')).toBe('"%\\"\\\\"');
  });

  test('JSON escapes as Go does', () => {
    expect(goJson({ v: '<&>\u2028\u2029\b\f\x7f\\b' })).toBe('{"v":"\\u003c\\u0026\\u003e\\u2028\\u2029\\u0008\\u000c\x7f\\\\b"}');
    expect(goJson({ v: '\ufffd' })).toBe('{"v":"\\ufffd"}');
    expect(goJson({ v: 'plain' })).toBe('{"v":"plain"}');
  });

  test('Duration.String', () => {
    expect(goDurationFromMs(0)).toBe('0s');
    expect(goDurationFromMs(500)).toBe('500ms');
    expect(goDurationFromMs(2266)).toBe('2.266s');
    expect(goDurationFromMs(65_500)).toBe('1m5.5s');
    expect(goDurationFromMs(3_600_000)).toBe('1h0m0s');
  });
});
