// Limits: each refuses exactly at its boundary, at once, naming the limit;
// a released slot is free again; refusals are counted by reason and
// answered 429 (the client's share) or 503 (the proxy's capacity) with
// Retry-After and etcd's error JSON.

import { describe, expect, test } from 'vitest';
import { ConnectionLimiter, InflightLimiter, LIMIT_REASONS, WatcherLimiter, isPerClient, refusal } from '../../../proxy/limits/index.js';
import type { Grant, Refused } from '../../../proxy/limits/index.js';

function grant(r: Grant | Refused): Grant {
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r;
}

describe('ConnectionLimiter', () => {
  test('per-client cap: the (max+1)th connection from one address is refused, others still get in', () => {
    const l = new ConnectionLimiter({ connectionsMax: 100, connectionsPerClientMax: 3 });
    const held = [1, 2, 3].map(() => grant(l.accept('10.0.0.1')));
    expect(l.accept('10.0.0.1')).toEqual({ ok: false, reason: 'connections_per_client' });
    expect(l.accept('10.0.0.2').ok).toBe(true);
    expect(l.openFor('10.0.0.1')).toBe(3);
    held[0]?.release();
    expect(l.accept('10.0.0.1').ok).toBe(true);
  });

  test('total cap: the (max+1)th connection is refused whoever it is from', () => {
    const l = new ConnectionLimiter({ connectionsMax: 4, connectionsPerClientMax: null });
    const held = ['a', 'b', 'c', 'd'].map((c) => grant(l.accept(c)));
    expect(l.open).toBe(4);
    expect(l.accept('e')).toEqual({ ok: false, reason: 'connections' });
    expect(l.accept('a')).toEqual({ ok: false, reason: 'connections' });
    for (const g of held) g.release();
    expect(l.open).toBe(0);
    expect(l.clients).toBe(0); // nothing kept per client once it has gone
    expect(l.accept('e').ok).toBe(true);
  });

  test('a client over its own share hears 429 even when the proxy is full too', () => {
    const l = new ConnectionLimiter({ connectionsMax: 2, connectionsPerClientMax: 2 });
    grant(l.accept('x'));
    grant(l.accept('x'));
    expect(l.accept('x')).toEqual({ ok: false, reason: 'connections_per_client' });
    expect(l.accept('y')).toEqual({ ok: false, reason: 'connections' });
  });

  test('release is idempotent: closing twice frees one slot', () => {
    const l = new ConnectionLimiter({ connectionsMax: 2, connectionsPerClientMax: 2 });
    const g = grant(l.accept('x'));
    grant(l.accept('x'));
    g.release();
    g.release();
    expect(l.open).toBe(1);
    expect(l.openFor('x')).toBe(1);
  });

  test('refusals are counted by reason', () => {
    const l = new ConnectionLimiter({ connectionsMax: 2, connectionsPerClientMax: 1 });
    grant(l.accept('a'));
    l.accept('a');
    l.accept('a');
    grant(l.accept('b'));
    l.accept('c');
    expect(l.refusals()).toEqual({ connections_per_client: 2, connections: 1 });
    expect(l.granted).toBe(2);
  });

  test('a zero cap refuses everything; a bad cap is a config error', () => {
    expect(new ConnectionLimiter({ connectionsMax: 0, connectionsPerClientMax: null }).accept('a')).toEqual({ ok: false, reason: 'connections' });
    expect(() => new ConnectionLimiter({ connectionsMax: -1, connectionsPerClientMax: null })).toThrow('RG_ERR_PROXY_CONFIG');
    expect(() => new ConnectionLimiter({ connectionsMax: 1, connectionsPerClientMax: 1.5 })).toThrow('RG_ERR_PROXY_CONFIG');
  });

  test('refusal is immediate: 100,000 refused accepts take well under a second and hold nothing', () => {
    const l = new ConnectionLimiter({ connectionsMax: 1, connectionsPerClientMax: 1 });
    grant(l.accept('hog'));
    const t = performance.now();
    for (let i = 0; i < 100_000; i++) l.accept(i % 2 === 0 ? 'hog' : `other${i}`);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(l.open).toBe(1);
    expect(l.clients).toBe(1);
  });
});

describe('InflightLimiter and WatcherLimiter', () => {
  test('inflight: refused at the boundary, free again on release', () => {
    const l = new InflightLimiter({ inflightMax: 2 });
    const a = grant(l.accept('c'));
    grant(l.accept('c'));
    expect(l.accept('d')).toEqual({ ok: false, reason: 'inflight' });
    a.release();
    expect(l.accept('d').ok).toBe(true);
  });

  test('inflight per client, when configured', () => {
    const l = new InflightLimiter({ inflightMax: 10, inflightPerClientMax: 1 });
    grant(l.accept('c'));
    expect(l.accept('c')).toEqual({ ok: false, reason: 'inflight_per_client' });
  });

  test('watchers: total and per client', () => {
    const l = new WatcherLimiter({ watchersMax: 3, watchersPerClientMax: 2 });
    grant(l.accept('a'));
    const a2 = grant(l.accept('a'));
    expect(l.accept('a')).toEqual({ ok: false, reason: 'watchers_per_client' });
    grant(l.accept('b'));
    expect(l.accept('c')).toEqual({ ok: false, reason: 'watchers' });
    a2.release();
    expect(l.accept('c').ok).toBe(true);
    expect(l.refusals()).toEqual({ watchers_per_client: 1, watchers: 1 });
  });
});

describe('refusal', () => {
  test('a per-client limit is 429 with Retry-After and etcd’s error JSON naming the limit', () => {
    const r = refusal('connections_per_client', 42, 2);
    expect(r.status).toBe(429);
    expect(r.headers['Retry-After']).toBe('2');
    expect(r.headers['X-Etcd-Index']).toBe('42');
    expect(r.body).toBe('{"errorCode":300,"message":"Raft Internal Error","cause":"connections_per_client","index":42}\n');
  });

  test.each(LIMIT_REASONS.filter((r) => r !== 'body_bytes'))('%s: 429 for a client’s share, 503 for the proxy’s capacity', (reason) => {
    const r = refusal(reason, 7);
    expect(r.status).toBe(isPerClient(reason) ? 429 : 503);
    expect(r.headers['Retry-After']).toBe('1');
    expect(JSON.parse(r.body)).toEqual({ errorCode: 300, message: 'Raft Internal Error', cause: reason, index: 7 });
  });

  test('an oversized body is 413 without Retry-After; Retry-After is whole seconds, at least 1', () => {
    expect(refusal('body_bytes', 1).status).toBe(413);
    expect(refusal('body_bytes', 1).headers['Retry-After']).toBeUndefined();
    expect(refusal('watchers', 1, 0.2).headers['Retry-After']).toBe('1');
    expect(refusal('watchers', 1, 2.5).headers['Retry-After']).toBe('3');
  });
});
