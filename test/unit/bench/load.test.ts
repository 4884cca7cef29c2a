import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad, formValueBody, formHeaders, makeValue, seededRandom } from '../../../bench/lib/load.js';

// A tiny server: /ok answers 200, /fail answers 500, PUT echoes the body length.
let server: http.Server;
let origin = '';
const connectionsSeen = new Set<unknown>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    connectionsSeen.add(req.socket);
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      if (req.url === '/fail') {
        res.writeHead(500).end('{"message":"boom"}');
      } else {
        res.writeHead(req.method === 'PUT' ? 201 : 200).end(JSON.stringify({ bytes: n }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('runLoad', () => {
  it('issues exactly totalRequests over keep-alive connections and records each latency', async () => {
    connectionsSeen.clear();
    const r = await runLoad({ origin, connections: 4, totalRequests: 200, next: () => ({ method: 'GET', path: '/ok' }) });
    expect(r.okCount).toBe(200);
    expect(r.errors).toBe(0);
    expect(r.latenciesUs.length).toBe(200);
    expect(r.aborted).toBe(false);
    expect(connectionsSeen.size).toBeLessThanOrEqual(4);
  });

  it('counts failed statuses apart, keeps them out of latency, and keeps a sample', async () => {
    const r = await runLoad({
      origin,
      connections: 2,
      totalRequests: 10,
      next: (seq) => ({ method: 'GET', path: seq % 2 === 0 ? '/ok' : '/fail' }),
    });
    expect(r.okCount).toBe(5);
    expect(r.errors).toBe(5);
    expect(r.failures).toEqual({ '500': 5 });
    expect(r.latenciesUs.length).toBe(5);
    expect(r.failureSamples[0]).toContain('boom');
  });

  it('stops on errorsMax and on the duration', async () => {
    const a = await runLoad({ origin, connections: 2, totalRequests: 1000, errorsMax: 10, next: () => ({ method: 'GET', path: '/fail' }) });
    expect(a.aborted).toBe(true);
    expect(a.errors).toBeLessThan(20);
    const started = Date.now();
    const b = await runLoad({ origin, connections: 2, durationMs: 200, next: () => ({ method: 'GET', path: '/ok' }) });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(b.okCount).toBeGreaterThan(0);
    expect(b.aborted).toBe(false);
  });

  it('sends form bodies', async () => {
    const value = makeValue(256);
    expect(value).toHaveLength(256);
    const r = await runLoad({
      origin,
      connections: 1,
      totalRequests: 3,
      next: () => ({ method: 'PUT', path: '/k', body: formValueBody(value), headers: formHeaders }),
      ok: (s) => s === 201,
    });
    expect(r.okCount).toBe(3);
  });

  it('refuses an unbounded run', async () => {
    await expect(runLoad({ origin, connections: 1, next: () => ({ method: 'GET', path: '/ok' }) })).rejects.toThrow(/bounded/);
  });

  it('gives both systems the same key sequence', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
