// What the proxy's HTTP layer needs from "the core", whichever it is: a
// Raftgate cluster over the native protocol (native-cluster.ts) or a real
// etcd cluster over its v2 HTTP API (etcd-upstream.ts). The HTTP layer
// validates, caches and renders; an Upstream only moves parsed requests and
// answers, and feeds the proxy's one view of the keyspace (ViewSink).

import type { WriteKeyRequest } from '../../core-server/api/v2-request.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import type { V2Error } from '../../core-server/store/v2-error.js';

export interface KeyRead {
  path: string;
  recursive: boolean;
  sorted: boolean;
  /** Linearizable: the member passes its read barrier first. */
  quorum: boolean;
}

/** A member's answer to a keys request: its event, or etcd's error. */
export type KeysAnswer =
  | { kind: 'event'; event: StoreEvent; raftIndex: number; raftTerm: number }
  | { kind: 'error'; error: V2Error };

/** A request passed through as HTTP (members, stats, machines): no keys semantics. */
export interface ForwardRequest {
  method: string;
  /** Path and query as the client sent them. */
  rawUrl: string;
  headers: Readonly<Record<string, string>>;
  body?: Buffer;
  /** Which member should answer: the leader (leader stats) or any. */
  target: 'any' | 'leader';
}

export interface ForwardAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Where the one upstream watch stream delivers. Implemented by the app
 * over its UpstreamView; an Upstream never touches the view directly.
 */
export interface ViewSink {
  /** The view's index: a resumed stream starts at index + 1. */
  readonly index: number;
  /** Whether the view was ever synced (a fresh proxy starts its stream with a resync). */
  readonly synced: boolean;
  /** Events in index order (a resumed stream may repeat some: the view skips them). */
  events(events: StoreEvent[]): void;
  /** Every event up to etcdIndex has been delivered. */
  progress(etcdIndex: number): void;
  /** Continue from etcdIndex without the events before it (the history no longer reaches back). */
  resync(etcdIndex: number): void;
}

export interface UpstreamStatus {
  protocol: 'native' | 'etcd-v2' | 'detecting';
  clusterId: string | null;
  leaderId: string | null;
  /** Members passing health checks. */
  membersUp: number;
  membersKnown: number;
  /** Upstream watch streams open now: 0 or 1, however many client watchers. */
  watchStreams: number;
  /** The member the stream is on, for logs and tests. */
  streamMember: string | null;
  /**
   * The newest etcd index any member has told this upstream of: native
   * hellos, the stream's events and progress, the answers to reads and
   * writes (etcd: their X-Etcd-Index). Never decreases. Minus the view's
   * index, it is how far behind the view is (the watch lag).
   */
  etcdIndexSeen: number;
  /**
   * Times the watch stream was opened again after it ended or stalled
   * (member killed or restarted, failover, stall, history cleared). The
   * first stream is not counted, nor a fresh start that asked for more
   * history than the member keeps and fell back to "from now".
   */
  watchReconnects: number;
}

/** A member as the proxy sees it (GET /raftgate/v1/status on a proxy). */
export interface UpstreamMember {
  /** null until a probe has named it. */
  id: string | null;
  /** null until a member listing or a native hello has named it. */
  name: string | null;
  /** The client URL the proxy talks HTTP to. */
  clientURL: string;
  /** Passing health checks (native: and holding a ready connection). */
  up: boolean;
  /** The member the proxy believes leads the cluster. */
  leader: boolean;
}

/** What the proxy asks of a member, for per-member latency. */
export type UpstreamOp = 'get' | 'quorum_get' | 'write';

/** Told about each request attempt sent to a member (metrics). */
export interface UpstreamObserver {
  /**
   * One attempt on one member, from when it was handed to the member until
   * it answered (an answer, an etcd error or a "not me") or failed after it
   * was sent. A retry on another member is a second attempt; a request that
   * never left the proxy is none.
   */
  attempt(op: UpstreamOp, memberId: string, seconds: number): void;
}

export interface Upstream {
  /** Begin discovery, health checks and the one watch stream; returns at once. */
  start(sink: ViewSink, observer?: UpstreamObserver): void;
  /** A read from some member; rejects with ProxyError(RG_ERR_PROXY_UPSTREAM_UNAVAILABLE) when none answers in time. */
  get(r: KeyRead): Promise<KeysAnswer>;
  /**
   * A write, on the leader. Retried on another member only when it provably
   * never reached the first; rejects with RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN
   * when it may have been applied, RG_ERR_PROXY_UPSTREAM_UNAVAILABLE when it
   * certainly was not.
   */
  write(w: WriteKeyRequest): Promise<KeysAnswer>;
  forward(r: ForwardRequest): Promise<ForwardAnswer>;
  status(): UpstreamStatus;
  /** Every member the proxy knows, in the order it found them. */
  members(): UpstreamMember[];
  close(): Promise<void>;
}
