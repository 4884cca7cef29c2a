// A core member's native server over the real Raft driver of a one-member
// cluster whose log is memory (it can be made to hang), on 127.0.0.1 and a
// kernel-chosen port; and clients for it.

import { pino } from 'pino';
import { afterEach } from 'vitest';
import { startNativeServer } from '../../../core-server/api/native/server.js';
import type { NativeServer, NativeServerOptions } from '../../../core-server/api/native/server.js';
import type { RaftNode } from '../../../core-server/node/driver.js';
import type { StoreOptions } from '../../../core-server/store/index.js';
import type { WriteKeyRequest } from '../../../core-server/api/v2-request.js';
import type { WriteRequest } from '../../../core-server/store/types.js';
import type { Registry } from 'prom-client';
import { startMemoryMember, type MemoryLog } from '../../helpers/memory-member.js';
import { MEMBER_ID, CLUSTER_ID } from '../api/harness.js';

export { MEMBER_ID, CLUSTER_ID };

export const silent = pino({ level: 'silent' });

export interface Core {
  node: RaftNode;
  /** The member's log: `hang = true` holds writes in flight until `release()`. */
  sink: MemoryLog;
  registry: Registry;
  server: NativeServer;
  url: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export type CoreOptions = Partial<Omit<NativeServerOptions, 'node' | 'listen' | 'logger' | 'registry'>> & { store?: StoreOptions; port?: number };

export async function startCore(o: CoreOptions = {}): Promise<Core> {
  const { node, log, registry } = await startMemoryMember({
    memberId: MEMBER_ID,
    clusterId: CLUSTER_ID,
    name: 'native-test',
    ...(o.store !== undefined ? { store: o.store } : {}),
  });
  const { store: _s, port: _p, ...rest } = o;
  const start = (port: number) =>
    startNativeServer({
      node,
      listen: { host: '127.0.0.1', port },
      logger: silent,
      registry,
      connectionsMax: 64,
      inflightPerConnectionMax: 4096,
      ...rest,
    });
  let server = await start(o.port ?? 0);
  const port = server.port;
  const core: Core = {
    node,
    sink: log,
    registry,
    get server() {
      return server;
    },
    url: `http://127.0.0.1:${port}`,
    async restart() {
      await server.close();
      server = await start(port);
    },
    async close() {
      log.release();
      await server.close();
      await node.stop();
    },
  };
  return core;
}

/** A parsed write, as the proxy's parseKeyRequest would hand it over. */
export function put(path: string, value: string, over: Partial<Omit<WriteRequest, 'expireAtMs' | 'nowMs'>> = {}, ttl?: number | null): WriteKeyRequest {
  return {
    kind: 'write',
    req: { method: 'PUT', path, value, dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false, ...over },
    ttl,
    noValueOnSuccess: false,
  };
}

export function getParams(path: string, o: { recursive?: boolean; sorted?: boolean; quorum?: boolean } = {}) {
  return { path, recursive: o.recursive ?? false, sorted: o.sorted ?? false, quorum: o.quorum ?? false };
}

/** Poll until cond() holds; bounded. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Things to undo after each test of the calling file, last registered first. */
export function afterEachCleanups(): { push(fn: () => Promise<void> | void): void } {
  const list: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of list.splice(0).reverse()) await c();
  });
  return { push: (fn) => void list.push(fn) };
}
