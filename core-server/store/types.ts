// The contract between the pure v2 store and everything around it (the node
// driver that applies the log, the HTTP API, the native protocol, the proxy).
// Nothing here reads a clock: times are absolute milliseconds carried as data.

import type { V2Error } from './v2-error.js';

/** A node rendered as etcd renders it in JSON (etcd's NodeExtern). */
export interface NodeJSON {
  key?: string;
  value?: string;
  dir?: true;
  expiration?: string; // RFC 3339 with nanoseconds, UTC, as Go prints it
  ttl?: number; // whole seconds left, rounded up
  nodes?: NodeJSON[];
  modifiedIndex?: number;
  createdIndex?: number;
}

export type Action =
  | 'get'
  | 'set'
  | 'create'
  | 'update'
  | 'compareAndSwap'
  | 'delete'
  | 'compareAndDelete'
  | 'expire';

/** One store event: the response body of a read or write, and what watchers see. */
export interface StoreEvent {
  action: Action;
  node: NodeJSON;
  prevNode?: NodeJSON;
  /** The store index after the event (for a get: the store index when read). */
  etcdIndex: number;
  /** True for a TTL refresh: returned to the writer, never sent to watchers. */
  refresh?: boolean;
}

/**
 * A v2 write exactly as etcd logs it (its RequestV2), already validated by the
 * HTTP layer. The store dispatches it the way etcd's v2 applier does:
 * PUT + prevExist=true → update (or compareAndSwap with prevValue/prevIndex),
 * PUT + prevExist=false → create, PUT + prevValue/prevIndex → compareAndSwap,
 * PUT → set, POST → create in-order key, DELETE + prevValue/prevIndex →
 * compareAndDelete, DELETE → delete.
 */
export interface WriteRequest {
  method: 'PUT' | 'POST' | 'DELETE';
  /** Canonical key: leading '/', no trailing '/', no empty segments ("/" is the root). */
  path: string;
  value: string; // '' when not given
  dir: boolean;
  prevExist: boolean | null; // null when not given
  prevValue: string; // '' when not given
  prevIndex: number; // 0 when not given
  recursive: boolean;
  refresh: boolean;
  /** Absolute deadline computed by the proposer from `ttl`; null = no TTL (or ttl="" clears it). */
  expireAtMs: number | null;
  /** The proposer's clock when it made the request; used only to render `ttl` deterministically. */
  nowMs: number;
}

/** What the log carries. `sync` is the leader's clock: members expire keys when they apply it. */
export type Command = { op: 'write'; req: WriteRequest } | { op: 'sync'; nowMs: number };

export interface ReadOptions {
  recursive: boolean;
  sorted: boolean;
}

export interface WatchOptions {
  recursive: boolean;
  stream: boolean;
  /** waitIndex; 0 = only events after now. */
  sinceIndex: number;
}

export type WatcherCloseReason = 'removed' | 'overflow' | 'cleared';

/**
 * A registered watcher. The store pushes matching events into a bounded queue
 * and calls `onWake` synchronously (inside apply) so the I/O layer can drain
 * with `take()`. A non-stream watcher delivers at most one event and is then
 * removed. A watcher whose queue overflows is closed ('overflow'), never
 * allowed to block the store. When a snapshot install skips events a watcher
 * may have needed, it is closed with 'cleared' and `error` holds etcd's 401.
 */
export interface Watcher {
  /** Store index when the watch was registered: the X-Etcd-Index of the response. */
  readonly startIndex: number;
  onWake: (() => void) | null;
  take(): StoreEvent[];
  readonly closed: WatcherCloseReason | null;
  readonly error: V2Error | null;
  /** Unregister (client went away). Idempotent. */
  remove(): void;
}

/** /v2/stats/store, with etcd's field names. */
export interface StoreStats {
  getsSuccess: number;
  getsFail: number;
  setsSuccess: number;
  setsFail: number;
  deleteSuccess: number;
  deleteFail: number;
  updateSuccess: number;
  updateFail: number;
  createSuccess: number;
  createFail: number;
  compareAndSwapSuccess: number;
  compareAndSwapFail: number;
  compareAndDeleteSuccess: number;
  compareAndDeleteFail: number;
  expireCount: number;
  watchers: number;
}

/** The pure v2 keyspace. Deterministic: the same commands give the same state. */
export interface KeyStore {
  /** Current etcd index (X-Etcd-Index). */
  readonly index: number;
  /** A write answers its event or error; a sync answers null (its expire events go to history and watchers). */
  apply(cmd: Command): StoreEvent | V2Error | null;
  /** Expire-time bookkeeping for the driver: the earliest TTL deadline, or null. */
  nextDeadlineMs(): number | null;
  get(path: string, opts: ReadOptions, nowMs: number): StoreEvent | V2Error;
  watch(path: string, opts: WatchOptions): Watcher | V2Error;
  /**
   * A stream of EVERY event from sinceIndex on (0 = from the next one), in
   * index order: hidden keys, expiries and TTL refreshes (marked `refresh`)
   * included, replayed from the history first. Closed with 'cleared' (401)
   * when its reader falls more than the history behind or a snapshot install
   * skips events it needed. Not counted in stats().watchers.
   */
  watchAll(sinceIndex: number): Watcher | V2Error;
  stats(): StoreStats;
  /**
   * Counts one failed get without reading anything. etcd's v2 keys handler
   * asks its store whether v2 auth is enabled (a read of a key that does not
   * exist unless auth was configured) before serving each parsed request, so
   * every keys request adds one to getsFail; dashboards built on etcd's
   * /v2/stats/store expect that.
   */
  countFailedGet(): void;
  /** A self-contained, JSON-serialisable image: tree, index, TTLs, event history, stats. */
  snapshot(): unknown;
  /** Replace this store's state with a snapshot's; waiting watchers that may miss events get 401. */
  restore(image: unknown): void;
}
