// Long polls (wait=true): headers flushed at once, one event then end (or a
// stream of lines), 401 when history is gone or a snapshot skips events,
// immediate removal on disconnect, a hard cap on open watches, and thousands
// of waiters released by one write.

import { afterEach, describe, expect, test } from 'vitest';
import { Pool, request } from 'undici';
import type { Dispatcher } from 'undici';
import { FORM, makeHarness } from './harness.js';
import type { Harness } from './harness.js';
import { createStore } from '../../../core-server/store/index.js';
import type { WriteRequest } from '../../../core-server/store/types.js';

let h: Harness | null = null;
afterEach(async () => {
  if (h === null) return;
  await h.app.close();
  await h.node.stop();
  h = null;
});

function setReq(path: string, value: string, nowMs = 0): WriteRequest {
  return { method: 'PUT', path, value, dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, expireAtMs: null, nowMs };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function listen(hh: Harness): Promise<string> {
  return hh.app.listen({ port: 0, host: '127.0.0.1' });
}

describe('watch via inject', () => {
  test('a waiting GET is answered by the next write, with the start index in X-Etcd-Index', async () => {
    h = await makeHarness();
    await h.node.propose(setReq('/other', 'x'));
    const pending = h.app.inject({ method: 'GET', url: '/v2/keys/w?wait=true' });
    await until(() => h!.node.store.stats().watchers === 1, 'the watcher');
    await h.app.inject({ method: 'PUT', url: '/v2/keys/w', headers: FORM, payload: 'value=1' });
    const r = await pending;
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-etcd-index']).toBe('1');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-raft-term']).toBe(String(h.node.raftTerm));
    expect(r.body).toBe('{"action":"set","node":{"key":"/w","value":"1","modifiedIndex":2,"createdIndex":2}}\n');
    expect(h.node.store.stats().watchers).toBe(0);
  });

  test('a waitIndex in the history answers at once; recursive sees children', async () => {
    h = await makeHarness();
    await h.node.propose(setReq('/d/a', '1'));
    await h.node.propose(setReq('/d/b', '2'));
    const r = await h.app.inject({ method: 'GET', url: '/v2/keys/d?wait=true&recursive=true&waitIndex=2' });
    expect(r.body).toBe('{"action":"set","node":{"key":"/d/b","value":"2","modifiedIndex":2,"createdIndex":2}}\n');
    expect(r.headers['x-etcd-index']).toBe('2');
  });

  test('a waitIndex older than the history is 401', async () => {
    h = await makeHarness();
    for (let i = 0; i < 1005; i++) await h.node.propose(setReq('/k', String(i)));
    const r = await h.app.inject({ method: 'GET', url: '/v2/keys/k?wait=true&waitIndex=1' });
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ errorCode: 401, message: 'The event in requested index is outdated and cleared' });
  });

  test('a snapshot that skips events answers the waiting client with 401', async () => {
    h = await makeHarness();
    const pending = h.app.inject({ method: 'GET', url: '/v2/keys/w?wait=true' });
    await until(() => h!.node.store.stats().watchers === 1, 'the watcher');
    // A short history that no longer reaches the watcher's next index (1).
    const other = createStore({ historyMax: 2 });
    for (let i = 0; i < 5; i++) other.apply({ op: 'write', req: setReq('/x', String(i)) });
    h.node.store.restore(other.snapshot());
    const r = await pending;
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ errorCode: 401 });
    expect(h.node.store.stats().watchers).toBe(0);
  });

  test('watchersMax refuses the next watch at once with 503 and Retry-After', async () => {
    h = await makeHarness({ watchersMax: 1 });
    const pending = h.app.inject({ method: 'GET', url: '/v2/keys/w?wait=true' });
    await until(() => h!.node.store.stats().watchers === 1, 'the watcher');
    const r = await h.app.inject({ method: 'GET', url: '/v2/keys/w?wait=true' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(JSON.parse(r.body).cause).toBe('too many watchers');
    expect((await h.app.inject({ url: '/metrics' })).body).toContain('raftgate_core_watchers_refused_total 1');
    await h.node.propose(setReq('/w', '1'));
    expect((await pending).statusCode).toBe(200);
  });
});

describe('watch over real sockets', () => {
  test('headers are flushed before any event; stream=true writes one line per event', async () => {
    h = await makeHarness();
    const url = await listen(h);
    const res = await request(url + '/v2/keys/w?wait=true&stream=true');
    // Headers arrived although nothing has been written yet.
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-etcd-index']).toBe('0');
    const chunks: string[] = [];
    res.body.setEncoding('utf8');
    res.body.on('data', (c: string) => chunks.push(c));
    await h.node.propose(setReq('/w', '1'));
    await h.node.propose(setReq('/w', '2'));
    await until(() => chunks.join('').split('\n').length >= 3, 'two lines');
    expect(chunks.join('')).toBe(
      '{"action":"set","node":{"key":"/w","value":"1","modifiedIndex":1,"createdIndex":1}}\n' +
        '{"action":"set","node":{"key":"/w","value":"2","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/w","value":"1","modifiedIndex":1,"createdIndex":1}}\n',
    );
    expect(h.node.store.stats().watchers).toBe(1);
    res.body.destroy();
    await until(() => h!.node.store.stats().watchers === 0, 'the watcher to be removed');
    const m = await h.app.inject({ url: '/metrics' });
    expect(m.body).toContain('raftgate_core_watchers 0');
  });

  test('a client that disconnects from a long poll is removed at once', async () => {
    h = await makeHarness();
    const url = await listen(h);
    const ac = new AbortController();
    const res = await request(url + '/v2/keys/w?wait=true', { signal: ac.signal });
    expect(res.statusCode).toBe(200);
    expect(h.node.store.stats().watchers).toBe(1);
    ac.abort();
    await until(() => h!.node.store.stats().watchers === 0, 'the watcher to be removed');
  });

  test('2,000 concurrent long polls are all released by one write, then all removed', async () => {
    const n = 2000;
    h = await makeHarness({ watchersMax: n });
    const url = await listen(h);
    const pool = new Pool(url, { connections: n, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
    try {
      const responses: Promise<Dispatcher.ResponseData>[] = [];
      for (let i = 0; i < n; i++) responses.push(pool.request({ method: 'GET', path: '/v2/keys/hot?wait=true' }));
      await until(() => h!.node.store.stats().watchers === n, `${n} watchers`, 30_000);
      await h.node.propose(setReq('/hot', 'go'));
      const bodies = await Promise.all(
        responses.map(async (p) => {
          const r = await p;
          expect(r.statusCode).toBe(200);
          return r.body.text();
        }),
      );
      expect(new Set(bodies)).toEqual(new Set(['{"action":"set","node":{"key":"/hot","value":"go","modifiedIndex":1,"createdIndex":1}}\n']));
      expect(h.node.store.stats().watchers).toBe(0);
      // The app still answers normally afterwards.
      expect((await h.app.inject({ url: '/v2/keys/hot' })).statusCode).toBe(200);
    } finally {
      await pool.destroy();
    }
  });
});
