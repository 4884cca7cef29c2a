// The members a proxy knows, found from --endpoints alone, and which of
// them are healthy. Shared by both upstreams: a native cluster's members are
// probed at /raftgate/v1/native (which also names their native address), a
// real etcd's at /version.
//
//   every --health-check-interval:
//     probe each member (in parallel, bounded by the interval)
//     from one healthy member: GET /v2/members  ─► add members not yet known
//                              GET /v2/members/leader ─► the leader's id
//
// A member is "healthy" while its last probe answered; the native upstream
// adds "and has a ready connection", which flips the moment a socket closes.

import type { Logger } from 'pino';
import type { HttpClient } from './http-client.js';

export interface ProbeResult {
  memberId: string;
  clusterId: string;
  /** The member's name, when the probe tells (etcd's /v2/stats/self does). */
  name?: string;
  /** The member's native-protocol URL (Raftgate only). */
  nativeUrl?: string;
}

export interface Member {
  /** null until a probe has named it. */
  id: string | null;
  /** null until a probe, a member listing or a native hello has named it. */
  name: string | null;
  /** The client URL the proxy talks HTTP to. */
  clientUrl: string;
  /** Listed in --endpoints (never forgotten). */
  configured: boolean;
  healthy: boolean;
  nativeUrl: string | null;
}

export interface MemberDirectoryOptions {
  endpoints: readonly string[];
  http: HttpClient;
  healthCheckIntervalMs: number;
  logger: Logger;
  /** Ask one member who it is; rejects when it does not answer. */
  probe(m: Member, timeoutMs: number): Promise<ProbeResult>;
  /** After each member's probe (the native upstream opens or checks its pool). */
  onProbed?(m: Member, r: ProbeResult | null): void;
  /** When a member is dropped (it left the cluster). */
  onRemoved?(m: Member): void;
}

interface MembersJson {
  members?: { id?: unknown; name?: unknown; clientURLs?: unknown }[];
}

export class MemberDirectory {
  readonly members: Member[] = [];
  private readonly o: MemberDirectoryOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private leader: string | null = null;
  private cluster: string | null = null;
  private closed = false;

  constructor(o: MemberDirectoryOptions) {
    this.o = o;
    for (const url of o.endpoints) this.members.push(newMember(url, true));
  }

  get leaderId(): string | null {
    return this.leader;
  }

  set leaderId(id: string | null) {
    if (id !== this.leader) this.o.logger.info({ from: this.leader, to: id }, 'upstream leader changed');
    this.leader = id;
  }

  get clusterId(): string | null {
    return this.cluster;
  }

  start(): void {
    if (this.timer !== null || this.closed) return;
    void this.round();
    this.timer = setInterval(() => void this.round(), this.o.healthCheckIntervalMs);
    this.timer.unref();
  }

  /** One health-check round (at most one runs at a time). */
  round(): Promise<void> {
    this.running ??= this.runRound().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  byId(id: string): Member | undefined {
    return this.members.find((m) => m.id === id);
  }

  healthy(): Member[] {
    return this.members.filter((m) => m.healthy);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async runRound(): Promise<void> {
    const timeoutMs = Math.max(100, Math.min(this.o.healthCheckIntervalMs, 2000));
    await Promise.all(this.members.map((m) => this.probeOne(m, timeoutMs)));
    if (this.closed) return;
    const up = this.healthy();
    const from = up[0];
    if (from === undefined) return;
    await Promise.all([this.refreshMembers(from, timeoutMs), this.refreshLeader(from, timeoutMs)]);
  }

  private async probeOne(m: Member, timeoutMs: number): Promise<void> {
    let r: ProbeResult | null = null;
    try {
      r = await this.o.probe(m, timeoutMs);
    } catch (err) {
      if (m.healthy) this.o.logger.warn({ member: m.id, url: m.clientUrl, err: (err as Error).message }, 'member failed its health check');
      m.healthy = false;
    }
    if (r !== null) {
      if (this.cluster === null) this.cluster = r.clusterId;
      if (r.clusterId !== this.cluster) {
        // Never mix two clusters' answers: their indexes mean different things.
        this.o.logger.error({ url: m.clientUrl, clusterId: r.clusterId, expected: this.cluster }, 'endpoint belongs to another cluster; ignored');
        m.healthy = false;
        r = null;
      } else {
        const dup = this.members.find((x) => x !== m && x.id === r?.memberId);
        if (dup !== undefined && !dup.configured) this.remove(dup);
        if (!m.healthy) this.o.logger.info({ member: r.memberId, url: m.clientUrl }, 'member healthy');
        m.id = r.memberId;
        if (r.name !== undefined) m.name = r.name;
        m.nativeUrl = r.nativeUrl ?? null;
        m.healthy = true;
      }
    }
    this.o.onProbed?.(m, r);
  }

  private async refreshMembers(from: Member, timeoutMs: number): Promise<void> {
    let listed: { id: string; name: string | null; clientUrl: string }[];
    try {
      const res = await this.o.http.call(from.clientUrl, { method: 'GET', path: '/v2/members', timeoutMs });
      if (res.status !== 200) return;
      const j = JSON.parse(res.body.toString('utf8')) as MembersJson;
      listed = (j.members ?? []).flatMap((x) => {
        const urls = Array.isArray(x.clientURLs) ? x.clientURLs.filter((u): u is string => typeof u === 'string') : [];
        const name = typeof x.name === 'string' && x.name !== '' ? x.name : null;
        return typeof x.id === 'string' && urls[0] !== undefined ? [{ id: x.id, name, clientUrl: urls[0] }] : [];
      });
    } catch {
      return; // the next round asks again
    }
    if (listed.length === 0) return;
    for (const l of listed) {
      const known = this.members.find((m) => m.id === l.id) ?? this.members.find((m) => m.clientUrl === l.clientUrl);
      if (known !== undefined) {
        if (known.id === l.id && l.name !== null) known.name = l.name;
        continue;
      }
      const m = newMember(l.clientUrl, false);
      m.id = l.id;
      m.name = l.name;
      this.members.push(m);
      this.o.logger.info({ member: l.id, url: l.clientUrl }, 'member discovered');
      void this.probeOne(m, timeoutMs);
    }
    for (const m of [...this.members]) {
      if (!m.configured && m.id !== null && !listed.some((l) => l.id === m.id)) this.remove(m);
    }
  }

  private async refreshLeader(from: Member, timeoutMs: number): Promise<void> {
    try {
      const res = await this.o.http.call(from.clientUrl, { method: 'GET', path: '/v2/members/leader', timeoutMs });
      if (res.status === 200) {
        const j = JSON.parse(res.body.toString('utf8')) as { id?: unknown };
        if (typeof j.id === 'string') this.leaderId = j.id;
      } else if (res.status === 503) {
        this.leaderId = null; // "During election"
      }
    } catch {
      // keep what we knew; writes also learn the leader from not-leader answers
    }
  }

  private remove(m: Member): void {
    const i = this.members.indexOf(m);
    if (i < 0) return;
    this.members.splice(i, 1);
    this.o.logger.info({ member: m.id, url: m.clientUrl }, 'member left the cluster; forgotten');
    this.o.onRemoved?.(m);
  }
}

function newMember(clientUrl: string, configured: boolean): Member {
  return { id: null, name: null, clientUrl: clientUrl.replace(/\/+$/, ''), configured, healthy: false, nativeUrl: null };
}
