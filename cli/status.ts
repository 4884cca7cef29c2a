// `raftgate status --endpoints URL[,URL...] [-w table|json]`: one row per
// endpoint — a core member (id, name, leader, Raft term and indexes, data
// size) or a proxy (mode, staleness, watchers, the index its view reflects).
// Exit code 1 when an endpoint could not be read, and the row says what to
// check next.

import type { MemberStatus } from '../core-server/api/ops-routes.js';

const USAGE = 'usage: raftgate status [--endpoints URL[,URL...]] [-w table|json] [--timeout MS]';
const DEFAULT_ENDPOINTS = ['http://127.0.0.1:2379'];

export interface ProxyStatus {
  kind: 'proxy';
  stalenessMs: number;
  maxStalenessMs: number;
  viewIndex: number;
  watchers: number;
  upstreamWatchStreams: number;
  upstreamMembersUp: number;
  cacheHits: number;
  cacheMisses: number;
}

export type EndpointStatus = { endpoint: string } & (MemberStatus | ProxyStatus | { kind: 'error'; error: string });

interface Options {
  endpoints: string[];
  format: 'table' | 'json';
  timeoutMs: number;
}

function parse(args: string[]): Options | string {
  const o: Options = { endpoints: DEFAULT_ENDPOINTS, format: 'table', timeoutMs: 3000 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === '--endpoints') {
      const v = value();
      if (!v) return '--endpoints needs a comma-separated list of URLs';
      o.endpoints = v.split(',').map((s) => s.trim()).filter(Boolean);
      for (const e of o.endpoints) {
        try {
          new URL(e);
        } catch {
          return `--endpoints: ${JSON.stringify(e)} is not a URL (e.g. http://127.0.0.1:2379)`;
        }
      }
    } else if (flag === '-w' || flag === '--write-out') {
      const v = value();
      if (v !== 'table' && v !== 'json') return `${flag} must be table or json, got ${JSON.stringify(v)}`;
      o.format = v;
    } else if (flag === '--timeout') {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) return '--timeout must be a whole number of milliseconds';
      o.timeoutMs = v;
    } else return `unknown flag ${JSON.stringify(a)}`;
  }
  return o;
}

/** One sample of a metric without labels (or the sum over its labels) from Prometheus text. */
function metric(text: string, name: string): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name} `) || line.startsWith(`${name}{`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : NaN;
}

async function probe(endpoint: string, timeoutMs: number): Promise<EndpointStatus> {
  const base = endpoint.replace(/\/+$/, '');
  try {
    const r = await fetch(`${base}/raftgate/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    if (r.ok) {
      const s = JSON.parse(text) as MemberStatus;
      if (s.kind === 'core') return { endpoint, ...s };
    }
    // Not a member: a proxy says what it knows in its metrics.
    const m = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    const mt = await m.text();
    if (m.ok && mt.includes('raftgate_proxy_')) {
      return {
        endpoint,
        kind: 'proxy',
        stalenessMs: Math.round(metric(mt, 'raftgate_proxy_staleness_seconds') * 1000),
        maxStalenessMs: Math.round(metric(mt, 'raftgate_proxy_max_staleness_seconds') * 1000),
        viewIndex: metric(mt, 'raftgate_proxy_view_index'),
        watchers: metric(mt, 'raftgate_proxy_watchers'),
        upstreamWatchStreams: metric(mt, 'raftgate_proxy_upstream_watch_streams'),
        upstreamMembersUp: metric(mt, 'raftgate_proxy_upstream_members_up'),
        cacheHits: metric(mt, 'raftgate_proxy_cache_hits_total'),
        cacheMisses: metric(mt, 'raftgate_proxy_cache_misses_total'),
      };
    }
    return { endpoint, kind: 'error', error: `not a Raftgate member or proxy (GET /raftgate/v1/status answered ${r.status}); is ${endpoint} the right URL?` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? String(err));
    return { endpoint, kind: 'error', error: `unreachable (${why}); is a member or proxy running there? (\`npm start\` runs a local cluster)` };
  }
}

function mib(n: number): string {
  return n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

export function renderTable(rows: EndpointStatus[]): string {
  const header = ['ENDPOINT', 'KIND', 'ID', 'NAME', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'ETCD INDEX', 'DATA', 'STALENESS', 'WATCHERS', 'NOTE'];
  const cells = rows.map((r) => {
    if (r.kind === 'core') {
      const leader = r.isLeader ? 'yes (this one)' : r.leader === null ? 'NONE' : r.leader;
      return [r.endpoint, 'core', r.id, r.name, leader, String(r.raftTerm), String(r.raftCommitIndex), String(r.raftAppliedIndex), String(r.etcdIndex), mib(r.dataBytes), '-', String(r.watchers), ''];
    }
    if (r.kind === 'proxy') {
      const note = r.upstreamWatchStreams === 1 ? `${r.upstreamMembersUp} members up` : 'upstream watch DOWN';
      return [r.endpoint, 'proxy', '-', '-', '-', '-', '-', '-', String(r.viewIndex), '-', `${r.stalenessMs} ms (bound ${r.maxStalenessMs} ms)`, String(r.watchers), note];
    }
    return [r.endpoint, 'error', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', r.error];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

export async function runStatusCommand(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    console.log(`${USAGE}\n\nDefault endpoint: ${DEFAULT_ENDPOINTS.join(',')} (the dev proxy). List members' client URLs to see the cluster.`);
    return 0;
  }
  const o = parse(args);
  if (typeof o === 'string') {
    console.error(`raftgate: ${o}\n${USAGE}`);
    return 2;
  }
  const rows = await Promise.all(o.endpoints.map((e) => probe(e, o.timeoutMs)));
  if (o.format === 'json') console.log(JSON.stringify(rows, null, 2));
  else console.log(renderTable(rows));
  const cores = rows.filter((r) => r.kind === 'core');
  if (o.format === 'table' && cores.length > 0 && cores.every((r) => r.leader === null)) {
    console.log('\nno member knows a leader: a majority of members must be running and able to reach each other');
  }
  return rows.some((r) => r.kind === 'error') ? 1 : 0;
}
