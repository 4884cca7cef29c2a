// After every source has been validated field by field and merged, this step
// fills the defaults that depend on other fields (data dir from name,
// advertise URLs from listen URLs, ...) and checks the rules that span
// fields. A cross-field error blames the field the user actually set, quoted
// as they wrote it, so "--election-timeout (flag)" rather than a field they
// never touched.

import { isAbsolute, resolve as resolvePath } from 'node:path';

import { formatByteSize } from './byte-size.js';
import { formatDuration } from './duration.js';
import { ConfigError, sourceText } from './errors.js';
import type { InitialMember } from './initial-cluster.js';
import type { Origin } from './raw-value.js';
import {
  DEV_PORT_STRIDE,
  fieldsOf,
  type CoreConfig,
  type DevConfig,
  type ProcessKind,
  type ProxyConfig,
} from './schema.js';
import { hostOf, isUnspecifiedHost, portOf } from './urls.js';

export interface SetValue {
  readonly value: unknown;
  readonly origin: Origin;
}

/** The winning value of each field that some source set, keyed by camelCase key. */
export type Merged = ReadonlyMap<string, SetValue>;

export interface Resolved<T> {
  readonly config: T;
  readonly warnings: string[];
}

/** Core: etcd requires election timeout >= 5 heartbeats so one lost heartbeat never causes an election. */
export const ELECTION_HEARTBEAT_RATIO_MIN = 5;
/** The native port is derived as first client port + this (2379 -> 2381, clear of the default peer port 2380). */
export const NATIVE_PORT_OFFSET = 2;

class Fields {
  constructor(
    private readonly kind: ProcessKind,
    private readonly merged: Merged,
  ) {}

  isSet(key: string): boolean {
    return this.merged.has(key);
  }

  get<T>(key: string): T {
    const set = this.merged.get(key);
    if (set !== undefined) return set.value as T;
    const f = fieldsOf(this.kind)[key];
    if (f === undefined) throw new Error(`assert: no field ${key} in ${this.kind}`);
    return f.default as T;
  }

  origin(key: string): Origin {
    const set = this.merged.get(key);
    if (set !== undefined) return set.origin;
    const f = fieldsOf(this.kind)[key];
    if (f === undefined) throw new Error(`assert: no field ${key} in ${this.kind}`);
    return { field: `--${f.flag}`, source: 'default' };
  }

  /** How to mention another field in a reason: "--heartbeat-interval (300ms, flag)". */
  mention(key: string, shown: string): string {
    const o = this.origin(key);
    return `${o.field} (${shown}, ${sourceText(o.source, o.file)})`;
  }

  fail(key: string, reason: string): ConfigError {
    const o = this.origin(key);
    return new ConfigError({ field: o.field, source: o.source, file: o.file, key, reason });
  }
}

function absolute(cwd: string, dir: string): string {
  return isAbsolute(dir) ? dir : resolvePath(cwd, dir);
}

// ---- core ------------------------------------------------------------------

export function resolveCore(merged: Merged, cwd: string): Resolved<CoreConfig> {
  const f = new Fields('core', merged);
  const warnings: string[] = [];
  const name = f.get<string>('name');
  const listenClientUrls = f.get<string[]>('listenClientUrls');
  const listenPeerUrls = f.get<string[]>('listenPeerUrls');
  const advertiseClientUrls = f.isSet('advertiseClientUrls') ? f.get<string[]>('advertiseClientUrls') : listenClientUrls;
  const initialAdvertisePeerUrls = f.isSet('initialAdvertisePeerUrls') ? f.get<string[]>('initialAdvertisePeerUrls') : listenPeerUrls;
  const initialCluster: InitialMember[] = f.isSet('initialCluster')
    ? f.get<InitialMember[]>('initialCluster')
    : [{ name, peerUrls: initialAdvertisePeerUrls }];

  for (const [key, urls] of [['advertiseClientUrls', advertiseClientUrls], ['initialAdvertisePeerUrls', initialAdvertisePeerUrls]] as const) {
    const unspecified = urls.find(isUnspecifiedHost);
    if (unspecified === undefined) continue;
    const o = f.origin(key);
    warnings.push(`${o.field} includes ${unspecified}, which others cannot connect to; set ${o.field} to a routable address`);
  }

  const self = initialCluster.find((m) => m.name === name);
  if (self === undefined) {
    throw f.fail(
      'initialCluster',
      `must contain this member's name ${JSON.stringify(name)} (from ${f.mention('name', name)}); it lists ${initialCluster.map((m) => m.name).join(', ')}`,
    );
  }
  const advertised = [...initialAdvertisePeerUrls].sort().join(',');
  const listed = [...self.peerUrls].sort().join(',');
  if (advertised !== listed) {
    // etcd refuses this too: peers would dial URLs this member never announced.
    const blame = f.isSet('initialCluster') ? 'initialCluster' : 'initialAdvertisePeerUrls';
    throw f.fail(blame, `lists ${listed} for ${name} but --initial-advertise-peer-urls is ${advertised}; they must match`);
  }

  const heartbeatIntervalMs = f.get<number>('heartbeatIntervalMs');
  const electionTimeoutMs = f.get<number>('electionTimeoutMs');
  if (electionTimeoutMs < ELECTION_HEARTBEAT_RATIO_MIN * heartbeatIntervalMs) {
    const blame = f.isSet('electionTimeoutMs') || !f.isSet('heartbeatIntervalMs') ? 'electionTimeoutMs' : 'heartbeatIntervalMs';
    const reason =
      blame === 'electionTimeoutMs'
        ? `must be at least ${ELECTION_HEARTBEAT_RATIO_MIN}x ${f.mention('heartbeatIntervalMs', formatDuration(heartbeatIntervalMs))} = ${formatDuration(ELECTION_HEARTBEAT_RATIO_MIN * heartbeatIntervalMs)}, got ${formatDuration(electionTimeoutMs)}`
        : `must be at most 1/${ELECTION_HEARTBEAT_RATIO_MIN} of ${f.mention('electionTimeoutMs', formatDuration(electionTimeoutMs))}, got ${formatDuration(heartbeatIntervalMs)}`;
    throw f.fail(blame, reason);
  }

  const maxRequestBytes = f.get<number>('maxRequestBytes');
  const walSegmentBytes = f.get<number>('walSegmentBytes');
  if (maxRequestBytes >= walSegmentBytes) {
    const blame = f.isSet('walSegmentBytes') && !f.isSet('maxRequestBytes') ? 'walSegmentBytes' : 'maxRequestBytes';
    throw f.fail(
      blame,
      `--max-request-bytes (${formatByteSize(maxRequestBytes)}) must be smaller than --wal-segment-bytes (${formatByteSize(walSegmentBytes)}) so a request fits in one WAL segment`,
    );
  }

  let listenNativeUrls = f.get<string[]>('listenNativeUrls');
  if (listenNativeUrls.length === 0) listenNativeUrls = [deriveNativeUrl(f, listenClientUrls)];

  checkListenersDistinct(f, [
    ['listenClientUrls', listenClientUrls],
    ['listenPeerUrls', listenPeerUrls],
    ['listenNativeUrls', listenNativeUrls],
  ]);

  if (f.get<boolean>('enableV2') === false) {
    warnings.push(`${f.origin('enableV2').field}=false ignored: the v2 API is always on`);
  }

  const config: CoreConfig = {
    name,
    dataDir: absolute(cwd, f.isSet('dataDir') ? f.get<string>('dataDir') : `${name}.raftgate`),
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: f.get<CoreConfig['initialClusterState']>('initialClusterState'),
    initialClusterToken: f.get<string>('initialClusterToken'),
    snapshotCount: f.get<number>('snapshotCount'),
    heartbeatIntervalMs,
    electionTimeoutMs,
    maxRequestBytes,
    listenNativeUrls,
    walSegmentBytes,
    watchersMax: f.get<number>('watchersMax'),
    logLevel: f.get<CoreConfig['logLevel']>('logLevel'),
    enableV2: true,
  };
  return { config, warnings };
}

/** First listen client URL, same host, port + NATIVE_PORT_OFFSET; port 0 (ephemeral, for tests) stays 0. */
function deriveNativeUrl(f: Fields, listenClientUrls: readonly string[]): string {
  const first = listenClientUrls[0];
  if (first === undefined) throw new Error('assert: listen client URLs are never empty');
  const port = portOf(first);
  const nativePort = port === 0 ? 0 : port + NATIVE_PORT_OFFSET;
  if (nativePort > 65535) {
    throw f.fail('listenClientUrls', `port ${port} leaves no room for the derived native port ${nativePort}; set --listen-native-urls`);
  }
  return `http://${hostOf(first)}:${nativePort}`;
}

function checkListenersDistinct(f: Fields, groups: ReadonlyArray<readonly [string, readonly string[]]>): void {
  const taken = new Map<string, string>();
  for (const [key, urls] of groups) {
    for (const url of urls) {
      if (portOf(url) === 0) continue; // ephemeral ports never collide
      const other = taken.get(url);
      if (other !== undefined && other !== key) {
        throw f.fail(key, `${url} is also used by ${f.origin(other).field}; every listener needs its own port`);
      }
      taken.set(url, key);
    }
  }
}

// ---- proxy -----------------------------------------------------------------

export function resolveProxy(merged: Merged): Resolved<ProxyConfig> {
  const f = new Fields('proxy', merged);
  if (!f.isSet('endpoints')) {
    throw new ConfigError({
      field: '--endpoints',
      source: 'default',
      key: 'endpoints',
      reason: 'is required',
      message: 'missing --endpoints (or RAFTGATE_ENDPOINTS, or endpoints in the config file): list the core members\' client URLs',
    });
  }
  const maxStalenessMs = f.get<number>('maxStalenessMs');
  const maxStalenessCeilingMs = f.get<number>('maxStalenessCeilingMs');
  if (maxStalenessMs > maxStalenessCeilingMs) {
    const blame = f.isSet('maxStalenessMs') ? 'maxStalenessMs' : 'maxStalenessCeilingMs';
    throw f.fail(
      blame,
      blame === 'maxStalenessMs'
        ? `must not exceed ${f.mention('maxStalenessCeilingMs', formatDuration(maxStalenessCeilingMs))}, got ${formatDuration(maxStalenessMs)}`
        : `must be at least ${f.mention('maxStalenessMs', formatDuration(maxStalenessMs))}, got ${formatDuration(maxStalenessCeilingMs)}`,
    );
  }
  const listenClientUrls = f.get<string[]>('listenClientUrls');
  const endpoints = f.get<string[]>('endpoints');
  const loop = endpoints.find((e) => listenClientUrls.includes(e));
  if (loop !== undefined) throw f.fail('endpoints', `${loop} is this proxy's own listen URL; it would forward to itself`);

  const config = Object.fromEntries(Object.keys(fieldsOf('proxy')).map((key) => [key, f.get(key)])) as ProxyConfig;
  return { config, warnings: [] };
}

// ---- dev -------------------------------------------------------------------

export interface DevMemberPorts {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly nativePort: number;
}

/** Ports of dev member i (1-based): client base+10(i-1), peer +1, native +2. */
export function devMemberPorts(basePort: number, i: number): DevMemberPorts {
  const clientPort = basePort + DEV_PORT_STRIDE * (i - 1);
  return { name: `member-${i}`, clientPort, peerPort: clientPort + 1, nativePort: clientPort + NATIVE_PORT_OFFSET };
}

export function resolveDev(merged: Merged, cwd: string): Resolved<DevConfig> {
  const f = new Fields('dev', merged);
  const members = f.get<number>('members');
  const basePort = f.get<number>('basePort');
  const last = devMemberPorts(basePort, members);
  if (last.nativePort > 65535) {
    throw f.fail('basePort', `${members} members need ports up to ${last.nativePort}; must be at most ${65535 - (last.nativePort - basePort)}`);
  }
  const memberPorts = new Set<number>();
  for (let i = 1; i <= members; i++) {
    const p = devMemberPorts(basePort, i);
    memberPorts.add(p.clientPort).add(p.peerPort).add(p.nativePort);
  }
  const proxyPort = f.get<number>('proxyPort');
  const readonlyProxyPort = f.get<number>('readonlyProxyPort');
  for (const key of ['proxyPort', 'readonlyProxyPort'] as const) {
    const port = key === 'proxyPort' ? proxyPort : readonlyProxyPort;
    if (memberPorts.has(port)) {
      throw f.fail(key, `port ${port} is used by a member (member ports derive from ${f.mention('basePort', String(basePort))})`);
    }
  }
  if (proxyPort === readonlyProxyPort) {
    throw f.fail(f.isSet('readonlyProxyPort') ? 'readonlyProxyPort' : 'proxyPort', `the read-write and read-only proxies cannot share port ${proxyPort}`);
  }
  const config = Object.fromEntries(Object.keys(fieldsOf('dev')).map((key) => [key, f.get(key)])) as DevConfig;
  config.dataDir = absolute(cwd, config.dataDir);
  return { config, warnings: [] };
}
