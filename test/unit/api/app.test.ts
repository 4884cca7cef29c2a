// The core app over a real store and the Raft driver, through inject(): status
// codes, headers and bodies byte for byte as etcd 3.4.23 answers them.

import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CLUSTER_ID, FORM, MEMBER_ID, makeHarness } from './harness.js';
import type { Harness } from './harness.js';
import { V2Error, Ecode } from '../../../core-server/store/v2-error.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ bodyBytesMax: 64 * 1024 });
});
afterEach(async () => {
  await h.app.close();
  await h.node.stop();
});

const put = (url: string, body?: string) => h.app.inject({ method: 'PUT', url, headers: FORM, ...(body === undefined ? {} : { payload: body }) });
const get = (url: string) => h.app.inject({ method: 'GET', url });

describe('keys', () => {
  test('set creates with 201, replaces with 200, and carries etcd headers', async () => {
    const raftBefore = h.node.raftIndex;
    const a = await put('/v2/keys/foo', 'value=bar');
    expect(a.statusCode).toBe(201);
    expect(a.body).toBe('{"action":"set","node":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}}\n');
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.headers['x-etcd-cluster-id']).toBe(CLUSTER_ID);
    expect(a.headers['x-etcd-index']).toBe('1');
    // The write's own log entry: the one after what the member had applied.
    expect(a.headers['x-raft-index']).toBe(String(raftBefore + 1));
    expect(a.headers['x-raft-term']).toBe(String(h.node.raftTerm));
    expect(a.headers['access-control-allow-origin']).toBe('*');

    const b = await put('/v2/keys/foo', 'value=baz');
    expect(b.statusCode).toBe(200);
    expect(b.body).toBe(
      '{"action":"set","node":{"key":"/foo","value":"baz","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}}\n',
    );
  });

  test('get, missing key 404, HEAD without body', async () => {
    await put('/v2/keys/foo', 'value=baz');
    const g = await get('/v2/keys/foo');
    expect(g.statusCode).toBe(200);
    expect(g.body).toBe('{"action":"get","node":{"key":"/foo","value":"baz","modifiedIndex":1,"createdIndex":1}}\n');
    expect(g.headers['x-etcd-index']).toBe('1');

    const n = await get('/v2/keys/nope');
    expect(n.statusCode).toBe(404);
    expect(n.body).toBe('{"errorCode":100,"message":"Key not found","cause":"/nope","index":1}\n');
    expect(n.headers['x-etcd-index']).toBe('1');
    expect(n.headers['x-etcd-cluster-id']).toBe(CLUSTER_ID);
    expect(n.headers['x-raft-index']).toBeUndefined();

    const hd = await h.app.inject({ method: 'HEAD', url: '/v2/keys/foo' });
    expect(hd.statusCode).toBe(200);
    expect(hd.body).toBe('');
    expect(hd.headers['content-length']).toBe(String(g.body.length));
    expect((await h.app.inject({ method: 'HEAD', url: '/v2/keys/nope' })).statusCode).toBe(404);
  });

  test('the root lists the keyspace', async () => {
    await put('/v2/keys/foo', 'value=baz');
    for (const url of ['/v2/keys', '/v2/keys/']) {
      const r = await get(url);
      expect(r.body).toBe('{"action":"get","node":{"dir":true,"nodes":[{"key":"/foo","value":"baz","modifiedIndex":1,"createdIndex":1}]}}\n');
    }
  });

  test('POST creates in-order keys with 201', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/v2/keys/dq', headers: FORM, payload: 'value=1' });
    expect(r.statusCode).toBe(201);
    expect(r.body).toBe('{"action":"create","node":{"key":"/dq/00000000000000000001","value":"1","modifiedIndex":1,"createdIndex":1}}\n');
  });

  test('create, update, compareAndSwap, compareAndDelete, delete and their failures', async () => {
    expect((await put('/v2/keys/k?prevExist=false', 'value=1')).statusCode).toBe(201);
    const exists = await put('/v2/keys/k?prevExist=false', 'value=1');
    expect(exists.statusCode).toBe(412);
    expect(JSON.parse(exists.body)).toMatchObject({ errorCode: 105 });
    const upd = await put('/v2/keys/k?prevExist=true', 'value=2');
    expect(upd.statusCode).toBe(200);
    expect(JSON.parse(upd.body).action).toBe('update');
    const cas = await put('/v2/keys/k?prevValue=2', 'value=3');
    expect(JSON.parse(cas.body).action).toBe('compareAndSwap');
    const casFail = await put('/v2/keys/k?prevValue=zzz', 'value=4');
    expect(casFail.statusCode).toBe(412);
    expect(casFail.body).toBe('{"errorCode":101,"message":"Compare failed","cause":"[zzz != 3]","index":3}\n');
    const cad = await h.app.inject({ method: 'DELETE', url: '/v2/keys/k?prevIndex=3' });
    expect(cad.statusCode).toBe(200);
    expect(JSON.parse(cad.body).action).toBe('compareAndDelete');
    await put('/v2/keys/d/x', 'value=1');
    const notEmpty = await h.app.inject({ method: 'DELETE', url: '/v2/keys/d?dir=true' });
    expect(notEmpty.statusCode).toBe(403);
    const del = await h.app.inject({ method: 'DELETE', url: '/v2/keys/d?recursive=true' });
    expect(JSON.parse(del.body).action).toBe('delete');
  });

  test('noValueOnSuccess answers only the action', async () => {
    const r = await put('/v2/keys/q?noValueOnSuccess=true', 'value=nv');
    expect(r.body).toBe('{"action":"set"}\n');
  });

  test('ttl is rendered from the node clock', async () => {
    const r = await put('/v2/keys/t?ttl=50', 'value=1');
    expect(r.body).toBe('{"action":"set","node":{"key":"/t","value":"1","expiration":"2026-11-22T04:00:50Z","ttl":50,"modifiedIndex":1,"createdIndex":1}}\n');
  });

  test('Go JSON escaping in keys, values and causes', async () => {
    const r = await put('/v2/keys/%3Cx%3E?value=%3C%26%3E%E2%80%A8%08%0c%7f');
    expect(r.body).toBe('{"action":"set","node":{"key":"/\\u003cx\\u003e","value":"\\u003c\\u0026\\u003e\\u2028\\u0008\\u000c\x7f","modifiedIndex":1,"createdIndex":1}}\n');
    const n = await get('/v2/keys/%3Cy%3E');
    expect(n.body).toBe('{"errorCode":100,"message":"Key not found","cause":"/\\u003cy\\u003e","index":1}\n');
    const ff = await get('/v2/keys/%FF');
    expect(ff.body).toBe('{"errorCode":100,"message":"Key not found","cause":"/\\ufffd","index":1}\n');
  });

  test('percent-encoded slashes route like Go (decoded path)', async () => {
    await put('/v2/keys/foo', 'value=baz');
    expect((await get('/v2/keys%2Ffoo')).statusCode).toBe(200);
    expect((await get('/v2/keys/f%6Fo/')).statusCode).toBe(200);
  });

  test('parse errors are 400 with index 0 and the cluster id', async () => {
    const r = await get('/v2/keys/foo?recursive=yes');
    expect(r.statusCode).toBe(400);
    expect(r.body).toBe('{"errorCode":209,"message":"Invalid field","cause":"invalid value for \\"recursive\\"","index":0}\n');
    expect(r.headers['x-etcd-index']).toBe('0');
    expect(r.headers['x-etcd-cluster-id']).toBe(CLUSTER_ID);
  });

  test('a Content-Type fastify cannot parse still gets Go\'s mime error', async () => {
    const r = await h.app.inject({ method: 'PUT', url: '/v2/keys/q?value=x', headers: { 'content-type': 'bad type;;' }, payload: 'value=y' });
    expect(r.statusCode).toBe(400);
    expect(r.body).toBe('{"errorCode":210,"message":"Invalid POST form","cause":"mime: expected slash after first token","index":0}\n');
  });

  test('a JSON body on the keys route is ignored, not a 500', async () => {
    const r = await h.app.inject({ method: 'PUT', url: '/v2/keys/q?value=fromquery', headers: { 'content-type': 'application/json' }, payload: '{"value":' });
    expect(r.statusCode).toBe(201);
    expect(JSON.parse(r.body).node.value).toBe('fromquery');
  });

  test('quorum=true reads after the barrier, and wins over wait=true', async () => {
    await put('/v2/keys/foo', 'value=baz');
    const r = await get('/v2/keys/foo?wait=true&quorum=true');
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body).action).toBe('get');
  });

  test('405 with etcd\'s Allow, 301 for unclean paths, text 400 for bad escapes, OPTIONS 200', async () => {
    const m = await h.app.inject({ method: 'PATCH', url: '/v2/keys/foo' });
    expect(m.statusCode).toBe(405);
    expect(m.headers.allow).toBe('HEAD,GET,PUT,POST,DELETE');
    expect(m.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(m.body).toBe('Method Not Allowed\n');

    const r = await get('/v2/keys//foo');
    expect(r.statusCode).toBe(301);
    expect(r.headers.location).toBe('/v2/keys/foo');
    expect(r.body).toBe('<a href="/v2/keys/foo">Moved Permanently</a>.\n\n');

    const b = await get('/v2/keys/f%zzo');
    expect(b.statusCode).toBe(400);
    expect(b.body).toBe('400 Bad Request');

    const o = await h.app.inject({ method: 'OPTIONS', url: '/v2/keys//foo' });
    expect(o.statusCode).toBe(200);
    expect(o.body).toBe('');
    expect(o.headers['content-type']).toBeUndefined();
    expect(o.headers['access-control-allow-methods']).toBe('POST, GET, OPTIONS, PUT, DELETE');
  });

  test('a body over bodyBytesMax is refused as etcd refuses a form over Go\'s limit (400, 210)', async () => {
    const r = await put('/v2/keys/big', 'value=' + 'x'.repeat(70 * 1024));
    expect(r.statusCode).toBe(400);
    expect(r.body).toBe('{"errorCode":210,"message":"Invalid POST form","cause":"http: POST too large","index":0}\n');
    expect((await get('/v2/keys/big')).statusCode).toBe(404);
  });

  test('a propose rejected with a V2Error is written as that error', async () => {
    h.node.propose = () => Promise.reject(new V2Error(Ecode.LeaderElect, 'no leader', 7));
    const r = await put('/v2/keys/a', 'value=1');
    expect(r.statusCode).toBe(500);
    expect(r.body).toBe('{"errorCode":301,"message":"During Leader Election","cause":"no leader","index":7}\n');
  });

  test('any other failure is a 500 in etcd\'s shape, and the app keeps serving', async () => {
    h.sink.fail = new Error('disk on fire');
    const r = await put('/v2/keys/a', 'value=1');
    expect(r.statusCode).toBe(500);
    expect(r.body).toBe('{"errorCode":300,"message":"Raft Internal Error","cause":"disk on fire","index":0}\n');
    expect((await get('/v2/keys/a')).statusCode).toBe(404);
  });
});

describe('other endpoints', () => {
  test('/version', async () => {
    const r = await get('/version');
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
    expect(r.headers['content-type']).toBe('application/json');
    const p = await h.app.inject({ method: 'POST', url: '/version' });
    expect(p.statusCode).toBe(405);
    expect(p.headers.allow).toBe('GET');
  });

  test('/health: true with a leader, false (503) when stopped', async () => {
    const r = await get('/health');
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('{"health":"true"}');
    expect((await h.app.inject({ method: 'HEAD', url: '/health' })).statusCode).toBe(405);
    await h.node.stop();
    const d = await get('/health');
    expect(d.statusCode).toBe(503);
    expect(d.body).toBe('{"health":"false"}');
  });

  test('/v2/members, /v2/members/leader, unknown member paths', async () => {
    const r = await get('/v2/members');
    expect(r.body).toBe(`{"members":[{"id":"${MEMBER_ID}","name":"t","peerURLs":["http://127.0.0.1:27380"],"clientURLs":["http://127.0.0.1:27379"]}]}\n`);
    expect(r.headers['x-etcd-cluster-id']).toBe(CLUSTER_ID);
    expect((await get('/v2/members/')).body).toBe(r.body);
    const l = await get('/v2/members/leader');
    expect(l.body).toBe(`{"id":"${MEMBER_ID}","name":"t","peerURLs":["http://127.0.0.1:27380"],"clientURLs":["http://127.0.0.1:27379"]}\n`);
    const x = await get('/v2/members/xyz');
    expect(x.statusCode).toBe(404);
    expect(x.body).toBe('{"message":"Not found"}');
    const p = await h.app.inject({ method: 'PATCH', url: '/v2/members' });
    expect(p.headers.allow).toBe('GET,POST,DELETE,PUT');
  });

  test('/v2/machines', async () => {
    const r = await get('/v2/machines');
    expect(r.body).toBe('http://127.0.0.1:27379');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect((await h.app.inject({ method: 'POST', url: '/v2/machines' })).headers.allow).toBe('GET,HEAD');
  });

  test('/v2/stats/self, /store, /leader', async () => {
    h.clock.ms += 2266;
    const s = await get('/v2/stats/self');
    expect(s.body).toBe(
      `{"name":"t","id":"${MEMBER_ID}","state":"StateLeader","startTime":"2026-11-22T04:00:00Z","leaderInfo":{"leader":"${MEMBER_ID}","uptime":"2.266s","startTime":"2026-11-22T04:00:00Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":0}`,
    );
    await put('/v2/keys/a', 'value=1');
    const st = JSON.parse((await get('/v2/stats/store')).body);
    expect(Object.keys(st)[0]).toBe('getsSuccess');
    expect(st.setsSuccess).toBe(1);
    expect((await get('/v2/stats/leader')).body).toBe(`{"leader":"${MEMBER_ID}","followers":{}}`);
    expect((await get('/v2/stats/self/')).statusCode).toBe(404);
    expect((await get('/v2/stats')).statusCode).toBe(404);
  });

  test('unknown paths: text 404; unclean ones: 301', async () => {
    const r = await get('/nothing');
    expect(r.statusCode).toBe(404);
    expect(r.body).toBe('404 page not found\n');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect((await get('/nothing//x')).headers.location).toBe('/nothing/x');
  });

  test('/metrics counts requests by route, method and code', async () => {
    await put('/v2/keys/a', 'value=1');
    await get('/v2/keys/a');
    await get('/v2/keys/zz');
    const m = await get('/metrics');
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toContain('raftgate_core_http_requests_total{route="keys",method="PUT",code="201"} 1');
    expect(m.body).toContain('raftgate_core_http_requests_total{route="keys",method="GET",code="404"} 1');
    expect(m.body).toContain('raftgate_core_http_request_duration_seconds_bucket');
    expect(m.body).toContain('raftgate_core_store_index 1');
    expect(m.body).toContain('raftgate_core_watchers 0');
  });
});

test('buildCoreApp refuses nonsense limits', async () => {
  const { buildCoreApp } = await import('../../../core-server/api/index.js');
  const { Registry } = await import('prom-client');
  expect(() => buildCoreApp({ node: h.node, registry: new Registry(), bodyBytesMax: 0, watchersMax: 1 })).toThrow(/bodyBytesMax/);
});
