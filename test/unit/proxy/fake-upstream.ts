// An Upstream for the proxy's app tests: a real v2 store answers reads and
// writes exactly as a member would, and the test decides when the one
// upstream stream delivers (pump), reports progress, goes silent, or when
// the member becomes unreachable. Every call is counted, so a test can say
// "this request made no round trip" or "50 misses made 1 read".

import { toWriteRequest } from '../../../core-server/api/v2-request.js';
import type { WriteKeyRequest } from '../../../core-server/api/v2-request.js';
import { createStore, V2Error } from '../../../core-server/store/index.js';
import type { KeyStore, StoreEvent, Watcher } from '../../../core-server/store/index.js';
import { ProxyError } from '../../../proxy/errors.js';
import type {
  ForwardAnswer,
  ForwardRequest,
  KeyRead,
  KeysAnswer,
  Upstream,
  UpstreamMember,
  UpstreamObserver,
  UpstreamStatus,
  ViewSink,
} from '../../../proxy/upstream/types.js';

export const FAKE_CLUSTER_ID = '1c45a069f3a1d796';
export const FAKE_MEMBER_ID = 'aaaaaaaaaaaaaaaa';

export class FakeUpstream implements Upstream {
  readonly store: KeyStore;
  /** Every event the store recorded, in order (the reference log for checkWatchOrder). */
  readonly log: StoreEvent[] = [];
  sink: ViewSink | null = null;
  observer: UpstreamObserver | null = null;
  readonly calls = { get: 0, quorumGet: 0, write: 0, forward: 0, start: 0 };
  /** Reads and writes reject as if no member could be reached. */
  unreachable = false;
  /** The watch stream is down while the member still answers (status().watchStreams 0). */
  streamDown = false;
  /** What status().watchReconnects says. */
  watchReconnects = 0;
  /** Seconds each read or write "takes" on the member (what the observer is told). */
  attemptSeconds = 0.002;
  /** Events are delivered to the proxy only by pump() (default: after every write through the proxy). */
  autoPump = true;
  /** Held reads: resolve only when release() is called. */
  holdReads = false;
  /** A read answers from this store instead (a lagging member). */
  readFrom: KeyStore | null = null;
  /** The next write fails with this error (then this is cleared). */
  nextWriteError: ProxyError | null = null;
  nowMs = () => Date.UTC(2026, 10, 22, 4, 0, 0);
  private readonly all: Watcher;
  private held: (() => void)[] = [];
  private delivered = 0;
  /** The newest index the member told of: the stream's, and its answers'. */
  private seen = 0;

  constructor(store: KeyStore = createStore({ historyMax: 100_000 })) {
    this.store = store;
    const w = store.watchAll(0);
    if (w instanceof V2Error) throw new Error(w.toBody());
    this.all = w;
  }

  start(sink: ViewSink, observer?: UpstreamObserver): void {
    this.calls.start++;
    this.sink = sink;
    this.observer = observer ?? null;
    this.heard(this.store.index);
    sink.resync(this.store.index);
    this.collect();
    this.delivered = this.log.length;
  }

  private collect(): void {
    this.log.push(...this.all.take());
  }

  /** Deliver every event not yet delivered, then a progress notification. */
  pump(): void {
    this.collect();
    const fresh = this.log.slice(this.delivered);
    this.delivered = this.log.length;
    if (this.sink === null) return;
    this.heard(this.store.index);
    if (fresh.length > 0) this.sink.events(fresh);
    this.sink.progress(this.store.index);
  }

  private heard(index: number): void {
    if (index > this.seen) this.seen = index;
  }

  private answered(op: 'get' | 'quorum_get' | 'write', index: number): void {
    this.heard(index);
    this.observer?.attempt(op, FAKE_MEMBER_ID, this.attemptSeconds);
  }

  /** A write made directly on the core (not through the proxy). */
  direct(w: WriteKeyRequest): StoreEvent | V2Error {
    const r = this.store.apply({ op: 'write', req: toWriteRequest(w, this.nowMs()) });
    this.collect();
    if (r === null) throw new Error('assert: a write answers');
    return r;
  }

  release(): void {
    this.holdReads = false;
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  async get(r: KeyRead): Promise<KeysAnswer> {
    if (r.quorum) this.calls.quorumGet++;
    else this.calls.get++;
    if (this.holdReads) await new Promise<void>((res) => this.held.push(res));
    if (this.unreachable) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'fake: unreachable', { sent: false });
    const from = r.quorum ? this.store : (this.readFrom ?? this.store);
    const a = from.get(r.path, { recursive: r.recursive, sorted: r.sorted }, this.nowMs());
    this.answered(r.quorum ? 'quorum_get' : 'get', a instanceof V2Error ? a.index : a.etcdIndex);
    return a instanceof V2Error ? { kind: 'error', error: a } : { kind: 'event', event: a, raftIndex: from.index + 3, raftTerm: 2 };
  }

  async write(w: WriteKeyRequest): Promise<KeysAnswer> {
    this.calls.write++;
    const e = this.nextWriteError;
    this.nextWriteError = null;
    if (e !== null) throw e;
    if (this.unreachable) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'fake: unreachable', { sent: false });
    const r = this.direct(w);
    this.answered('write', r instanceof V2Error ? r.index : r.etcdIndex);
    if (this.autoPump) queueMicrotask(() => this.pump());
    return r instanceof V2Error ? { kind: 'error', error: r } : { kind: 'event', event: r, raftIndex: this.store.index + 3, raftTerm: 2 };
  }

  async forward(r: ForwardRequest): Promise<ForwardAnswer> {
    this.calls.forward++;
    if (this.unreachable) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'fake: unreachable', { sent: false });
    return { status: 200, headers: { 'content-type': 'application/json', 'x-forwarded-path': r.rawUrl }, body: Buffer.from('{"members":[]}\n') };
  }

  status(): UpstreamStatus {
    return {
      protocol: 'native',
      clusterId: FAKE_CLUSTER_ID,
      leaderId: FAKE_MEMBER_ID,
      membersUp: this.unreachable ? 0 : 1,
      membersKnown: 1,
      watchStreams: this.sink !== null && !this.unreachable && !this.streamDown ? 1 : 0,
      streamMember: FAKE_MEMBER_ID,
      etcdIndexSeen: this.seen,
      watchReconnects: this.watchReconnects,
    };
  }

  members(): UpstreamMember[] {
    return [{ id: FAKE_MEMBER_ID, name: 'fake', clientURL: 'http://127.0.0.1:1', up: !this.unreachable, leader: true }];
  }

  async close(): Promise<void> {
    this.release();
  }
}

/** A parsed PUT, as the proxy's edge parser hands it over. */
export function putReq(path: string, value: string, ttl?: number): WriteKeyRequest {
  return {
    kind: 'write',
    req: { method: 'PUT', path, value, dir: false, prevExist: null, prevValue: '', prevIndex: 0, recursive: false, refresh: false },
    ttl,
    noValueOnSuccess: false,
  };
}
