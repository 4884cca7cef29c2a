// A Raftgate core cluster as the proxy's upstream: a pool of native-protocol
// connections per member (at most --upstream-connections-per-member), reads
// spread over healthy members, writes to the leader, and ONE watch stream of
// every event feeding the proxy's view. See ../design.md, "Failover".
//
// Retry rules, from the native client's sent/not-sent promise:
//   read            any failure ─► next member (a read can be repeated)
//   write           `fail` (not-leader, overloaded, stopping: not run) ─► the
//                   leader it names, or the next member
//                   NOT SENT (never left this process) ─► next member
//                   SENT and no answer ─► outcome unknown: never retried, so
//                   a POST cannot create two in-order keys
//
// The stream: opened on the leader when known (it is never behind), resumed
// at view.index + 1 after any end on whichever member is healthy — events
// already seen are skipped by the view, so nothing repeats; if the member's
// history no longer reaches back ('cleared'), the stream restarts from now
// and the view resyncs (watchers that may have missed events get 401).
// A stream silent for longer than streamStallMs (the core sends progress at
// least every 100 ms) is abandoned for another member, which is what moves
// it off a member that hangs without closing its sockets.

import type { Logger } from 'pino';
import type { WriteKeyRequest } from '../../core-server/api/v2-request.js';
import type { NativeDiscovery } from '../../core-server/api/native/discovery.js';
import { NATIVE_DISCOVERY_PATH } from '../../core-server/api/native/discovery.js';
import type { ServerHello } from '../../core-server/api/native/messages.js';
import { eventIndex } from '../../core-server/store/event-history.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import { V2Error } from '../../core-server/store/v2-error.js';
import type { EcodeNumber } from '../../core-server/store/v2-error.js';
import { ProxyError } from '../errors.js';
import { endToEndHeaders } from './http-client.js';
import type { HttpClient } from './http-client.js';
import { MemberDirectory } from './members.js';
import type { Member, ProbeResult } from './members.js';
import { NativePool, NativeRequestError } from './native-client.js';
import type { NativeResponse, NativeWatchEnd, NativeWatchHandle } from './native-client.js';
import type { ForwardAnswer, ForwardRequest, KeyRead, KeysAnswer, Upstream, UpstreamMember, UpstreamObserver, UpstreamOp, UpstreamStatus, ViewSink } from './types.js';

export interface NativeClusterOptions {
  endpoints: readonly string[];
  http: HttpClient;
  logger: Logger;
  connectionsPerMember: number;
  healthCheckIntervalMs: number;
  /** Bound on one read or write, across retries and failover. */
  requestTimeoutMs: number;
  /** How long a read waits for some member to become reachable before giving up. */
  readWaitMs?: number;
  /** A stream that delivered nothing (not even progress) for this long is moved. */
  streamStallMs?: number;
  /** Events the proxy keeps: a fresh stream starts this far back so waitIndex works at once. */
  historyMax: number;
  /** Native client timings (tests shorten them). */
  nativeIdleTimeoutMs?: number;
  nativePingIntervalMs?: number;
  clientName?: string;
}

interface Stream {
  member: Member;
  handle: NativeWatchHandle;
  lastMsgMs: number;
  /** The next message says where the view continues (fresh start or after 'cleared'). */
  resyncPending: boolean;
  live: boolean;
}

const RETRY_PAUSE_MS = 25;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The etcd index a member's answer says it was at; null for a "not me". */
function indexOf(r: NativeResponse): number | null {
  if ('ok' in r) return r.etcdIndex;
  if ('err' in r) return r.err.index;
  return null;
}

function answerOf(r: NativeResponse): KeysAnswer | null {
  if ('ok' in r) return { kind: 'event', event: r.ok, raftIndex: r.raftIndex, raftTerm: r.raftTerm };
  if ('err' in r) return { kind: 'error', error: new V2Error(r.err.errorCode as EcodeNumber, r.err.cause ?? '', r.err.index) };
  return null;
}

export class NativeCluster implements Upstream {
  private readonly o: Required<Omit<NativeClusterOptions, 'nativeIdleTimeoutMs' | 'nativePingIntervalMs'>> &
    Pick<NativeClusterOptions, 'nativeIdleTimeoutMs' | 'nativePingIntervalMs'>;
  private readonly dir: MemberDirectory;
  private readonly pools = new Map<Member, NativePool>();
  private readonly log: Logger;
  private sink: ViewSink | null = null;
  private observer: UpstreamObserver | null = null;
  private stream: Stream | null = null;
  private streamTimer: NodeJS.Timeout | null = null;
  private reopenTimer: NodeJS.Timeout | null = null;
  private needResync = false;
  private lastHelloIndex = 0;
  /** The newest etcd index any member told of (hellos, the stream, answers). */
  private indexSeen = 0;
  /** The next open is a fresh start's fallback to "from now", not a reconnect. */
  private startupRetry = false;
  private closed = false;
  private rr = 0;
  /** Streams opened (first and every failover), for logs and tests. */
  streamOpens = 0;
  /** Streams opened again after one ended or stalled (see UpstreamStatus.watchReconnects). */
  private reconnects = 0;

  constructor(o: NativeClusterOptions) {
    this.o = { readWaitMs: 250, streamStallMs: 500, clientName: 'raftgate-proxy', ...o };
    this.log = o.logger;
    this.dir = new MemberDirectory({
      endpoints: o.endpoints,
      http: o.http,
      healthCheckIntervalMs: o.healthCheckIntervalMs,
      logger: o.logger,
      probe: (m, t) => this.probe(m, t),
      onProbed: (m, r) => this.onProbed(m, r),
      onRemoved: (m) => {
        this.pools.get(m)?.close();
        this.pools.delete(m);
      },
    });
  }

  // ---- members ---------------------------------------------------------------

  private async probe(m: Member, timeoutMs: number): Promise<ProbeResult> {
    const res = await this.o.http.call(m.clientUrl, { method: 'GET', path: NATIVE_DISCOVERY_PATH, timeoutMs });
    if (res.status !== 200) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_MISMATCH', `${m.clientUrl}${NATIVE_DISCOVERY_PATH} answered ${res.status}: not a Raftgate member`);
    const d = JSON.parse(res.body.toString('utf8')) as NativeDiscovery;
    const nativeUrl = d.nativeUrls[0];
    if (nativeUrl === undefined) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_MISMATCH', `${m.clientUrl} announces no native URL`);
    return { memberId: d.memberId, clusterId: d.clusterId, nativeUrl };
  }

  private onProbed(m: Member, r: ProbeResult | null): void {
    if (r === null || r.nativeUrl === undefined) return;
    const pool = this.pools.get(m);
    if (pool !== undefined && pool.url === r.nativeUrl) return;
    pool?.close();
    this.pools.set(
      m,
      new NativePool({
        url: r.nativeUrl,
        size: this.o.connectionsPerMember,
        clientName: this.o.clientName,
        logger: this.log,
        requestTimeoutMs: this.o.requestTimeoutMs,
        ...(this.o.nativeIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.o.nativeIdleTimeoutMs } : {}),
        ...(this.o.nativePingIntervalMs !== undefined ? { pingIntervalMs: this.o.nativePingIntervalMs } : {}),
        onConnect: (h) => this.onHello(m, h),
      }),
    );
    if (this.stream === null) this.scheduleOpen(0);
  }

  private onHello(m: Member, h: ServerHello): void {
    if (this.dir.clusterId !== null && h.clusterId !== this.dir.clusterId) {
      this.log.error({ url: m.clientUrl, clusterId: h.clusterId }, 'native hello from another cluster; member ignored');
      m.healthy = false;
      return;
    }
    if (h.leaderId !== null) this.dir.leaderId = h.leaderId;
    if (h.name !== '') m.name = h.name;
    this.lastHelloIndex = Math.max(this.lastHelloIndex, h.etcdIndex);
    this.heard(h.etcdIndex);
    if (this.stream === null) this.scheduleOpen(0);
  }

  /** Healthy (its last probe answered) and holding a ready connection now. */
  private up(m: Member): boolean {
    return m.healthy && (this.pools.get(m)?.readyCount ?? 0) > 0;
  }

  private upMembers(): Member[] {
    return this.dir.members.filter((m) => this.up(m));
  }

  private leaderMember(): Member | null {
    const id = this.dir.leaderId;
    const m = id === null ? undefined : this.dir.byId(id);
    return m !== undefined && this.up(m) ? m : null;
  }

  /** Reads: the stream's member (its index is the view's), else the leader, else round-robin. */
  private pickRead(exclude: ReadonlySet<Member>): Member | null {
    const s = this.stream?.member;
    if (s !== undefined && !exclude.has(s) && this.up(s)) return s;
    const l = this.leaderMember();
    if (l !== null && !exclude.has(l)) return l;
    const ups = this.upMembers().filter((m) => !exclude.has(m));
    if (ups.length === 0) return null;
    return ups[this.rr++ % ups.length] ?? null;
  }

  /**
   * Writes: the member believed to lead (whatever it answered before: the
   * belief is what other members' answers keep current), else a member not
   * yet tried, which will name the leader if it knows one.
   */
  private pickWrite(exclude: ReadonlySet<Member>): Member | null {
    const l = this.leaderMember();
    if (l !== null) return l;
    return this.upMembers().find((m) => !exclude.has(m)) ?? null;
  }

  private heard(etcdIndex: number): void {
    if (etcdIndex > this.indexSeen) this.indexSeen = etcdIndex;
  }

  /** An attempt that reached `m` (answered, or failed after it was sent), started at t0 (performance.now()). */
  private attempted(op: UpstreamOp, m: Member, t0: number, r: NativeResponse | null): void {
    if (r !== null) {
      const i = indexOf(r);
      if (i !== null) this.heard(i);
    }
    this.observer?.attempt(op, m.id ?? m.clientUrl, (performance.now() - t0) / 1000);
  }

  // ---- Upstream ----------------------------------------------------------------

  start(sink: ViewSink, observer?: UpstreamObserver): void {
    this.sink = sink;
    this.observer = observer ?? null;
    this.dir.start();
    this.streamTimer = setInterval(() => this.checkStream(), Math.max(10, Math.floor(this.o.streamStallMs / 4)));
    this.streamTimer.unref();
  }

  async get(r: KeyRead): Promise<KeysAnswer> {
    const deadline = Date.now() + this.o.requestTimeoutMs;
    const waitUntil = Date.now() + this.o.readWaitMs;
    const tried = new Set<Member>();
    let last = 'no member reachable';
    while (!this.closed) {
      const m = this.pickRead(tried);
      if (m === null) {
        // Nobody reachable (wait a little for a failover), or every healthy
        // member failed once (pause, then another pass until the deadline).
        const until = tried.size > 0 && this.upMembers().length > 0 ? deadline : Math.min(deadline, waitUntil);
        if (Date.now() >= until) break;
        tried.clear();
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      tried.add(m);
      const left = deadline - Date.now();
      if (left <= 0) break;
      const op = r.quorum ? 'quorum_get' : 'get';
      const t0 = performance.now();
      try {
        const res = await (this.pools.get(m) as NativePool).get(r, left);
        this.attempted(op, m, t0, res);
        const a = answerOf(res);
        if (a !== null) return a;
        last = `member ${m.id} did not run the read (${'fail' in res ? res.fail : '?'})`;
      } catch (err) {
        if (!(err instanceof NativeRequestError) || err.sent) this.attempted(op, m, t0, null);
        last = (err as Error).message;
      }
    }
    throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `read ${r.path}: ${last}`, { sent: false });
  }

  async write(w: WriteKeyRequest): Promise<KeysAnswer> {
    const deadline = Date.now() + this.o.requestTimeoutMs;
    const refused = new Set<Member>();
    let last = 'no member reachable';
    while (!this.closed && Date.now() < deadline) {
      const m = this.pickWrite(refused);
      if (m === null) {
        // Every member said "not me" (an election): start over after a pause.
        refused.clear();
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      let res: NativeResponse;
      const t0 = performance.now();
      try {
        res = await (this.pools.get(m) as NativePool).write(w, Math.max(1, deadline - Date.now()));
      } catch (err) {
        if (err instanceof NativeRequestError && !err.sent) {
          last = err.message;
          refused.add(m);
          continue; // provably never reached the member: safe anywhere
        }
        this.attempted('write', m, t0, null);
        throw new ProxyError('RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN', `write ${w.req.method} ${w.req.path} to ${m.id}: ${(err as Error).message}`, {
          sent: true,
          facts: { member: m.id },
        });
      }
      this.attempted('write', m, t0, res);
      const a = answerOf(res);
      if (a !== null) return a;
      if (!('fail' in res)) continue;
      // The member did not run it: go where it says, or elsewhere.
      last = `member ${m.id}: ${res.fail} ${res.message}`;
      if (res.fail === 'not-leader') {
        if (this.dir.leaderId === m.id) this.dir.leaderId = null; // it says it is not
        if (res.leaderId !== null && res.leaderId !== m.id) this.dir.leaderId = res.leaderId;
      }
      refused.add(m);
      // Straight on to a leader it named that is up; otherwise give the election a moment.
      const next = this.leaderMember();
      if (next === null || next === m) await sleep(RETRY_PAUSE_MS);
    }
    throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `write ${w.req.method} ${w.req.path}: ${last}`, { sent: false });
  }

  async forward(r: ForwardRequest): Promise<ForwardAnswer> {
    const deadline = Date.now() + this.o.requestTimeoutMs;
    const order = [...(r.target === 'leader' ? [this.leaderMember()] : []), ...this.dir.healthy(), ...this.dir.members].filter(
      (m, i, all): m is Member => m !== null && all.indexOf(m) === i,
    );
    let last: unknown = null;
    for (const m of order) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const res = await this.o.http.call(m.clientUrl, { method: r.method, path: r.rawUrl, headers: r.headers, body: r.body, timeoutMs: left });
        return { status: res.status, headers: endToEndHeaders(res.headers), body: res.body };
      } catch (err) {
        last = err;
        // Only a request that never reached a member may be sent to another.
        if (err instanceof ProxyError && err.sent && r.method !== 'GET' && r.method !== 'HEAD') throw err;
      }
    }
    if (last instanceof ProxyError) throw last;
    throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `${r.method} ${r.rawUrl}: no member reachable`);
  }

  status(): UpstreamStatus {
    return {
      protocol: 'native',
      clusterId: this.dir.clusterId,
      leaderId: this.dir.leaderId,
      membersUp: this.upMembers().length,
      membersKnown: this.dir.members.length,
      watchStreams: this.stream?.live === true ? 1 : 0,
      streamMember: this.stream?.member.id ?? null,
      etcdIndexSeen: this.indexSeen,
      watchReconnects: this.reconnects,
    };
  }

  members(): UpstreamMember[] {
    const leader = this.dir.leaderId;
    return this.dir.members.map((m) => ({ id: m.id, name: m.name, clientURL: m.clientUrl, up: this.up(m), leader: m.id !== null && m.id === leader }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dir.close();
    if (this.streamTimer !== null) clearInterval(this.streamTimer);
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer);
    this.stream?.handle.cancel();
    this.stream = null;
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }

  // ---- the one watch stream ---------------------------------------------------

  private scheduleOpen(delayMs: number): void {
    if (this.closed || this.stream !== null || this.reopenTimer !== null || this.sink === null) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.openStream(null);
    }, delayMs);
    this.reopenTimer.unref();
  }

  private openStream(avoid: Member | null): void {
    const sink = this.sink;
    if (this.closed || sink === null || this.stream !== null) return;
    const ups = this.upMembers();
    const l = this.leaderMember();
    const m = (l !== null && l !== avoid ? l : undefined) ?? ups.find((x) => x !== avoid) ?? ups[0];
    if (m === undefined) {
      this.scheduleOpen(50);
      return;
    }
    const pool = this.pools.get(m) as NativePool;
    const fresh = !sink.synced;
    const resyncPending = fresh || this.needResync;
    // Fresh: start as far back as the proxy keeps events, so a waitIndex in
    // the recent past works at once (a 401 from the core falls back to now).
    // After 'cleared': from now. Otherwise: right after the last event seen.
    let since: number;
    if (this.needResync) since = 0;
    else if (fresh) since = Math.max(1, this.lastHelloIndex - this.o.historyMax + 1);
    else since = sink.index + 1;
    const s: Stream = { member: m, handle: { id: 0, cancel: () => {} }, lastMsgMs: Date.now(), resyncPending, live: false };
    this.stream = s;
    if (this.streamOpens > 0 && !this.startupRetry) this.reconnects++;
    this.startupRetry = false;
    this.streamOpens++;
    this.log.info({ member: m.id, sinceIndex: since, resync: resyncPending }, 'opening the upstream watch stream');
    s.handle = pool.watch(
      since,
      (events) => this.onStreamEvents(s, events),
      (idx) => this.onStreamProgress(s, idx),
      (end) => this.onStreamEnd(s, end, fresh && !this.needResync && since > 1),
    );
  }

  private onStreamEvents(s: Stream, events: StoreEvent[]): void {
    if (this.stream !== s || this.sink === null || events.length === 0) return;
    s.lastMsgMs = Date.now();
    s.live = true;
    this.heard(eventIndex(events[events.length - 1] as StoreEvent));
    if (s.resyncPending) {
      s.resyncPending = false;
      this.needResync = false;
      this.sink.resync(eventIndex(events[0] as StoreEvent) - 1);
    }
    this.sink.events(events);
  }

  private onStreamProgress(s: Stream, etcdIndex: number): void {
    if (this.stream !== s || this.sink === null) return;
    s.lastMsgMs = Date.now();
    s.live = true;
    this.heard(etcdIndex);
    if (s.resyncPending) {
      s.resyncPending = false;
      this.needResync = false;
      this.sink.resync(etcdIndex);
      return;
    }
    this.sink.progress(etcdIndex);
  }

  private onStreamEnd(s: Stream, end: NativeWatchEnd, triedHistory: boolean): void {
    if (this.stream !== s) return;
    this.stream = null;
    if (this.closed) return;
    if (end.reason === 'cleared') {
      // The member's history does not reach where the view is: start from
      // now and resync. (A fresh start that asked for too much history just
      // starts from now: nothing was promised yet.)
      this.needResync = true;
      this.startupRetry = triedHistory;
      if (!triedHistory) this.log.warn({ member: s.member.id, viewIndex: this.sink?.index }, 'upstream history no longer reaches the view; resyncing');
    } else {
      this.log.warn({ member: s.member.id, reason: end.reason, viewIndex: this.sink?.index }, 'upstream watch stream ended; resuming');
    }
    // At once: every event the view has is in order, the rest will replay.
    this.openStream(end.reason === 'cleared' ? null : s.member);
  }

  private checkStream(): void {
    const s = this.stream;
    if (s === null) {
      this.scheduleOpen(0);
      return;
    }
    const silentMs = Date.now() - s.lastMsgMs;
    if (silentMs > this.o.streamStallMs || !this.up(s.member)) {
      // A member that stopped talking (or failed its health check): move.
      if (!this.up(s.member) && silentMs <= this.o.streamStallMs && this.upMembers().length === 0) return;
      this.log.warn({ member: s.member.id, silentMs }, 'upstream watch stream stalled; moving it');
      this.stream = null;
      s.handle.cancel();
      this.openStream(s.member);
    }
  }
}
