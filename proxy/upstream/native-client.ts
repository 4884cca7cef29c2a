// The proxy's side of the native protocol (core-server/api/native/design.md):
// one persistent, multiplexed connection to one core member, and a pool of
// them.
//
// The one promise the proxy builds on: when a request fails for a transport
// reason, the error says whether its frame was ever handed to the socket.
//   sent: false  — it never left this process: safe to retry anywhere.
//   sent: true   — it may have reached the core: the outcome is unknown, so
//                  a write must NOT be retried (a POST would create twice).
// To make "not sent" common rather than theoretical, frames wait in our own
// queue while the socket's buffer is above `writeBufferBytesMax`; only
// frames actually written count as sent.

import net from 'node:net';
import type { Logger } from 'pino';
import type { WriteKeyRequest } from '../../core-server/api/v2-request.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder, encodeFrame } from '../../core-server/api/native/codec.js';
import { NATIVE_PROTOCOL_VERSION } from '../../core-server/api/native/messages.js';
import type {
  ClientMsg,
  ErrResponse,
  FailResponse,
  GetOp,
  OkResponse,
  ServerHello,
  ServerMsg,
  WatchEndReason,
  WriteOp,
} from '../../core-server/api/native/messages.js';
import type { StoreEvent } from '../../core-server/store/types.js';
import type { V2ErrorBody } from '../../core-server/store/v2-error.js';

export type NativeResponse = OkResponse | ErrResponse | FailResponse;

export type NativeRequestErrorCode =
  | 'RG_ERR_NATIVE_NOT_CONNECTED'
  | 'RG_ERR_NATIVE_DISCONNECTED'
  | 'RG_ERR_NATIVE_TIMEOUT'
  | 'RG_ERR_NATIVE_CLOSED';

/** A request that got no answer. `sent` says whether it may have reached the core. */
export class NativeRequestError extends Error {
  readonly code: NativeRequestErrorCode;
  readonly sent: boolean;
  constructor(code: NativeRequestErrorCode, sent: boolean, detail: string) {
    super(`${code}: ${detail}; request ${sent ? 'SENT (outcome unknown, do not retry a write)' : 'NOT SENT (safe to retry elsewhere)'}`);
    this.name = 'NativeRequestError';
    this.code = code;
    this.sent = sent;
  }
}

export interface NativeClientOptions {
  /** The member's native URL, http://host:port. */
  url: string;
  /** Sent in the hello, for the core's logs. */
  clientName?: string;
  requestTimeoutMs?: number;
  /** Connect plus handshake. */
  connectTimeoutMs?: number;
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  pingIntervalMs?: number;
  /** Nothing received for this long: the connection is dead. */
  idleTimeoutMs?: number;
  frameBytesMax?: number;
  /** Frames beyond this much socket buffer wait in our queue (not yet sent). */
  writeBufferBytesMax?: number;
  logger?: Logger;
  /** Each successful handshake (first connect and every reconnect). */
  onConnect?: (hello: ServerHello) => void;
  onDisconnect?: (reason: string) => void;
}

export type NativeWatchEndReason = WatchEndReason | 'disconnected' | 'not-connected' | 'closed';

export interface NativeWatchEnd {
  reason: NativeWatchEndReason;
  /** etcd's error when the core's history no longer reaches (401). */
  err: V2ErrorBody | null;
}

export interface NativeWatchHandle {
  readonly id: number;
  /** Stop the stream; no callback runs after this. Idempotent. */
  cancel(): void;
}

export type GetParams = Omit<GetOp, 'op'>;

interface Pending {
  id: number;
  frame: Buffer | null; // null once written
  sent: boolean;
  resolve: (r: NativeResponse) => void;
  reject: (e: NativeRequestError) => void;
  timer: NodeJS.Timeout;
}

interface WatchEntry {
  id: number;
  onEvents: (events: StoreEvent[]) => void;
  onProgress: (etcdIndex: number) => void;
  onEnd: (end: NativeWatchEnd) => void;
  done: boolean;
}

type State = 'connecting' | 'ready' | 'waiting' | 'closed';

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`RG_ERR_NATIVE_CONFIG: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** The parsed write as the core wants it: the core applies its own clock to ttl. */
export function writeOpOf(w: WriteKeyRequest): Omit<WriteOp, 'op'> {
  const op: Omit<WriteOp, 'op'> = { req: w.req };
  if (w.ttl !== undefined) op.ttl = w.ttl;
  if (w.ttlExact !== undefined) op.ttlExact = w.ttlExact.toString();
  return op;
}

export class NativeClient {
  readonly url: string;
  private readonly host: string;
  private readonly port: number;
  private readonly o: Required<Omit<NativeClientOptions, 'logger' | 'onConnect' | 'onDisconnect'>>;
  private readonly log: Logger | undefined;
  private readonly onConnect: ((h: ServerHello) => void) | undefined;
  private readonly onDisconnect: ((reason: string) => void) | undefined;
  private socket: net.Socket | null = null;
  private state: State = 'connecting';
  private helloMsg: ServerHello | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private readonly watches = new Map<number, WatchEntry>();
  private flushQueued = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastRxMs = 0;
  private pingN = 0;
  private readyWaiters: { resolve: (h: ServerHello) => void; reject: (e: Error) => void }[] = [];
  /** Times the connection was (re-)established. */
  connects = 0;

  constructor(opts: NativeClientOptions) {
    const u = new URL(opts.url);
    this.url = opts.url;
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port);
    if (!Number.isInteger(this.port) || this.port < 1) throw new Error(`RG_ERR_NATIVE_CONFIG: native URL ${opts.url} has no port`);
    this.o = {
      url: opts.url,
      clientName: opts.clientName ?? 'raftgate-proxy',
      requestTimeoutMs: positiveInt('requestTimeoutMs', opts.requestTimeoutMs ?? 5000),
      connectTimeoutMs: positiveInt('connectTimeoutMs', opts.connectTimeoutMs ?? 2000),
      reconnectDelayMsMin: positiveInt('reconnectDelayMsMin', opts.reconnectDelayMsMin ?? 50),
      reconnectDelayMsMax: positiveInt('reconnectDelayMsMax', opts.reconnectDelayMsMax ?? 2000),
      pingIntervalMs: positiveInt('pingIntervalMs', opts.pingIntervalMs ?? 1000),
      idleTimeoutMs: positiveInt('idleTimeoutMs', opts.idleTimeoutMs ?? 3000),
      frameBytesMax: positiveInt('frameBytesMax', opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT),
      writeBufferBytesMax: positiveInt('writeBufferBytesMax', opts.writeBufferBytesMax ?? 1 << 20),
    };
    this.log = opts.logger;
    this.onConnect = opts.onConnect;
    this.onDisconnect = opts.onDisconnect;
    this.connect();
  }

  /** Connected and handshaken. */
  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** The member's hello from the current (or last) connection. */
  get hello(): ServerHello | null {
    return this.helloMsg;
  }

  /** Requests awaiting an answer (queued or sent). */
  get inflight(): number {
    return this.pending.size;
  }

  /** Resolves at the next (or current) successful handshake; rejects after timeoutMs or on close. */
  ready(timeoutMs = this.o.connectTimeoutMs): Promise<ServerHello> {
    if (this.state === 'ready' && this.helloMsg !== null) return Promise.resolve(this.helloMsg);
    if (this.state === 'closed') return Promise.reject(new Error('RG_ERR_NATIVE_CLOSED: client closed'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (h: ServerHello) => {
          clearTimeout(timer);
          resolve(h);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
        reject(new Error(`RG_ERR_NATIVE_NOT_CONNECTED: no handshake with ${this.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.push(w);
    });
  }

  get(params: GetParams, timeoutMs?: number): Promise<NativeResponse> {
    return this.request({ op: 'get', ...params }, timeoutMs);
  }

  write(w: WriteKeyRequest, timeoutMs?: number): Promise<NativeResponse> {
    return this.request({ op: 'write', ...writeOpOf(w) }, timeoutMs);
  }

  /**
   * Every event of the member's store from sinceIndex on (0 = from now), in
   * index order, in batches; progress notifications while idle. The stream
   * does not survive a disconnect: onEnd({reason: 'disconnected'}) runs and
   * the caller re-watches from the last index it delivered.
   */
  watch(
    sinceIndex: number,
    onEvents: (events: StoreEvent[]) => void,
    onProgress: (etcdIndex: number) => void,
    onEnd: (end: NativeWatchEnd) => void,
  ): NativeWatchHandle {
    const id = this.nextId++;
    const entry: WatchEntry = { id, onEvents, onProgress, onEnd, done: false };
    const handle: NativeWatchHandle = {
      id,
      cancel: () => {
        if (entry.done) return;
        entry.done = true;
        if (this.watches.delete(id) && this.state === 'ready') this.sendNow({ t: 'cancel', id });
      },
    };
    if (this.state !== 'ready') {
      queueMicrotask(() => this.endWatch(entry, { reason: this.state === 'closed' ? 'closed' : 'not-connected', err: null }));
      return handle;
    }
    this.watches.set(id, entry);
    this.sendNow({ t: 'watch', id, sinceIndex });
    return handle;
  }

  /** Close for good: pending requests reject (sent or not), watches end with 'closed'. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.failAll('RG_ERR_NATIVE_CLOSED', 'client closed', 'closed');
    for (const w of this.readyWaiters) w.reject(new Error('RG_ERR_NATIVE_CLOSED: client closed'));
    this.readyWaiters = [];
    this.socket?.destroy();
    this.socket = null;
  }

  // ---- requests -------------------------------------------------------------

  private request(op: GetOp | WriteOp, timeoutMs = this.o.requestTimeoutMs): Promise<NativeResponse> {
    if (this.state !== 'ready') {
      return Promise.reject(new NativeRequestError(this.state === 'closed' ? 'RG_ERR_NATIVE_CLOSED' : 'RG_ERR_NATIVE_NOT_CONNECTED', false, `not connected to ${this.url}`));
    }
    const id = this.nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame({ t: 'req', id, ...op } satisfies ClientMsg, this.o.frameBytesMax);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<NativeResponse>((resolve, reject) => {
      const p: Pending = {
        id,
        frame,
        sent: false,
        resolve,
        reject,
        timer: setTimeout(() => this.timeout(p, timeoutMs), timeoutMs),
      };
      this.pending.set(id, p);
      this.queue.push(p);
      this.scheduleFlush();
    });
  }

  private timeout(p: Pending, timeoutMs: number): void {
    if (!this.pending.delete(p.id)) return;
    if (!p.sent) {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
    p.reject(new NativeRequestError('RG_ERR_NATIVE_TIMEOUT', p.sent, `no answer from ${this.url} within ${timeoutMs} ms`));
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Requests made in one tick leave in one write.
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    const s = this.socket;
    if (s === null || this.state !== 'ready' || this.queue.length === 0) return;
    if (s.writableLength >= this.o.writeBufferBytesMax) return; // 'drain' calls us again
    s.cork();
    while (this.queue.length > 0 && s.writableLength < this.o.writeBufferBytesMax) {
      const p = this.queue.shift() as Pending;
      const frame = p.frame as Buffer;
      p.frame = null;
      p.sent = true; // from here on the core may see it
      s.write(frame);
    }
    s.uncork();
  }

  /** Control frames (hello, watch, cancel, ping) skip the request queue. */
  private sendNow(m: ClientMsg): void {
    this.socket?.write(encodeFrame(m, this.o.frameBytesMax));
  }

  // ---- connection -----------------------------------------------------------

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.o.frameBytesMax);
    const handshakeTimer = setTimeout(() => socket.destroy(new Error('handshake timed out')), this.o.connectTimeoutMs);
    let why = 'connection closed';
    socket.on('connect', () => {
      socket.write(encodeFrame({ t: 'hello', version: NATIVE_PROTOCOL_VERSION, client: this.o.clientName } satisfies ClientMsg));
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      this.lastRxMs = Date.now();
      let msgs: unknown[];
      try {
        msgs = decoder.push(chunk);
      } catch (err) {
        why = (err as Error).message;
        socket.destroy();
        return;
      }
      for (const m of msgs) {
        if (this.socket !== socket) return;
        if (m !== null && typeof m === 'object' && (m as ServerMsg).t === 'hello') clearTimeout(handshakeTimer);
        const reason = this.onMessage(m as ServerMsg);
        if (reason !== null) {
          why = reason;
          socket.destroy();
          return;
        }
      }
    });
    socket.on('drain', () => {
      if (this.socket === socket) this.flush();
    });
    socket.on('error', (err) => {
      why = err.message;
    });
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      if (this.socket !== socket) return;
      this.onClosed(why);
    });
  }

  /** Handle one message; a non-null result is a reason to drop the connection. */
  private onMessage(m: ServerMsg): string | null {
    if (typeof m !== 'object' || m === null) return 'malformed message';
    if (this.state === 'connecting') {
      if (m.t === 'goaway') return `core refused the connection: ${m.code} ${m.message}`;
      if (m.t !== 'hello') return 'expected hello';
      if (m.version !== NATIVE_PROTOCOL_VERSION) return `core speaks protocol version ${m.version}, not ${NATIVE_PROTOCOL_VERSION}`;
      this.helloMsg = m;
      this.state = 'ready';
      this.attempts = 0;
      this.connects++;
      this.startPings();
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w.resolve(m);
      this.onConnect?.(m);
      return null;
    }
    switch (m.t) {
      case 'res': {
        const p = this.pending.get(m.id);
        if (p === undefined) return null; // timed out already
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve(m);
        return null;
      }
      case 'events': {
        const w = this.watches.get(m.id);
        if (w !== undefined && !w.done) w.onEvents(m.events);
        return null;
      }
      case 'progress': {
        const w = this.watches.get(m.id);
        if (w !== undefined && !w.done) w.onProgress(m.etcdIndex);
        return null;
      }
      case 'watchEnd': {
        const w = this.watches.get(m.id);
        if (w !== undefined) {
          this.watches.delete(m.id);
          this.endWatch(w, { reason: m.reason, err: m.err });
        }
        return null;
      }
      case 'ping':
        this.sendNow({ t: 'pong', n: m.n });
        return null;
      case 'pong':
        return null;
      case 'goaway':
        this.log?.info({ url: this.url, code: m.code, message: m.message }, 'core closing native connection');
        return `goaway ${m.code}: ${m.message}`;
      case 'hello':
        return 'second hello';
      default:
        return 'unknown message';
    }
  }

  private startPings(): void {
    this.lastRxMs = Date.now();
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const s = this.socket;
      if (s === null || this.state !== 'ready') return;
      if (Date.now() - this.lastRxMs > this.o.idleTimeoutMs) {
        s.destroy(new Error(`nothing received for ${this.o.idleTimeoutMs} ms`));
        return;
      }
      this.sendNow({ t: 'ping', n: ++this.pingN });
    }, this.o.pingIntervalMs);
    this.pingTimer.unref();
  }

  private onClosed(why: string): void {
    this.socket = null;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const wasReady = this.state === 'ready';
    if (this.state === 'closed') return;
    this.state = 'waiting';
    this.failAll('RG_ERR_NATIVE_DISCONNECTED', `connection to ${this.url} lost (${why})`, 'disconnected');
    if (wasReady) {
      this.log?.warn({ url: this.url, reason: why }, 'native connection lost; reconnecting');
      this.onDisconnect?.(why);
    }
    const delay = Math.min(this.o.reconnectDelayMsMax, this.o.reconnectDelayMsMin * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private failAll(code: NativeRequestErrorCode, detail: string, watchReason: NativeWatchEndReason): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.queue.length = 0;
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new NativeRequestError(code, p.sent, detail));
    }
    const ws = [...this.watches.values()];
    this.watches.clear();
    for (const w of ws) this.endWatch(w, { reason: watchReason, err: null });
  }

  private endWatch(w: WatchEntry, end: NativeWatchEnd): void {
    if (w.done) return;
    w.done = true;
    w.onEnd(end);
  }
}

export interface NativePoolOptions extends NativeClientOptions {
  /** Connections to the member (default 4). */
  size?: number;
}

/**
 * Up to `size` connections to one member; each request goes to the ready
 * connection with the fewest requests in flight. Watches use one connection.
 */
export class NativePool {
  readonly url: string;
  readonly clients: NativeClient[];

  constructor(opts: NativePoolOptions) {
    const size = positiveInt('size', opts.size ?? 4);
    this.url = opts.url;
    this.clients = Array.from({ length: size }, () => new NativeClient(opts));
  }

  /** Resolves when at least one connection is ready. */
  ready(timeoutMs?: number): Promise<ServerHello> {
    return Promise.any(this.clients.map((c) => c.ready(timeoutMs))).catch(() => {
      throw new Error(`RG_ERR_NATIVE_NOT_CONNECTED: no connection to ${this.url} became ready`);
    });
  }

  get readyCount(): number {
    return this.clients.filter((c) => c.isReady).length;
  }

  /** The ready connection with the fewest requests in flight, or null. */
  pick(): NativeClient | null {
    let best: NativeClient | null = null;
    for (const c of this.clients) if (c.isReady && (best === null || c.inflight < best.inflight)) best = c;
    return best;
  }

  get(params: GetParams, timeoutMs?: number): Promise<NativeResponse> {
    const c = this.pick();
    if (c === null) return Promise.reject(new NativeRequestError('RG_ERR_NATIVE_NOT_CONNECTED', false, `no ready connection to ${this.url}`));
    return c.get(params, timeoutMs);
  }

  write(w: WriteKeyRequest, timeoutMs?: number): Promise<NativeResponse> {
    const c = this.pick();
    if (c === null) return Promise.reject(new NativeRequestError('RG_ERR_NATIVE_NOT_CONNECTED', false, `no ready connection to ${this.url}`));
    return c.write(w, timeoutMs);
  }

  watch(
    sinceIndex: number,
    onEvents: (events: StoreEvent[]) => void,
    onProgress: (etcdIndex: number) => void,
    onEnd: (end: NativeWatchEnd) => void,
  ): NativeWatchHandle {
    const c = this.clients.find((x) => x.isReady) ?? (this.clients[0] as NativeClient);
    return c.watch(sinceIndex, onEvents, onProgress, onEnd);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
