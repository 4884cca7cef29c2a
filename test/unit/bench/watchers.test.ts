import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWatchers } from '../../../bench/lib/watchers.js';
import { connectionsOn, connectionsTo } from '../../../bench/lib/sockets.js';
import { timeToFirstWrite } from '../../../bench/lib/failover.js';

// Polls a condition the test is waiting for; bounded so a bug fails instead of hanging.
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

describe('openWatchers', () => {
  // A long-poll server: flushes headers on registration, answers every watcher when fire() is called.
  const waiting: http.ServerResponse[] = [];
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      waiting.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('registers every watcher from spread source addresses, then sees each get the event', async () => {
    const n = 250; // more than one source address' worth
    const fleet = await openWatchers({ port, path: '/v2/keys/w?wait=true', count: n });
    await until(() => waiting.length === n && fleet.headsSeen() === n);
    expect(fleet.completed()).toBe(0);
    // This process holds both ends: n accepted from 127.0.0.2+ and n connections to the port.
    expect(connectionsOn(process.pid, port, (a) => a !== '127.0.0.1')).toBe(n);
    expect(connectionsTo(process.pid, [port])).toBe(n);

    const t0 = process.hrtime.bigint();
    for (const res of waiting.splice(0)) res.end('{"action":"set","node":{"value":"v1"}}');
    expect(await fleet.waitAllDone(10_000)).toBe(true);
    expect(fleet.completed()).toBe(n);
    expect(fleet.failed().count).toBe(0);
    expect(fleet.countValid((b) => (JSON.parse(b) as { node: { value: string } }).node.value === 'v1')).toBe(n);
    expect(fleet.countValid((b) => b.includes('other'))).toBe(0);
    const ms = fleet.completionMs(t0);
    expect(ms).toHaveLength(n);
    expect(ms.every((x) => x >= 0)).toBe(true);
    fleet.close();
  });

  it('counts connections that cannot be opened as failed', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const fleet = await openWatchers({ port: deadPort, path: '/', count: 3 });
    expect(await fleet.waitAllDone(10_000)).toBe(true);
    expect(fleet.failed().count).toBe(3);
    expect(fleet.failed().samples[0]).toBe('ECONNREFUSED');
    fleet.close();
  });
});

describe('timeToFirstWrite', () => {
  // Accepts writes until "killed", then refuses the next `refusals` with 503.
  let killed = false;
  let refusals = 0;
  let server: http.Server;
  let origin = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (killed && refusals > 0) {
          refusals--;
          res.writeHead(503).end('{"errorCode":300}');
        } else {
          res.writeHead(201).end('{}');
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

  const write = (n: number) => ({ method: 'PUT' as const, path: `/v2/keys/f/k${n}`, body: 'value=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  it('retries past refusals after the kill and reports the first acknowledged write', async () => {
    killed = false;
    refusals = 3;
    const r = await timeToFirstWrite(() => (killed = true), { origins: [origin, origin], request: write, ok: (s) => s === 201 });
    expect(Number.isFinite(r.ms)).toBe(true);
    expect(r.attempts).toBeGreaterThanOrEqual(4);
    expect(r.failures['503']).toBeGreaterThanOrEqual(1);
    expect(r.origin).toBe(origin);
  });

  it('gives up with NaN when no write is ever acknowledged, and refuses a cluster that fails before the kill', async () => {
    killed = false;
    refusals = 1_000_000;
    const r = await timeToFirstWrite(() => (killed = true), { origins: [origin], request: write, ok: (s) => s === 201, giveUpMs: 200 });
    expect(r.ms).toBeNaN();
    await expect(timeToFirstWrite(() => undefined, { origins: [origin], request: write, ok: (s) => s === 201 })).rejects.toThrow(/before the kill/);
    refusals = 0;
  });
});
