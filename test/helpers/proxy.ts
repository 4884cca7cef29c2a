// Start a Raftgate proxy as a real process (`node bin/raftgate.js proxy ...`)
// on a free loopback port, in front of the given endpoints (Raftgate members
// or real etcd). The package must have been built (`npm test` builds first).

import type { StoreEvent } from '../../core-server/store/types.js';
import type { WatchRecord } from '../../proxy/watch/watch-order.js';
import { freePort, releasePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { flattenHeaders, http, open, waitForOk } from './http.js';
import { assertBuilt, raftgateBin, repoRoot } from './raftgate.js';
import { loopbackUrl, proxyFlags } from '../../config/member-flags.js';

export interface ProxyOptions {
  endpoints: readonly string[];
  mode?: 'readonly' | 'readwrite';
  extraArgs?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** Default warn (lifecycle problems only). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Wait for /ready (the upstream watch live) rather than only /health. Default true. */
  waitReady?: boolean;
  startTimeoutMs?: number;
}

export interface ProxyHandle {
  url: string;
  readonly pid: number;
  describe(): string;
  /** SIGTERM (SIGKILL after a bound). */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  /** GET /metrics as text. */
  metrics(): Promise<string>;
}

const startAttemptsMax = 3;

export async function startRaftgateProxy(opts: ProxyOptions): Promise<ProxyHandle> {
  assertBuilt();
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
    const port = await freePort();
    const url = loopbackUrl(port);
    const args = [
      raftgateBin, 'proxy',
      ...proxyFlags({ mode: opts.mode ?? 'readwrite', port, endpoints: opts.endpoints, logLevel: opts.logLevel ?? 'warn' }),
      ...(opts.extraArgs ?? []),
    ];
    const proc: ManagedProcess = spawnManaged(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...opts.env } });
    try {
      await waitForOk(url, opts.waitReady === false ? '/health' : '/ready', {
        timeoutMs: opts.startTimeoutMs ?? 20_000,
        isAlive: proc.alive,
        describe: proc.describe,
      });
    } catch (err) {
      lastError = err;
      await proc.stop();
      releasePort(port);
      if (!proc.describe().includes('EADDRINUSE')) break;
      continue;
    }
    return {
      url,
      get pid() {
        return proc.pid;
      },
      describe: () => proc.describe(),
      async stop() {
        await proc.stop();
        releasePort(port);
      },
      async kill9() {
        await proc.kill9();
        releasePort(port);
      },
      async metrics() {
        return (await http(url, { method: 'GET', path: '/metrics' })).text;
      },
    };
  }
  throw new Error(`raftgate proxy did not start: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

/** Poll until cond() holds; bounded. `describe` adds context to the failure. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition', describe?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `\n${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The value of one sample in a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const kv of (m[2] ?? '').slice(1, -1).split(/,(?=[a-zA-Z_]+=")/)) {
      const i = kv.indexOf('=');
      if (i > 0) got[kv.slice(0, i)] = kv.slice(i + 2, -1);
    }
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export interface ClientWatch {
  key: string;
  recursive: boolean;
  stream: boolean;
  status: number;
  /** X-Etcd-Index of the watch response: the index it was registered at. */
  startIndex: number;
  headers: Record<string, string>;
  /** The body so far. */
  text(): string;
  /** The JSON lines received so far (events, or an error object). */
  events(): StoreEvent[];
  abort(): void;
  /** Resolves when the response ended (or was aborted). */
  done: Promise<void>;
}

/** A client long poll (wait=true) whose body is collected as it arrives. */
export async function openClientWatch(baseUrl: string, key: string, o: { recursive?: boolean; stream?: boolean; waitIndex?: number; timeoutMs?: number } = {}): Promise<ClientWatch> {
  const ac = new AbortController();
  const q = `wait=true${o.recursive === true ? '&recursive=true' : ''}${o.stream === true ? '&stream=true' : ''}${o.waitIndex !== undefined ? `&waitIndex=${o.waitIndex}` : ''}`;
  const res = await open(baseUrl, { method: 'GET', path: `/v2/keys${key === '/' ? '/' : key}?${q}`, signal: ac.signal, timeoutMs: o.timeoutMs ?? 120_000 });
  let text = '';
  const done = (async () => {
    try {
      for await (const c of res.body) text += Buffer.from(c as Uint8Array).toString('utf8');
    } catch {
      // aborted
    }
  })();
  const headers = flattenHeaders(res.headers);
  return {
    key,
    recursive: o.recursive === true,
    stream: o.stream === true,
    status: res.statusCode,
    startIndex: Number(headers['x-etcd-index']),
    headers,
    text: () => text,
    events: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as StoreEvent),
    abort: () => ac.abort(),
    done,
  };
}

/** What the checker needs from a finished client watch. */
export function watchRecord(w: ClientWatch, end: 'open' | 'cut' = 'open'): WatchRecord {
  return { key: w.key, recursive: w.recursive, stream: w.stream, sinceIndex: 0, startIndex: w.startIndex, received: w.events(), end };
}

/**
 * Every event a member (Raftgate or etcd) recorded in [from, to], read back
 * from its history one long poll at a time (a history scan shows every key,
 * hidden ones included; TTL refreshes are not written by these tests).
 */
export async function historyLog(clientUrl: string, from: number, to: number): Promise<StoreEvent[]> {
  const out: StoreEvent[] = [];
  for (let i = from; i <= to; i++) {
    const r = await http(clientUrl, { method: 'GET', path: `/v2/keys/?wait=true&recursive=true&waitIndex=${i}`, timeoutMs: 5000 });
    const e = JSON.parse(r.text) as StoreEvent;
    if (e.node?.modifiedIndex !== i) throw new Error(`history at ${clientUrl}: waitIndex ${i} answered ${r.text.slice(0, 200)}`);
    out.push({ ...e, etcdIndex: i });
  }
  return out;
}
