// `raftgate dev` (what `npm start` runs): a local cluster on loopback.
//
// Each member is a child process running `raftgate core`, logging to
// <data-dir>/<name>/member.log, so killing one (to watch failover) is just
// `kill <pid>`. Ctrl-C stops every child and waits for each to exit.
//
// Until replication lands the dev cluster is one member, serving the v2 API
// on --proxy-port (127.0.0.1:2379, where etcd clients look by default).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devMemberPorts } from '../config/index.js';
import { loadCommandConfig } from './load-config.js';

const BIN = fileURLToPath(new URL('../../bin/raftgate.js', import.meta.url));
const READY_WAIT_MS = 15_000;

interface Member {
  name: string;
  clientUrl: string;
  child: ChildProcess;
  logFile: string;
}

export async function runDevCommand(args: string[]): Promise<number> {
  const cfg = loadCommandConfig('dev', args);
  if (typeof cfg === 'number') return cfg;
  if (cfg.fresh) {
    console.error('raftgate: --fresh is not available yet; remove the data dir by hand: rm -rf ' + cfg.dataDir);
    return 2;
  }

  const ports = devMemberPorts(cfg.basePort, 1);
  const name = ports.name;
  const clientUrl = `http://127.0.0.1:${cfg.proxyPort}`;
  const peerUrl = `http://127.0.0.1:${ports.peerPort}`;
  const dir = join(cfg.dataDir, name);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'member.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      BIN,
      'core',
      '--name', name,
      '--data-dir', dir,
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `${name}=${peerUrl}`,
      '--listen-native-urls', `http://127.0.0.1:${ports.nativePort}`,
      '--log-level', cfg.logLevel,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const members: Member[] = [{ name, clientUrl, child, logFile }];

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.stdout.write(`starting ${name} … `);
  const ready = await waitReady(clientUrl, exited);
  if (!ready) {
    console.log('failed');
    console.error(`raftgate: ${name} did not become ready; see ${logFile}`);
    child.kill('SIGTERM');
    return 1;
  }
  console.log('ready');
  printEndpoints(members);

  let stopping = false;
  await new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.log('\nstopping …');
      for (const m of members) m.child.kill('SIGTERM');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    void exited.then(() => {
      if (stopping) return;
      console.error(`raftgate: ${name} exited on its own (code ${child.exitCode}); see ${logFile}`);
      stop();
    });
  });
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
  console.log('stopped');
  return 0;
}

async function waitReady(url: string, exited: Promise<void>): Promise<boolean> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + READY_WAIT_MS;
  while (!dead && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function printEndpoints(members: Member[]): void {
  const rows = members.map((m) => [m.name, `pid ${m.child.pid}`, m.clientUrl, `${m.clientUrl}/metrics`, m.logFile]);
  const header = ['member', 'process', 'client (v2 API)', 'metrics', 'log'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const url = members[0]!.clientUrl;
  console.log(
    [
      '',
      line(header),
      ...rows.map(line),
      '',
      'Try it:',
      `  curl -s -X PUT ${url}/v2/keys/hello -d value=world`,
      `  curl -s ${url}/v2/keys/hello`,
      `  ETCDCTL_API=2 etcdctl --endpoints ${url} get /hello`,
      '',
      'Ctrl-C stops the cluster; running it again resumes the data.',
    ].join('\n'),
  );
}
