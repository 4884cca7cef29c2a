// Start a real single-member etcd 3.4 with the v2 API on free loopback ports,
// for tests that compare Raftgate with the reference implementation.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, releasePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './process.js';
import { waitForOk } from './http.js';
import { loopbackMemberFlags, loopbackUrl } from '../../config/member-flags.js';

export const etcdBinary = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

export interface EtcdOptions {
  /** Member name (default `etcd`); the conformance suite uses Raftgate's. */
  name?: string;
  /** Parent of the temp data dir (default the OS temp dir). */
  dataDirParent?: string;
  /** Extra command-line flags. */
  extraArgs?: readonly string[];
  /** How long to wait for `GET /version` to answer 200 (default 20 s). */
  startTimeoutMs?: number;
}

export interface EtcdHandle {
  clientUrl: string;
  peerUrl: string;
  pid: number;
  dataDir: string;
  describe(): string;
  stop(): Promise<void>;
}

const startAttemptsMax = 3;

export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdHandle> {
  if (!existsSync(etcdBinary)) {
    throw new Error(
      `etcd is not installed at ${etcdBinary}: install etcd 3.4 with \`apt-get install etcd-server\` (CI does), or set ETCD_BIN`,
    );
  }
  const name = opts.name ?? 'etcd';
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const dataDir = mkdtempSync(join(opts.dataDirParent ?? tmpdir(), 'etcd-test-'));
    const clientUrl = loopbackUrl(clientPort);
    const args = [
      ...loopbackMemberFlags({ name, dataDir, clientPort, peerPort }),
      '--enable-v2',
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-level', 'warn',
      ...(opts.extraArgs ?? []),
    ];
    const proc: ManagedProcess = spawnManaged(etcdBinary, args);
    const cleanup = async (): Promise<void> => {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
      releasePort(clientPort);
      releasePort(peerPort);
    };
    try {
      await waitForOk(clientUrl, '/version', {
        timeoutMs: opts.startTimeoutMs ?? 20_000,
        isAlive: proc.alive,
        describe: proc.describe,
      });
      // /version answers before the member has a leader; a v2 read does not.
      await waitForOk(clientUrl, '/v2/keys/', { timeoutMs: 10_000, isAlive: proc.alive, describe: proc.describe });
    } catch (err) {
      lastError = err;
      await cleanup();
      continue; // most likely a port taken between reservation and bind
    }
    return { clientUrl, peerUrl: loopbackUrl(peerPort), pid: proc.pid, dataDir, describe: proc.describe, stop: cleanup };
  }
  throw new Error(`etcd did not start after ${startAttemptsMax} attempts: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}
