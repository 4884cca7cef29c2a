// `npm run bench -- cluster [--duration 5s] [--runs 3] [--failovers 5]`
//
// A 3-member Raftgate core, then a 3-member etcd 3.4 (`--enable-v2`), never
// both at once, each started with the same etcd flags (fsync on, heartbeat
// 100 ms, election timeout 1000 ms). The same load generator sends PUTs of
// 256-byte values at 1, 64 and 256 connections and quorum GETs at 64 to the
// leader; then the leader is killed (-9) a few times and a writer retrying
// against the survivors measures the time to the first acknowledged write.
// The section appended to bench/RESULTS.md has medians and Raftgate/etcd
// ratios.

import os from 'node:os';
import { formValueBody, formHeaders, makeValue, seededRandom } from './lib/load.js';
import { etcdVersion, raftgateVersion, repoRoot, defaultEtcdBin, idleCpuMsPerS, safeMemory, stopNoting, type ServerHandle, type ServerKind, type ProcMemory } from './lib/procs.js';
import { startCluster, type BenchCluster } from './lib/cluster.js';
import { timeToFirstWrite } from './lib/failover.js';
import { commonUsage, defaultCommonOptions, intArg, parseFlags, type CommonOptions } from './lib/cli.js';
import { progress, failuresText, loadAvgText, notRunNotes, publish, renderSection, systemNotes, waitForQuietMachine } from './lib/report.js';
import { comparisonTable, cpuTable, measureRun, perRunLines, rssMetric, throughputMetrics, type RunSummary, type Workload } from './lib/runs.js';
import { getOk, putKeys, putOk, putWorkload } from './lib/workloads.js';
import { formatBytes, formatNumber, formatRatio, markdownTable, median } from './lib/stats.js';

// ---------------------------------------------------------------- options

interface ClusterBenchOptions extends CommonOptions {
  valueBytes: number;
  /** Leader kills, each followed by a restart of the killed member. */
  failovers: number;
  /** Keys preloaded for the quorum GET workload. */
  quorumKeys: number;
  heartbeatMs: number;
  electionMs: number;
}

export const clusterUsage = `Usage: npm run bench -- cluster [flags]

${commonUsage}
  --value-bytes N   value size for every PUT (default 256)
  --failovers N     kill -9 the leader this many times per system (default 5)
  --quorum-keys N   keys preloaded for the quorum GET workload (default 1000)`;

function parseOptions(args: string[]): ClusterBenchOptions {
  const o: ClusterBenchOptions = {
    ...defaultCommonOptions(repoRoot()),
    valueBytes: 256,
    failovers: 5,
    quorumKeys: 1000,
    heartbeatMs: 100,
    electionMs: 1000,
  };
  parseFlags(
    args,
    o,
    {
      '--value-bytes': (v) => (o.valueBytes = intArg('--value-bytes', v(), 0, 1 << 20)),
      '--failovers': (v) => (o.failovers = intArg('--failovers', v(), 0, 100)),
      '--quorum-keys': (v) => (o.quorumKeys = intArg('--quorum-keys', v(), 1, 1_000_000)),
    },
    clusterUsage,
  );
  return o;
}

// ---------------------------------------------------------------- workloads

const quorumKey = (i: number) => `/v2/keys/bench/q/k${i}`;
const failoverKey = (i: number) => `/v2/keys/bench/failover/k${i}`;

function workloads(o: ClusterBenchOptions, value: string): Workload[] {
  return [
    putWorkload('put-1', 1, value),
    putWorkload('put-64', 64, value),
    putWorkload('put-256', 256, value),
    {
      id: 'qget-64',
      title: `quorum GET (${o.quorumKeys.toLocaleString('en-US')} keys, random)`,
      connections: 64,
      requests: (runSeed) => {
        const rnd = seededRandom(runSeed);
        return () => ({ method: 'GET', path: `${quorumKey(Math.floor(rnd() * o.quorumKeys))}?quorum=true` });
      },
      ok: getOk,
    },
  ];
}

// ---------------------------------------------------------------- one system

interface FailoverRep {
  killed: string;
  /** kill -9 to the first acknowledged write; NaN if none. */
  ms: number;
  attempts: number;
  failures: Record<string, number>;
  newLeader: string;
}

interface SystemResult {
  kind: ServerKind;
  version: string;
  problems: string[];
  /** Spawn to all three healthy with an agreed leader. */
  readyMs: number;
  leaderName: string;
  idleLeaderMemory: ProcMemory | undefined;
  /** Leader and followers' CPU with no load (heartbeats, ticks), ms per s. */
  idleLeaderCpuMsPerS: number;
  idleFollowerCpuMsPerS: number;
  runs: Record<string, RunSummary[]>;
  followerRssAfter: number[];
  failovers: FailoverRep[];
  quietNote: string;
  loadAvgAfter: number[];
  logWarnings: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs every workload against the leader, following it if leadership moves (noted as a problem). */
async function runWorkloads(kind: ServerKind, c: BenchCluster, o: ClusterBenchOptions, wls: Workload[], result: SystemResult): Promise<void> {
  let leader = await c.leader();
  for (const w of wls) result.runs[w.id] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const w of wls) {
      const now = await c.leader();
      if (now !== leader) {
        result.problems.push(`leadership moved from ${leader.name} to ${now.name} before ${w.id} run ${run}`);
        leader = now;
      }
      const lead: ServerHandle = leader;
      const target = { origin: lead.clientUrl, cpuMs: lead.cpuMs, rssBytes: () => safeMemory(lead)?.rssBytes ?? Number.NaN };
      const s = await measureRun(kind, target, w, { index: run, of: o.runs, durationMs: o.durationMs, warmupMs: run === 1 ? o.warmupMs : 0 }, result.problems);
      result.runs[w.id]?.push(s);
    }
  }
}

/** kill -9 the leader, time the first write a survivor acknowledges, restart the member, repeat. */
async function runFailovers(kind: ServerKind, c: BenchCluster, o: ClusterBenchOptions, body: string, result: SystemResult): Promise<void> {
  let seq = 0;
  for (let rep = 1; rep <= o.failovers; rep++) {
    const lead = await c.leader();
    const index = c.members.indexOf(lead);
    const survivors = c.members.filter((m) => m !== lead);
    const r = await timeToFirstWrite(() => void lead.kill9(), {
      origins: survivors.map((m) => m.clientUrl),
      request: () => ({ method: 'PUT', path: failoverKey(seq++), body, headers: formHeaders }),
      ok: putOk,
    });
    await lead.exitPromise;
    const newLeader = await c.leader(10_000).then((m) => m.name, () => '?');
    result.failovers.push({ killed: lead.name, ms: r.ms, attempts: r.attempts, failures: r.failures, newLeader });
    progress(
      `${kind}: failover ${rep}/${o.failovers}: killed leader ${lead.name} (pid ${lead.pid}); first write acknowledged after ` +
        `${formatNumber(r.ms, 0)} ms by ${r.origin || 'none'} (${r.attempts} attempts, failed: ${failuresText(r.failures)}); ${newLeader} leads`,
    );
    if (Number.isNaN(r.ms)) result.problems.push(`failover ${rep}: no write acknowledged (failed: ${failuresText(r.failures)})`);
    await c.restart(index);
    await c.leader();
    // Let the restarted member catch up before the next kill.
    await sleep(2000);
  }
}

async function benchSystem(kind: ServerKind, o: ClusterBenchOptions, value: string): Promise<SystemResult> {
  const result: SystemResult = {
    kind,
    version: kind === 'etcd' ? etcdVersion() : raftgateVersion(),
    problems: [],
    readyMs: Number.NaN,
    leaderName: '',
    idleLeaderMemory: undefined,
    idleLeaderCpuMsPerS: Number.NaN,
    idleFollowerCpuMsPerS: Number.NaN,
    runs: {},
    followerRssAfter: [],
    failovers: [],
    quietNote: await waitForQuietMachine(kind, o.quietLoad, o.quietWaitMs),
    loadAvgAfter: [],
    logWarnings: [],
  };
  let c: BenchCluster | undefined;
  try {
    c = await startCluster(kind, { extraArgs: ['--heartbeat-interval', String(o.heartbeatMs), '--election-timeout', String(o.electionMs)] });
    const leader = await c.leader();
    result.readyMs = c.readyMs;
    result.leaderName = leader.name;
    result.idleLeaderMemory = safeMemory(leader);
    progress(
      `${kind}: 3 members healthy after ${c.readyMs} ms (${c.members.map((m) => `${m.name} pid ${m.pid}`).join(', ')}); ` +
        `leader ${leader.name} on ${leader.clientUrl}, RSS ${formatBytes(result.idleLeaderMemory?.rssBytes ?? NaN)}`,
    );
    const idle = await Promise.all(c.members.map((m) => idleCpuMsPerS(m)));
    result.idleLeaderCpuMsPerS = idle[c.members.indexOf(leader)] ?? Number.NaN;
    result.idleFollowerCpuMsPerS = median(idle.filter((_, i) => c?.members[i] !== leader));
    progress(`${kind}: idle CPU: leader ${formatNumber(result.idleLeaderCpuMsPerS, 1)} ms/s, followers ${formatNumber(result.idleFollowerCpuMsPerS, 1)} ms/s (median)`);
    const keys = Array.from({ length: o.quorumKeys }, (_, i) => quorumKey(i));
    const pre = await putKeys(leader.clientUrl, keys, value, 64);
    progress(`${kind}: preloaded ${pre.okCount.toLocaleString('en-US')} keys for quorum GETs in ${(pre.elapsedMs / 1000).toFixed(1)} s, failures ${failuresText(pre.failures)}`);
    if (pre.errors > 0 || pre.okCount < keys.length) result.problems.push(`preload: ${keys.length - pre.okCount} keys not written (${failuresText(pre.failures)}), e.g. ${pre.failureSamples[0] ?? ''}`);

    await runWorkloads(kind, c, o, workloads(o, value), result);
    const lead = await c.leader();
    result.followerRssAfter = c.members.filter((m) => m !== lead).map((m) => safeMemory(m)?.rssBytes ?? Number.NaN);
    await runFailovers(kind, c, o, formValueBody(value), result);
  } catch (err) {
    const msg = (err as Error).message;
    result.problems.push(`did not complete: ${msg.split('\n')[0] ?? msg}`);
    progress(`${kind}: FAILED: ${msg}`);
  } finally {
    if (c) await stopNoting(c.members, result.logWarnings);
    result.loadAvgAfter = os.loadavg();
  }
  return result;
}

// ---------------------------------------------------------------- report

function failoverFigures(s: SystemResult | undefined): { median: number; max: number; min: number; ok: number; failedAttempts: number } {
  const ms = (s?.failovers ?? []).map((f) => f.ms).filter((x) => Number.isFinite(x));
  const failedAttempts = (s?.failovers ?? []).reduce((a, f) => a + Object.values(f.failures).reduce((x, y) => x + y, 0), 0);
  return {
    median: median(ms),
    max: ms.length ? Math.max(...ms) : Number.NaN,
    min: ms.length ? Math.min(...ms) : Number.NaN,
    ok: ms.length,
    failedAttempts,
  };
}

function render(o: ClusterBenchOptions, results: Partial<Record<ServerKind, SystemResult>>, value: string, loadBefore: number[], loadAfter: number[]): string {
  const rg = results.raftgate;
  const et = results.etcd;
  const wls = workloads(o, value);
  const perf = comparisonTable(wls, et?.runs, rg?.runs, [...throughputMetrics, { ...rssMetric, label: 'leader RSS' }]);
  const cpu = cpuTable(wls, et?.runs, rg?.runs, 'leader CPU µs/req');

  const fe = failoverFigures(et);
  const fr = failoverFigures(rg);
  const ms0 = (v: number) => formatNumber(v, 0);
  const row = (label: string, a: number, b: number, fmt: (v: number) => string, ratio = true) => [label, fmt(a), fmt(b), ratio ? formatRatio(b, a) : 'n/a'];
  const facts = markdownTable(
    ['measure', 'etcd', 'Raftgate', 'RG/etcd'],
    [
      row('kill -9 leader → first acknowledged write, median (ms)', fe.median, fr.median, ms0),
      row('the same, max (ms)', fe.max, fr.max, ms0),
      row('the same, min (ms)', fe.min, fr.min, ms0),
      [`failovers with a write acknowledged (of ${o.failovers})`, et ? String(fe.ok) : 'n/a', rg ? String(fr.ok) : 'n/a', 'n/a'],
      row('write attempts refused or timed out meanwhile (all failovers)', et ? fe.failedAttempts : NaN, rg ? fr.failedAttempts : NaN, ms0, false),
      row('3 members spawned → all healthy with a leader (ms)', et?.readyMs ?? NaN, rg?.readyMs ?? NaN, ms0),
      row('leader RSS idle after start', et?.idleLeaderMemory?.rssBytes ?? NaN, rg?.idleLeaderMemory?.rssBytes ?? NaN, formatBytes),
      row('leader CPU when idle (ms per s; counted in the CPU table)', et?.idleLeaderCpuMsPerS ?? NaN, rg?.idleLeaderCpuMsPerS ?? NaN, (v) => formatNumber(v, 1)),
      row('follower CPU when idle (ms per s, median)', et?.idleFollowerCpuMsPerS ?? NaN, rg?.idleFollowerCpuMsPerS ?? NaN, (v) => formatNumber(v, 1)),
      row('follower RSS after the workloads (median)', median(et?.followerRssAfter ?? []), median(rg?.followerRssAfter ?? []), formatBytes),
    ],
    [false, true, true, true],
  );

  const failoverLines = [et, rg]
    .filter((s): s is SystemResult => s !== undefined)
    .map(
      (s) =>
        `- ${s.kind === 'etcd' ? 'etcd' : 'Raftgate'}: ` +
        (s.failovers.length === 0
          ? 'none'
          : s.failovers.map((f) => `${ms0(f.ms)} ms (${f.killed} killed, ${f.newLeader} leads; ${f.attempts} attempts, failed: ${failuresText(f.failures)})`).join('; ')),
    )
    .join('\n');

  const notes: string[] = [];
  if (o.note) notes.push(o.note);
  notes.push(`1/5/15-min load average before the benchmark: ${loadAvgText(loadBefore)}; after: ${loadAvgText(loadAfter)}.`);
  for (const s of [et, rg]) {
    if (!s) continue;
    notes.push(`${s.quietNote} After its runs: ${loadAvgText(s.loadAvgAfter)}.`, ...systemNotes(s));
  }
  notes.push(...notRunNotes(rg !== undefined, et !== undefined));

  return renderSection({
    title: 'cluster, 3 members',
    facts: [
      `- Node.js ${process.version}; etcd ${et?.version ?? etcdVersion()} (${defaultEtcdBin}, \`--enable-v2\`); Raftgate ${rg?.version ?? raftgateVersion()}`,
      `- 3 members per system on 127.0.0.1, each fsyncing every commit (both defaults), \`--heartbeat-interval ${o.heartbeatMs} --election-timeout ${o.electionMs}\`, v2 API; load sent to the leader`,
      `- ${o.runs} run${o.runs === 1 ? '' : 's'} × ${(o.durationMs / 1000).toString()} s per workload (medians shown), ${(o.warmupMs / 1000).toString()} s warm-up; ${o.valueBytes} B values; ${o.failovers} leader kills per system; client, servers and any other load share the machine`,
    ],
    blocks: [
      perf,
      cpu,
      facts,
      'Failovers (kill -9 of the leader → first write acknowledged by a survivor):',
      failoverLines,
      'Per-run req/s:',
      perRunLines(wls, et?.runs, rg?.runs),
    ],
    notes,
  });
}

// ---------------------------------------------------------------- main

export async function cluster(args: string[]): Promise<number> {
  const o = parseOptions(args);
  const value = makeValue(o.valueBytes);
  const loadBefore = os.loadavg();
  progress(`cluster: ${o.systems.join(' then ')}; ${o.runs} × ${o.durationMs / 1000} s per workload; ${o.failovers} failovers; ${os.cpus().length} CPUs, load average ${loadAvgText(loadBefore)}`);
  const results: Partial<Record<ServerKind, SystemResult>> = {};
  for (const kind of o.systems) results[kind] = await benchSystem(kind, o, value);
  publish(o, render(o, results, value, loadBefore, os.loadavg()));
  const ranAnything = Object.values(results).some((r) => r && Object.values(r.runs).some((x) => x.length > 0));
  return ranAnything ? 0 : 1;
}
