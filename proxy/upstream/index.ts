// The proxy's upstream: a Raftgate cluster (native protocol) or a real etcd
// cluster (v2 HTTP), chosen by --upstream-protocol or, with `auto`, by
// asking the endpoints: a Raftgate member answers GET /raftgate/v1/native,
// etcd answers it 404 and /version 200.

import type { Logger } from 'pino';
import type { WriteKeyRequest } from '../../core-server/api/v2-request.js';
import { NATIVE_DISCOVERY_PATH } from '../../core-server/api/native/discovery.js';
import { ProxyError } from '../errors.js';
import { EtcdUpstream } from './etcd-upstream.js';
import { HttpClient } from './http-client.js';
import { NativeCluster } from './native-cluster.js';
import type { ForwardAnswer, ForwardRequest, KeyRead, KeysAnswer, Upstream, UpstreamMember, UpstreamObserver, UpstreamStatus, ViewSink } from './types.js';

export type { ForwardAnswer, ForwardRequest, KeyRead, KeysAnswer, Upstream, UpstreamMember, UpstreamObserver, UpstreamOp, UpstreamStatus, ViewSink } from './types.js';
export { NativeCluster } from './native-cluster.js';
export type { NativeClusterOptions } from './native-cluster.js';
export { EtcdUpstream } from './etcd-upstream.js';
export { HttpClient } from './http-client.js';
export { NativeClient, NativePool, NativeRequestError } from './native-client.js';

export interface UpstreamConfig {
  endpoints: readonly string[];
  protocol: 'auto' | 'native' | 'etcd-v2';
  connectionsPerMember: number;
  healthCheckIntervalMs: number;
  requestTimeoutMs: number;
  historyMax: number;
  /** Test knobs. */
  streamStallMs?: number;
  etcdProgressIntervalMs?: number;
}

export function createUpstream(cfg: UpstreamConfig, logger: Logger): Upstream {
  // One HTTP agent: a member's pool also holds the etcd long poll and health checks.
  const http = new HttpClient({ connectionsPerOrigin: cfg.connectionsPerMember + 2 });
  const native = (): Upstream =>
    new NativeCluster({
      endpoints: cfg.endpoints,
      http,
      logger,
      connectionsPerMember: cfg.connectionsPerMember,
      healthCheckIntervalMs: cfg.healthCheckIntervalMs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      historyMax: cfg.historyMax,
      ...(cfg.streamStallMs !== undefined ? { streamStallMs: cfg.streamStallMs } : {}),
    });
  const etcd = (): Upstream =>
    new EtcdUpstream({
      endpoints: cfg.endpoints,
      http,
      logger,
      healthCheckIntervalMs: cfg.healthCheckIntervalMs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      historyMax: cfg.historyMax,
      ...(cfg.etcdProgressIntervalMs !== undefined ? { progressIntervalMs: cfg.etcdProgressIntervalMs } : {}),
    });
  if (cfg.protocol === 'native') return withHttp(native(), http);
  if (cfg.protocol === 'etcd-v2') return withHttp(etcd(), http);
  return new AutoUpstream(cfg, http, logger, native, etcd);
}

function withHttp(u: Upstream, http: HttpClient): Upstream {
  const close = u.close.bind(u);
  u.close = async () => {
    await close();
    await http.close();
  };
  return u;
}

/** Which protocol an endpoint speaks, or null when it does not answer (yet). */
async function detect(http: HttpClient, url: string, timeoutMs: number): Promise<'native' | 'etcd-v2' | null> {
  try {
    const d = await http.call(url, { method: 'GET', path: NATIVE_DISCOVERY_PATH, timeoutMs });
    if (d.status === 200) return 'native';
    const v = await http.call(url, { method: 'GET', path: '/version', timeoutMs });
    if (v.status === 200 && d.status === 404) return 'etcd-v2';
  } catch {
    // not reachable yet
  }
  return null;
}

/** Waits for an endpoint to say what it is, then becomes that upstream. */
class AutoUpstream implements Upstream {
  private inner: Upstream | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cfg: UpstreamConfig,
    private readonly http: HttpClient,
    private readonly log: Logger,
    private readonly native: () => Upstream,
    private readonly etcd: () => Upstream,
  ) {}

  start(sink: ViewSink, observer?: UpstreamObserver): void {
    let attempt = 0;
    const tryOnce = async (): Promise<void> => {
      if (this.closed || this.inner !== null) return;
      const kinds = await Promise.all(this.cfg.endpoints.map((u) => detect(this.http, u, Math.min(2000, this.cfg.healthCheckIntervalMs * 2))));
      const kind = kinds.find((k) => k !== null) ?? null;
      if (this.closed) return;
      if (kind === null) {
        if (attempt++ % 20 === 0) this.log.warn({ endpoints: this.cfg.endpoints }, 'no endpoint answers yet; retrying');
        this.timer = setTimeout(() => void tryOnce(), Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
        this.timer.unref();
        return;
      }
      this.log.info({ protocol: kind }, 'upstream protocol detected');
      this.inner = kind === 'native' ? this.native() : this.etcd();
      this.inner.start(sink, observer);
    };
    void tryOnce();
  }

  private need(): Upstream {
    if (this.inner === null) throw new ProxyError('RG_ERR_PROXY_UPSTREAM_UNAVAILABLE', 'no endpoint has answered yet', { sent: false });
    return this.inner;
  }

  get(r: KeyRead): Promise<KeysAnswer> {
    return Promise.resolve().then(() => this.need().get(r));
  }

  write(w: WriteKeyRequest): Promise<KeysAnswer> {
    return Promise.resolve().then(() => this.need().write(w));
  }

  forward(r: ForwardRequest): Promise<ForwardAnswer> {
    return Promise.resolve().then(() => this.need().forward(r));
  }

  status(): UpstreamStatus {
    return (
      this.inner?.status() ?? {
        protocol: 'detecting',
        clusterId: null,
        leaderId: null,
        membersUp: 0,
        membersKnown: this.cfg.endpoints.length,
        watchStreams: 0,
        streamMember: null,
        etcdIndexSeen: 0,
        watchReconnects: 0,
      }
    );
  }

  members(): UpstreamMember[] {
    return this.inner?.members() ?? this.cfg.endpoints.map((u) => ({ id: null, name: null, clientURL: u.replace(/\/+$/, ''), up: false, leader: false }));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.inner?.close();
    await this.http.close();
  }
}
