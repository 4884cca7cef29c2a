// Start a Raftgate proxy as a real process (`node bin/raftgate.js proxy ...`)
// on a free loopback port, in front of the given endpoints (Raftgate members
// or real etcd). The package must have been built (`npm test` builds first).

import { freePort, releasePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { http, waitForOk } from './http.js';
import { assertBuilt, raftgateBin, repoRoot } from './raftgate.js';

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
    const url = `http://127.0.0.1:${port}`;
    const args = [
      raftgateBin, 'proxy',
      '--mode', opts.mode ?? 'readwrite',
      '--listen-client-urls', url,
      '--endpoints', opts.endpoints.join(','),
      '--log-level', opts.logLevel ?? 'warn',
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
