// Run `raftgate dev` (what `npm start` runs) on free loopback ports, as a
// newcomer would, for tests of the dev cluster, the README tour and the
// Prometheus integration. Needs dist/.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, releasePort } from './ports.js';
import { assertBuilt, raftgateBin, repoRoot } from './raftgate.js';

export interface DevPorts {
  base: number;
  proxy: number;
  readonlyProxy: number;
  /** Client ports of member-1, -2, -3. */
  members: number[];
}

export interface DevHandle {
  proc: ChildProcess;
  readonly dataDir: string;
  readonly ports: DevPorts;
  readonly args: string[];
  /** Everything dev printed so far. */
  out(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  /** Ctrl-C, wait (bounded), SIGKILL if it did not stop. Does not remove the data dir. */
  stop(): Promise<void>;
  /** stop(), remove the data dir, release the ports. */
  destroy(): Promise<void>;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Ports for a three-member dev cluster: a base below the kernel's ephemeral range whose nine member ports are free. */
export async function devPorts(): Promise<DevPorts> {
  for (let i = 0; i < 200; i++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 1000);
    if (!(await Promise.all([0, 1, 2, 10, 11, 12, 20, 21, 22].map((d) => canBind(base + d)))).every(Boolean)) continue;
    const [proxy, readonlyProxy] = (await freePorts(2)) as [number, number];
    return { base, proxy, readonlyProxy, members: [base, base + 10, base + 20] };
  }
  throw new Error('no free block of ports for the dev cluster');
}

export function devArgs(p: DevPorts): string[] {
  return ['--base-port', String(p.base), '--proxy-port', String(p.proxy), '--readonly-proxy-port', String(p.readonlyProxy)];
}

/** Starts dev; with `ready` (default) waits until it printed its endpoint table. */
export async function startDev(opts: { dataDir?: string; ports?: DevPorts; extraArgs?: string[]; ready?: boolean } = {}): Promise<DevHandle> {
  assertBuilt();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'raftgate-dev-'));
  const ports = opts.ports ?? (await devPorts());
  const args = [...devArgs(ports), ...(opts.extraArgs ?? [])];
  const proc = spawn(process.execPath, [raftgateBin, 'dev', '--data-dir', dataDir, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const h: DevHandle = {
    proc,
    dataDir,
    ports,
    args,
    out: () => text,
    exited,
    async waitFor(re, timeoutMs = 40_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = text.match(re);
        if (m) return m;
        if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`dev never printed ${re}; output:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (proc.exitCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async destroy() {
      await h.stop();
      rmSync(dataDir, { recursive: true, force: true });
      releasePort(ports.proxy);
      releasePort(ports.readonlyProxy);
    },
  };
  if (opts.ready ?? true) await h.waitFor(/Ctrl-C stops everything/);
  return h;
}
