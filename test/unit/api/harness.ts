// A core app over a real store and a SingleNode whose log sink is memory:
// every test talks HTTP (inject) to the same stack a member runs.

import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildCoreApp } from '../../../core-server/api/index.js';
import { SingleNode } from '../../../core-server/node/index.js';
import type { LogEntry, LogSink } from '../../../core-server/node/index.js';
import { createStore } from '../../../core-server/store/index.js';

export const MEMBER_ID = '99bca5ffd3b6b513';
export const CLUSTER_ID = 'a10e20a2639400db';
export const T0_MS = Date.UTC(2026, 10, 22, 4, 0, 0);

export class MemorySink implements LogSink {
  readonly entries: LogEntry[] = [];
  fail: Error | null = null;
  async append(entries: LogEntry[]): Promise<void> {
    if (this.fail !== null) throw this.fail;
    this.entries.push(...entries);
  }
}

export interface Harness {
  app: FastifyInstance;
  node: SingleNode;
  sink: MemorySink;
  registry: Registry;
  clock: { ms: number };
}

export interface HarnessOptions {
  bodyBytesMax?: number;
  watchersMax?: number;
}

export async function makeHarness(o: HarnessOptions = {}): Promise<Harness> {
  const clock = { ms: T0_MS };
  const sink = new MemorySink();
  const node = new SingleNode({
    store: createStore(),
    sink,
    clock: { nowMs: () => clock.ms },
    memberId: MEMBER_ID,
    clusterId: CLUSTER_ID,
    name: 't',
    peerURLs: ['http://127.0.0.1:27380'],
    clientURLs: ['http://127.0.0.1:27379'],
    lastIndex: 0,
    term: 2,
  });
  const registry = new Registry();
  const app = buildCoreApp({ node, registry, bodyBytesMax: o.bodyBytesMax ?? 1 << 20, watchersMax: o.watchersMax ?? 10_000 });
  await app.ready();
  return { app, node, sink, registry, clock };
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
