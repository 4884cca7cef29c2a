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
  /** Extra command-line flags appended as given. */
  extraArgs?: string[];
}

export interface ServerHandle {
  readonly kind: ServerKind;
  readonly name: string;
  readonly pid: number;
  readonly clientUrl: string;
  readonly ports: MemberPorts;
  /** Temp dir holding data/ and the process log; removed by stop(). */
  readonly rootDir: string;
  readonly dataDir: string;
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

/** Distinct free ports for one member (client, peer, native). */
export async function allocateMemberPorts(): Promise<MemberPorts> {
  const taken = new Set<number>();
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
  const url = (p: number) => `http://127.0.0.1:${p}`;
  const cluster = spec.initialCluster ?? `${spec.name}=${url(spec.ports.peer)}`;
  const common = [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', url(spec.ports.client),
    '--advertise-client-urls', url(spec.ports.client),
    '--listen-peer-urls', url(spec.ports.peer),
    '--initial-advertise-peer-urls', url(spec.ports.peer),
    '--initial-cluster', cluster,
  ];
  if (spec.kind === 'etcd') {
    return { cmd: defaultEtcdBin, args: ['--enable-v2', ...common, ...(spec.extraArgs ?? [])] };
  }
  const bin = path.join(repoRoot(), 'bin', 'raftgate.js');
  return {
    cmd: process.execPath,
    args: [bin, 'core', ...common, '--listen-native-urls', url(spec.ports.native), ...(spec.extraArgs ?? [])],
  };
}

// pino JSON (Raftgate): "level":40 warn, 50 error, 60 fatal.
// capnslog (etcd 3.4 default): "2024-01-01 00:00:00.000000 W | pkg: msg" (W, E, C, N=notice is not a warning).
function isWarningLine(line: string): boolean {
  return /"level":\s*[456]0\b/.test(line) || /^\S+ \S+ [WEC] \| /.test(line);
}

const live = new Set<ServerHandle>();
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
      process.stderr.write(`\n[bench] ${sig}: stopping ${live.size} server(s)\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/** Spawns a member with a fresh temp data dir; does not wait for it to be healthy. */
export function spawnMember(spec: MemberSpec): ServerHandle {
  installExitHook();
  const rootDir = mkdtempSync(path.join(os.tmpdir(), `raftgate-bench-${spec.kind}-`));
  const dataDir = path.join(rootDir, 'data');
  const logFile = path.join(rootDir, `${spec.name}.log`);
  const logFd = openSync(logFile, 'a');
  const { cmd, args } = argvFor(spec, dataDir);
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
    rmSync(rootDir, { recursive: true, force: true });
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

  const handle: ServerHandle = {
    kind: spec.kind,
    name: spec.name,
    pid,
    clientUrl: `http://127.0.0.1:${spec.ports.client}`,
    ports: spec.ports,
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
        const timedOut = await Promise.race([
          exitPromise.then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
        ]);
        if (timedOut && !exitedFlag) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 5000).unref())]);
        }
      }
      live.delete(handle);
      if (!keep) rmSync(rootDir, { recursive: true, force: true });
    },
  };
  live.add(handle);
  return handle;
}

/** Polls GET /health until 200, the process exits, or the deadline passes. */
export async function waitHealthy(h: ServerHandle, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  let last = '';
  for (let attempt = 0; attempt < 10_000; attempt++) {
    if (h.exited()) {
      throw new Error(`${h.kind} ${h.name} exited (${await h.exitPromise}) before becoming healthy; log tail:\n${h.logTail()}`);
    }
    if (Date.now() - start > timeoutMs) break;
    try {
      const res = await fetch(`${h.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.status === 200) return Date.now() - start;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${h.kind} ${h.name} not healthy after ${timeoutMs} ms (last: ${last}); log tail:\n${h.logTail()}`);
}

/** Spawns one single-member cluster and waits until it serves /health. */
export async function startSingle(kind: ServerKind, opts: { name?: string; extraArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<{ handle: ServerHandle; readyMs: number }> {
  const ports = await allocateMemberPorts();
  const spec: MemberSpec = { kind, name: opts.name ?? (kind === 'etcd' ? 'e' : 'rg'), ports };
  if (opts.extraArgs) spec.extraArgs = opts.extraArgs;
  const handle = spawnMember(spec);
  try {
    const readyMs = await waitHealthy(handle, opts.readyTimeoutMs);
    return { handle, readyMs };
  } catch (err) {
    await handle.stop({ graceMs: 2000 });
    throw err;
  }
}

/** Stops every server started through this module. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((h) => h.stop({ graceMs: 3000 })));
}
