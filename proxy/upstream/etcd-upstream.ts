// A REAL etcd 3.4 cluster as the proxy's upstream, over its v2 HTTP API:
// etcd has no native protocol, so the proxy speaks what any v2 client does.
//
//   reads   GET /v2/keys/<key>?recursive&sorted&quorum on a healthy member
//   writes  the validated request re-encoded as a form, on the leader
//           (any member would forward it; the leader saves a hop). Retried
//           elsewhere only when the connection was refused (never sent).
//   stream  a chain of one-event long polls on the root (etcd-feed.ts),
//           re-armed every `progressIntervalMs` so an idle proxy still
//           learns it is current.
//
// What degrades compared with a Raftgate core (see ../design.md):
//   - staleness: etcd sends no progress notifications, so the proxy knows
//     it is current only when a poll registers (every progressIntervalMs,
//     250 ms by default) or an event arrives: staleness idles up to that
//     plus a round trip, not ≤ 100 ms;
//   - hidden ('_') keys reach the proxy's watchers only via etcd's history,
//     i.e. at the next event or re-arm: up to progressIntervalMs late;
//   - a TTL refresh is invisible to v2 watchers: the proxy fills its index
//     with a gap event and drops its whole cache (it cannot know the key);
//   - throughput of the stream: one HTTP round trip per event.

import type { Logger } from 'pino';
import { escapePath } from '../../core-server/api/go-url.js';
import type { WriteKeyRequest } from '../../core-server/api/v2-request.js';
import type { NodeJSON, StoreEvent } from '../../core-server/store/types.js';
import { V2Error } from '../../core-server/store/v2-error.js';
import type { EcodeNumber } from '../../core-server/store/v2-error.js';
import { ProxyError } from '../errors.js';
import { EtcdFeed } from './etcd-feed.js';
import type { FeedAction } from './etcd-feed.js';
import { endToEndHeaders } from './http-client.js';
import type { HttpAnswerRaw, HttpClient } from './http-client.js';
import { MemberDirectory } from './members.js';
import type { Member, ProbeResult } from './members.js';
import type { ForwardAnswer, ForwardRequest, KeyRead, KeysAnswer, Upstream, UpstreamMember, UpstreamObserver, UpstreamOp, UpstreamStatus, ViewSink } from './types.js';

export interface EtcdUpstreamOptions {
  endpoints: readonly string[];
  http: HttpClient;
  logger: Logger;
  healthCheckIntervalMs: number;
  requestTimeoutMs: number;
  historyMax: number;
  /** An idle poll is re-armed this often, to learn that nothing changed. */
  progressIntervalMs?: number;
  /** How long after a poll's headers its history answer may still be on the way. */
  settleMs?: number;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function keysPath(path: string): string {
  return '/v2/keys' + (path === '/' ? '/' : escapePath(path));
}

function num(h: string | undefined): number {
  const n = Number(h);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

interface EtcdJson {
  action?: unknown;
  node?: unknown;
  prevNode?: unknown;
  errorCode?: unknown;
  cause?: unknown;
  index?: unknown;
}

/** An etcd v2 answer as a member's event or error; null when it is neither. */
export function parseEtcdAnswer(res: HttpAnswerRaw): KeysAnswer | null {
  let j: EtcdJson;
  try {
    j = JSON.parse(res.body.toString('utf8')) as EtcdJson;
  } catch {
    return null;
  }
  if (j === null || typeof j !== 'object') return null;
  if (typeof j.errorCode === 'number') {
    return { kind: 'error', error: new V2Error(j.errorCode as EcodeNumber, typeof j.cause === 'string' ? j.cause : '', typeof j.index === 'number' ? j.index : 0) };
  }
  if (typeof j.action !== 'string' || j.node === null || typeof j.node !== 'object') return null;
  const event: StoreEvent = { action: j.action as StoreEvent['action'], node: j.node as NodeJSON, etcdIndex: num(res.headers['x-etcd-index']) };
  if (j.prevNode !== undefined && j.prevNode !== null && typeof j.prevNode === 'object') event.prevNode = j.prevNode as NodeJSON;
  return { kind: 'event', event, raftIndex: num(res.headers['x-raft-index']), raftTerm: num(res.headers['x-raft-term']) };
}

/** The form etcd parses back into the same request (parseKeyRequest's inverse, for what it keeps). */
export function writeForm(w: WriteKeyRequest): string {
  const r = w.req;
  const p = new URLSearchParams();
  if (r.value !== '') p.set('value', r.value);
  if (r.dir) p.set('dir', 'true');
  if (r.prevExist !== null) p.set('prevExist', String(r.prevExist));
  if (r.prevValue !== '') p.set('prevValue', r.prevValue);
  if (r.prevIndex !== 0) p.set('prevIndex', String(r.prevIndex));
  if (r.recursive) p.set('recursive', 'true');
  if (r.refresh) p.set('refresh', 'true');
  if (w.ttl === null) p.set('ttl', '');
  else if (w.ttl !== undefined) p.set('ttl', w.ttlExact !== undefined ? w.ttlExact.toString() : String(w.ttl));
  return p.toString();
}

export class EtcdUpstream implements Upstream {
  private readonly o: Required<EtcdUpstreamOptions>;
  private readonly dir: MemberDirectory;
  private readonly log: Logger;
  private readonly feed: EtcdFeed;
  private sink: ViewSink | null = null;
  private observer: UpstreamObserver | null = null;
  private closed = false;
  private pollMember: Member | null = null;
  private lastHeadersMs = 0;
  private loopDone: Promise<void> | null = null;
  private abortPoll: AbortController | null = null;
  private rr = 0;
  /** The newest X-Etcd-Index any member answered with. */
  private indexSeen = 0;
  /** A poll failed or was cleared: the next poll that registers is a reconnect. */
  private streamBroken = false;
  private reconnects = 0;

  constructor(o: EtcdUpstreamOptions) {
    this.o = { progressIntervalMs: 250, settleMs: 25, ...o };
    this.log = o.logger;
    this.feed = new EtcdFeed(o.historyMax);
    this.dir = new MemberDirectory({
      endpoints: o.endpoints,
      http: o.http,
      healthCheckIntervalMs: o.healthCheckIntervalMs,
      logger: o.logger,
      probe: (m, t) => this.probe(m, t),
    });
  }

  private async probe(m: Member, timeoutMs: number): Promise<ProbeResult> {
    const [self, keys] = await Promise.all([
      this.o.http.call(m.clientUrl, { method: 'GET', path: '/v2/stats/self', timeoutMs }),
      this.o.http.call(m.clientUrl, { method: 'HEAD', path: '/v2/keys/', timeoutMs }),
    ]);
    const j = JSON.parse(self.body.toString('utf8')) as { id?: unknown; name?: unknown };
    const cluster = keys.headers['x-etcd-cluster-id'];
    if (self.status !== 200 || typeof j.id !== 'string' || cluster === undefined) {
      throw new ProxyError('RG_ERR_PROXY_UPSTREAM_MISMATCH', `${m.clientUrl} does not answer as an etcd v2 member (enable --enable-v2)`);
    }
    this.heard(num(keys.headers['x-etcd-index']));
    return { memberId: j.id, clusterId: cluster, ...(typeof j.name === 'string' && j.name !== '' ? { name: j.name } : {}) };
  }

  private pick(exclude: ReadonlySet<Member>, leaderFirst: boolean): Member | null {
    const ups = this.dir.healthy().filter((m) => !exclude.has(m));
    if (leaderFirst) {
      const l = ups.find((m) => m.id !== null && m.id === this.dir.leaderId);
      if (l !== undefined) return l;
    }
    if (this.pollMember !== null && ups.includes(this.pollMember)) return this.pollMember;
    return ups.length === 0 ? null : (ups[this.rr++ % ups.length] ?? null);
  }

  private heard(etcdIndex: number): void {
    if (etcdIndex > this.indexSeen) this.indexSeen = etcdIndex;
  }

  start(sink: ViewSink, observer?: UpstreamObserver): void {
    this.sink = sink;
    this.observer = observer ?? null;
    this.dir.start();
    this.loopDone = this.streamLoop();
  }

  async get(r: KeyRead): Promise<KeysAnswer> {
    const q = new URLSearchParams();
    if (r.recursive) q.set('recursive', 'true');
    if (r.sorted) q.set('sorted', 'true');
    if (r.quorum) q.set('quorum', 'true');
    const qs = q.toString();
    return this.send(r.quorum ? 'quorum_get' : 'get', 'GET', keysPath(r.path) + (qs === '' ? '' : '?' + qs), undefined, true);
  }

  write(w: WriteKeyRequest): Promise<KeysAnswer> {
    return this.send('write', w.req.method, keysPath(w.req.path), writeForm(w), false);
  }

  private async send(op: UpstreamOp, method: string, path: string, body: string | undefined, idempotent: boolean): Promise<KeysAnswer> {
    const deadline = Date.now() + this.o.requestTimeoutMs;
    const tried = new Set<Member>();
    let last = 'no member reachable';
    while (!this.closed && Date.now() < deadline) {
      const m = this.pick(tried, !idempotent);
      if (m === null) {
        if (tried.size === 0 && Date.now() + 25 >= deadline) break;
        tried.clear();
        await sleep(25);
        continue;
      }
      tried.add(m);
      let res: HttpAnswerRaw;
      const t0 = performance.now();
      const attempted = (): void => this.observer?.attempt(op, m.id ?? m.clientUrl, (performance.now() - t0) / 1000);
      try {
        res = await this.o.http.call(m.clientUrl, {
          method,
          path,
          ...(body !== undefined ? { body, headers: FORM } : {}),
          timeoutMs: Math.max(1, deadline - Date.now()),
        });
      } catch (err) {
        const e = err as ProxyError;
        last = e.message;
        if (e.sent !== false) attempted();
        if (!idempotent && e.sent) {
          throw new ProxyError('RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN', `${method} ${path} on ${m.clientUrl}: ${e.message}`, { sent: true });
        }
        continue;
      }
      attempted();
      const a = parseEtcdAnswer(res);
      if (a !== null) {
        if (a.kind === 'event' && a.event.etcdIndex === 0) a.event.etcdIndex = a.event.node.modifiedIndex ?? 0;
        this.heard(a.kind === 'event' ? a.event.etcdIndex : a.error.index);
        return a;
      }
      last = `${m.clientUrl} answered ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
      if (!idempotent) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_BAD_ANSWER', `${method} ${path}: ${last}`, { sent: true });
    }
    throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', `${method} ${path}: ${last}`, { sent: false });
  }

  async forward(r: ForwardRequest): Promise<ForwardAnswer> {
    const m = this.pick(new Set(), r.target === 'leader') ?? this.dir.members[0];
    if (m === undefined) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'no member');
    const res = await this.o.http.call(m.clientUrl, { method: r.method, path: r.rawUrl, headers: r.headers, body: r.body, timeoutMs: this.o.requestTimeoutMs });
    return { status: res.status, headers: endToEndHeaders(res.headers), body: res.body };
  }

  status(): UpstreamStatus {
    const live = this.pollMember !== null && Date.now() - this.lastHeadersMs <= 2 * this.o.progressIntervalMs + 1000;
    return {
      protocol: 'etcd-v2',
      clusterId: this.dir.clusterId,
      leaderId: this.dir.leaderId,
      membersUp: this.dir.healthy().length,
      membersKnown: this.dir.members.length,
      watchStreams: live ? 1 : 0,
      streamMember: live ? (this.pollMember?.id ?? null) : null,
      etcdIndexSeen: this.indexSeen,
      watchReconnects: this.reconnects,
    };
  }

  members(): UpstreamMember[] {
    const leader = this.dir.leaderId;
    return this.dir.members.map((m) => ({ id: m.id, name: m.name, clientURL: m.clientUrl, up: m.healthy, leader: m.id !== null && m.id === leader }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dir.close();
    this.abortPoll?.abort();
    await this.loopDone;
  }

  // ---- the stream -------------------------------------------------------------

  private apply(actions: FeedAction[]): void {
    const sink = this.sink as ViewSink;
    for (const a of actions) {
      if (a.t === 'resync') sink.resync(a.index);
      else if (a.t === 'events') sink.events(a.events);
      else sink.progress(a.index);
    }
  }

  private async streamLoop(): Promise<void> {
    const sink = this.sink as ViewSink;
    let failures = 0;
    while (!this.closed) {
      const exclude = new Set<Member>();
      if (failures > 0 && this.pollMember !== null) exclude.add(this.pollMember);
      const m = this.pick(exclude, true) ?? this.pick(new Set(), true);
      if (m === null) {
        await sleep(50);
        continue;
      }
      this.pollMember = m;
      try {
        await this.pollOnce(m, sink);
        failures = 0;
      } catch (err) {
        if (this.closed) break;
        failures++;
        this.streamBroken = true;
        this.log.warn({ member: m.id, err: (err as Error).message }, 'etcd watch poll failed; moving');
        await sleep(Math.min(500, 25 * failures));
      }
    }
  }

  private async pollOnce(m: Member, sink: ViewSink): Promise<void> {
    let hint: number | null = null;
    if (!sink.synced) {
      const head = await this.o.http.call(m.clientUrl, { method: 'HEAD', path: '/v2/keys/', timeoutMs: this.o.requestTimeoutMs });
      hint = num(head.headers['x-etcd-index']);
      this.heard(hint);
    }
    const { waitIndex } = this.feed.beginPoll(sink, hint);
    const path = '/v2/keys/?wait=true&recursive=true' + (waitIndex === null ? '' : `&waitIndex=${waitIndex}`);
    const ac = new AbortController();
    this.abortPoll = ac;
    let rearmed = false;
    const rearm = setTimeout(() => {
      rearmed = true;
      ac.abort();
    }, this.o.progressIntervalMs);
    let settle: NodeJS.Timeout | null = null;
    try {
      const res = await this.o.http.open(m.clientUrl, { method: 'GET', path, headersTimeoutMs: Math.max(1000, this.o.progressIntervalMs * 4), signal: ac.signal });
      const chunks: Buffer[] = [];
      if (res.statusCode !== 200) {
        for await (const c of res.body) chunks.push(Buffer.from(c as Uint8Array));
        const a = parseEtcdAnswer({ status: res.statusCode, headers: {}, body: Buffer.concat(chunks) });
        if (a?.kind === 'error' && a.error.errorCode === 401) {
          this.log.warn({ member: m.id, waitIndex, viewIndex: sink.index }, 'etcd history no longer reaches the view; resyncing');
          this.streamBroken = true;
          this.feed.onCleared();
          return;
        }
        throw new Error(`watch answered ${res.statusCode}`);
      }
      this.lastHeadersMs = Date.now();
      if (this.streamBroken) {
        this.streamBroken = false;
        this.reconnects++;
      }
      const x = num(res.headers['x-etcd-index'] as string | undefined);
      this.heard(x);
      this.apply(this.feed.onHeaders(x));
      if (this.feed.ambiguous) settle = setTimeout(() => this.apply(this.feed.onSettled(sink)), this.o.settleMs);
      for await (const c of res.body) chunks.push(Buffer.from(c as Uint8Array));
      if (settle !== null) clearTimeout(settle);
      const body = Buffer.concat(chunks);
      if (body.length === 0) {
        this.feed.onEnded();
        return;
      }
      const a = parseEtcdAnswer({ status: 200, headers: {}, body });
      if (a?.kind !== 'event') throw new Error(`watch answered ${body.toString('utf8').slice(0, 200)}`);
      // A watch answer's X-Etcd-Index is where the watch started; in the stream an event stands at its own index.
      a.event.etcdIndex = a.event.node.modifiedIndex ?? 0;
      this.lastHeadersMs = Date.now();
      this.apply(this.feed.onEvent(a.event, sink));
    } catch (err) {
      this.feed.onEnded();
      if (rearmed && !this.closed) return; // the re-arm: normal
      throw err;
    } finally {
      clearTimeout(rearm);
      if (settle !== null) clearTimeout(settle);
      this.abortPoll = null;
    }
  }
}
