// Peer traffic on --listen-peer-urls: Raft messages between members.
//
//   member A                                   member B
//   Outbound(B) ── TCP, A dials ─────────────► Inbound: hello{clusterId, from A, to B}
//      frames: msgs[...] (one write per Ready)        checks cluster id / member id
//              fwd{rid, data} (a proposal for the leader)
//   Inbound ◄──────────────────── TCP, B dials ── Outbound(A)
//   snapshot: a fresh connection per snapshot: hello{purpose: snapshot}, snap{meta},
//             chunk × n (1 MiB each, written as the socket drains), snapEnd
//
// - Persistent streams: one outbound connection per peer, re-dialled with
//   capped exponential back-off (50 ms doubling to 2 s) after it drops.
// - Batched: the driver hands over a whole Ready's messages; each peer's
//   share leaves in as few frames as fit (about 4 MiB each), corked into one
//   write.
// - Back-pressure: when a peer's socket holds more than bufferBytesMax
//   unsent bytes (the peer is frozen or the link is slow), further messages
//   to it are dropped and Raft is told the peer is unreachable; Raft resends
//   what matters (it probes, then replicates again). Memory stays bounded.
// - A member refuses a peer whose cluster id differs, or that thinks it is
//   talking to someone else, with a goaway naming the reason; the dialer
//   reports it (a member whose data dir belongs to another cluster stops).

import net from 'node:net';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder, encodeFrame } from '../api/native/codec.js';
import type { MemberInfo } from '../node/types.js';
import type { Message, SnapMsg } from '../raft/types.js';
import { PEER_PROTOCOL_VERSION, checkFrame, checkMessage, type PeerFrame, type PeerPurpose, type PeerRefusal } from './peer-messages.js';

export interface TransportHandlers {
  onMessage(m: Message): void;
  onSnapshot(m: SnapMsg): void;
  onForward(from: string, rid: string, conf: boolean, data: Uint8Array): void;
  onForwardFail(rid: string, code: string): void;
  onUnreachable(to: string): void;
  onSnapshotSent(to: string, ok: boolean): void;
  onRefused(to: string, code: PeerRefusal, message: string, theirClusterId: string): void;
  /** Answer to a join query. */
  members(): MemberInfo[];
  isRemoved(id: string): boolean;
}

export interface PeerTransportOptions {
  memberId: string;
  clusterId: string;
  listen: { host: string; port: number };
  logger: Logger;
  registry: Registry;
  handlers: TransportHandlers;
  /** Unsent bytes a peer's socket may hold before messages to it are dropped. */
  bufferBytesMax?: number;
  snapshotChunkBytes?: number;
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  frameBytesMax?: number;
}

const FRAME_TARGET_BYTES = 4 << 20;

/** host and port of a peer URL ("http://10.0.0.1:2380"); brackets stripped from IPv6 hosts. */
export function peerAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 2380) };
}

export class PeerTransport {
  readonly memberId: string;
  clusterId: string;
  private readonly o: Required<Omit<PeerTransportOptions, 'handlers' | 'logger' | 'registry' | 'memberId' | 'clusterId' | 'listen'>>;
  private readonly h: TransportHandlers;
  private readonly log: Logger;
  private readonly server: net.Server;
  private readonly peers = new Map<string, Outbound>();
  /** Inbound connections, with the member that dialled (once its hello checked out). */
  private readonly inbound = new Map<net.Socket, { from: string | null; refuse: (code: PeerRefusal, message: string) => void }>();
  private closed = false;
  private readonly sentBytes: Counter<'to'>;
  private readonly receivedBytes: Counter<'from'>;
  private readonly listen: { host: string; port: number };

  constructor(opts: PeerTransportOptions) {
    this.memberId = opts.memberId;
    this.clusterId = opts.clusterId;
    this.h = opts.handlers;
    this.log = opts.logger;
    this.listen = opts.listen;
    this.o = {
      bufferBytesMax: opts.bufferBytesMax ?? 16 << 20,
      snapshotChunkBytes: opts.snapshotChunkBytes ?? 1 << 20,
      reconnectDelayMsMin: opts.reconnectDelayMsMin ?? 50,
      reconnectDelayMsMax: opts.reconnectDelayMsMax ?? 2000,
      frameBytesMax: opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT,
    };
    const reg = opts.registry;
    this.sentBytes =
      (reg.getSingleMetric('raftgate_core_peer_sent_bytes_total') as Counter<'to'> | undefined) ??
      new Counter({ name: 'raftgate_core_peer_sent_bytes_total', help: 'Bytes of Raft traffic sent to each peer.', labelNames: ['to'] as const, registers: [reg] });
    this.receivedBytes =
      (reg.getSingleMetric('raftgate_core_peer_received_bytes_total') as Counter<'from'> | undefined) ??
      new Counter({ name: 'raftgate_core_peer_received_bytes_total', help: 'Bytes of Raft traffic received from each peer.', labelNames: ['from'] as const, registers: [reg] });
    this.server = net.createServer((s) => this.accept(s));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listen.port, this.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The peers to keep streams to (every member but this one), with their peer URLs. */
  setPeers(members: readonly MemberInfo[]): void {
    // A member removed while connected learns it from the refusal (etcd: "permanently removed").
    for (const conn of this.inbound.values()) {
      if (conn.from !== null && this.h.isRemoved(conn.from)) conn.refuse('RG_ERR_MEMBER_REMOVED', `member ${conn.from} was removed from the cluster`);
    }
    const want = new Map(members.filter((m) => m.id !== this.memberId && m.peerURLs.length > 0).map((m) => [m.id, m.peerURLs]));
    for (const [id, p] of this.peers) {
      if (!want.has(id)) {
        p.close();
        this.peers.delete(id);
      }
    }
    for (const [id, urls] of want) {
      const p = this.peers.get(id);
      if (p === undefined) {
        const o = new Outbound(this, id, urls);
        this.peers.set(id, o);
        o.connect();
      } else p.setUrls(urls);
    }
  }

  /** Sends one Ready's messages; snapshots each go on their own connection. */
  send(msgs: readonly Message[]): void {
    if (this.closed || msgs.length === 0) return;
    const byPeer = new Map<string, Message[]>();
    for (const m of msgs) {
      if (m.type === 'snap') {
        this.sendSnapshot(m);
        continue;
      }
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, list] of byPeer) {
      const p = this.peers.get(to);
      if (p === undefined || !p.sendMessages(list)) this.h.onUnreachable(to);
    }
  }

  /** Hands a proposal to the leader; false if it could not even be queued (not connected). */
  forward(to: string, rid: string, conf: boolean, data: Uint8Array): boolean {
    const p = this.peers.get(to);
    return p !== undefined && p.sendFrame({ t: 'fwd', rid, conf, data });
  }

  forwardFail(to: string, rid: string, code: string): void {
    this.peers.get(to)?.sendFrame({ t: 'fwdFail', rid, code });
  }

  private sendSnapshot(m: SnapMsg): void {
    const p = this.peers.get(m.to);
    if (p === undefined) {
      this.h.onSnapshotSent(m.to, false);
      return;
    }
    const { host, port } = peerAddress(p.urls[0]!);
    const data = m.snapshot.data;
    const s = net.connect({ host, port });
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (!ok) s.destroy();
      this.h.onSnapshotSent(m.to, ok);
    };
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
    s.on('connect', () => {
      const header: PeerFrame = { t: 'snap', msg: { ...m, snapshot: { meta: m.snapshot.meta } }, bytes: data.length };
      this.write(s, { t: 'hello', v: PEER_PROTOCOL_VERSION, purpose: 'snapshot', clusterId: this.clusterId, from: this.memberId, to: m.to }, m.to);
      this.write(s, header, m.to);
      let off = 0;
      const pump = (): void => {
        while (off < data.length) {
          const end = Math.min(data.length, off + this.o.snapshotChunkBytes);
          const more = this.write(s, { t: 'chunk', data: data.subarray(off, end) }, m.to);
          off = end;
          if (!more) {
            s.once('drain', pump);
            return;
          }
        }
        this.write(s, { t: 'snapEnd' }, m.to);
        // Sent means flushed to the kernel; the follower's appResp is what really acknowledges it.
        s.end(() => finish(true));
      };
      pump();
    });
    this.log.info({ to: m.to, index: m.snapshot.meta.index, bytes: data.length }, 'sending snapshot to peer');
  }

  /** Encodes and writes one frame; false when the socket wants a drain. */
  write(s: net.Socket, f: PeerFrame, to: string): boolean {
    const frame = encodeFrame(f, this.o.frameBytesMax);
    this.sentBytes.inc({ to }, frame.length);
    return s.write(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const s of this.inbound.keys()) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get options() {
    return this.o;
  }

  get handlers(): TransportHandlers {
    return this.h;
  }

  get logger(): Logger {
    return this.log;
  }

  // ------------------------------------------------------------ inbound

  private accept(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    s.setNoDelay(true);
    const decoder = new FrameDecoder(this.o.frameBytesMax);
    let from: string | null = null;
    let snap: { msg: Extract<PeerFrame, { t: 'snap' }>['msg']; buf: Buffer; at: number } | null = null;
    const refuse = (code: PeerRefusal, message: string) => {
      if (s.writableEnded) return;
      this.log.warn({ remote: s.remoteAddress, from, code }, `refusing peer: ${message}`);
      s.end(encodeFrame({ t: 'goaway', code, message, clusterId: this.clusterId } satisfies PeerFrame));
      setTimeout(() => s.destroy(), 1000).unref();
    };
    const conn = { from: null as string | null, refuse };
    this.inbound.set(s, conn);
    s.on('error', () => {});
    s.on('close', () => this.inbound.delete(s));
    s.on('data', (chunk: Buffer) => {
      if (from !== null) this.receivedBytes.inc({ from }, chunk.length);
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        refuse('RG_ERR_PEER_PROTOCOL', (err as Error).message);
        return;
      }
      for (const raw of frames) {
        if (s.destroyed || s.writableEnded) return;
        const f = checkFrame(raw);
        if (typeof f === 'string') return refuse('RG_ERR_PEER_PROTOCOL', f);
        if (from === null) {
          if (f.t !== 'hello' || f.v !== PEER_PROTOCOL_VERSION) return refuse('RG_ERR_PEER_PROTOCOL', `expected hello with peer protocol version ${PEER_PROTOCOL_VERSION}`);
          if (f.purpose === 'join') {
            s.end(encodeFrame({ t: 'cluster', clusterId: this.clusterId, members: this.h.members() } satisfies PeerFrame));
            return;
          }
          if (f.clusterId !== this.clusterId) {
            return refuse('RG_ERR_CLUSTER_MISMATCH', `peer ${f.from} belongs to cluster ${f.clusterId}, this member to cluster ${this.clusterId}`);
          }
          if (f.to !== this.memberId) return refuse('RG_ERR_MEMBER_MISMATCH', `peer ${f.from} dialled member ${f.to}, but this is member ${this.memberId}`);
          if (this.h.isRemoved(f.from)) return refuse('RG_ERR_MEMBER_REMOVED', `member ${f.from} was removed from the cluster`);
          from = f.from;
          conn.from = from;
          this.receivedBytes.inc({ from }, chunk.length);
          continue;
        }
        switch (f.t) {
          case 'msgs':
            for (const rawMsg of f.msgs) {
              const m = checkMessage(rawMsg);
              if (typeof m === 'string') return refuse('RG_ERR_PEER_PROTOCOL', m);
              if (m.from !== from) return refuse('RG_ERR_PEER_PROTOCOL', `message from ${m.from} on ${from}'s stream`);
              this.h.onMessage(m);
            }
            break;
          case 'snap':
            if (f.msg.from !== from || f.bytes > 0xffff_ffff) return refuse('RG_ERR_PEER_PROTOCOL', 'bad snapshot header');
            snap = { msg: f.msg, buf: Buffer.allocUnsafe(f.bytes), at: 0 };
            break;
          case 'chunk':
            if (snap === null || snap.at + f.data.length > snap.buf.length) return refuse('RG_ERR_PEER_PROTOCOL', 'snapshot chunk out of place');
            snap.buf.set(f.data, snap.at);
            snap.at += f.data.length;
            break;
          case 'snapEnd': {
            if (snap === null || snap.at !== snap.buf.length) return refuse('RG_ERR_PEER_PROTOCOL', 'snapshot ended short');
            const m: SnapMsg = { ...snap.msg, type: 'snap', snapshot: { meta: snap.msg.snapshot.meta, data: snap.buf } };
            snap = null;
            this.h.onSnapshot(m);
            break;
          }
          case 'fwd':
            this.h.onForward(from, f.rid, f.conf, f.data);
            break;
          case 'fwdFail':
            this.h.onForwardFail(f.rid, f.code);
            break;
          default:
            return refuse('RG_ERR_PEER_PROTOCOL', `unexpected ${f.t} frame`);
        }
      }
    });
  }
}

/** The connection this member dials to one peer, and its reconnect loop. */
class Outbound {
  urls: string[];
  private socket: net.Socket | null = null;
  private open = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private urlIndex = 0;
  private corked = false;

  constructor(
    private readonly t: PeerTransport,
    readonly id: string,
    urls: string[],
  ) {
    this.urls = urls;
    this.delayMs = t.options.reconnectDelayMsMin;
  }

  setUrls(urls: string[]): void {
    if (urls.join(',') === this.urls.join(',')) return;
    this.urls = urls;
    this.socket?.destroy();
  }

  connect(): void {
    if (this.stopped || this.t.isClosed) return;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    const { host, port } = peerAddress(url);
    const s = net.connect({ host, port });
    this.socket = s;
    s.setNoDelay(true);
    const decoder = new FrameDecoder(1 << 20);
    s.on('connect', () => {
      this.open = true;
      this.delayMs = this.t.options.reconnectDelayMsMin;
      this.t.write(s, { t: 'hello', v: PEER_PROTOCOL_VERSION, purpose: 'stream', clusterId: this.t.clusterId, from: this.t.memberId, to: this.id }, this.id);
      this.t.logger.debug({ peer: this.id, url }, 'peer stream connected');
    });
    s.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch {
        s.destroy();
        return;
      }
      for (const raw of frames) {
        const f = checkFrame(raw);
        if (typeof f !== 'string' && f.t === 'goaway') {
          this.t.logger.warn({ peer: this.id, url, code: f.code }, `peer refused our stream: ${f.message}`);
          this.t.handlers.onRefused(this.id, f.code, f.message, f.clusterId);
        }
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      const wasOpen = this.open;
      this.open = false;
      this.socket = null;
      if (this.stopped || this.t.isClosed) return;
      if (wasOpen) this.t.handlers.onUnreachable(this.id);
      this.urlIndex++;
      this.timer = setTimeout(() => this.connect(), this.delayMs);
      this.timer.unref();
      this.delayMs = Math.min(this.delayMs * 2, this.t.options.reconnectDelayMsMax);
    });
  }

  /** False when the messages were dropped (not connected, or the peer is not draining its socket). */
  sendMessages(msgs: Message[]): boolean {
    const s = this.socket;
    if (!this.open || s === null || s.writableLength > this.t.options.bufferBytesMax) return false;
    let batch: Message[] = [];
    let bytes = 0;
    for (const m of msgs) {
      batch.push(m);
      if (m.type === 'app') for (const e of m.entries) bytes += e.data.length + 32;
      bytes += 64;
      if (bytes >= FRAME_TARGET_BYTES) {
        this.sendFrame({ t: 'msgs', msgs: batch });
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0) this.sendFrame({ t: 'msgs', msgs: batch });
    return true;
  }

  sendFrame(f: PeerFrame): boolean {
    const s = this.socket;
    if (!this.open || s === null) return false;
    // Frames written in one tick leave in one write.
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    this.t.write(s, f, this.id);
    return true;
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

/**
 * Asks the members at these peer URLs for the cluster (id and members), for
 * a member joining an existing cluster; the first to answer wins.
 */
export async function queryCluster(urls: readonly string[], timeoutMs: number): Promise<{ clusterId: string; members: MemberInfo[] } | null> {
  const attempts = urls.map(
    (url) =>
      new Promise<{ clusterId: string; members: MemberInfo[] } | null>((resolve) => {
        const { host, port } = peerAddress(url);
        const s = net.connect({ host, port });
        const decoder = new FrameDecoder(16 << 20);
        const timer = setTimeout(() => {
          s.destroy();
          resolve(null);
        }, timeoutMs);
        s.on('connect', () => {
          s.write(encodeFrame({ t: 'hello', v: PEER_PROTOCOL_VERSION, purpose: 'join' as PeerPurpose, clusterId: '', from: '', to: '' } satisfies PeerFrame));
        });
        s.on('data', (chunk: Buffer) => {
          try {
            for (const raw of decoder.push(chunk)) {
              const f = checkFrame(raw);
              if (typeof f !== 'string' && f.t === 'cluster') {
                clearTimeout(timer);
                s.destroy();
                resolve({ clusterId: f.clusterId, members: f.members });
              }
            }
          } catch {
            s.destroy();
          }
        });
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve(null);
        });
      }),
  );
  for (const r of await Promise.all(attempts)) if (r !== null) return r;
  return null;
}
