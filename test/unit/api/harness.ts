// A core app over the real Raft driver of a one-member cluster whose log is
// memory: every test talks HTTP (inject) to the same stack a member runs.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildCoreApp } from '../../../core-server/api/index.js';
import type { RaftNode } from '../../../core-server/node/driver.js';
import { startMemoryMember, type MemoryLog } from '../../helpers/memory-member.js';

export const MEMBER_ID = '99bca5ffd3b6b513';
export const CLUSTER_ID = 'a10e20a2639400db';
export const T0_MS = Date.UTC(2026, 10, 22, 4, 0, 0);

export interface Harness {
  app: FastifyInstance;
  node: RaftNode;
  /** The member's log; `fail` makes the next write fail as a broken disk would. */
  sink: MemoryLog;
  registry: Registry;
  clock: { ms: number };
}

export interface HarnessOptions {
  bodyBytesMax?: number;
  watchersMax?: number;
}

export async function makeHarness(o: HarnessOptions = {}): Promise<Harness> {
  const clock = { ms: T0_MS };
  const { node, log, registry } = await startMemoryMember({
    memberId: MEMBER_ID,
    clusterId: CLUSTER_ID,
    name: 't',
    peerURLs: ['http://127.0.0.1:27380'],
    clientURLs: ['http://127.0.0.1:27379'],
    clock: { nowMs: () => clock.ms },
  });
  const app = buildCoreApp({ node, registry, bodyBytesMax: o.bodyBytesMax ?? 1 << 20, watchersMax: o.watchersMax ?? 10_000 });
  await app.ready();
  return { app, node, sink: log, registry, clock };
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
