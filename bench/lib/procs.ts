// Start and stop the servers a benchmark drives — Raftgate core members and
// real etcd 3.4 members — on 127.0.0.1 with fresh temp data dirs, and read
// their memory from /proc. Spawning and waiting for health are separate steps
// so a 3-member cluster can spawn every member before waiting for any of them
// (a member alone has no quorum and never becomes healthy).
//
// Every process started here is tracked; stopAll() (and the exit hook
// installed on first use) stops exactly those pids and removes their temp dirs.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, readdirSync, lstatSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loopbackMemberFlags, loopbackUrl, proxyFlags } from '../../config/member-flags.js';

export type ServerKind = 'etcd' | 'raftgate';

export interface MemberPorts {
  client: number;
  peer: number;
  /** Raftgate's native protocol port; unused by etcd. */
  native: number;
}

export interface MemberSpec {
  kind: ServerKind;
  name: string;
  ports: MemberPorts;
  /** `name=http://127.0.0.1:peer,...`; default: this member alone. */
  initialCluster?: string;
  /** `--initial-cluster-token`; default: none (the member's own default). */
  clusterToken?: string;
  /** Extra command-line flags appended as given. */
  extraArgs?: string[];
}

/** A process started by this module: its pid, output, memory and CPU, and how to end it. */
export interface ProcHandle {
  /** For messages, e.g. "raftgate core m1", "etcd v2 proxy". */
  readonly label: string;
  readonly name: string;
  readonly pid: number;
  /** Temp dir holding data/ and the process log; removed by stop(). */
  readonly rootDir: string;
  readonly logFile: string;
  /** True once the process has exited (for whatever reason). */
  exited(): boolean;
  /** Resolves with the exit code or signal name. */
  readonly exitPromise: Promise<string>;
  /** Reads VmRSS and VmHWM from /proc/<pid>/status. */
  memory(): ProcMemory;
  /** CPU time used so far (user + system), ms. */
  cpuMs(): number;
  /** The last `lines` lines of the process log, for error messages. */
  logTail(lines?: number): string;
  /** Log lines at warning level or worse (pino level >= 40, capnslog W/E/C/N), with a few samples. */
  logWarnings(samplesMax?: number): { count: number; samples: string[] };
  /** SIGTERM, then SIGKILL after graceMs; removes the temp dir unless keep. */
  stop(opts?: { graceMs?: number; keep?: boolean }): Promise<void>;
  /** SIGKILL at once and wait for the exit; keeps the temp dir, so the member can be restarted on its data. */
  kill9(): Promise<void>;
}

export interface ServerHandle extends ProcHandle {
  readonly kind: ServerKind;
  readonly clientUrl: string;
  readonly ports: MemberPorts;
  readonly dataDir: string;
}

export interface ProcMemory {
  rssBytes: number;
  /** Peak resident set size ("high water mark") over the process's life. */
  hwmBytes: number;
}

/** The repository root, found from this file (bench/lib/ in source, dist/bench/lib/ compiled). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'raftgate') return dir;
    } catch {
      // not here; go up
    }
    dir = path.dirname(dir);
  }
  throw new Error('bench: cannot find the raftgate package root above ' + fileURLToPath(import.meta.url));
}

export const defaultEtcdBin = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('freePort: no port'))));
    });
  });
}

/** Distinct free ports for one member (client, peer, native), none of them in `taken` (which gains them). */
export async function allocateMemberPorts(taken = new Set<number>()): Promise<MemberPorts> {
  const one = async () => {
    for (let i = 0; i < 20; i++) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
    throw new Error('allocateMemberPorts: could not find distinct free ports');
  };
  return { client: await one(), peer: await one(), native: await one() };
}

export function readProcMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/**
 * CPU time (user + system, all threads) the process has used so far, in ms,
 * from /proc/<pid>/stat. Resolution is one clock tick (10 ms at the usual
 * 100 Hz), fine over runs of seconds. Server CPU per request is steadier than
 * requests/s on a machine shared with other work.
 */
export function readProcCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after it are plain.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so utime (14) is rest[11] and stime (15) rest[12].
  const ticks = Number(rest[11]) + Number(rest[12]);
  return (ticks * 1000) / clockTicksPerSecond();
}

let ticksCached: number | undefined;
function clockTicksPerSecond(): number {
  if (ticksCached === undefined) {
    try {
      ticksCached = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      ticksCached = 100;
    }
  }
  return ticksCached;
}

/** Total size in bytes of the regular files under dir (bounded depth). */
export function dirBytes(dir: string, depthMax = 8): number {
  let total = 0;
  const walk = (d: string, depth: number) => {
    if (depth > depthMax) return;
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile()) total += st.size;
    }
  };
  walk(dir, 0);
  return total;
}

export function etcdVersion(bin = defaultEtcdBin): string {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const m = /etcd Version:\s*(\S+)/.exec(out);
    return m?.[1] ?? out.split('\n')[0] ?? 'unknown';
  } catch (err) {
    return `unavailable (${(err as Error).message})`;
  }
}

export function raftgateVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version?: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot(), encoding: 'utf8', timeout: 5000 }).trim();
    if (dirty) commit += '+uncommitted';
  } catch {
    // not a git checkout: version only
  }
  return `${pkg.version ?? 'unknown'}${commit ? ` (${commit})` : ''}`;
}

function argvFor(spec: MemberSpec, dataDir: string): { cmd: string; args: string[] } {
  const member = { name: spec.name, dataDir, clientPort: spec.ports.client, peerPort: spec.ports.peer, initialCluster: spec.initialCluster };
  const token = spec.clusterToken !== undefined ? ['--initial-cluster-token', spec.clusterToken] : [];
  if (spec.kind === 'etcd') {
    return { cmd: defaultEtcdBin, args: ['--enable-v2', ...loopbackMemberFlags(member), ...token, ...(spec.extraArgs ?? [])] };
  }
  return {
    cmd: process.execPath,
    args: [raftgateBin(), 'core', ...loopbackMemberFlags({ ...member, nativePort: spec.ports.native }), ...token, ...(spec.extraArgs ?? [])],
  };
}

function raftgateBin(): string {
  return path.join(repoRoot(), 'bin', 'raftgate.js');
}

// pino JSON (Raftgate): "level":40 warn, 50 error, 60 fatal.
// capnslog (etcd 3.4 default): "2024-01-01 00:00:00.000000 W | pkg: msg" (W, E, C, N=notice is not a warning).
function isWarningLine(line: string): boolean {
  return /"level":\s*[456]0\b/.test(line) || /^\S+ \S+ [WEC] \| /.test(line);
}

const live = new Set<ProcHandle>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the benchmark dies: kill only the pids we started, remove their dirs.
  process.on('exit', () => {
    for (const h of live) {
      try {
        if (!h.exited()) process.kill(h.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      try {
        rmSync(h.rootDir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n[bench] ${sig}: stopping ${live.size} process(es)\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

interface SpawnSpec {
  label: string;
  /** The log file's name. */
  name: string;
  tmpPrefix: string;
  /** Reuse this dir (a restart keeps its data); default: a fresh temp dir. */
  rootDir?: string;
  argv(dataDir: string): { cmd: string; args: string[] };
}

/**
 * Spawns one tracked process with its output in <rootDir>/<name>.log and
 * its data in <rootDir>/data; does not wait for it to be ready.
 */
function spawnTracked(spec: SpawnSpec): ProcHandle & { readonly dataDir: string } {
  installExitHook();
  const rootDir = spec.rootDir ?? mkdtempSync(path.join(os.tmpdir(), spec.tmpPrefix));
  const dataDir = path.join(rootDir, 'data');
  const logFile = path.join(rootDir, `${spec.name}.log`);
  const logFd = openSync(logFile, 'a');
  const { cmd, args } = spec.argv(dataDir);
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: rootDir,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  if (child.pid === undefined) {
    if (spec.rootDir === undefined) rmSync(rootDir, { recursive: true, force: true });
    throw new Error(`could not start ${cmd}`);
  }
  const pid = child.pid;
  let exitedFlag = false;
  const exitPromise = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve(signal ?? String(code));
    });
    child.once('error', (err) => {
      exitedFlag = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  const waitExit = (ms: number) => Promise.race([exitPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  const sigkill = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  const handle: ProcHandle & { dataDir: string } = {
    label: spec.label,
    name: spec.name,
    pid,
    rootDir,
    dataDir,
    logFile,
    exitPromise,
    exited: () => exitedFlag,
    memory: () => readProcMemory(pid),
    cpuMs: () => readProcCpuMs(pid),
    logTail(lines = 20) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    logWarnings(samplesMax = 3) {
      let text = '';
      try {
        text = readFileSync(logFile, 'utf8');
      } catch {
        return { count: 0, samples: [] };
      }
      const samples: string[] = [];
      let count = 0;
      for (const line of text.split('\n')) {
        if (!isWarningLine(line)) continue;
        count++;
        if (samples.length < samplesMax) samples.push(line.slice(0, 300));
      }
      return { count, samples };
    },
    async stop({ graceMs = 10_000, keep = false } = {}) {
      if (!exitedFlag) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitExit(graceMs)) && !exitedFlag) {
          sigkill();
          await waitExit(5000);
        }
      }
      live.delete(handle);
      if (!keep) rmSync(rootDir, { recursive: true, force: true });
    },
    async kill9() {
      if (!exitedFlag) {
        sigkill();
        await waitExit(5000);
      }
      live.delete(handle);
    },
  };
  live.add(handle);
  return handle;
}

/**
 * Spawns a member (with a fresh temp data dir, or in `rootDir` to restart a
 * member on its old data); does not wait for it to be healthy.
 */
export function spawnMember(spec: MemberSpec, opts: { rootDir?: string } = {}): ServerHandle {
  const proc = spawnTracked({
    label: `${spec.kind === 'etcd' ? 'etcd' : 'raftgate core'} ${spec.name}`,
    name: spec.name,
    tmpPrefix: `raftgate-bench-${spec.kind}-`,
    ...(opts.rootDir !== undefined ? { rootDir: opts.rootDir } : {}),
    argv: (dataDir) => argvFor(spec, dataDir),
  });
  return Object.assign(proc, { kind: spec.kind, clientUrl: loopbackUrl(spec.ports.client), ports: spec.ports });
}

export type ProxyKind = 'raftgate-proxy' | 'etcd-proxy';

export interface ProxyHandle extends ProcHandle {
  readonly kind: ProxyKind;
  readonly clientUrl: string;
}

/** Spawns a proxy on a free port and waits until `readyPath` answers 200 through it. */
async function startProxy(
  kind: ProxyKind,
  spec: { label: string; name: string; readyPath: string; readyTimeoutMs: number; argv: (port: number, dataDir: string) => { cmd: string; args: string[] } },
): Promise<ProxyHandle> {
  const port = await freePort();
  const clientUrl = loopbackUrl(port);
  const proc = spawnTracked({ label: spec.label, name: spec.name, tmpPrefix: `raftgate-bench-${kind}-`, argv: (dataDir) => spec.argv(port, dataDir) });
  return readyOrStop(Object.assign(proc, { kind, clientUrl }), clientUrl, spec.readyPath, spec.readyTimeoutMs);
}

/**
 * `raftgate proxy --mode readwrite` in front of `endpoints`, with `extraArgs`
 * (limits); resolves once /ready answers 200 (its upstream watch is live).
 */
export function startRaftgateProxy(endpoints: readonly string[], extraArgs: readonly string[] = [], readyTimeoutMs = 30_000): Promise<ProxyHandle> {
  return startProxy('raftgate-proxy', {
    label: 'raftgate proxy',
    name: 'rg-proxy',
    readyPath: '/ready',
    readyTimeoutMs,
    argv: (port) => ({
      cmd: process.execPath,
      args: [raftgateBin(), 'proxy', ...proxyFlags({ mode: 'readwrite', port, endpoints, logLevel: 'warn' }), ...extraArgs],
    }),
  });
}

/**
 * etcd 3.4's v2 proxy, `etcd --proxy on`, in front of the cluster given as
 * `--initial-cluster` (name=peerURL,...): it asks the members for their
 * client URLs and forwards every request, long-polls included. It has no
 * /health of its own (it forwards that too), so readiness is a GET of the
 * keyspace root answered 200 through it.
 */
export function startEtcdProxy(initialCluster: string, readyTimeoutMs = 30_000): Promise<ProxyHandle> {
  return startProxy('etcd-proxy', {
    label: 'etcd v2 proxy',
    name: 'etcd-proxy',
    readyPath: '/v2/keys/',
    readyTimeoutMs,
    argv: (port, dataDir) => ({
      cmd: defaultEtcdBin,
      args: ['--proxy', 'on', '--name', 'etcd-proxy', '--data-dir', dataDir, '--listen-client-urls', loopbackUrl(port), '--initial-cluster', initialCluster],
    }),
  });
}

/** Polls `urlPath` until it answers 200; throws when the process exits or the deadline passes. */
async function pollOk(h: ProcHandle, origin: string, urlPath: string, timeoutMs: number): Promise<number> {
  const start = Date.now();
  let last = '';
  for (let attempt = 0; attempt < 100_000; attempt++) {
    if (h.exited()) {
      throw new Error(`${h.label} exited (${await h.exitPromise}) before ${urlPath} answered 200; log tail:\n${h.logTail()}`);
    }
    if (Date.now() - start > timeoutMs) break;
    try {
      const res = await fetch(origin + urlPath, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.status === 200) return Date.now() - start;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${h.label} did not answer 200 on ${urlPath} within ${timeoutMs} ms (last: ${last}); log tail:\n${h.logTail()}`);
}

/** pollOk, stopping the process (and removing its dir) when it never gets there. */
async function readyOrStop<T extends ProcHandle>(h: T, origin: string, urlPath: string, timeoutMs: number): Promise<T> {
  try {
    await pollOk(h, origin, urlPath, timeoutMs);
    return h;
  } catch (err) {
    await h.stop({ graceMs: 2000 });
    throw err;
  }
}

/** Polls GET /health until 200, the process exits, or the deadline passes; returns the ms it took. */
export function waitHealthy(h: ServerHandle, timeoutMs = 30_000): Promise<number> {
  return pollOk(h, h.clientUrl, '/health', timeoutMs);
}

/** Spawns one single-member cluster and waits until it serves /health. */
export async function startSingle(kind: ServerKind, opts: { name?: string; extraArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<{ handle: ServerHandle; readyMs: number }> {
  const ports = await allocateMemberPorts();
  const spec: MemberSpec = { kind, name: opts.name ?? (kind === 'etcd' ? 'e' : 'rg'), ports };
  if (opts.extraArgs) spec.extraArgs = opts.extraArgs;
  const handle = spawnMember(spec);
  const start = Date.now();
  await readyOrStop(handle, handle.clientUrl, '/health', opts.readyTimeoutMs ?? 30_000);
  return { handle, readyMs: Date.now() - start };
}

/** Stops every process started through this module. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((h) => h.stop({ graceMs: 3000 })));
}

/** The CPU the process uses while nothing is sent to it, ms per s over `ms` (timers, heartbeats, streams). */
export async function idleCpuMsPerS(p: ProcHandle, ms = 3000): Promise<number> {
  const before = p.cpuMs();
  await new Promise((r) => setTimeout(r, ms));
  return ((p.cpuMs() - before) * 1000) / ms;
}

/** The process's memory, or undefined once it is gone. */
export function safeMemory(h: ProcHandle): ProcMemory | undefined {
  try {
    return h.memory();
  } catch {
    return undefined;
  }
}

/** "<phase>: N warning/error log lines, e.g. `...`", or undefined when the log has none. */
export function warningsNote(h: ProcHandle, phase: string): string | undefined {
  const w = h.logWarnings();
  return w.count > 0 ? `${phase}: ${w.count} warning/error log lines, e.g. \`${w.samples.join('` | `')}\`` : undefined;
}

/** Stops each process in turn, first pushing its warning log lines (if any) to `notes`. */
export async function stopNoting(handles: readonly (ProcHandle | undefined)[], notes: string[]): Promise<void> {
  for (const h of handles) {
    if (!h) continue;
    const w = warningsNote(h, h.label);
    if (w !== undefined) notes.push(w);
    await h.stop({ graceMs: 5000 });
  }
}
