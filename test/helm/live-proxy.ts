// A `raftgate proxy` process in front of a core member, on a free loopback
// port, for the live /metrics check. Whether the build has the proxy command
// yet is looked up once, so the test can say so instead of failing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { waitForOk } from '../helpers/http.js';
import { freePort, releasePort } from '../helpers/ports.js';
import { spawnManaged } from '../helpers/process.js';
import { raftgateBin, repoRoot } from '../helpers/raftgate.js';

/** The compiled `raftgate proxy` command (cli/proxy.ts), without starting a process to ask. */
export function proxyCommandBuilt(): boolean {
  return existsSync(join(repoRoot, 'dist', 'cli', 'proxy.js'));
}

export interface ProxyHandle {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startProxy(endpoint: string): Promise<ProxyHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnManaged(process.execPath, [raftgateBin, 'proxy', '--mode', 'readwrite', '--listen-client-urls', url, '--endpoints', endpoint], { cwd: repoRoot });
  try {
    await waitForOk(url, '/health', { timeoutMs: 20_000, isAlive: proc.alive, describe: proc.describe });
  } catch (err) {
    await proc.stop();
    releasePort(port);
    throw err;
  }
  return {
    url,
    async stop() {
      await proc.stop();
      releasePort(port);
    },
  };
}
