// Writes through the proxy (inject): the member's bytes, what a client is
// told when a write cannot be placed or its outcome is unknown, and the
// readonly mode answering every non-GET as etcd's readonly proxy does.

import { afterEach, describe, expect, test } from 'vitest';
import { ProxyError } from '../../../proxy/errors.js';
import { besideMember, FORM, makeProxy } from './app-harness.js';
import type { ProxyHarness, SideBySideRequest } from './app-harness.js';

let h: ProxyHarness;
afterEach(async () => {
  await h?.app.close();
});

describe('readwrite', () => {
  test('a sequence of writes and reads gives the member\'s exact answers', async () => {
    h = await makeProxy();
    const steps: SideBySideRequest[] = [
      { method: 'PUT', url: '/v2/keys/a', payload: 'value=1' },
      { method: 'PUT', url: '/v2/keys/a?prevExist=false', payload: 'value=2' },
      { method: 'PUT', url: '/v2/keys/a?prevValue=1', payload: 'value=3' },
      { method: 'PUT', url: '/v2/keys/a?prevValue=nope', payload: 'value=4' },
      { method: 'PUT', url: '/v2/keys/a?noValueOnSuccess=true', payload: 'value=5' },
      { method: 'POST', url: '/v2/keys/q', payload: 'value=first' },
      { method: 'POST', url: '/v2/keys/q', payload: 'value=second' },
      { method: 'GET', url: '/v2/keys/q?recursive=true&sorted=true' },
      { method: 'PUT', url: '/v2/keys/d/e', payload: 'value=x' },
      { method: 'DELETE', url: '/v2/keys/d' },
      { method: 'DELETE', url: '/v2/keys/d?recursive=true' },
      { method: 'GET', url: '/v2/keys/d' },
      { method: 'GET', url: '/v2/keys/?sorted=true' },
      { method: 'DELETE', url: '/v2/keys/a?prevIndex=1' },
    ];
    await besideMember(h, async (send) => {
      for (const s of steps) {
        const { want, got } = await send(s);
        expect(got.statusCode, `${s.method} ${s.url}`).toBe(want.statusCode);
        expect(got.body, `${s.method} ${s.url}`).toBe(want.body);
        expect(got.headers['x-etcd-index'], `${s.method} ${s.url}`).toBe(want.headers['x-etcd-index']);
      }
    });
  });

  test('no member reachable: 503 with Retry-After (nothing was applied); outcome unknown: 500, never retried', async () => {
    h = await makeProxy();
    h.up.nextWriteError = new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'no member', { sent: false });
    const a = await h.app.inject({ method: 'PUT', url: '/v2/keys/a', headers: FORM, payload: 'value=1' });
    expect(a.statusCode).toBe(503);
    expect(a.headers['retry-after']).toBe('1');
    expect(JSON.parse(a.body)).toEqual({ errorCode: 300, message: 'Raft Internal Error', cause: 'upstream_unreachable', index: 0 });
    h.up.nextWriteError = new ProxyError('RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN', 'connection lost after sending', { sent: true });
    const b = await h.app.inject({ method: 'POST', url: '/v2/keys/q', headers: FORM, payload: 'value=1' });
    expect(b.statusCode).toBe(500);
    expect(b.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(b.body)).toMatchObject({ errorCode: 300, cause: 'upstream_outcome_unknown' });
    expect(h.up.calls.write).toBe(2);
  });
});

describe('readonly', () => {
  test('every non-GET is 501 with an empty body, as etcd --proxy readonly answers; GETs and /metrics still work', async () => {
    h = await makeProxy(['--mode', 'readonly']);
    for (const method of ['PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'] as const) {
      for (const url of ['/v2/keys/a', '/v2/keys/a?value=1', '/v2/members', '/version', '/nothing']) {
        const r = await h.app.inject({ method, url, headers: FORM, payload: method === 'HEAD' || method === 'OPTIONS' ? undefined : 'value=1' });
        expect(r.statusCode, `${method} ${url}`).toBe(501);
        expect(r.body).toBe('');
        expect(r.headers['content-type']).toBeUndefined();
        expect(r.headers['content-length']).toBe('0');
      }
    }
    expect(h.up.calls.write).toBe(0);
    h.up.direct({ kind: 'write', req: { method: 'PUT', path: '/a', value: 'v', dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false }, ttl: undefined, noValueOnSuccess: false });
    h.up.pump();
    expect((await h.app.inject({ method: 'GET', url: '/v2/keys/a' })).statusCode).toBe(200);
    const m = await h.app.inject({ method: 'POST', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('raftgate_proxy_http_requests_total');
  });
});

describe('pass-through and local routes', () => {
  test('/v2/members and /v2/stats go to a member; /version is answered locally; unknown paths 404', async () => {
    h = await makeProxy();
    const m = await h.app.inject({ method: 'GET', url: '/v2/members' });
    expect(m.statusCode).toBe(200);
    expect(m.headers['x-forwarded-path']).toBe('/v2/members');
    expect((await h.app.inject({ method: 'GET', url: '/v2/stats/leader' })).headers['x-forwarded-path']).toBe('/v2/stats/leader');
    expect(h.up.calls.forward).toBe(2);
    const v = await h.app.inject({ method: 'GET', url: '/version' });
    expect(JSON.parse(v.body)).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    expect((await h.app.inject({ method: 'GET', url: '/raftgate/v1/native' })).statusCode).toBe(404);
    h.up.unreachable = true;
    const down = await h.app.inject({ method: 'GET', url: '/v2/members' });
    expect(down.statusCode).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ errorCode: 300, cause: 'upstream_unreachable' });
  });
});
