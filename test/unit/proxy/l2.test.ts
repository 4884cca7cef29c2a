// The shared L2 cache (ioredis-mock): a fleet of proxies shares answers, but
// one proxy uses another's answer stamped J for key k only if its OWN event
// ring shows nothing after J that could change k.

import RedisMock from 'ioredis-mock';
import { afterEach, describe, expect, test } from 'vitest';
import type { RedisLike } from '../../../proxy/cache/l2.js';
import { makeProxy } from './app-harness.js';
import type { ProxyHarness } from './app-harness.js';
import { FakeUpstream, putReq } from './fake-upstream.js';

const opened: ProxyHarness[] = [];
afterEach(async () => {
  for (const h of opened.splice(0)) await h.app.close();
});

/** Two proxies in front of the same core, sharing one Redis. */
async function fleet(argv: string[] = []): Promise<{ a: ProxyHarness; b: ProxyHarness; redis: RedisLike }> {
  const redis = new RedisMock() as unknown as RedisLike;
  const a = await makeProxy(argv, { redis });
  // b watches the same store: same events, same indexes.
  const b = await makeProxy(argv, { redis, up: new FakeUpstream(a.up.store) });
  b.clock.ms = a.clock.ms;
  opened.push(a, b);
  return { a, b, redis };
}

const get = (h: ProxyHarness, url: string) => h.app.inject({ method: 'GET', url });
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('L2 cache', () => {
  test('an answer one proxy read is an L2 hit for another, with no member read', async () => {
    const { a, b } = await fleet();
    a.up.direct(putReq('/k', 'v1'));
    a.up.pump();
    b.up.pump();
    expect((await get(a, '/v2/keys/k')).headers['x-cache']).toBe('MISS');
    await settle(); // the write to Redis is fire-and-forget
    const rb = await get(b, '/v2/keys/k');
    expect(rb.headers['x-cache']).toBe('L2-HIT');
    expect(JSON.parse(rb.body).node.value).toBe('v1');
    expect(b.up.calls.get).toBe(0);
    // and from then on an ordinary L1 hit
    expect((await get(b, '/v2/keys/k')).headers['x-cache']).toBe('HIT');
    expect(b.app.raftgate.l2?.stats()).toMatchObject({ hits: 1 });
  });

  test('an L2 answer is refused once the proxy\'s own ring shows the key changed after it', async () => {
    const { a, b } = await fleet();
    a.up.direct(putReq('/k', 'v1'));
    a.up.pump();
    b.up.pump();
    await get(a, '/v2/keys/k'); // L2 now holds v1 at index 1
    await settle();
    // k changes; only b hears it (a is elsewhere, its L2 entry stays).
    b.up.direct(putReq('/k', 'v2'));
    b.up.pump();
    const rb = await get(b, '/v2/keys/k');
    expect(rb.headers['x-cache']).toBe('MISS');
    expect(JSON.parse(rb.body).node.value).toBe('v2');
    expect(b.up.calls.get).toBe(1);
    expect(b.app.raftgate.l2?.stats()).toMatchObject({ rejected: 1, hits: 0 });
  });

  test('changes to other keys do not spoil it; an answer is re-stamped at the proxy\'s own index', async () => {
    const { a, b } = await fleet();
    a.up.direct(putReq('/d/k', 'v1'));
    a.up.pump();
    b.up.pump();
    await get(a, '/v2/keys/d/k');
    await settle();
    b.up.direct(putReq('/other', 'x'));
    b.up.direct(putReq('/d2/k', 'y')); // a string prefix of /d but not inside it
    b.up.pump();
    const rb = await get(b, '/v2/keys/d/k');
    expect(rb.headers['x-cache']).toBe('L2-HIT');
    expect(rb.headers['x-etcd-index']).toBe('3');
    // ... but a change inside a directory spoils the directory's listing
    await get(a, '/v2/keys/d');
    await settle();
    b.up.direct(putReq('/d/new', 'z'));
    b.up.pump();
    const dir = await get(b, '/v2/keys/d');
    expect(dir.headers['x-cache']).toBe('MISS');
    expect(JSON.parse(dir.body).node.nodes).toHaveLength(2);
  });

  test('an answer older than the proxy\'s ring is refused: the ring cannot vouch for it', async () => {
    const { a, b } = await fleet(['--event-history-max', '3']);
    a.up.direct(putReq('/k', 'v1'));
    a.up.pump();
    await get(a, '/v2/keys/k');
    await settle();
    for (let i = 0; i < 5; i++) b.up.direct(putReq(`/x${i}`, 'x'));
    b.up.pump();
    expect((await get(b, '/v2/keys/k')).headers['x-cache']).toBe('MISS');
    expect(b.app.raftgate.l2?.stats()).toMatchObject({ rejected: 1 });
  });

  test('Redis failing costs hits, never answers', async () => {
    const broken: RedisLike = {
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      set: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const h = await makeProxy([], { redis: broken });
    opened.push(h);
    h.up.direct(putReq('/k', 'v1'));
    h.up.pump();
    const r = await get(h, '/v2/keys/k');
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-cache']).toBe('MISS');
    await settle();
    expect(h.app.raftgate.l2?.stats().errors).toBe(2);
  });
});
