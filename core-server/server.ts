// Starts one core member as a process: storage, Raft driver, peer transport,
// HTTP API, native protocol. This is the thin I/O shell around the pure store
// and the pure Raft core; nothing here decides what a request means.

import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { CoreConfig } from '../config/index.js';
import { buildCoreApp, FORM_BYTES_MAX } from './api/index.js';
import { collectProcessMetrics } from './api/metrics.js';
import { startNativeServer, type NativeServer } from './api/native/server.js';
import { RaftNode } from './node/driver.js';
import type { MemberInfo } from './node/types.js';
import { memberIdFor, clusterIdFor } from './node/ids.js';
import { openMemberStorage, type MemberStorage } from './node/storage.js';
import { PeerTransport, peerAddress, queryCluster } from './transport/peer-transport.js';

export interface CoreServer {
  readonly node: RaftNode;
  readonly clientUrls: string[];
  /** Resolves (never rejects) when the member stops on its own: disk failure, removal, refused by its cluster. */
  readonly failed: Promise<Error & { code?: string }>;
  close(): Promise<void>;
}

export interface CoreServerDeps {
  logger?: Logger;
  clock?: { nowMs(): number };
}

const systemClock = { nowMs: () => Date.now() };

/** How long a joining member keeps asking the existing cluster who it is. */
const JOIN_WAIT_MS = 30_000;

/** Bytes of the files under `dir` (the WAL and snapshots), for status reports. */
function dirBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p).size;
    }
  };
  try {
    walk(dir);
  } catch {
    // a file went away mid-walk (a snapshot pruned, a segment released): close enough
  }
  return total;
}

export class CoreStartError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

async function joinIdentity(config: CoreConfig, log: Logger): Promise<{ memberId: string; clusterId: string; members: MemberInfo[] }> {
  const others = config.initialCluster.filter((m) => m.name !== config.name).flatMap((m) => m.peerUrls);
  if (others.length === 0) {
    throw new CoreStartError('RG_ERR_JOIN', '--initial-cluster-state existing needs --initial-cluster to list at least one running member besides this one');
  }
  const deadline = Date.now() + JOIN_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    const info = await queryCluster(others, 2000);
    if (info !== null) {
      const mine = new Set(config.initialAdvertisePeerUrls);
      const self = info.members.find((m) => m.peerURLs.some((u) => mine.has(u)));
      if (self === undefined) {
        throw new CoreStartError(
          'RG_ERR_JOIN',
          `cluster ${info.clusterId} has no member with peer URLs ${config.initialAdvertisePeerUrls.join(',')}; add it first (POST /v2/members, or etcdctl member add ${config.name} ${config.initialAdvertisePeerUrls.join(',')})`,
        );
      }
      log.info({ clusterId: info.clusterId, memberId: self.id }, 'joining existing cluster');
      return { memberId: self.id, clusterId: info.clusterId, members: info.members };
    }
    if (Date.now() > deadline) {
      throw new CoreStartError('RG_ERR_JOIN', `no member of the existing cluster answered at ${others.join(', ')} within ${JOIN_WAIT_MS / 1000}s; start them first`);
    }
    log.info({ attempt, peers: others }, 'waiting for a member of the existing cluster to answer');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function startCoreServer(config: CoreConfig, deps: CoreServerDeps = {}): Promise<CoreServer> {
  const log = deps.logger ?? pino({ level: config.logLevel, base: { member: config.name } });
  const clock = deps.clock ?? systemClock;
  const token = config.initialClusterToken;
  const initialIds = config.initialCluster.map((m) => ({ name: m.name, peerURLs: [...m.peerUrls], id: memberIdFor(m.peerUrls, token) }));

  const started = Date.now();
  const joining = config.initialClusterState === 'existing';
  const joined: { ids: { memberId: string; clusterId: string; members: MemberInfo[] } | null } = { ids: null };
  const storage: MemberStorage = await openMemberStorage(config.dataDir, {
    walSegmentBytes: config.walSegmentBytes,
    newIdentity: () => joined.ids ?? { memberId: memberIdFor(config.initialAdvertisePeerUrls, token), clusterId: clusterIdFor(initialIds.map((m) => m.id)) },
    logger: log,
    // A joiner learns its ids from the cluster, before the data dir exists.
    beforeCreate: joining ? async () => void (joined.ids = await joinIdentity(config, log)) : undefined,
  });

  log.info(
    {
      memberId: storage.memberId,
      clusterId: storage.clusterId,
      created: storage.created,
      snapshotIndex: storage.snapshot?.index ?? 0,
      walEntries: storage.entries.length,
      recoveryMs: Date.now() - started,
    },
    storage.created ? 'data dir created' : 'member state recovered',
  );

  const registry = new Registry();
  collectProcessMetrics(registry, 'raftgate_core_');

  let failNow: (e: Error & { code?: string }) => void = () => {};
  const failed = new Promise<Error & { code?: string }>((resolve) => (failNow = resolve));

  let node: RaftNode | null = null;
  const peerListen = config.listenPeerUrls[0];
  if (peerListen === undefined) throw new Error('no listen peer URL');
  if (config.listenPeerUrls.length > 1) log.warn({ used: peerListen }, 'only the first --listen-peer-urls is served');
  const transport = new PeerTransport({
    memberId: storage.memberId,
    clusterId: storage.clusterId,
    listen: peerAddress(peerListen),
    logger: log,
    registry,
    handlers: {
      onMessage: (m) => node?.step(m),
      onSnapshot: (m) => node?.stepSnapshot(m),
      onForward: (from, rid, conf, data) => node?.onForward(from, rid, conf, data),
      onForwardFail: (rid, code) => node?.onForwardFail(rid, code),
      onUnreachable: (to) => node?.reportUnreachable(to),
      onSnapshotSent: (to, ok) => node?.reportSnapshot(to, ok),
      onRefused: (to, code, message, theirs) => {
        if (code === 'RG_ERR_CLUSTER_MISMATCH') {
          const e = new CoreStartError(
            code,
            `peer ${to} belongs to cluster ${theirs}, but the data dir ${config.dataDir} belongs to cluster ${storage.clusterId}: this data dir is from another cluster; point --data-dir at this member's own data, or remove it and add the member again (${message})`,
          );
          log.error({ code, peer: to, ours: storage.clusterId, theirs }, e.message);
          failNow(e);
        } else if (code === 'RG_ERR_MEMBER_REMOVED') {
          failNow(new CoreStartError(code, 'this member was removed from the cluster; its data dir can no longer be used'));
        }
      },
      members: () => node?.members() ?? [],
      isRemoved: (id) => node?.isRemovedMember(id) ?? false,
    },
  });

  const bootstrap = storage.created && !joining ? initialIds.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: [] as string[] })) : null;
  node = new RaftNode({
    memberId: storage.memberId,
    clusterId: storage.clusterId,
    name: config.name,
    peerURLs: config.initialAdvertisePeerUrls,
    clientURLs: config.advertiseClientUrls,
    log: storage,
    network: transport,
    clock,
    logger: log,
    registry,
    recovered: { snapshot: storage.snapshot, hardState: storage.hardState, entries: storage.entries },
    bootstrap,
    heartbeatMs: config.heartbeatIntervalMs,
    electionTimeoutMs: config.electionTimeoutMs,
    snapshotCount: config.snapshotCount,
    seedPeers: joined.ids?.members ?? [],
    onFatal: (err) => failNow(err),
  });
  storage.releaseReplay();
  const raftNode = node;

  // Filled once the native listeners are bound (a configured port 0 becomes the real one).
  const nativeUrls: string[] = [];
  const app = buildCoreApp({
    node: raftNode,
    registry,
    logger: log,
    // etcd reads v2 form bodies up to Go's 10 MiB form limit whatever
    // --max-request-bytes says (that flag bounds v3 requests); so does Raftgate.
    bodyBytesMax: Math.max(config.maxRequestBytes, FORM_BYTES_MAX),
    watchersMax: config.watchersMax,
    nativeUrls,
    dataBytes: () => dirBytes(join(config.dataDir, 'member')),
  });
  await app.ready();
  try {
    await transport.start();
    await raftNode.start();
  } catch (err) {
    // Nothing may keep a process that failed to start alive.
    await transport.close();
    await app.close();
    await storage.close();
    throw err;
  }

  // Fastify listens once; any further client URL gets its own server that
  // hands requests to the same router.
  const servers: http.Server[] = [];
  const [first, ...rest] = config.listenClientUrls.map((u) => new URL(u));
  if (!first) throw new Error('no listen client URL');
  await app.listen({ host: first.hostname.replace(/^\[|\]$/g, ''), port: Number(first.port) });
  for (const u of rest) {
    const srv = http.createServer((req, res) => app.server.emit('request', req, res));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), () => resolve());
    });
    servers.push(srv);
  }
  const natives: NativeServer[] = [];
  for (const u of config.listenNativeUrls.map((x) => new URL(x))) {
    const n = await startNativeServer({ node: raftNode, listen: { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) }, logger: log, registry, connectionsMax: 1024, inflightPerConnectionMax: 4096 });
    natives.push(n);
    nativeUrls.push(`http://${u.hostname}:${n.port}`);
  }
  log.info({ clientUrls: config.listenClientUrls, peerUrl: peerListen, nativeUrls, memberId: storage.memberId }, 'serving');

  let closing: Promise<void> | null = null;
  return {
    node: raftNode,
    clientUrls: config.listenClientUrls,
    failed,
    close() {
      closing ??= (async () => {
        for (const s of servers) s.close();
        await Promise.all(natives.map((n) => n.close()));
        await raftNode.stop();
        await transport.close();
        await app.close();
        await storage.close();
        log.info('member stopped');
      })();
      return closing;
    },
  };
}
