// `npm run bench -- single [--duration 5s] [--runs 3] [--keys 200000]`
//
// Starts one Raftgate core member, drives it, stops it; then does the same
// with one real etcd 3.4 member (`--enable-v2`) — never both at once — and
// prints a table of requests/s and p50/p99 latency with the ratio
// Raftgate/etcd, plus each server's memory after loading many keys. The
// results are appended to bench/RESULTS.md.

import os from 'node:os';
import { runLoad, formHeaders, formValueBody, makeValue, seededRandom } from './lib/load.js';
import {
  startSingle,
  dirBytes,
  etcdVersion,
  raftgateVersion,
  repoRoot,
  defaultEtcdBin,
  safeMemory,
  warningsNote,
  type ServerHandle,
  type ServerKind,
  type ProcMemory,
} from './lib/procs.js';
import { formatNumber, formatBytes, formatRatio, markdownTable, parseDurationMs } from './lib/stats.js';
import { commonUsage, defaultCommonOptions, intArg, parseFlags, type CommonOptions } from './lib/cli.js';
import { progress, failuresText, loadAvgText, notRunNotes, publish, renderSection, systemNotes } from './lib/report.js';
import { comparisonTable, cpuTable, measureRun, perRunLines, throughputMetrics, type RunSummary, type Workload } from './lib/runs.js';
import { HOT_KEY, getOk, hotGetWorkload, putKeys, putOk, putWorkload } from './lib/workloads.js';

// ---------------------------------------------------------------- options

interface SingleOptions extends CommonOptions {
  loadKeys: number;
  distinctKeys: number;
  valueBytes: number;
  connections: number;
  loadTimeLimitMs: number;
}

export const singleUsage = `Usage: npm run bench -- single [flags]

${commonUsage}
  --keys N          keys loaded for the memory measurement (default 200000)
  --distinct N      preloaded keys read by the distinct-key GET workload (default 10000)
  --value-bytes N   value size for every PUT (default 256)
  --connections N   concurrency of the 64-connection workloads and the loads (default 64)
  --load-time-limit D  give up loading after this long (default 4m)`;

function parseOptions(args: string[]): SingleOptions {
  const o: SingleOptions = {
    ...defaultCommonOptions(repoRoot()),
    loadKeys: 200_000,
    distinctKeys: 10_000,
    valueBytes: 256,
    connections: 64,
    loadTimeLimitMs: 4 * 60_000,
  };
  parseFlags(
    args,
    o,
    {
      '--keys': (v) => (o.loadKeys = intArg('--keys', v(), 0, 10_000_000)),
      '--distinct': (v) => (o.distinctKeys = intArg('--distinct', v(), 1, 1_000_000)),
      '--value-bytes': (v) => (o.valueBytes = intArg('--value-bytes', v(), 0, 1 << 20)),
      '--connections': (v) => (o.connections = intArg('--connections', v(), 1, 1024)),
      '--load-time-limit': (v) => (o.loadTimeLimitMs = parseDurationMs(v())),
    },
    singleUsage,
  );
  return o;
}

// ---------------------------------------------------------------- workloads

const distinctKey = (i: number) => `/v2/keys/bench/d/k${i}`;
const loadKey = (i: number) => `/v2/keys/bench/load/k${i}`;

function workloads(o: SingleOptions, value: string): Workload[] {
  return [
    hotGetWorkload('get-hot', o.connections),
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
    putWorkload('put-1', 1, value),
    putWorkload('put-n', o.connections, value),
  ];
}

// ---------------------------------------------------------------- results

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
    const w = warningsNote(server, phase);
    if (w !== undefined) result.logWarnings.push(w);
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
    const pre = await putKeys(h.clientUrl, keys, value, o.connections);
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
        const s = await measureRun(kind, { origin: h.clientUrl, cpuMs: h.cpuMs }, w, { index: run, of: o.runs, durationMs: o.durationMs, warmupMs: run === 1 ? o.warmupMs : 0 }, result.problems);
        result.runs[w.id]?.push(s);
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

function render(o: SingleOptions, results: Partial<Record<ServerKind, SystemResult>>, value: string): string {
  const rg = results.raftgate;
  const et = results.etcd;
  const wls = workloads(o, value);

  const perf = comparisonTable(wls, et?.runs, rg?.runs, throughputMetrics);
  const cpu = cpuTable(wls, et?.runs, rg?.runs);

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

  const notes: string[] = [];
  if (o.note) notes.push(o.note);
  for (const s of [et, rg]) {
    if (!s) continue;
    notes.push(`${s.kind}: 1/5/15-min load average before its runs: ${loadAvgText(s.loadAvgBefore)}.`);
    if (s.load) notes.push(`${s.kind}: load read-back ${s.load.spotCheck}.`);
    notes.push(...systemNotes(s));
  }
  notes.push(...notRunNotes(rg !== undefined, et !== undefined));

  return renderSection({
    title: 'single member',
    facts: [
      `- Node.js ${process.version}; etcd ${et?.version ?? etcdVersion()} (${defaultEtcdBin}, \`--enable-v2\`, defaults otherwise); Raftgate ${rg?.version ?? raftgateVersion()}`,
      `- ${o.runs} run${o.runs === 1 ? '' : 's'} × ${(o.durationMs / 1000).toString()} s per workload (medians shown), ${(o.warmupMs / 1000).toString()} s warm-up; ${o.valueBytes} B values; client, server and any other load share the machine`,
    ],
    blocks: [perf, cpu, memTable, 'Per-run req/s:', perRunLines(wls, et?.runs, rg?.runs)],
    notes,
  });
}

// ---------------------------------------------------------------- main

export async function single(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const value = makeValue(o.valueBytes);
  progress(
    `single: ${o.systems.join(' then ')}; ${o.runs} × ${o.durationMs / 1000} s per workload; load ${o.loadKeys.toLocaleString('en-US')} keys; ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'}`,
  );
  const results: Partial<Record<ServerKind, SystemResult>> = {};
  for (const kind of o.systems) results[kind] = await benchSystem(kind, o, value);
  publish(o, render(o, results, value));
  const ranAnything = Object.values(results).some((r) => r && Object.values(r.runs).some((x) => x.length > 0));
  return ranAnything ? 0 : 1;
}
