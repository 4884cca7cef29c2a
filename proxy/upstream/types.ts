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
}

export interface Upstream {
  /** Begin discovery, health checks and the one watch stream; returns at once. */
  start(sink: ViewSink): void;
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
  close(): Promise<void>;
}
