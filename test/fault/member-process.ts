// A Raftgate core member for fault tests, launched exactly as an operator
// would (`node bin/raftgate.js core ...`) but on a data dir and environment
// the test controls, so one data dir can be restarted with different
// failpoints, copied, damaged and started again. (test/helpers/raftgate.ts
// owns its data dir and fixes the environment at the first start, which is
// what the integration tests want and these tests do not.)
import { spawnSync } from 'node:child_process';
import { freePorts, releasePort } from '../helpers/ports.js';
import { spawnManaged, TailBuffer, type ManagedProcess } from '../helpers/process.js';
import { waitForOk } from '../helpers/http.js';
import { assertBuilt, raftgateBin, repoRoot } from '../helpers/raftgate.js';
import { loopbackMemberFlags, loopbackUrl } from '../../config/member-flags.js';

export interface MemberPorts {
  client: number;
  peer: number;
  native: number;
}

export interface MemberRun {
  readonly proc: ManagedProcess;
  /** stderr alone (the process helper merges stdout and stderr). */
  readonly stderr: TailBuffer;
  /** Resolves with the exit code (or 128 + signal number) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function reservePorts(): Promise<MemberPorts> {
  const [client, peer, native] = (await freePorts(3)) as [number, number, number];
  return { client, peer, native };
}

export function releasePorts(p: MemberPorts): void {
  releasePort(p.client);
  releasePort(p.peer);
  releasePort(p.native);
}

export function clientUrl(p: MemberPorts): string {
  return loopbackUrl(p.client);
}

export function memberArgs(dataDir: string, p: MemberPorts, extraArgs: readonly string[] = []): string[] {
  return [raftgateBin, 'core', ...loopbackMemberFlags({ name: 'rg', dataDir, clientPort: p.client, peerPort: p.peer, nativePort: p.native }), ...extraArgs];
}

/** Spawns a member; does not wait for it to be ready. */
export function launchMember(dataDir: string, p: MemberPorts, opts: { extraArgs?: readonly string[]; env?: Record<string, string> } = {}): MemberRun {
  assertBuilt();
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.env?.['RAFTGATE_FAILPOINTS'] === undefined) delete env['RAFTGATE_FAILPOINTS'];
  const proc = spawnManaged(process.execPath, memberArgs(dataDir, p, opts.extraArgs), { cwd: repoRoot, env });
  const stderr = new TailBuffer();
  proc.child.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      resolve({ code: proc.child.exitCode, signal: proc.child.signalCode });
      return;
    }
    proc.child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { proc, stderr, exited };
}

/** Waits until `GET /health` answers 200; throws (with the member's output) if it exits first. */
export async function waitHealthy(run: MemberRun, p: MemberPorts, timeoutMs = 20_000): Promise<void> {
  await waitForOk(clientUrl(p), '/health', { timeoutMs, intervalMs: 25, isAlive: run.proc.alive, describe: run.proc.describe });
}

/** Waits for the process to exit on its own, at most `timeoutMs` (then SIGKILLs it and says so). */
export async function waitExit(run: MemberRun, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
  const res = await Promise.race([run.exited, timeout]);
  clearTimeout(timer);
  if (res === null) {
    await run.proc.kill9();
    const after = await run.exited;
    return { ...after, timedOut: true };
  }
  return { ...res, timedOut: false };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/raftgate.js ...args`, bounded in time. */
export function raftgateCli(args: readonly string[], timeoutMs = 20_000): CliResult {
  const r = spawnSync(process.execPath, [raftgateBin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
