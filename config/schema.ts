// The one configuration schema for every Raftgate process. Each field is
// declared once here — flag, env var, type, default, description — and the
// loader, the help text and the README's configuration reference are all
// generated from these tables, so they cannot drift apart.
//
// Core flags keep etcd's names and meanings so an etcd command line works
// unchanged. Fields holding durations or sizes carry the unit in their name
// (heartbeatIntervalMs, cacheBytesMax) while the flag keeps etcd's spelling.

import {
  boolField,
  bytesField,
  durationField,
  enumField,
  initialClusterField,
  intField,
  listenUrlsField,
  portField,
  redisUrlField,
  stringField,
  urlsField,
  type FieldSpec,
} from './field-types.js';
import { memberNameProblem, type InitialMember } from './initial-cluster.js';

export type ProcessKind = 'core' | 'proxy' | 'dev';
export const PROCESS_KINDS: readonly ProcessKind[] = ['core', 'proxy', 'dev'];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const MiB = 1024 * 1024;
const KiB = 1024;
const GiB = 1024 * MiB;

// ---- shared ----------------------------------------------------------------

const logLevel = enumField({
  flag: 'log-level',
  values: LOG_LEVELS,
  default: 'info',
  description: 'Least severe log level written; info logs lifecycle events without per-request noise.',
});

// ---- core ------------------------------------------------------------------

export const coreFields = {
  name: stringField({
    flag: 'name',
    default: 'default',
    lengthMax: 128,
    problem: memberNameProblem,
    description: 'Human-readable name of this member; must appear in --initial-cluster.',
  }),
  dataDir: stringField({
    flag: 'data-dir',
    defaultText: '<name>.raftgate',
    description: 'Directory for the WAL, snapshots and member identity; relative paths resolve against the working directory.',
  }),
  listenClientUrls: listenUrlsField({
    flag: 'listen-client-urls',
    default: ['http://127.0.0.1:2379'],
    description: 'Comma-separated http URLs to serve the v2 client API on; loopback by default so nothing is exposed by accident.',
  }),
  advertiseClientUrls: urlsField({
    flag: 'advertise-client-urls',
    defaultText: 'the listen client URLs',
    description: 'Client URLs this member tells the cluster and clients about.',
  }),
  listenPeerUrls: listenUrlsField({
    flag: 'listen-peer-urls',
    default: ['http://127.0.0.1:2380'],
    description: 'Comma-separated http URLs to accept Raft peer traffic on.',
  }),
  initialAdvertisePeerUrls: urlsField({
    flag: 'initial-advertise-peer-urls',
    defaultText: 'the listen peer URLs',
    description: "This member's peer URLs as the other members reach them; must match its --initial-cluster entry.",
  }),
  initialCluster: initialClusterField({
    flag: 'initial-cluster',
    defaultText: '<name>=<initial-advertise-peer-urls>',
    description: 'Bootstrap membership as name=url,...; must contain this member with its advertised peer URLs.',
  }),
  initialClusterState: enumField({
    flag: 'initial-cluster-state',
    values: ['new', 'existing'] as const,
    default: 'new',
    description: 'new to bootstrap a cluster; existing to join one that is already running.',
  }),
  initialClusterToken: stringField({
    flag: 'initial-cluster-token',
    default: 'etcd-cluster',
    lengthMax: 256,
    description: 'Token mixed into the cluster id at bootstrap so separate clusters never accept each other\'s members.',
  }),
  snapshotCount: intField({
    flag: 'snapshot-count',
    min: 1,
    max: 100_000_000,
    default: 100_000,
    description: "Applied entries between snapshots (etcd 3.4's default, 100000); lower means faster restart, higher means fewer whole-store snapshot pauses.",
  }),
  heartbeatIntervalMs: durationField({
    flag: 'heartbeat-interval',
    minMs: 1,
    maxMs: 10_000,
    default: 100,
    description: "Leader heartbeat period (plain numbers are milliseconds, as in etcd); about the round-trip time between members.",
  }),
  electionTimeoutMs: durationField({
    flag: 'election-timeout',
    minMs: 5,
    maxMs: 50_000,
    default: 1000,
    description: 'Time without a heartbeat before a follower campaigns; at least 5x --heartbeat-interval, at most 50s, as etcd requires.',
  }),
  maxRequestBytes: bytesField({
    flag: 'max-request-bytes',
    min: KiB,
    max: 64 * MiB,
    default: 1.5 * MiB,
    description: "Largest client request accepted (etcd's 1.5MiB default); bounds Raft entry size and memory per proposal.",
  }),
  listenNativeUrls: listenUrlsField({
    flag: 'listen-native-urls',
    default: [],
    allowEmpty: true,
    defaultText: 'first listen client URL, port + 2',
    description:
      "URLs for the proxies' native protocol; empty derives host and port+2 from the first listen client URL (2379 -> 2381, clear of the peer port 2380).",
  }),
  watchersMax: intField({
    flag: 'watchers-max',
    min: 1,
    max: 10_000_000,
    default: 100_000,
    description: 'Long-poll watchers served at once by this member; past it new watches are refused at once (503) instead of exhausting memory.',
  }),
  walSegmentBytes: bytesField({
    flag: 'wal-segment-bytes',
    min: 64 * KiB,
    max: GiB,
    default: 64 * MiB,
    description: "Size at which a WAL segment is cut (etcd's 64MiB); larger segments mean fewer files, slower release after a snapshot.",
  }),
  logLevel,
  enableV2: boolField({
    flag: 'enable-v2',
    default: true,
    description: 'Accepted so etcd command lines work unchanged; the v2 API is always on.',
  }),
} as const;

// ---- proxy -----------------------------------------------------------------

export const proxyFields = {
  mode: enumField({
    flag: 'mode',
    values: ['readonly', 'readwrite'] as const,
    default: 'readwrite',
    description: 'readwrite forwards writes to the leader; readonly serves reads and watches and refuses writes as etcd\'s readonly proxy does.',
  }),
  listenClientUrls: listenUrlsField({
    flag: 'listen-client-urls',
    default: ['http://127.0.0.1:2379'],
    description: "Comma-separated http URLs to serve the v2 client API on; etcd's client port on loopback, so a sidecar replaces etcd transparently.",
  }),
  endpoints: urlsField({
    flag: 'endpoints',
    required: true,
    defaultText: '(required)',
    description: 'Comma-separated client URLs of the core members (or of a real etcd cluster); at least one.',
  }),
  maxStalenessMs: durationField({
    flag: 'max-staleness',
    minMs: 0,
    maxMs: 60 * 60_000,
    default: 1000,
    description: 'How stale a cached read may be by default; 1s hides the core from read bursts yet is shorter than most client retry loops. 0 disables the cache.',
  }),
  maxStalenessCeilingMs: durationField({
    flag: 'max-staleness-ceiling',
    minMs: 0,
    maxMs: 24 * 60 * 60_000,
    default: 10_000,
    description: "Upper bound on a request's Cache-Control max-stale, so no client can ask for answers older than 10s.",
  }),
  staleIfErrorCeilingMs: durationField({
    flag: 'stale-if-error-ceiling',
    minMs: 0,
    maxMs: 24 * 60 * 60_000,
    default: 60_000,
    description:
      'Most a request\'s Cache-Control stale-if-error may ask for when no member answers; 1m rides out a leader election or a member restart without serving very old data.',
  }),
  cacheBytesMax: bytesField({
    flag: 'cache-bytes-max',
    min: 0,
    max: 64 * GiB,
    default: 64 * MiB,
    description: 'Memory for cached keys; 64MiB holds a typical config-store keyspace whole while staying small as a sidecar. 0 disables the cache.',
  }),
  eventHistoryMax: intField({
    flag: 'event-history-max',
    min: 1,
    max: 1_000_000,
    default: 1000,
    description: "Events kept for watchers that resume with waitIndex; 1000 matches etcd's history, so 401s happen exactly where etcd's would.",
  }),
  connectionsMax: intField({
    flag: 'connections-max',
    min: 1,
    max: 1_000_000,
    default: 4096,
    description: 'Open client connections before new ones are refused; 4096 fits well under a 65536 file-descriptor limit with room for upstreams.',
  }),
  connectionsPerClientMax: intField({
    flag: 'connections-per-client-max',
    min: 1,
    max: 1_000_000,
    default: 256,
    description: 'Open connections from one client address; 256 lets a busy app pool connections but no single client can take the whole proxy.',
  }),
  inflightMax: intField({
    flag: 'inflight-max',
    min: 1,
    max: 1_000_000,
    default: 1024,
    description: 'Requests being served at once, excluding waiting watches; beyond it requests get 503 with Retry-After instead of queueing.',
  }),
  watchersMax: intField({
    flag: 'watchers-max',
    min: 1,
    max: 1_000_000,
    default: 2048,
    description: 'Waiting watches (wait=true long-polls); half of --connections-max, so watches can never starve ordinary requests of connections.',
  }),
  watcherBufferMax: intField({
    flag: 'watcher-buffer-max',
    min: 1,
    max: 100_000,
    default: 100,
    description: "Events queued for one slow watcher before it is dropped and told; 100 is etcd v2's per-watcher buffer.",
  }),
  bodyBytesMax: bytesField({
    flag: 'body-bytes-max',
    min: KiB,
    max: 64 * MiB,
    default: 10 * MiB,
    description: "Largest request body; 10MiB is the most a core reads from a v2 form (Go's form limit, as in etcd), so larger writes are refused here without a round trip.",
  }),
  headerTimeoutMs: durationField({
    flag: 'header-timeout',
    minMs: 100,
    maxMs: 5 * 60_000,
    default: 10_000,
    description: 'Time a client has to send complete request headers; 10s cuts off slowloris-style clients without hurting slow networks.',
  }),
  idleTimeoutMs: durationField({
    flag: 'idle-timeout',
    minMs: 1000,
    maxMs: 60 * 60_000,
    default: 120_000,
    description: "Idle keep-alive connections are closed after this; 2m outlasts Go's 90s client idle timeout (etcdctl), so clients close first and never reuse a closed socket.",
  }),
  upstreamProtocol: enumField({
    flag: 'upstream-protocol',
    values: ['auto', 'native', 'etcd-v2'] as const,
    default: 'auto',
    description:
      'How to talk to --endpoints: native (Raftgate core members), etcd-v2 (a real etcd cluster over its v2 HTTP API), or auto to ask the endpoints which they are.',
  }),
  upstreamTimeoutMs: durationField({
    flag: 'upstream-timeout',
    minMs: 100,
    maxMs: 5 * 60_000,
    default: 5000,
    description:
      "How long a read or write may wait for the core, across retries and failover; 5s covers a leader election (etcd's 1s election timeout) with room to spare.",
  }),
  upstreamConnectionsPerMember: intField({
    flag: 'upstream-connections-per-member',
    min: 1,
    max: 64,
    default: 4,
    description: 'Persistent native-protocol connections to each core member; 4 spreads load over cores without many sockets per proxy.',
  }),
  l2RedisUrl: redisUrlField({
    flag: 'l2-redis-url',
    defaultText: '(none)',
    description: 'Optional redis:// URL of a cache shared by a fleet of proxies; unset keeps the cache per process.',
  }),
  healthCheckIntervalMs: durationField({
    flag: 'health-check-interval',
    minMs: 100,
    maxMs: 5 * 60_000,
    default: 1000,
    description: 'How often each core member is probed; 1s takes a dead member out of rotation quickly at one tiny request per member per second.',
  }),
  logLevel,
} as const;

// ---- dev -------------------------------------------------------------------

/** Member i (1-based) of the dev cluster listens on basePort + DEV_PORT_STRIDE * (i - 1) and the next two ports. */
export const DEV_PORT_STRIDE = 10;

export const devFields = {
  members: intField({
    flag: 'members',
    min: 3,
    max: 5,
    allowed: [3, 5],
    default: 3,
    description: 'Core members to start; an odd count so a majority survives one (3) or two (5) failures.',
  }),
  dataDir: stringField({
    flag: 'data-dir',
    default: './data',
    description: 'Parent directory of every member\'s data dir (member-1, member-2, ...); relative to the working directory.',
  }),
  proxyPort: portField({
    flag: 'proxy-port',
    default: 2379,
    description: "Loopback port of the read-write proxy; etcd's client port, so etcdctl works without flags.",
  }),
  readonlyProxyPort: portField({
    flag: 'readonly-proxy-port',
    default: 2479,
    description: 'Loopback port of the read-only proxy.',
  }),
  basePort: portField({
    flag: 'base-port',
    default: 12379,
    description: 'Member i (1-based) uses client port base+10(i-1), peer port +1, native port +2: 12379/12380/12381, 12389/12390/12391, ...',
  }),
  fresh: boolField({
    flag: 'fresh',
    default: false,
    description: 'Delete --data-dir before starting, for a clean cluster.',
  }),
  yes: boolField({
    flag: 'yes',
    default: false,
    description: 'Do not ask for confirmation before deleting data (with --fresh).',
  }),
  logLevel,
} as const;

// ---- types -----------------------------------------------------------------

type FieldTable = Readonly<Record<string, FieldSpec>>;
type ConfigOf<F> = { -readonly [K in keyof F]: F[K] extends FieldSpec<infer T> ? T : never };

export type CoreConfig = ConfigOf<typeof coreFields>;
export type ProxyConfig = ConfigOf<typeof proxyFields>;
export type DevConfig = ConfigOf<typeof devFields>;
export type ConfigFor<K extends ProcessKind> = K extends 'core' ? CoreConfig : K extends 'proxy' ? ProxyConfig : DevConfig;
export type { InitialMember };

const tables: Readonly<Record<ProcessKind, FieldTable>> = {
  core: coreFields as unknown as FieldTable,
  proxy: proxyFields as unknown as FieldTable,
  dev: devFields as unknown as FieldTable,
};

/** The field table of one process kind, keyed by camelCase config key. */
export function fieldsOf(kind: ProcessKind): FieldTable {
  return tables[kind];
}

export interface FieldDescription {
  /** camelCase key in the config object and in files. */
  readonly key: string;
  /** `--flag` as typed on the command line. */
  readonly flag: string;
  readonly env: string;
  readonly type: string;
  /** The default as a user would write it ("1s", "64MiB"), or how it is derived. */
  readonly default: string;
  readonly description: string;
  readonly required: boolean;
}

/** Every field of one process kind, in declaration order, for help text and the README. */
export function describeFields(kind: ProcessKind): FieldDescription[] {
  return Object.entries(fieldsOf(kind)).map(([key, f]) => ({
    key,
    flag: `--${f.flag}`,
    env: f.env,
    type: f.type,
    default: f.defaultText,
    description: f.description,
    required: f.required,
  }));
}
