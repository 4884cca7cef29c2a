// Start a Raftgate core member as a real process, exactly as an operator
// would (`node bin/raftgate.js core ...`), on free loopback ports. The package
// must have been built (`npm run build`; `npm test` does it first).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, releasePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { waitForOk } from './http.js';
import { loopbackMemberFlags, loopbackUrl } from '../../config/member-flags.js';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const raftgateBin = join(repoRoot, 'bin', 'raftgate.js');
export const raftgateEntry = join(repoRoot, 'dist', 'cli', 'main.js');

export interface RaftgateOptions {
  name?: string;
  dataDirParent?: string;
  extraArgs?: readonly string[];
  env?: Readonly<Record<string, string>>;
  startTimeoutMs?: number;
}

export interface RaftgateHandle {
  clientUrl: string;
  peerUrl: string;
  nativeUrl: string;
  /** The pid of the current process (changes on restart). */
  readonly pid: number;
  dataDir: string;
  /** Command line, exit status and the tail of stdout/stderr. */
  describe(): string;
  /** SIGTERM (SIGKILL after a bound), then remove the data dir. */
  stop(): Promise<void>;
  /** SIGKILL; the data dir stays, for `restart()`. */
  kill9(): Promise<void>;
  /** Stop if running, then start again on the same ports and data dir. */
  restart(): Promise<void>;
}

export function assertBuilt(): void {
  if (!existsSync(raftgateEntry)) {
    throw new Error(`Raftgate is not built: ${raftgateEntry} is missing. Run \`npm run build\` first (\`npm test\` builds before running vitest).`);
  }
}

const startAttemptsMax = 3;

export async function startRaftgateCore(opts: RaftgateOptions = {}): Promise<RaftgateHandle> {
  assertBuilt();
  const name = opts.name ?? 'rg';
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
    const ports = (await freePorts(3)) as [number, number, number];
    const [clientPort, peerPort, nativePort] = ports;
    const dataDir = mkdtempSync(join(opts.dataDirParent ?? tmpdir(), 'raftgate-test-'));
    const clientUrl = loopbackUrl(clientPort);
    const peerUrl = loopbackUrl(peerPort);
    const nativeUrl = loopbackUrl(nativePort);
    const args = [raftgateBin, 'core', ...loopbackMemberFlags({ name, dataDir, clientPort, peerPort, nativePort }), ...(opts.extraArgs ?? [])];
    const env = { ...process.env, ...opts.env };
    let proc: ManagedProcess = spawnManaged(process.execPath, args, { cwd: repoRoot, env });
    const start = async (): Promise<void> => {
      await waitForOk(clientUrl, '/version', { timeoutMs, isAlive: proc.alive, describe: proc.describe });
    };
    const releaseAll = (): void => ports.forEach(releasePort);
    try {
      await start();
    } catch (err) {
      lastError = err;
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
      releaseAll();
      continue;
    }
    const handle: RaftgateHandle = {
      clientUrl,
      peerUrl,
      nativeUrl,
      get pid() {
        return proc.pid;
      },
      dataDir,
      describe: () => proc.describe(),
      async stop() {
        await proc.stop();
        rmSync(dataDir, { recursive: true, force: true });
        releaseAll();
      },
      async kill9() {
        await proc.kill9();
      },
      async restart() {
        await proc.stop();
        proc = spawnManaged(process.execPath, args, { cwd: repoRoot, env });
        await start();
      },
    };
    return handle;
  }
  throw new Error(`raftgate core did not start after ${startAttemptsMax} attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}
