// Starts one core member as a process: storage, store, driver, HTTP API.
// This is the thin I/O shell around the pure store; nothing here decides
// what a request means.

import http from 'node:http';
import { pino, type Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreConfig } from '../config/index.js';
import { buildCoreApp, FORM_BYTES_MAX } from './api/index.js';
import { startNativeServer, type NativeServer } from './api/native/server.js';
import { SingleNode } from './node/index.js';
import { recoverStore } from './node/recover.js';
import { memberIdFor, clusterIdFor } from './node/ids.js';
import { openMemberStorage, type MemberStorage } from './node/storage.js';

export interface CoreServer {
  readonly node: SingleNode;
  readonly clientUrls: string[];
  close(): Promise<void>;
}

export interface CoreServerDeps {
  logger?: Logger;
  clock?: { nowMs(): number };
}

const systemClock = { nowMs: () => Date.now() };

export async function startCoreServer(config: CoreConfig, deps: CoreServerDeps = {}): Promise<CoreServer> {
  const log = deps.logger ?? pino({ level: config.logLevel, base: { member: config.name } });
  const clock = deps.clock ?? systemClock;

  if (config.initialCluster.length > 1) {
    // Replication is the next milestone; refuse rather than pretend.
    throw Object.assign(
      new Error(
        `--initial-cluster names ${config.initialCluster.length} members, but this build runs single-member clusters only (replication is not implemented yet)`,
      ),
      { code: 'RG_ERR_UNSUPPORTED' },
    );
  }

  const ids = () => {
    const memberIds = config.initialCluster.map((m) => memberIdFor(m.peerUrls, config.initialClusterToken));
    return { memberId: memberIdFor(config.initialAdvertisePeerUrls, config.initialClusterToken), clusterId: clusterIdFor(memberIds) };
  };
  const started = Date.now();
  const storage: MemberStorage = await openMemberStorage(config.dataDir, {
    walSegmentBytes: config.walSegmentBytes,
    newIdentity: ids,
    logger: log,
  });

  const { store, lastIndex } = recoverStore(storage);
  log.info(
    {
      memberId: storage.memberId,
      clusterId: storage.clusterId,
      snapshotIndex: storage.snapshot?.index ?? 0,
      replayed: storage.entries.length,
      raftIndex: lastIndex,
      etcdIndex: store.index,
      recoveryMs: Date.now() - started,
    },
    'member state recovered',
  );
  storage.releaseReplay();

  let snapshotting = false;
  let snapshotIndex = storage.snapshot?.index ?? 0;
  const node: SingleNode = new SingleNode({
    store,
    sink: storage,
    clock,
    memberId: storage.memberId,
    clusterId: storage.clusterId,
    name: config.name,
    peerURLs: config.initialAdvertisePeerUrls,
    clientURLs: config.advertiseClientUrls,
    lastIndex,
    term: 1,
    onApplied: (applied) => {
      if (snapshotting || applied - snapshotIndex < config.snapshotCount) return;
      // The store image is taken synchronously at `applied`, so it matches
      // the log exactly; writing it happens in the background.
      snapshotting = true;
      const image = store.snapshot();
      storage
        .saveSnapshot(applied, node.raftTerm, image)
        .then(() => {
          snapshotIndex = applied;
          log.info({ index: applied }, 'snapshot saved; older WAL segments released');
        })
        .catch((err: unknown) => log.error({ err }, 'snapshot failed; will retry at the next interval'))
        .finally(() => {
          snapshotting = false;
        });
    },
  });

  // Filled once the native listeners are bound (a configured port 0 becomes the real one).
  const nativeUrls: string[] = [];
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'raftgate_core_' });
  const app = buildCoreApp({
    node,
    registry,
    logger: log,
    // etcd reads v2 form bodies up to Go's 10 MiB form limit whatever
    // --max-request-bytes says (that flag bounds v3 requests); so does Raftgate.
    bodyBytesMax: Math.max(config.maxRequestBytes, FORM_BYTES_MAX),
    watchersMax: config.watchersMax,
    nativeUrls,
  });
  await app.ready();
  node.start();

  // Fastify listens once; any further client URL gets its own server that
  // hands requests to the same router.
  const servers: http.Server[] = [];
  const [first, ...rest] = config.listenClientUrls.map((u) => new URL(u));
  if (!first) throw new Error('no listen client URL');
  await app.listen({ host: first.hostname, port: Number(first.port) });
  for (const u of rest) {
    const srv = http.createServer((req, res) => app.server.emit('request', req, res));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(Number(u.port), u.hostname, () => resolve());
    });
    servers.push(srv);
  }
  log.info({ clientUrls: config.listenClientUrls, memberId: storage.memberId }, 'serving client requests');
  const natives: NativeServer[] = [];
  for (const u of config.listenNativeUrls.map((x) => new URL(x))) {
    const n = await startNativeServer({ node, listen: { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) }, logger: log, registry, connectionsMax: 1024, inflightPerConnectionMax: 4096 });
    natives.push(n);
    nativeUrls.push(`http://${u.hostname}:${n.port}`);
  }

  let closing: Promise<void> | null = null;
  return {
    node,
    clientUrls: config.listenClientUrls,
    close() {
      closing ??= (async () => {
        for (const s of servers) s.close();
        await Promise.all(natives.map((n) => n.close()));
        await node.stop();
        await app.close();
        await storage.close();
        log.info('member stopped');
      })();
      return closing;
    },
  };
}
