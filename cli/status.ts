// `raftgate status --endpoints URL[,URL...] [-w table|json]`: one row per
// endpoint — a core member (id, name, leader, Raft term and indexes, data
// size) or a proxy (mode, staleness, watchers, the index its view reflects,
// and the leader it believes in). Both answer GET /raftgate/v1/status with
// JSON (`kind: 'core'` or `kind: 'proxy'`). Exit code 1 when an endpoint
// could not be read, and the row says what to check next.

import type { MemberStatus } from '../core-server/api/ops-routes.js';
import { STATUS_PATH } from '../core-server/api/ops-routes.js';
import type { ProxyStatus } from '../proxy/status.js';

export type { ProxyStatus } from '../proxy/status.js';

const USAGE = 'usage: raftgate status [--endpoints URL[,URL...]] [-w table|json] [--timeout MS]';
const DEFAULT_ENDPOINTS = ['http://127.0.0.1:2379'];

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

async function probe(endpoint: string, timeoutMs: number): Promise<EndpointStatus> {
  const base = endpoint.replace(/\/+$/, '');
  try {
    const r = await fetch(`${base}${STATUS_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    if (r.ok) {
      let s: MemberStatus | ProxyStatus | null = null;
      try {
        s = JSON.parse(text) as MemberStatus | ProxyStatus;
      } catch {
        // not JSON: not ours
      }
      if (s?.kind === 'core' || s?.kind === 'proxy') return { endpoint, ...s };
    }
    return { endpoint, kind: 'error', error: `not a Raftgate member or proxy (GET ${STATUS_PATH} answered ${r.status}); is ${endpoint} the right URL?` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? String(err));
    return { endpoint, kind: 'error', error: `unreachable (${why}); is a member or proxy running there? (\`npm start\` runs a local cluster)` };
  }
}

function mib(n: number): string {
  return n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

/** The proxy's view of the cluster: the leader it believes in, members up, its watch stream. */
export function proxyNote(r: ProxyStatus): string {
  const leader = r.members.find((m) => m.leader);
  const parts = [
    leader === undefined ? 'sees NO LEADER' : `sees leader ${leader.name ?? leader.id ?? leader.clientURL}${leader.up ? '' : ' (DOWN)'}`,
    `${r.upstreamMembersUp}/${r.members.length} members up`,
  ];
  if (r.upstreamWatchStreams !== 1) parts.push('upstream watch DOWN');
  if (r.upstreamLagEvents > 0) parts.push(`view ${r.upstreamLagEvents} events behind`);
  return parts.join(', ');
}

export function renderTable(rows: EndpointStatus[]): string {
  const header = ['ENDPOINT', 'KIND', 'ID', 'NAME', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'ETCD INDEX', 'DATA', 'STALENESS', 'WATCHERS', 'NOTE'];
  const cells = rows.map((r) => {
    if (r.kind === 'core') {
      const leader = r.isLeader ? 'yes (this one)' : r.leader === null ? 'NONE' : r.leader;
      return [r.endpoint, 'core', r.id, r.name, leader, String(r.raftTerm), String(r.raftCommitIndex), String(r.raftAppliedIndex), String(r.etcdIndex), mib(r.dataBytes), '-', String(r.watchers), ''];
    }
    if (r.kind === 'proxy') {
      const staleness = r.stalenessMs === null ? 'never current' : `${r.stalenessMs} ms`;
      return [r.endpoint, `proxy ${r.mode}`, '-', '-', '-', '-', '-', '-', String(r.viewIndex), '-', `${staleness} (bound ${r.maxStalenessMs} ms)`, String(r.watchers), proxyNote(r)];
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
