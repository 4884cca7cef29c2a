// `npm run bench -- single [--duration 5s] [--runs 3] [--keys 200000]`
//
// Starts one Raftgate core member, drives it, stops it; then does the same
// with one real etcd 3.4 member (`--enable-v2`) — never both at once — and
// prints a table of requests/s and p50/p99 latency with the ratio
// Raftgate/etcd, plus each server's memory after loading many keys. The
// results are appended to bench/RESULTS.md.
//
// Benchmarks are not tests: nothing here fails on timing. It exits non-zero
// only when it could not run at all.

import os from 'node:os';
import path from 'node:path';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { runLoad, formHeaders, formValueBody, makeValue, seededRandom, type BenchRequest, type LoadResult } from './lib/load.js';
import {
  startSingle,
  stopAll,
  dirBytes,
  etcdVersion,
  raftgateVersion,
  repoRoot,
  defaultEtcdBin,
  type ServerHandle,
  type ServerKind,
  type ProcMemory,
} from './lib/procs.js';
import { summarizeLatenciesUs, median, formatRatio, formatNumber, formatBytes, parseDurationMs, markdownTable } from './lib/stats.js';

// ---------------------------------------------------------------- options

interface SingleOptions {
  durationMs: number;
  warmupMs: number;
  runs: number;
  loadKeys: number;
  distinctKeys: number;
  valueBytes: number;
  connections: number;
  systems: ServerKind[];
  write: boolean;
  resultsFile: string;
  note: string;
  loadTimeLimitMs: number;
}

const usage = `Usage: npm run bench -- single [flags]

  --duration D      length of each measured run (default 5s; e.g. 500ms, 5s, 1m)
  --runs N          measured runs per workload; the table shows medians (default 3)
  --warmup D        unmeasured warm-up per workload before the first run (default 1s)
  --keys N          keys loaded for the memory measurement (default 200000)
  --distinct N      preloaded keys read by the distinct-key GET workload (default 10000)
  --value-bytes N   value size for every PUT (default 256)
  --connections N   concurrency of the 64-connection workloads and the loads (default 64)
  --only KIND       run only raftgate or only etcd (ratios show n/a)
  --load-time-limit D  give up loading after this long (default 4m)
  --note TEXT       add a line to the notes in RESULTS.md
  --no-write        print the table but do not append to bench/RESULTS.md
  --results FILE    append to FILE instead of bench/RESULTS.md

etcd comes from $ETCD_BIN or /usr/bin/etcd.`;

function parseOptions(args: string[]): SingleOptions {
  const o: SingleOptions = {
    durationMs: 5000,
    warmupMs: 1000,
    runs: 3,
    loadKeys: 200_000,
    distinctKeys: 10_000,
    valueBytes: 256,
    connections: 64,
    systems: ['raftgate', 'etcd'],
    write: true,
    resultsFile: path.join(repoRoot(), 'bench', 'RESULTS.md'),
    note: '',
    loadTimeLimitMs: 4 * 60_000,
  };
  const int = (flag: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} takes an integer in ${min}..${max}, got "${v ?? ''}"`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--duration': o.durationMs = parseDurationMs(value()); break;
      case '--warmup': {
        const v = value();
        o.warmupMs = v === '0' ? 0 : parseDurationMs(v);
        break;
      }
      case '--runs': o.runs = int(flag, value(), 1, 50); break;
      case '--keys': o.loadKeys = int(flag, value(), 0, 10_000_000); break;
      case '--distinct': o.distinctKeys = int(flag, value(), 1, 1_000_000); break;
      case '--value-bytes': o.valueBytes = int(flag, value(), 0, 1 << 20); break;
      case '--connections': o.connections = int(flag, value(), 1, 1024); break;
      case '--only': {
        const v = value();
        if (v !== 'etcd' && v !== 'raftgate') throw new Error(`--only takes etcd or raftgate, got "${v}"`);
        o.systems = [v];
        break;
      }
      case '--load-time-limit': o.loadTimeLimitMs = parseDurationMs(value()); break;
      case '--note': o.note = value(); break;
      case '--no-write': o.write = false; break;
      case '--results': o.resultsFile = path.resolve(value()); break;
      default: throw new Error(`unknown flag "${a}"\n\n${usage}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------- progress

const t0 = Date.now();
function progress(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

// ---------------------------------------------------------------- workloads

interface Workload {
  id: string;
  title: string;
  connections: number;
  /** A fresh request generator per run; seeded so both systems see the same keys. */
  requests(runSeed: number): (seq: number) => BenchRequest;
  ok(status: number): boolean;
}

const HOT_KEY = '/v2/keys/bench/hot';
const distinctKey = (i: number) => `/v2/keys/bench/d/k${i}`;
const putKey = (i: number) => `/v2/keys/bench/p/k${i}`;
const loadKey = (i: number) => `/v2/keys/bench/load/k${i}`;
const PUT_KEYSPACE = 10_000;

// set on an existing key answers 200, on a new key 201; anything else is a failure.
const putOk = (s: number) => s === 200 || s === 201;
const getOk = (s: number) => s === 200;

function workloads(o: SingleOptions, value: string): Workload[] {
  const body = formValueBody(value);
  const put = (runSeed: number) => {
    const rnd = seededRandom(runSeed);
    return (): BenchRequest => ({ method: 'PUT', path: putKey(Math.floor(rnd() * PUT_KEYSPACE)), body, headers: formHeaders });
  };
  return [
    {
      id: 'get-hot',
      title: 'GET one hot key',
      connections: o.connections,
      requests: () => () => ({ method: 'GET', path: HOT_KEY }),
      ok: getOk,
    },
    {
      id: 'get-distinct',
      title: `GET ${o.distinctKeys.toLocaleString('en-US')} distinct keys (random)`,
      connections: o.connections,
      requests: (runSeed) => {
        const rnd = seededRandom(runSeed);
        return () => ({ method: 'GET', path: distinctKey(Math.floor(rnd() * o.distinctKeys)) });
      },
      ok: getOk,
    },
    { id: 'put-1', title: `PUT ${o.valueBytes} B values`, connections: 1, requests: put, ok: putOk },
    { id: 'put-n', title: `PUT ${o.valueBytes} B values`, connections: o.connections, requests: put, ok: putOk },
  ];
}

// ---------------------------------------------------------------- results

interface RunSummary {
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  failures: Record<string, number>;
  failureSamples: string[];
  /** Server CPU (user + system, all threads) per successful request, µs. */
  serverCpuUsPerReq: number;
  /** The load generator's own CPU, % of one core: near 100 means the client may be the limit. */
  clientCpuPct: number;
}

interface LoadSummary {
  keys: number;
  connections: number;
  elapsedMs: number;
  okPerSec: number;
  okCount: number;
  errors: number;
  failures: Record<string, number>;
  failureSamples: string[];
  aborted: string | undefined;
  memory: ProcMemory | undefined;
  dataDirBytes: number;
  spotCheck: string;
}

interface SystemResult {
  kind: ServerKind;
  version: string;
  /** Why this system produced no (or partial) numbers. */
  problems: string[];
  readyMs: number;
  idleMemory: ProcMemory | undefined;
  preloadMs: number;
  preloadErrors: number;
  runs: Record<string, RunSummary[]>;
  afterWorkloadsMemory: ProcMemory | undefined;
  loadAvgBefore: number[];
  load: LoadSummary | undefined;
  /** Warning-or-worse lines each server instance logged, with samples. */
  logWarnings: string[];
}

function summarizeRun(r: LoadResult, serverCpuMs: number): RunSummary {
  const lat = summarizeLatenciesUs(r.latenciesUs);
  return {
    okPerSec: r.okPerSec,
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    errors: r.errors,
    failures: r.failures,
    failureSamples: r.failureSamples,
    serverCpuUsPerReq: r.okCount > 0 ? (serverCpuMs * 1000) / r.okCount : Number.NaN,
    clientCpuPct: r.clientCpuPct,
  };
}

function failuresText(f: Record<string, number>): string {
  const parts = Object.entries(f).map(([k, n]) => `${k}×${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

function safeMemory(h: ServerHandle): ProcMemory | undefined {
  try {
    return h.memory();
  } catch {
    return undefined;
  }
}

/** Reads `count` random keys of `keyOf` back and checks the value; returns "k/k ok" or what went wrong. */
async function spotCheck(h: ServerHandle, keyOf: (i: number) => string, keyCount: number, value: string, count: number): Promise<string> {
  const rnd = seededRandom(4242);
  let good = 0;
  const bad: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = keyOf(Math.floor(rnd() * keyCount));
    try {
      const res = await fetch(h.clientUrl + key, { signal: AbortSignal.timeout(5000) });
      const json = (await res.json()) as { node?: { value?: string } };
      if (res.status === 200 && json.node?.value === value) good++;
      else if (bad.length < 3) bad.push(`${key}: ${res.status} ${JSON.stringify(json).slice(0, 120)}`);
    } catch (err) {
      if (bad.length < 3) bad.push(`${key}: ${(err as Error).message}`);
    }
  }
  return bad.length === 0 ? `${good}/${count} ok` : `${good}/${count} ok; e.g. ${bad.join('; ')}`;
}

// ---------------------------------------------------------------- one system

async function benchSystem(kind: ServerKind, o: SingleOptions, value: string): Promise<SystemResult> {
  const result: SystemResult = {
    kind,
    version: kind === 'etcd' ? etcdVersion() : raftgateVersion(),
    problems: [],
    readyMs: Number.NaN,
    idleMemory: undefined,
    preloadMs: Number.NaN,
    preloadErrors: 0,
    runs: {},
    afterWorkloadsMemory: undefined,
    loadAvgBefore: os.loadavg(),
    load: undefined,
    logWarnings: [],
  };
  const collectWarnings = (server: ServerHandle, phase: string) => {
    const w = server.logWarnings();
    if (w.count > 0) result.logWarnings.push(`${phase}: ${w.count} warning/error log lines, e.g. \`${w.samples.join('` | `')}\``);
  };
  const wls = workloads(o, value);
  const body = formValueBody(value);

  // Part 1: latency and throughput on a fresh member.
  let h: ServerHandle | undefined;
  try {
    const started = await startSingle(kind);
    h = started.handle;
    result.readyMs = started.readyMs;
    result.idleMemory = safeMemory(h);
    progress(`${kind}: pid ${h.pid} healthy on ${h.clientUrl} after ${started.readyMs} ms, RSS ${formatBytes(result.idleMemory?.rssBytes ?? NaN)}`);

    const keys = [HOT_KEY, ...Array.from({ length: o.distinctKeys }, (_, i) => distinctKey(i))];
    const pre = await runLoad({
      origin: h.clientUrl,
      connections: o.connections,
      totalRequests: keys.length,
      timeLimitMs: 120_000,
      next: (seq) => ({ method: 'PUT', path: keys[seq] as string, body, headers: formHeaders }),
      ok: putOk,
    });
    result.preloadMs = pre.elapsedMs;
    result.preloadErrors = pre.errors + (keys.length - pre.completed);
    const check = await spotCheck(h, distinctKey, o.distinctKeys, value, 20);
    progress(`${kind}: preloaded ${pre.okCount.toLocaleString('en-US')} keys in ${(pre.elapsedMs / 1000).toFixed(1)} s, failures ${failuresText(pre.failures)}${pre.aborted ? ` (aborted: ${pre.abortReason})` : ''}; read-back ${check}`);
    if (pre.errors > 0) result.problems.push(`preload: ${pre.errors} failed PUTs (${failuresText(pre.failures)}), e.g. ${pre.failureSamples[0] ?? ''}`);
    if (!check.startsWith('20/20')) result.problems.push(`preload read-back: ${check}`);

    for (const w of wls) result.runs[w.id] = [];
    for (let run = 1; run <= o.runs; run++) {
      for (const w of wls) {
        if (h.exited()) throw new Error(`${kind} exited (${await h.exitPromise}) during the workloads; log tail:\n${h.logTail()}`);
        if (run === 1 && o.warmupMs > 0) {
          await runLoad({ origin: h.clientUrl, connections: w.connections, durationMs: o.warmupMs, next: w.requests(999), ok: w.ok });
        }
        const cpuBefore = h.cpuMs();
        const r = await runLoad({
          origin: h.clientUrl,
          connections: w.connections,
          durationMs: o.durationMs,
          next: w.requests(run),
          ok: w.ok,
        });
        const s = summarizeRun(r, h.cpuMs() - cpuBefore);
        result.runs[w.id]?.push(s);
        progress(
          `${kind}: ${w.id.padEnd(12)} c=${String(w.connections).padStart(2)} run ${run}/${o.runs}: ` +
            `${formatNumber(s.okPerSec, 0).padStart(7)} req/s  p50 ${formatNumber(s.p50Ms, 2)} ms  p99 ${formatNumber(s.p99Ms, 2)} ms  ` +
            `server ${formatNumber(s.serverCpuUsPerReq, 0)} µs CPU/req  client CPU ${formatNumber(s.clientCpuPct, 0)}%  failures ${failuresText(s.failures)}`,
        );
        if (s.errors > 0) result.problems.push(`${w.id} run ${run}: ${s.errors} failed requests (${failuresText(s.failures)}), e.g. ${s.failureSamples[0] ?? ''}`);
      }
    }
    result.afterWorkloadsMemory = safeMemory(h);
  } catch (err) {
    const msg = (err as Error).message;
    result.problems.push(`workloads did not complete: ${msg.split('\n')[0] ?? msg}`);
    progress(`${kind}: FAILED: ${msg}`);
  } finally {
    if (h) {
      collectWarnings(h, 'workloads member');
      await h.stop();
    }
  }

  // Part 2: memory after loading many keys, on another fresh member so the
  // peak (VmHWM) reflects the load alone.
  if (o.loadKeys > 0) {
    let m: ServerHandle | undefined;
    try {
      const started = await startSingle(kind);
      m = started.handle;
      const server = m;
      progress(`${kind}: loading ${o.loadKeys.toLocaleString('en-US')} keys × ${o.valueBytes} B at ${o.connections} connections (pid ${server.pid})`);
      let lastReport = Date.now();
      const r = await runLoad({
        origin: server.clientUrl,
        connections: o.connections,
        totalRequests: o.loadKeys,
        timeLimitMs: o.loadTimeLimitMs,
        errorsMax: Math.max(1000, Math.floor(o.loadKeys / 100)),
        next: (seq) => ({ method: 'PUT', path: loadKey(seq), body, headers: formHeaders }),
        ok: putOk,
        onProgress: (p) => {
          if (Date.now() - lastReport < 10_000) return;
          lastReport = Date.now();
          const rss = safeMemory(server)?.rssBytes ?? NaN;
          progress(`${kind}:   ... ${p.okCount.toLocaleString('en-US')} loaded, ${p.errors} failed, ${(p.elapsedMs / 1000).toFixed(0)} s, RSS ${formatBytes(rss)}`);
        },
      });
      const memory = safeMemory(server);
      const check = await spotCheck(server, loadKey, Math.min(o.loadKeys, r.okCount + r.errors), value, 20);
      let dataDirBytes = Number.NaN;
      try {
        dataDirBytes = dirBytes(server.dataDir);
      } catch {
        // left NaN
      }
      result.load = {
        keys: o.loadKeys,
        connections: o.connections,
        elapsedMs: r.elapsedMs,
        okPerSec: r.okPerSec,
        okCount: r.okCount,
        errors: r.errors + (o.loadKeys - r.completed),
        failures: r.failures,
        failureSamples: r.failureSamples,
        aborted: r.aborted ? r.abortReason : undefined,
        memory,
        dataDirBytes,
        spotCheck: check,
      };
      progress(
        `${kind}: loaded ${r.okCount.toLocaleString('en-US')} keys in ${(r.elapsedMs / 1000).toFixed(1)} s (${formatNumber(r.okPerSec, 0)} req/s), ` +
          `failures ${failuresText(r.failures)}; RSS ${formatBytes(memory?.rssBytes ?? NaN)}, peak ${formatBytes(memory?.hwmBytes ?? NaN)}, data dir ${formatBytes(dataDirBytes)}; read-back ${check}`,
      );
      if (r.errors > 0) result.problems.push(`load: ${r.errors} failed PUTs (${failuresText(r.failures)}), e.g. ${r.failureSamples[0] ?? ''}`);
      if (r.aborted) result.problems.push(`load aborted: ${r.abortReason ?? ''}`);
      if (!check.startsWith('20/20')) result.problems.push(`load read-back: ${check}`);
    } catch (err) {
      const msg = (err as Error).message;
      result.problems.push(`load did not complete: ${msg.split('\n')[0] ?? msg}`);
      progress(`${kind}: load FAILED: ${msg}`);
    } finally {
      if (m) {
        collectWarnings(m, 'load member');
        await m.stop();
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------- report

function medianOf(runs: RunSummary[] | undefined, pick: (r: RunSummary) => number): number {
  return runs && runs.length > 0 ? median(runs.map(pick)) : Number.NaN;
}

function render(o: SingleOptions, results: Partial<Record<ServerKind, SystemResult>>, value: string): string {
  const rg = results.raftgate;
  const et = results.etcd;
  const wls = workloads(o, value);
  const ms = (v: number) => formatNumber(v, 2);

  const header = ['workload', 'conns', 'etcd req/s', 'RG req/s', 'RG/etcd', 'etcd p50 ms', 'RG p50 ms', 'RG/etcd', 'etcd p99 ms', 'RG p99 ms', 'RG/etcd', 'failed (etcd / RG)'];
  const rows = wls.map((w) => {
    const e = et?.runs[w.id];
    const r = rg?.runs[w.id];
    const eRps = medianOf(e, (x) => x.okPerSec);
    const rRps = medianOf(r, (x) => x.okPerSec);
    const eP50 = medianOf(e, (x) => x.p50Ms);
    const rP50 = medianOf(r, (x) => x.p50Ms);
    const eP99 = medianOf(e, (x) => x.p99Ms);
    const rP99 = medianOf(r, (x) => x.p99Ms);
    const errs = (x: RunSummary[] | undefined) => (x ? String(x.reduce((a, b) => a + b.errors, 0)) : 'n/a');
    return [
      w.title, String(w.connections),
      formatNumber(eRps, 0), formatNumber(rRps, 0), formatRatio(rRps, eRps),
      ms(eP50), ms(rP50), formatRatio(rP50, eP50),
      ms(eP99), ms(rP99), formatRatio(rP99, eP99),
      `${errs(e)} / ${errs(r)}`,
    ];
  });
  const perf = markdownTable(header, rows, [false, true, true, true, true, true, true, true, true, true, true, true]);

  const cpuTable = markdownTable(
    ['workload', 'conns', 'etcd CPU µs/req', 'RG CPU µs/req', 'RG/etcd', 'client CPU % (etcd / RG runs)'],
    wls.map((w) => {
      const e = medianOf(et?.runs[w.id], (x) => x.serverCpuUsPerReq);
      const r = medianOf(rg?.runs[w.id], (x) => x.serverCpuUsPerReq);
      const ce = medianOf(et?.runs[w.id], (x) => x.clientCpuPct);
      const cr = medianOf(rg?.runs[w.id], (x) => x.clientCpuPct);
      return [w.title, String(w.connections), formatNumber(e, 0), formatNumber(r, 0), formatRatio(r, e), `${formatNumber(ce, 0)} / ${formatNumber(cr, 0)}`];
    }),
    [false, true, true, true, true, true],
  );

  const mem = (x: SystemResult | undefined, f: (s: SystemResult) => number) => (x ? f(x) : Number.NaN);
  const memRow = (label: string, f: (s: SystemResult) => number, fmt: (v: number) => string) => {
    const a = mem(et, f);
    const b = mem(rg, f);
    return [label, fmt(a), fmt(b), formatRatio(b, a)];
  };
  const L = (s: SystemResult) => s.load;
  const memTable = markdownTable(
    ['measure', 'etcd', 'Raftgate', 'RG/etcd'],
    [
      memRow('ready after spawn (ms)', (s) => s.readyMs, (v) => formatNumber(v, 0)),
      memRow('RSS when idle after start', (s) => s.idleMemory?.rssBytes ?? NaN, formatBytes),
      memRow(`load ${o.loadKeys.toLocaleString('en-US')} keys: time (s)`, (s) => (L(s)?.elapsedMs ?? NaN) / 1000, (v) => formatNumber(v, 1)),
      memRow('load: req/s', (s) => L(s)?.okPerSec ?? NaN, (v) => formatNumber(v, 0)),
      memRow('load: failed requests', (s) => L(s)?.errors ?? NaN, (v) => formatNumber(v, 0)),
      memRow('RSS after load (VmRSS)', (s) => L(s)?.memory?.rssBytes ?? NaN, formatBytes),
      memRow('peak RSS during load (VmHWM)', (s) => L(s)?.memory?.hwmBytes ?? NaN, formatBytes),
      memRow('data dir after load (apparent size)', (s) => L(s)?.dataDirBytes ?? NaN, formatBytes),
      memRow('RSS after the workloads above', (s) => s.afterWorkloadsMemory?.rssBytes ?? NaN, formatBytes),
    ],
    [false, true, true, true],
  );

  const perRun = wls
    .map((w) => {
      const line = (s: SystemResult | undefined) =>
        s?.runs[w.id]?.map((r) => formatNumber(r.okPerSec, 0)).join(', ') ?? 'n/a';
      return `- ${w.title}, ${w.connections} conn: etcd ${line(et)}; Raftgate ${line(rg)}`;
    })
    .join('\n');

  const cpus = os.cpus();
  const notes: string[] = [];
  if (o.note) notes.push(o.note);
  for (const s of [et, rg]) {
    if (!s) continue;
    notes.push(`${s.kind}: 1/5/15-min load average before its runs: ${s.loadAvgBefore.map((x) => x.toFixed(2)).join(' / ')}.`);
    if (s.load) notes.push(`${s.kind}: load read-back ${s.load.spotCheck}.`);
    for (const p of s.problems) notes.push(`**${s.kind}: ${p}**`);
    for (const w of s.logWarnings) notes.push(`${s.kind} log, ${w}`);
  }
  if (!rg) notes.push('Raftgate was not run (--only etcd).');
  if (!et) notes.push('etcd was not run (--only raftgate).');

  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return [
    `## ${when} — single member`,
    '',
    `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${formatBytes(os.totalmem())} RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node.js ${process.version}; etcd ${et?.version ?? etcdVersion()} (${defaultEtcdBin}, \`--enable-v2\`, defaults otherwise); Raftgate ${rg?.version ?? raftgateVersion()}`,
    `- ${o.runs} run${o.runs === 1 ? '' : 's'} × ${(o.durationMs / 1000).toString()} s per workload (medians shown), ${(o.warmupMs / 1000).toString()} s warm-up; ${o.valueBytes} B values; client, server and any other load share the machine`,
    '',
    perf,
    '',
    cpuTable,
    '',
    memTable,
    '',
    'Per-run req/s:',
    '',
    perRun,
    '',
    'Notes:',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

const resultsHeader = `# Raftgate benchmark results

Benchmarks are not tests: they print numbers and ratios against real etcd on
the same machine and never fail CI on timing. Each run below appends a dated
section; compare sections only when the machine facts match.

## How to run

\`\`\`
npm run bench -- single                       # full run, 3 to 6 minutes
npm run bench -- single --duration 2s --runs 1 --keys 20000 --no-write   # quick look
npm run bench -- single --only raftgate       # one system (ratios show n/a)
\`\`\`

\`npm run bench\` builds (tsc) and runs \`dist/bench/main.js\`. etcd comes from
\`$ETCD_BIN\` or \`/usr/bin/etcd\` (3.4, started with \`--enable-v2\`). Each
system gets fresh temp data dirs on 127.0.0.1 with free ports; the two
systems run one after the other, never at the same time. Progress goes to
stderr, one line per phase.

## What \`single\` measures

One single-member cluster of each system, both fsyncing every write.
The load generator (\`bench/lib/load.ts\`) is closed-loop: N connections,
each with exactly one request in flight over keep-alive (an undici Pool
driven through its dispatch API, so the client spends little CPU),
sending the next request when the previous response has been read in full.
Latency is measured per request with \`process.hrtime.bigint()\`; p50 and
p99 are nearest-rank percentiles of one run; the table shows the median of
the runs for each figure. Every response status is checked: failed
requests are counted in the last column and left out of req/s and latency.

| workload | what it does |
|---|---|
| GET one hot key, 64 conns | \`GET /v2/keys/bench/hot\` — the read path with no key variety: HTTP parsing, lookup, JSON rendering |
| GET 10,000 distinct keys, 64 conns | \`GET /v2/keys/bench/d/k<i>\` for a seeded random i among 10,000 preloaded keys |
| PUT 256 B values, 1 conn | \`PUT /v2/keys/bench/p/k<i>\` (form body \`value=...\`), i random among 10,000: one writer, so this is commit latency (WAL append + fsync) |
| PUT 256 B values, 64 conns | the same with 64 writers: how well writes are batched into one fsync (group commit) |
| load N keys, 64 conns | on a second fresh member: PUT \`/v2/keys/bench/load/k0..k(N-1)\` (distinct, 256 B), then read VmRSS (now) and VmHWM (peak) from \`/proc/<pid>/status\`, the data dir size, and 20 keys read back |

The second table is server CPU time (user + system, all threads, from
\`/proc/<pid>/stat\`) per successful request — steadier than req/s when the
machine is shared — and the load generator's own CPU use: near 100% of a
core means the client, not the server, may be the limit for that row.

Ratios are Raftgate/etcd: above 1 is better for req/s, worse for latency,
CPU and memory. "Ready after spawn" is the time from spawning the process
to the first 200 from /health; "RSS after the workloads" is the first
member's RSS once the four workloads are done (10,000 preloaded keys plus
up to 10,000 PUT keys). The client runs on the same cores as the server, so
absolute figures are lower than on a dedicated machine; the ratios are the
point. The data dir size is apparent size: etcd preallocates 64 MiB WAL
segments, so a small etcd data dir still shows at least that much.

`;

function writeResults(file: string, section: string): void {
  if (!existsSync(file)) writeFileSync(file, resultsHeader);
  appendFileSync(file, `\n${section}`);
}

// ---------------------------------------------------------------- main

async function single(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const value = makeValue(o.valueBytes);
  progress(
    `single: ${o.systems.join(' then ')}; ${o.runs} × ${o.durationMs / 1000} s per workload; load ${o.loadKeys.toLocaleString('en-US')} keys; ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'}`,
  );
  const results: Partial<Record<ServerKind, SystemResult>> = {};
  for (const kind of o.systems) results[kind] = await benchSystem(kind, o, value);
  const section = render(o, results, value);
  process.stdout.write(`\n${section}\n`);
  if (o.write) {
    writeResults(o.resultsFile, section);
    progress(`appended to ${o.resultsFile}`);
  }
  const ranAnything = Object.values(results).some((r) => r && Object.values(r.runs).some((x) => x.length > 0));
  return ranAnything ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'single') return single(rest);
  console.error(`bench: unknown benchmark "${cmd}" (known: single)\n\n${usage}`);
  return 2;
}

main(process.argv.slice(2)).then(
  async (code) => {
    await stopAll();
    process.exitCode = code;
  },
  async (err: unknown) => {
    await stopAll();
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
