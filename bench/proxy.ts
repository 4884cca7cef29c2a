// `npm run bench -- proxy [--duration 5s] [--runs 3] [--watchers 1000,5000]`
//
// The proxy tier against etcd 3.4, side by side on one machine, one system
// after the other:
//
//   (a) hot-key GET through the Raftgate proxy (answered from its cache) vs
//       direct to an etcd member vs through etcd's v2 proxy (`etcd --proxy on`);
//   (b) watch fan-out: N long-poll watchers on one key, one write, the time
//       until each has the event, and the upstream watches and connections
//       the watchers cost: Raftgate proxy vs etcd direct vs etcd's v2 proxy;
//   (c) the proxy's RSS per watcher;
//   (d) core CPU per 10,000 requests sent through the proxy vs sent to the
//       core's HTTP API directly (and the same for etcd's member and proxy).
//
// Each system is one member (a Raftgate core, an etcd member) with its
// proxy in front: what is measured is the proxy tier, not replication.

import os from 'node:os';
import { loopbackInitialCluster } from '../config/member-flags.js';
import { formHeaders, formValueBody, makeValue, runLoad } from './lib/load.js';
import {
  etcdVersion,
  raftgateVersion,
  repoRoot,
  defaultEtcdBin,
  safeMemory,
  idleCpuMsPerS,
  startSingle,
  startEtcdProxy,
  startRaftgateProxy,
  stopNoting,
  type ProcHandle,
  type ServerHandle,
  type ServerKind,
} from './lib/procs.js';
import { commonUsage, defaultCommonOptions, intArg, intListArg, parseFlags, type CommonOptions } from './lib/cli.js';
import { progress, failuresText, loadAvgText, notRunNotes, publish, renderSection, systemNotes, waitForQuietMachine } from './lib/report.js';
import { measureRun, medianOf, type RunSummary, type Workload } from './lib/runs.js';
import { HOT_KEY, hotGetWorkload, putKeys, putWorkload } from './lib/workloads.js';
import { formatBytes, formatNumber, formatRatio, markdownTable, median, parseDurationMs, summarizeLatenciesUs } from './lib/stats.js';
import { openWatchers } from './lib/watchers.js';
import { connectionsOn, connectionsTo, ensureOpenFilesLimit } from './lib/sockets.js';
import { scrape, storeWatchers } from './lib/scrape.js';

// ---------------------------------------------------------------- options

interface ProxyBenchOptions extends CommonOptions {
  valueBytes: number;
  /** Concurrency of the GET and CPU workloads. */
  connections: number;
  /** Fan-out sizes, e.g. [1000, 5000]. */
  watchers: number[];
  /** Requests per CPU measurement run. */
  cpuRequests: number;
  /** How long the watchers may take to get the event. */
  eventTimeoutMs: number;
}

export const proxyUsage = `Usage: npm run bench -- proxy [flags]

${commonUsage}
  --watchers N,M    fan-out sizes: watchers on one key (default 1000,5000)
  --connections N   concurrency of the GET and CPU workloads (default 64)
  --cpu-requests N  requests per CPU measurement run (default 10000)
  --value-bytes N   value size of the hot key and the PUTs (default 256)
  --event-timeout D how long watchers may take to get the event (default 30s)`;

function parseOptions(args: string[]): ProxyBenchOptions {
  const o: ProxyBenchOptions = {
    ...defaultCommonOptions(repoRoot()),
    valueBytes: 256,
    connections: 64,
    watchers: [1000, 5000],
    cpuRequests: 10_000,
    eventTimeoutMs: 30_000,
  };
  parseFlags(
    args,
    o,
    {
      '--watchers': (v) => (o.watchers = intListArg('--watchers', v(), 1, 50_000)),
      '--connections': (v) => (o.connections = intArg('--connections', v(), 1, 1024)),
      '--cpu-requests': (v) => (o.cpuRequests = intArg('--cpu-requests', v(), 100, 10_000_000)),
      '--value-bytes': (v) => (o.valueBytes = intArg('--value-bytes', v(), 0, 1 << 20)),
      '--event-timeout': (v) => (o.eventTimeoutMs = parseDurationMs(v())),
    },
    proxyUsage,
  );
  return o;
}

/**
 * Limits of the Raftgate proxy for this benchmark, set high on purpose: the
 * defaults (4096 connections, 256 per client address, 2048 watchers) would
 * refuse thousands of watchers from one benchmark client. The watchers also
 * come from many loopback source addresses (lib/watchers.ts).
 */
function raftgateProxyLimitArgs(o: ProxyBenchOptions): string[] {
  const w = Math.max(...o.watchers, 100);
  return ['--connections-max', String(w + 4096), '--connections-per-client-max', String(w + 4096), '--watchers-max', String(w + 1024)];
}

// ---------------------------------------------------------------- paths

/** The ways a client reaches the data. */
type PathId = 'rg-proxy' | 'rg-core' | 'etcd-direct' | 'etcd-proxy';

const pathTitles: Readonly<Record<PathId, string>> = {
  'rg-proxy': 'Raftgate proxy',
  'rg-core': 'Raftgate core direct',
  'etcd-direct': 'etcd direct',
  'etcd-proxy': 'etcd v2 proxy',
};

const WATCH_KEY = '/v2/keys/bench/watch';

// ---------------------------------------------------------------- (a) hot GET

interface GetResult {
  path: PathId;
  runs: RunSummary[];
}

async function hotGets(label: string, path: PathId, server: ProcHandle, origin: string, o: ProxyBenchOptions, problems: string[]): Promise<GetResult> {
  const w = hotGetWorkload(`get-hot`, o.connections);
  const runs: RunSummary[] = [];
  for (let run = 1; run <= o.runs; run++) {
    runs.push(await measureRun(`${label} ${path}`, { origin, cpuMs: server.cpuMs }, w, { index: run, of: o.runs, durationMs: o.durationMs, warmupMs: run === 1 ? o.warmupMs : 0 }, problems));
  }
  return { path, runs };
}

// ---------------------------------------------------------------- (d) CPU per request

interface CpuResult {
  workload: string;
  connections: number;
  /** CPU ms of the member per 10,000 successful requests, one per run. */
  memberViaProxy: number[];
  memberDirect: number[];
  /** The proxy's own CPU ms per 10,000 requests. */
  proxyOwn: number[];
  okPerSecViaProxy: number[];
  okPerSecDirect: number[];
  errors: number;
}

/** Sends `o.cpuRequests` requests of `w` to `origin`; returns each process's CPU ms per 10,000 successful requests. */
async function cpuRun(origin: string, w: Workload, run: number, o: ProxyBenchOptions, procs: readonly ProcHandle[]): Promise<{ per10kMs: number[]; okPerSec: number; errors: number; failures: Record<string, number> }> {
  const before = procs.map((p) => p.cpuMs());
  const r = await runLoad({ origin, connections: w.connections, totalRequests: o.cpuRequests, next: w.requests(run), ok: w.ok });
  const per10kMs = procs.map((p, i) => (r.okCount > 0 ? ((p.cpuMs() - (before[i] ?? 0)) * 10_000) / r.okCount : Number.NaN));
  return { per10kMs, okPerSec: r.okPerSec, errors: r.errors + (o.cpuRequests - r.completed), failures: r.failures };
}

async function cpuPerRequest(label: string, member: ProcHandle, memberOrigin: string, proxy: ProcHandle, proxyOrigin: string, o: ProxyBenchOptions, value: string, problems: string[]): Promise<CpuResult[]> {
  const wls: Workload[] = [
    putWorkload('put', o.connections, value),
    hotGetWorkload('qget', o.connections, { quorum: true }),
    hotGetWorkload('get', o.connections),
  ];
  const out: CpuResult[] = [];
  for (const w of wls) {
    const c: CpuResult = { workload: w.title, connections: w.connections, memberViaProxy: [], memberDirect: [], proxyOwn: [], okPerSecViaProxy: [], okPerSecDirect: [], errors: 0 };
    if (o.warmupMs > 0) {
      await runLoad({ origin: proxyOrigin, connections: w.connections, durationMs: o.warmupMs, next: w.requests(999), ok: w.ok });
      await runLoad({ origin: memberOrigin, connections: w.connections, durationMs: o.warmupMs, next: w.requests(999), ok: w.ok });
    }
    for (let run = 1; run <= o.runs; run++) {
      const via = await cpuRun(proxyOrigin, w, run, o, [member, proxy]);
      const direct = await cpuRun(memberOrigin, w, run, o, [member]);
      c.memberViaProxy.push(via.per10kMs[0] ?? NaN);
      c.proxyOwn.push(via.per10kMs[1] ?? NaN);
      c.memberDirect.push(direct.per10kMs[0] ?? NaN);
      c.okPerSecViaProxy.push(via.okPerSec);
      c.okPerSecDirect.push(direct.okPerSec);
      c.errors += via.errors + direct.errors;
      for (const [what, r] of [['via proxy', via], ['direct', direct]] as const) {
        if (r.errors > 0) problems.push(`CPU ${w.id} ${what} run ${run}: ${r.errors} failed requests (${failuresText(r.failures)})`);
      }
      progress(
        `${label}: CPU ${w.id.padEnd(4)} run ${run}/${o.runs}: member ${formatNumber((via.per10kMs[0] ?? NaN) / 1000, 2)} s/10k via proxy ` +
          `(proxy ${formatNumber((via.per10kMs[1] ?? NaN) / 1000, 2)} s/10k, ${formatNumber(via.okPerSec, 0)} req/s) vs ` +
          `${formatNumber((direct.per10kMs[0] ?? NaN) / 1000, 2)} s/10k direct (${formatNumber(direct.okPerSec, 0)} req/s)`,
      );
    }
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------- (b, c) watch fan-out

interface FanoutTarget {
  path: PathId;
  /** Where the watchers connect. */
  port: number;
  /** Waiting watchers as the server that holds them counts them. */
  registered(): Promise<number>;
  /** The process whose memory per watcher is reported. */
  holder: ProcHandle;
  /** Upstream watches (streams or long-polls) and connections the watchers cost. */
  upstream(): Promise<{ watches: number; connections: number }>;
  /** The member the one write goes to. */
  writeOrigin: string;
}

interface FanoutResult {
  path: PathId;
  watchers: number;
  /** Connections that failed to open or broke before the event. */
  failed: number;
  failedSamples: string[];
  registerMs: number;
  registered: number;
  /** Response heads received before the event (a server that flushes a watch's headers on registration). */
  headsBeforeEvent: number;
  rssBefore: number;
  rssWith: number;
  upstreamWatches: number;
  upstreamConnections: number;
  writeMs: number;
  /** Watchers whose response was complete, and of those, how many carried the right event. */
  completed: number;
  valid: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

async function putValue(origin: string, key: string, value: string): Promise<number> {
  const res = await fetch(origin + key, { method: 'PUT', body: formValueBody(value), headers: formHeaders, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

async function fanout(label: string, t: FanoutTarget, n: number, o: ProxyBenchOptions): Promise<FanoutResult> {
  // The previous round's watchers must be gone before this one counts.
  await until(async () => (await t.registered()) === 0, 10_000);
  await sleep(500);
  const rssBefore = safeMemory(t.holder)?.rssBytes ?? Number.NaN;
  const started = Date.now();
  const fleet = await openWatchers({ port: t.port, path: `${WATCH_KEY}?wait=true`, count: n });
  let registered = 0;
  await until(async () => {
    registered = await t.registered();
    return registered >= n || fleet.failed().count > 0;
  }, 60_000);
  const registerMs = Date.now() - started;
  await sleep(500);
  const headsBeforeEvent = fleet.headsSeen();
  const rssWith = safeMemory(t.holder)?.rssBytes ?? Number.NaN;
  const up = await t.upstream();

  const expected = `fanout-${t.path}-${n}-${Date.now()}`;
  const t0 = process.hrtime.bigint();
  const status = await putValue(t.writeOrigin, WATCH_KEY, expected);
  const writeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await fleet.waitAllDone(o.eventTimeoutMs);
  const lat = summarizeLatenciesUs(fleet.completionMs(t0).map((ms) => ms * 1000));
  const valid = fleet.countValid((body) => {
    try {
      const j = JSON.parse(body) as { action?: string; node?: { value?: string } };
      return j.action === 'set' && j.node?.value === expected;
    } catch {
      return false;
    }
  });
  const failed = fleet.failed();
  fleet.close();
  const r: FanoutResult = {
    path: t.path,
    watchers: n,
    failed: failed.count,
    failedSamples: failed.samples,
    registerMs,
    registered,
    headsBeforeEvent,
    rssBefore,
    rssWith,
    upstreamWatches: up.watches,
    upstreamConnections: up.connections,
    writeMs: status === 200 || status === 201 ? writeMs : Number.NaN,
    completed: fleet.completed(),
    valid,
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    maxMs: lat.maxMs,
  };
  progress(
    `${label}: fan-out ${pathTitles[t.path]} ${n} watchers: registered ${registered} in ${(registerMs / 1000).toFixed(1)} s (heads seen ${headsBeforeEvent}); ` +
      `upstream ${up.watches} watches / ${up.connections} connections; RSS ${formatBytes(rssBefore)} -> ${formatBytes(rssWith)}; ` +
      `write ${status} in ${formatNumber(writeMs, 1)} ms; event at ${valid}/${n}: p50 ${formatNumber(lat.p50Ms, 1)} ms, p99 ${formatNumber(lat.p99Ms, 1)} ms, max ${formatNumber(lat.maxMs, 1)} ms` +
      `${failed.count > 0 ? `; ${failed.count} failed (${failed.samples.join(', ')})` : ''}`,
  );
  return r;
}

async function fanouts(label: string, t: FanoutTarget, o: ProxyBenchOptions): Promise<FanoutResult[]> {
  // An unmeasured small round first, so neither side pays its first-use costs in the figures.
  await fanout(`${label} (warm-up)`, t, Math.min(100, ...o.watchers), o);
  const out: FanoutResult[] = [];
  for (const n of o.watchers) out.push(await fanout(label, t, n, o));
  return out;
}

// ---------------------------------------------------------------- one system

interface SystemResult {
  kind: ServerKind;
  version: string;
  problems: string[];
  gets: GetResult[];
  cache: { hits: number; misses: number };
  /** The member's CPU while idle with the proxy attached, ms per s (the proxy's watch stream and progress notifications). */
  memberIdleCpuMsPerS: number;
  cpu: CpuResult[];
  fanouts: FanoutResult[];
  quietNote: string;
  loadAvgAfter: number[];
  logWarnings: string[];
}

/** Writes the hot key on the member and waits until the proxy answers it too. */
async function seed(member: string, proxy: string, value: string): Promise<void> {
  const pre = await putKeys(member, [HOT_KEY, WATCH_KEY], value, 1);
  if (pre.okCount !== 2) throw new Error(`could not write the hot key: ${failuresText(pre.failures)} ${pre.failureSamples[0] ?? ''}`);
  const ok = await until(async () => {
    const res = await fetch(proxy + HOT_KEY, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.status === 200 && ((await res.json()) as { node?: { value?: string } }).node?.value === value;
  }, 10_000);
  if (!ok) throw new Error('the proxy never answered the hot key');
}

async function benchRaftgate(o: ProxyBenchOptions, value: string, result: SystemResult): Promise<void> {
  let core: ServerHandle | undefined;
  let proxy: ProcHandle | undefined;
  try {
    core = (await startSingle('raftgate')).handle;
    const c = core;
    const p = await startRaftgateProxy([c.clientUrl], raftgateProxyLimitArgs(o));
    proxy = p;
    progress(`raftgate: core pid ${c.pid} on ${c.clientUrl}, proxy pid ${p.pid} on ${p.clientUrl} (${raftgateProxyLimitArgs(o).join(' ')}), proxy RSS ${formatBytes(safeMemory(p)?.rssBytes ?? NaN)}`);
    await seed(c.clientUrl, p.clientUrl, value);

    const cacheBefore = await scrape(p.clientUrl, ['raftgate_proxy_cache_hits_total', 'raftgate_proxy_cache_misses_total']);
    result.gets.push(await hotGets('raftgate', 'rg-proxy', p, p.clientUrl, o, result.problems));
    const cacheAfter = await scrape(p.clientUrl, ['raftgate_proxy_cache_hits_total', 'raftgate_proxy_cache_misses_total']);
    result.cache = {
      hits: cacheAfter.raftgate_proxy_cache_hits_total - cacheBefore.raftgate_proxy_cache_hits_total,
      misses: cacheAfter.raftgate_proxy_cache_misses_total - cacheBefore.raftgate_proxy_cache_misses_total,
    };
    progress(`raftgate: cache during the proxy GET runs: ${result.cache.hits.toLocaleString('en-US')} hits, ${result.cache.misses.toLocaleString('en-US')} misses`);
    result.gets.push(await hotGets('raftgate', 'rg-core', c, c.clientUrl, o, result.problems));

    result.memberIdleCpuMsPerS = await idleCpuMsPerS(c);
    result.cpu = await cpuPerRequest('raftgate', c, c.clientUrl, p, p.clientUrl, o, value, result.problems);

    const corePorts = [c.ports.client, c.ports.native];
    result.fanouts.push(
      ...(await fanouts(
        'raftgate',
        {
          path: 'rg-proxy',
          port: Number(new URL(p.clientUrl).port),
          registered: async () => (await scrape(p.clientUrl, ['raftgate_proxy_watchers'])).raftgate_proxy_watchers,
          holder: p,
          upstream: async () => {
            const m = await scrape(c.clientUrl, ['raftgate_core_native_watch_streams', 'raftgate_core_watchers']);
            return { watches: m.raftgate_core_native_watch_streams + m.raftgate_core_watchers, connections: connectionsTo(p.pid, corePorts) };
          },
          writeOrigin: c.clientUrl,
        },
        o,
      )),
    );
  } finally {
    await stopNoting([proxy, core], result.logWarnings);
  }
}

async function benchEtcd(o: ProxyBenchOptions, value: string, result: SystemResult): Promise<void> {
  let member: ServerHandle | undefined;
  let proxy: ProcHandle | undefined;
  try {
    member = (await startSingle('etcd')).handle;
    const m = member;
    const p = await startEtcdProxy(loopbackInitialCluster([{ name: m.name, peerPort: m.ports.peer }]));
    proxy = p;
    progress(`etcd: member pid ${m.pid} on ${m.clientUrl}, v2 proxy pid ${p.pid} on ${p.clientUrl}, proxy RSS ${formatBytes(safeMemory(p)?.rssBytes ?? NaN)}`);
    await seed(m.clientUrl, p.clientUrl, value);

    result.gets.push(await hotGets('etcd', 'etcd-direct', m, m.clientUrl, o, result.problems));
    result.gets.push(await hotGets('etcd', 'etcd-proxy', p, p.clientUrl, o, result.problems));

    result.memberIdleCpuMsPerS = await idleCpuMsPerS(m);
    result.cpu = await cpuPerRequest('etcd', m, m.clientUrl, p, p.clientUrl, o, value, result.problems);

    const registered = () => storeWatchers(m.clientUrl);
    result.fanouts.push(
      ...(await fanouts(
        'etcd',
        {
          path: 'etcd-direct',
          port: m.ports.client,
          registered,
          holder: m,
          // No proxy: every watcher is a watch and a connection on the member itself. Only
          // connections from the watchers' source addresses count: the idle v2 proxy and the
          // benchmark's own requests come from 127.0.0.1.
          upstream: async () => ({ watches: await registered(), connections: connectionsOn(m.pid, m.ports.client, (a) => a !== '127.0.0.1') }),
          writeOrigin: m.clientUrl,
        },
        o,
      )),
    );
    result.fanouts.push(
      ...(await fanouts(
        'etcd',
        {
          path: 'etcd-proxy',
          port: Number(new URL(p.clientUrl).port),
          registered,
          holder: p,
          upstream: async () => ({ watches: await registered(), connections: connectionsTo(p.pid, [m.ports.client]) }),
          writeOrigin: m.clientUrl,
        },
        o,
      )),
    );
  } finally {
    await stopNoting([proxy, member], result.logWarnings);
  }
}

async function benchSystem(kind: ServerKind, o: ProxyBenchOptions, value: string): Promise<SystemResult> {
  const result: SystemResult = {
    kind,
    version: kind === 'etcd' ? etcdVersion() : raftgateVersion(),
    problems: [],
    gets: [],
    cache: { hits: Number.NaN, misses: Number.NaN },
    memberIdleCpuMsPerS: Number.NaN,
    cpu: [],
    fanouts: [],
    quietNote: await waitForQuietMachine(kind, o.quietLoad, o.quietWaitMs),
    loadAvgAfter: [],
    logWarnings: [],
  };
  try {
    await (kind === 'raftgate' ? benchRaftgate(o, value, result) : benchEtcd(o, value, result));
  } catch (err) {
    const msg = (err as Error).message;
    result.problems.push(`did not complete: ${msg.split('\n')[0] ?? msg}`);
    progress(`${kind}: FAILED: ${msg}`);
  }
  result.loadAvgAfter = os.loadavg();
  return result;
}

// ---------------------------------------------------------------- report

const ms1 = (v: number) => formatNumber(v, 1);
const ms2 = (v: number) => formatNumber(v, 2);
const s2 = (ms: number) => formatNumber(ms / 1000, 2);
const kib = (bytes: number) => formatNumber(bytes / 1024, 1);

function render(o: ProxyBenchOptions, results: Partial<Record<ServerKind, SystemResult>>, fdLimit: string, loadBefore: number[], loadAfter: number[]): string {
  const rg = results.raftgate;
  const et = results.etcd;
  const all = [rg, et].filter((s): s is SystemResult => s !== undefined);
  const gets = all.flatMap((s) => s.gets);
  const getOf = (p: PathId) => gets.find((g) => g.path === p);
  const etcdDirectRps = medianOf(getOf('etcd-direct')?.runs, (r) => r.okPerSec);

  // (a)
  const getOrder: PathId[] = ['rg-proxy', 'etcd-direct', 'etcd-proxy', 'rg-core'];
  const getRows = getOrder.map((p) => {
    const g = getOf(p);
    const rps = medianOf(g?.runs, (r) => r.okPerSec);
    const title = p === 'rg-proxy' ? 'Raftgate proxy (cache hits)' : p === 'rg-core' ? 'Raftgate core direct (reference)' : pathTitles[p];
    return [
      title,
      String(o.connections),
      formatNumber(rps, 0),
      ms2(medianOf(g?.runs, (r) => r.p50Ms)),
      ms2(medianOf(g?.runs, (r) => r.p99Ms)),
      formatRatio(rps, etcdDirectRps),
      formatNumber(medianOf(g?.runs, (r) => r.serverCpuUsPerReq), 0),
      formatNumber(medianOf(g?.runs, (r) => r.clientCpuPct), 0),
      g ? String(g.runs.reduce((a, r) => a + r.errors, 0)) : 'n/a',
    ];
  });
  const getTable = markdownTable(
    ['GET one hot key via', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs etcd direct', 'server CPU µs/req', 'client CPU %', 'failed'],
    getRows,
    [false, true, true, true, true, true, true, true, true],
  );

  // (b)
  const fanOrder: PathId[] = ['rg-proxy', 'etcd-direct', 'etcd-proxy'];
  const fans = all.flatMap((s) => s.fanouts).sort((a, b) => a.watchers - b.watchers || fanOrder.indexOf(a.path) - fanOrder.indexOf(b.path));
  const fanTable = markdownTable(
    ['watchers', 'via', 'registered in s', 'heads before event', 'write ms', 'event p50 ms', 'p99 ms', 'max (last) ms', 'got the event', 'upstream watches', 'upstream conns'],
    fans.map((f) => [
      f.watchers.toLocaleString('en-US'),
      pathTitles[f.path],
      formatNumber(f.registerMs / 1000, 1),
      f.headsBeforeEvent.toLocaleString('en-US'),
      ms1(f.writeMs),
      ms1(f.p50Ms),
      ms1(f.p99Ms),
      ms1(f.maxMs),
      `${f.valid.toLocaleString('en-US')}/${f.watchers.toLocaleString('en-US')}`,
      formatNumber(f.upstreamWatches, 0),
      formatNumber(f.upstreamConnections, 0),
    ]),
    [true, false, true, true, true, true, true, true, true, true, true],
  );

  // (c)
  const holderOf: Readonly<Record<PathId, string>> = {
    'rg-proxy': 'Raftgate proxy',
    'rg-core': 'Raftgate core',
    'etcd-direct': 'etcd member',
    'etcd-proxy': 'etcd v2 proxy',
  };
  const rssTable = markdownTable(
    ['watchers', 'via', 'process measured', 'RSS before', 'RSS with watchers', 'KiB per watcher'],
    fans.map((f) => [
      f.watchers.toLocaleString('en-US'),
      pathTitles[f.path],
      holderOf[f.path],
      formatBytes(f.rssBefore),
      formatBytes(f.rssWith),
      kib((f.rssWith - f.rssBefore) / f.watchers),
    ]),
    [true, false, false, true, true, true],
  );

  // (d)
  const cpuRows = all.flatMap((s) =>
    s.cpu.map((c) => {
      const via = median(c.memberViaProxy);
      const direct = median(c.memberDirect);
      return [
        s.kind === 'raftgate' ? 'Raftgate (core, proxy)' : 'etcd (member, v2 proxy)',
        c.workload,
        String(c.connections),
        s2(via),
        s2(direct),
        formatRatio(via, direct),
        s2(median(c.proxyOwn)),
        formatNumber(median(c.okPerSecViaProxy), 0),
        formatNumber(median(c.okPerSecDirect), 0),
        String(c.errors),
      ];
    }),
  );
  const cpuTableText = markdownTable(
    ['system', 'workload', 'conns', 'member CPU s/10k via proxy', 'member CPU s/10k direct', 'via/direct', 'proxy CPU s/10k', 'req/s via proxy', 'req/s direct', 'failed'],
    cpuRows,
    [false, false, true, true, true, true, true, true, true, true],
  );

  // Against the issue's aims.
  const aims: string[] = [];
  const rgGet = medianOf(getOf('rg-proxy')?.runs, (r) => r.okPerSec);
  const epGet = medianOf(getOf('etcd-proxy')?.runs, (r) => r.okPerSec);
  aims.push(`Cached GET through the Raftgate proxy: ${formatRatio(rgGet, etcdDirectRps)} etcd direct (aim ≥ 1.5x); etcd's v2 proxy: ${formatRatio(epGet, etcdDirectRps)}.`);
  for (const f of fans.filter((x) => x.path === 'rg-proxy')) {
    const aim = f.watchers <= 1000 ? 20 : f.watchers <= 5000 ? 50 : Number.NaN;
    const e = fans.find((x) => x.path === 'etcd-direct' && x.watchers === f.watchers);
    const ep = fans.find((x) => x.path === 'etcd-proxy' && x.watchers === f.watchers);
    aims.push(
      `${f.watchers.toLocaleString('en-US')} watchers: the last had the event after ${ms1(f.maxMs)} ms through the Raftgate proxy` +
        `${Number.isNaN(aim) ? '' : ` (aim ≤ ${aim} ms)`} with ${formatNumber(f.upstreamWatches, 0)} upstream watch(es) (aim: exactly 1) over ${formatNumber(f.upstreamConnections, 0)} connection(s); ` +
        `etcd direct ${ms1(e?.maxMs ?? NaN)} ms, etcd v2 proxy ${ms1(ep?.maxMs ?? NaN)} ms with ${formatNumber(ep?.upstreamConnections ?? NaN, 0)} upstream connections; ` +
        `RSS per watcher ${kib((f.rssWith - f.rssBefore) / f.watchers)} KiB (aim ≤ 8 KiB), etcd v2 proxy ${kib(((ep?.rssWith ?? NaN) - (ep?.rssBefore ?? NaN)) / f.watchers)} KiB.`,
    );
  }
  for (const c of rg?.cpu ?? []) {
    aims.push(`Core CPU per ${c.workload} through the proxy: ${formatRatio(median(c.memberViaProxy), median(c.memberDirect))} of direct (aim ≤ 0.5x).`);
  }

  const notes: string[] = [];
  if (o.note) notes.push(o.note);
  notes.push(`1/5/15-min load average before the benchmark: ${loadAvgText(loadBefore)}; after: ${loadAvgText(loadAfter)}.`);
  for (const s of all) notes.push(`${s.quietNote} After its runs: ${loadAvgText(s.loadAvgAfter)}.`);
  if (rg) {
    notes.push(`Raftgate proxy cache during the hot-GET runs: ${formatNumber(rg.cache.hits, 0)} hits, ${formatNumber(rg.cache.misses, 0)} misses (from its /metrics).`);
  }
  for (const s of all) {
    notes.push(`${s.kind}: member CPU while idle with its proxy attached: ${formatNumber(s.memberIdleCpuMsPerS, 1)} ms per s (counted in the CPU table too).`);
  }
  notes.push(`Open-files limit of the benchmark and the servers it spawned: ${fdLimit}.`);
  for (const f of fans) if (f.failed > 0) notes.push(`**${pathTitles[f.path]}, ${f.watchers} watchers: ${f.failed} connections failed, e.g. ${f.failedSamples.join(', ')}**`);
  for (const s of all) notes.push(...systemNotes(s));
  notes.push(...notRunNotes(rg !== undefined, et !== undefined));

  return renderSection({
    title: 'proxy tier',
    facts: [
      `- Node.js ${process.version}; etcd ${et?.version ?? etcdVersion()} (${defaultEtcdBin}: a member with \`--enable-v2\`, and \`etcd --proxy on\` in front of it); Raftgate ${rg?.version ?? raftgateVersion()} (a core member and \`raftgate proxy --mode readwrite ${raftgateProxyLimitArgs(o).join(' ')}\` in front of it)`,
      `- One member per system with its proxy in front, all on 127.0.0.1; ${o.runs} run${o.runs === 1 ? '' : 's'} × ${(o.durationMs / 1000).toString()} s per GET row (medians), ${o.runs} × ${o.cpuRequests.toLocaleString('en-US')} requests per CPU row; ${o.valueBytes} B values; ${o.watchers.map((n) => n.toLocaleString('en-US')).join(' and ')} watchers; client, servers and any other load share the machine`,
    ],
    blocks: [
      '(a) Hot-key GET:',
      getTable,
      '(b) Watch fan-out: N long-polls on one key, one write to the member, time from sending the write to each watcher having the whole event:',
      fanTable,
      '(c) Memory per watcher:',
      rssTable,
      '(d) Member CPU per 10,000 requests through the proxy vs direct (the member is the Raftgate core or the etcd member):',
      cpuTableText,
      'Against the aims of issue 4:',
      aims.map((a) => `- ${a}`).join('\n'),
    ],
    notes,
  });
}

// ---------------------------------------------------------------- main

export async function proxy(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const value = makeValue(o.valueBytes);
  // Each watcher is a socket here and in the server (twice in etcd's v2 proxy: client and upstream).
  const want = 2 * Math.max(...o.watchers) + 4096;
  const lim = ensureOpenFilesLimit(want);
  const fdLimit = `soft ${lim.soft}, hard ${lim.hard}${lim.raisedFrom !== undefined ? ` (raised from ${lim.raisedFrom} with prlimit)` : ''}${lim.problem ? `; ${lim.problem}` : ''}`;
  const loadBefore = os.loadavg();
  progress(`proxy: ${o.systems.join(' then ')}; watchers ${o.watchers.join(', ')}; open files ${fdLimit}; ${os.cpus().length} CPUs, load average ${loadAvgText(loadBefore)}`);
  const results: Partial<Record<ServerKind, SystemResult>> = {};
  for (const kind of o.systems) results[kind] = await benchSystem(kind, o, value);
  publish(o, render(o, results, fdLimit, loadBefore, os.loadavg()));
  const ranAnything = Object.values(results).some((r) => r && (r.gets.length > 0 || r.fanouts.length > 0));
  return ranAnything ? 0 : 1;
}
