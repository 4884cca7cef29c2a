// The native protocol server: proxies' persistent, multiplexed connections to
// a core member (design.md). The core parses no HTTP here: a read arrives as
// {path, recursive, sorted, quorum}, a write as the fields the proxy already
// validated, and the answer goes back as the store's event or etcd's error.
//
// Limits: connections (refused with a goaway), requests in flight per
// connection (answered `fail: overloaded` at once), watches per connection,
// frame bytes (goaway and close). A watch never makes the core buffer without
// bound: it reads the store's history through a cursor, pauses while the
// socket's write buffer is above `watchBufferBytesSoft`, and is ended
// ('slow') if the socket stays over `watchBufferBytesHard` or paused for
// longer than `watchStallMsMax`; if the cursor falls out of the history, the
// store itself ends it with 401.

import net from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { KvNode } from '../../node/types.js';
import type { StoreEvent, Watcher } from '../../store/types.js';
import { Ecode, V2Error } from '../../store/v2-error.js';
import type { V2ErrorBody } from '../../store/v2-error.js';
import { toWriteRequest } from '../v2-request.js';
import type { WriteKeyRequest } from '../v2-request.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder, NativeProtocolError, encodeFrame } from './codec.js';
import { NATIVE_PROTOCOL_VERSION, checkClientMsg } from './messages.js';
import type { FailReason, GetOp, RequestMsg, ServerMsg, WatchEndReason, WriteOp } from './messages.js';

export interface NativeServerOptions {
  node: KvNode;
  listen: { host: string; port: number };
  logger: Logger;
  registry: Registry;
  connectionsMax: number;
  inflightPerConnectionMax: number;
  watchesPerConnectionMax?: number;
  frameBytesMax?: number;
  /** A watch with nothing to send gets a progress notification this often (the contract is ≤ 100 ms). */
  progressIntervalMs?: number;
  watchBufferBytesSoft?: number;
  watchBufferBytesHard?: number;
  watchStallMsMax?: number;
  /** Events per `events` frame. */
  eventsPerFrameMax?: number;
  /** How long close() lets in-flight requests finish. */
  closeGraceMs?: number;
}

export interface NativeServer {
  /** The bound port (useful when listen.port was 0). */
  readonly port: number;
  readonly host: string;
  connectionCount(): number;
  close(): Promise<void>;
}

interface WatchStream {
  id: number;
  watcher: Watcher;
  paused: boolean;
  pausedSinceMs: number;
  lastSentMs: number;
  drainQueued: boolean;
  ended: boolean;
}

type Outcome = 'ok' | 'error' | 'fail';

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`RG_ERR_NATIVE_CONFIG: ${name} must be a positive integer, got ${v}`);
  return v;
}

export async function startNativeServer(opts: NativeServerOptions): Promise<NativeServer> {
  const { node, logger: log } = opts;
  const connectionsMax = positiveInt('connectionsMax', opts.connectionsMax);
  const inflightMax = positiveInt('inflightPerConnectionMax', opts.inflightPerConnectionMax);
  const watchesMax = positiveInt('watchesPerConnectionMax', opts.watchesPerConnectionMax ?? 8);
  const frameBytesMax = positiveInt('frameBytesMax', opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT);
  const progressMs = positiveInt('progressIntervalMs', opts.progressIntervalMs ?? 50);
  const softBytes = positiveInt('watchBufferBytesSoft', opts.watchBufferBytesSoft ?? 1 << 20);
  const hardBytes = positiveInt('watchBufferBytesHard', opts.watchBufferBytesHard ?? 16 << 20);
  const stallMsMax = positiveInt('watchStallMsMax', opts.watchStallMsMax ?? 10_000);
  const perFrame = positiveInt('eventsPerFrameMax', opts.eventsPerFrameMax ?? 256);
  const closeGraceMs = positiveInt('closeGraceMs', opts.closeGraceMs ?? 2000);
  if (hardBytes < softBytes) throw new Error('RG_ERR_NATIVE_CONFIG: watchBufferBytesHard must be at least watchBufferBytesSoft');

  // One set of metrics per registry, shared by every native listener of the member.
  const reg = opts.registry;
  const mConnections =
    (reg.getSingleMetric('raftgate_core_native_connections') as Gauge | undefined) ??
    new Gauge({ name: 'raftgate_core_native_connections', help: 'Open native-protocol connections (from proxies).', registers: [reg] });
  const mRequests =
    (reg.getSingleMetric('raftgate_core_native_requests_total') as Counter<'op' | 'outcome'> | undefined) ??
    new Counter({
      name: 'raftgate_core_native_requests_total',
      help: 'Native-protocol requests by op (get, write, watch) and outcome (ok, error = an etcd error, fail = not run).',
      labelNames: ['op', 'outcome'] as const,
      registers: [reg],
    });
  const mWatches =
    (reg.getSingleMetric('raftgate_core_native_watch_streams') as Gauge | undefined) ??
    new Gauge({ name: 'raftgate_core_native_watch_streams', help: 'Open native-protocol watch streams.', registers: [reg] });

  const conns = new Set<Conn>();
  let stopping = false;

  class Conn {
    readonly socket: net.Socket;
    private readonly decoder = new FrameDecoder(frameBytesMax);
    private greeted = false;
    private corked = false;
    inflight = 0;
    readonly watches = new Map<number, WatchStream>();
    closed = false;

    constructor(socket: net.Socket) {
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('drain', () => {
        if (socket.isPaused()) socket.resume();
        for (const w of this.watches.values()) if (w.paused) this.drain(w);
      });
      socket.on('error', () => {
        // 'close' follows; a peer resetting the connection is not our error.
      });
      socket.on('close', () => this.onClose());
      this.send({
        t: 'hello',
        version: NATIVE_PROTOCOL_VERSION,
        clusterId: node.clusterId,
        memberId: node.memberId,
        name: node.name,
        leaderId: node.leaderId(),
        etcdIndex: node.store.index,
      });
    }

    send(msg: ServerMsg): void {
      if (this.closed || this.socket.destroyed) return;
      let frame: Buffer;
      try {
        frame = encodeFrame(msg, frameBytesMax);
      } catch (err) {
        if (err instanceof NativeProtocolError && 'id' in msg && msg.t === 'res') {
          // An answer too large for a frame (a huge recursive get): say so instead.
          this.send({ t: 'res', id: msg.id, err: new V2Error(Ecode.RaftInternal, err.message, node.store.index).toJSON(), raftIndex: node.raftIndex, raftTerm: node.raftTerm });
          return;
        }
        throw err;
      }
      // Frames written in one tick leave in one write (writev).
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(frame);
    }

    goaway(code: string, message: string): void {
      this.send({ t: 'goaway', code, message });
      this.closed = true;
      this.socket.end();
      // A peer that does not read its half-close cannot keep us waiting.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }

    private onData(chunk: Buffer): void {
      if (this.closed) return;
      let msgs: unknown[];
      try {
        msgs = this.decoder.push(chunk);
      } catch (err) {
        const e = err as NativeProtocolError;
        log.warn({ err: e.message, remote: this.socket.remoteAddress }, 'native protocol violation; closing connection');
        this.goaway(e.code, e.message);
        return;
      }
      // A client that sends faster than it reads our answers: stop reading
      // its requests until our answers drain, rather than buffer them.
      if (this.socket.writableLength > softBytes) this.socket.pause();
      for (const raw of msgs) {
        if (this.closed) return;
        const m = checkClientMsg(raw);
        if (typeof m === 'string') {
          log.warn({ reason: m, remote: this.socket.remoteAddress }, 'malformed native message; closing connection');
          this.goaway('RG_ERR_NATIVE_BAD_MESSAGE', m);
          return;
        }
        if (!this.greeted) {
          if (m.t !== 'hello' || m.version !== NATIVE_PROTOCOL_VERSION) {
            this.goaway('RG_ERR_NATIVE_VERSION', `expected hello with protocol version ${NATIVE_PROTOCOL_VERSION}`);
            return;
          }
          this.greeted = true;
          continue;
        }
        switch (m.t) {
          case 'hello':
            this.goaway('RG_ERR_NATIVE_BAD_MESSAGE', 'second hello');
            return;
          case 'ping':
            this.send({ t: 'pong', n: m.n });
            break;
          case 'pong':
            break;
          case 'req':
            this.request(m);
            break;
          case 'watch':
            this.watch(m.id, m.sinceIndex);
            break;
          case 'cancel':
            this.endWatch(m.id, 'cancelled', null);
            break;
        }
      }
    }

    private fail(id: number, op: string, reason: FailReason, message: string): void {
      mRequests.inc({ op, outcome: 'fail' });
      this.send({ t: 'res', id, fail: reason, message, leaderId: node.leaderId() });
    }

    private request(m: RequestMsg): void {
      if (stopping) return this.fail(m.id, m.op, 'stopping', 'member is stopping');
      if (this.inflight >= inflightMax) return this.fail(m.id, m.op, 'overloaded', `more than ${inflightMax} requests in flight on this connection`);
      this.inflight++;
      const run = m.op === 'get' ? this.get(m.id, m) : this.write(m.id, m);
      void run
        .catch((err: unknown) => {
          // Anything unexpected is the member's problem, reported as etcd's 300.
          log.error({ err, op: m.op }, 'native request failed');
          this.answerError(m.id, m.op, new V2Error(Ecode.RaftInternal, (err as Error).message ?? String(err), node.store.index));
        })
        .finally(() => {
          this.inflight--;
        });
    }

    private answerError(id: number, op: string, e: V2Error): void {
      this.count(op, 'error');
      this.send({ t: 'res', id, err: e.toJSON(), raftIndex: node.raftIndex, raftTerm: node.raftTerm });
    }

    private count(op: string, outcome: Outcome): void {
      mRequests.inc({ op, outcome });
    }

    private async get(id: number, g: GetOp): Promise<void> {
      if (g.quorum) {
        try {
          await node.linearizableBarrier();
        } catch (err) {
          if (err instanceof V2Error) return this.answerError(id, 'get', err);
          throw err;
        }
      }
      const r = node.store.get(g.path, { recursive: g.recursive, sorted: g.sorted }, node.nowMs());
      if (r instanceof V2Error) return this.answerError(id, 'get', r);
      this.count('get', 'ok');
      this.send({ t: 'res', id, ok: r, etcdIndex: r.etcdIndex, raftIndex: node.raftIndex, raftTerm: node.raftTerm });
    }

    private async write(id: number, w: WriteOp): Promise<void> {
      const leader = node.leaderId();
      if (leader !== node.memberId) return this.fail(id, 'write', 'not-leader', leader === null ? 'no leader' : `the leader is ${leader}`);
      const parsed: WriteKeyRequest = {
        kind: 'write',
        req: w.req,
        ttl: w.ttl,
        ...(w.ttlExact !== undefined ? { ttlExact: BigInt(w.ttlExact) } : {}),
        noValueOnSuccess: false,
      };
      // The core's clock turns ttl into a deadline: proxies' clocks never matter.
      const req = toWriteRequest(parsed, node.nowMs());
      let outcome;
      try {
        outcome = await node.propose(req);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'RG_ERR_OVERLOADED') return this.fail(id, 'write', 'overloaded', (err as Error).message);
        if (err instanceof V2Error) return this.answerError(id, 'write', err);
        throw err;
      }
      const r = outcome.result;
      if (r instanceof V2Error) {
        this.count('write', 'error');
        this.send({ t: 'res', id, err: r.toJSON(), raftIndex: outcome.raftIndex, raftTerm: outcome.raftTerm });
        return;
      }
      this.count('write', 'ok');
      this.send({ t: 'res', id, ok: r, etcdIndex: r.etcdIndex, raftIndex: outcome.raftIndex, raftTerm: outcome.raftTerm });
    }

    // ---- watches ----------------------------------------------------------

    private watch(id: number, sinceIndex: number): void {
      if (stopping) return this.sendEnd(id, 'stopping', null);
      if (this.watches.has(id) || this.watches.size >= watchesMax) {
        mRequests.inc({ op: 'watch', outcome: 'fail' });
        return this.sendEnd(id, 'refused', null);
      }
      const w = node.store.watchAll(sinceIndex);
      if (w instanceof V2Error) {
        mRequests.inc({ op: 'watch', outcome: 'error' });
        return this.sendEnd(id, 'cleared', w.toJSON());
      }
      mRequests.inc({ op: 'watch', outcome: 'ok' });
      const s: WatchStream = { id, watcher: w, paused: false, pausedSinceMs: 0, lastSentMs: 0, drainQueued: false, ended: false };
      this.watches.set(id, s);
      mWatches.inc();
      // onWake runs inside the store's apply: only note it, send after.
      w.onWake = () => {
        if (s.drainQueued) return;
        s.drainQueued = true;
        queueMicrotask(() => {
          s.drainQueued = false;
          this.drain(s);
        });
      };
      this.drain(s);
      // Tell the client at once that the watch is live and how far it reaches.
      if (!s.ended && !s.paused && s.lastSentMs === 0) this.progress(s);
    }

    /** Send what the watcher has, unless the socket is backed up. */
    drain(s: WatchStream): void {
      if (s.ended || this.closed) return;
      const w = s.watcher;
      if (w.closed !== null) return this.endFromStore(s);
      const buffered = this.socket.writableLength;
      if (buffered > hardBytes) return this.endWatch(s.id, 'slow', null);
      if (buffered > softBytes) {
        if (!s.paused) {
          s.paused = true;
          s.pausedSinceMs = Date.now();
        }
        return;
      }
      s.paused = false;
      const events = w.take();
      if (w.closed !== null) return this.endFromStore(s);
      if (events.length === 0) return;
      for (let i = 0; i < events.length; i += perFrame) this.sendEvents(s, events.slice(i, i + perFrame));
      s.lastSentMs = Date.now();
    }

    private sendEvents(s: WatchStream, events: StoreEvent[]): void {
      if (s.ended) return;
      try {
        this.send({ t: 'events', id: s.id, events });
      } catch (err) {
        if (!(err instanceof NativeProtocolError)) throw err;
        if (events.length === 1) {
          // One event over the frame limit (only if frameBytesMax is set below
          // twice the largest value): the stream cannot continue past it.
          log.error({ index: events[0]?.node.modifiedIndex, err: err.message }, 'watch event too large for a native frame; ending the watch');
          this.endWatch(s.id, 'slow', null);
          return;
        }
        // Too large for one frame: split until it fits (one event always fits a sane limit).
        const half = events.length >> 1;
        this.sendEvents(s, events.slice(0, half));
        this.sendEvents(s, events.slice(half));
      }
    }

    /** Called by the progress ticker. */
    tick(nowMs: number): void {
      for (const s of this.watches.values()) {
        if (s.paused) {
          if (nowMs - s.pausedSinceMs > stallMsMax) this.endWatch(s.id, 'slow', null);
          else this.drain(s);
          continue;
        }
        if (nowMs - s.lastSentMs < progressMs) continue;
        this.drain(s);
        if (!s.ended && !s.paused && nowMs - s.lastSentMs >= progressMs) this.progress(s);
      }
    }

    private progress(s: WatchStream): void {
      // drain() just took everything up to the store index (take() reads to the newest event).
      this.send({ t: 'progress', id: s.id, etcdIndex: node.store.index });
      s.lastSentMs = Date.now();
    }

    private endFromStore(s: WatchStream): void {
      const w = s.watcher;
      if (w.closed === 'cleared') this.endWatch(s.id, 'cleared', w.error?.toJSON() ?? null);
      else this.endWatch(s.id, 'slow', null);
    }

    endWatch(id: number, reason: WatchEndReason, err: V2ErrorBody | null): void {
      const s = this.watches.get(id);
      if (s === undefined) return;
      s.ended = true;
      s.watcher.onWake = null;
      s.watcher.remove();
      this.watches.delete(id);
      mWatches.dec();
      this.sendEnd(id, reason, err);
    }

    private sendEnd(id: number, reason: WatchEndReason, err: V2ErrorBody | null): void {
      this.send({ t: 'watchEnd', id, reason, err });
    }

    private onClose(): void {
      this.closed = true;
      for (const s of this.watches.values()) {
        s.ended = true;
        s.watcher.onWake = null;
        s.watcher.remove();
        mWatches.dec();
      }
      this.watches.clear();
      if (conns.delete(this)) mConnections.dec();
    }
  }

  const server = net.createServer((socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    if (conns.size >= connectionsMax) {
      socket.on('error', () => {});
      socket.end(encodeFrame({ t: 'goaway', code: 'RG_ERR_NATIVE_TOO_MANY_CONNECTIONS', message: `more than ${connectionsMax} native connections` }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const c = new Conn(socket);
    conns.add(c);
    mConnections.inc();
  });

  const ticker = setInterval(() => {
    const now = Date.now();
    for (const c of conns) c.tick(now);
  }, Math.max(1, Math.floor(progressMs / 2)));
  ticker.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  log.info({ host: addr.address, port: addr.port }, 'serving the native protocol');

  let closing: Promise<void> | null = null;
  return {
    port: addr.port,
    host: addr.address,
    connectionCount: () => conns.size,
    close() {
      closing ??= (async () => {
        stopping = true;
        clearInterval(ticker);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of conns) for (const id of [...c.watches.keys()]) c.endWatch(id, 'stopping', null);
        const deadline = Date.now() + closeGraceMs;
        while ([...conns].some((c) => c.inflight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        for (const c of conns) c.goaway('RG_ERR_NATIVE_STOPPING', 'member is stopping');
        const gone = Date.now() + 1000;
        while (conns.size > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 5));
        for (const c of conns) c.socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
