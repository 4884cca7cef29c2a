// `raftgate dev` (what `npm start` runs): a local cluster on loopback — three
// (or five) core members, a read-write proxy on 127.0.0.1:2379 where etcd
// clients look by default, and a read-only proxy beside it.
//
// Every process is a child running `raftgate core` or `raftgate proxy`,
// logging to <data-dir>/<name>.log, so killing one to watch failover is just
// `kill -9 <pid>`; dev brings it back a few seconds later. Ctrl-C stops every
// child and waits for each to exit. Running it again resumes the data.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { devMemberPorts, loopbackInitialCluster, loopbackMemberFlags, loopbackUrl, proxyFlags, type DevConfig } from '../config/index.js';
import { loadCommandConfig } from './load-config.js';

const BIN = fileURLToPath(new URL('../../bin/raftgate.js', import.meta.url));
const READY_WAIT_MS = 30_000;
const RESTART_DELAY_MS = 3_000;
/** A child that dies this soon after starting, this many times running, is given up on. */
const CRASH_LOOP_MS = 5_000;
const CRASH_LOOP_MAX = 3;

interface Child {
  name: string;
  kind: 'member' | 'proxy';
  url: string;
  args: string[];
  logFile: string;
  proc: ChildProcess | null;
  startedAt: number;
  quickExits: number;
}

/** What a data dir was created for; a second run must match it or the members would not form one cluster. */
interface DevStamp {
  members: number;
  basePort: number;
}

const tty = process.stdout.isTTY === true;

/** One live status line: rewritten in place on a terminal, one line per update otherwise. */
let lastStatus = '';
function status(text: string, done = false): void {
  if (tty) process.stdout.write(`\r\x1b[2K${text}${done ? '\n' : ''}`);
  else if (text !== lastStatus) console.log(text);
  lastStatus = text;
}

export async function runDevCommand(args: string[]): Promise<number> {
  const cfg = loadCommandConfig('dev', args);
  if (typeof cfg === 'number') return cfg;

  if (cfg.fresh && existsSync(cfg.dataDir)) {
    if (!cfg.yes) {
      if (!process.stdin.isTTY) {
        console.error(`raftgate: --fresh would delete ${cfg.dataDir}; add --yes to confirm (stdin is not a terminal, so there is no one to ask)`);
        return 2;
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Delete ${cfg.dataDir} and start a fresh cluster? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        console.log('nothing deleted');
        return 1;
      }
    }
    rmSync(cfg.dataDir, { recursive: true, force: true });
  }
  mkdirSync(cfg.dataDir, { recursive: true });
  const stampFile = join(cfg.dataDir, 'dev.json');
  const stamp: DevStamp = { members: cfg.members, basePort: cfg.basePort };
  if (existsSync(stampFile)) {
    const old = JSON.parse(readFileSync(stampFile, 'utf8')) as DevStamp;
    if (old.members !== stamp.members || old.basePort !== stamp.basePort) {
      console.error(
        `raftgate: ${cfg.dataDir} holds a ${old.members}-member dev cluster on base port ${old.basePort}; run \`raftgate dev --members ${old.members} --base-port ${old.basePort}\`, or start over with --fresh`,
      );
      return 2;
    }
  } else writeFileSync(stampFile, JSON.stringify(stamp) + '\n');

  const children = plan(cfg);
  let stopping = false;
  const exitWatch = (c: Child) => {
    c.proc?.once('exit', (code, signal) => {
      c.proc = null;
      if (stopping) return;
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      c.quickExits = Date.now() - c.startedAt < CRASH_LOOP_MS ? c.quickExits + 1 : 0;
      if (c.quickExits >= CRASH_LOOP_MAX) {
        console.log(`\n${c.name} exited (${how}) ${CRASH_LOOP_MAX} times right after starting; not restarting it. See ${c.logFile}`);
        return;
      }
      console.log(`\n${c.name} exited (${how}); restarting it in ${RESTART_DELAY_MS / 1000}s (log: ${c.logFile})`);
      setTimeout(() => {
        if (stopping) return;
        launch(c);
        exitWatch(c);
        void waitUrl(c, c.kind === 'member' ? '/version' : '/ready').then((ok) => console.log(ok ? `${c.name} is back (pid ${c.proc?.pid})` : `${c.name} did not come back; see ${c.logFile}`));
      }, RESTART_DELAY_MS).unref();
    });
  };

  const stopAll = async () => {
    stopping = true;
    // Proxies first, so clients see a clean refusal rather than a core going away under them.
    for (const kind of ['proxy', 'member'] as const) {
      const group = children.filter((c) => c.kind === kind && c.proc !== null);
      await Promise.all(group.map((c) => stopChild(c)));
    }
  };

  const members = children.filter((c) => c.kind === 'member');
  const proxies = children.filter((c) => c.kind === 'proxy');
  const t0 = Date.now();
  for (const m of members) {
    launch(m);
    exitWatch(m);
  }
  for (let ready = 0; ready < members.length; ) {
    status(`starting ${members.length} members … ${members.map((m) => `${m.name} ${m.proc ? 'started' : 'down'}`).join(', ')}`);
    const ok = await Promise.all(members.map((m) => waitUrl(m, '/version')));
    ready = ok.filter(Boolean).length;
    if (ready < members.length) {
      status(`members did not start: ${members.filter((_, i) => !ok[i]).map((m) => `${m.name} (see ${m.logFile})`).join(', ')}`, true);
      await stopAll();
      return 1;
    }
  }
  status(`members up in ${((Date.now() - t0) / 1000).toFixed(1)}s; electing a leader …`);
  const leader = await waitLeader(members);
  if (leader === null) {
    status(`no leader within ${READY_WAIT_MS / 1000}s; see ${members.map((m) => m.logFile).join(', ')}`, true);
    await stopAll();
    return 1;
  }
  status(`leader elected (${leader}); starting proxies …`);
  for (const p of proxies) {
    launch(p);
    exitWatch(p);
  }
  const proxiesOk = await Promise.all(proxies.map((p) => waitUrl(p, '/ready')));
  if (proxiesOk.some((ok) => !ok)) {
    status(`proxies did not become ready: ${proxies.filter((_, i) => !proxiesOk[i]).map((p) => `${p.name} (see ${p.logFile})`).join(', ')}`, true);
    await stopAll();
    return 1;
  }
  status(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${members.length} members (leader ${leader}), 2 proxies`, true);
  printEndpoints(children, cfg);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.log('\nstopping …');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await stopAll();
  console.log('stopped; `npm start` resumes this data');
  return 0;
}

function plan(cfg: DevConfig): Child[] {
  const ports = Array.from({ length: cfg.members }, (_, i) => devMemberPorts(cfg.basePort, i + 1));
  const cluster = loopbackInitialCluster(ports);
  const clientUrls = ports.map((p) => loopbackUrl(p.clientPort));
  const members: Child[] = ports.map((p) =>
    child(cfg, p.name, 'member', loopbackUrl(p.clientPort), [
      'core',
      ...loopbackMemberFlags({ ...p, dataDir: join(cfg.dataDir, p.name), initialCluster: cluster }),
      '--initial-cluster-token', 'raftgate-dev',
      // Small enough to exercise snapshots and WAL release while developing.
      '--snapshot-count', '10000',
      '--log-level', cfg.logLevel,
    ]),
  );
  const proxy = (name: string, mode: 'readwrite' | 'readonly', port: number): Child =>
    child(cfg, name, 'proxy', loopbackUrl(port), ['proxy', ...proxyFlags({ mode, port, endpoints: clientUrls, logLevel: cfg.logLevel })]);
  return [...members, proxy('proxy', 'readwrite', cfg.proxyPort), proxy('readonly-proxy', 'readonly', cfg.readonlyProxyPort)];
}

function child(cfg: DevConfig, name: string, kind: Child['kind'], url: string, args: string[]): Child {
  return { name, kind, url, args, logFile: join(cfg.dataDir, `${name}.log`), proc: null, startedAt: 0, quickExits: 0 };
}

function launch(c: Child): void {
  const fd = openSync(c.logFile, 'a');
  // stdin is a pipe we never write to: when dev dies, however it dies, the
  // child sees it close and stops (RAFTGATE_EXIT_WITH_PARENT, cli/main.ts).
  c.proc = spawn(process.execPath, [BIN, ...c.args], { stdio: ['pipe', fd, fd], env: { ...process.env, RAFTGATE_EXIT_WITH_PARENT: '1' } });
  closeSync(fd);
  c.startedAt = Date.now();
}

async function stopChild(c: Child): Promise<void> {
  const p = c.proc;
  if (p === null || p.exitCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitUrl(c: Child, path: string): Promise<boolean> {
  const deadline = Date.now() + READY_WAIT_MS;
  while (Date.now() < deadline) {
    if (c.proc === null) return false;
    try {
      const res = await fetch(`${c.url}${path}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The name of the member the cluster elected, once a member answers /health (which needs a leader). */
async function waitLeader(members: Child[]): Promise<string | null> {
  const deadline = Date.now() + READY_WAIT_MS;
  while (Date.now() < deadline) {
    for (const m of members) {
      try {
        const h = await fetch(`${m.url}/health`, { signal: AbortSignal.timeout(1500) });
        await h.arrayBuffer();
        if (!h.ok) continue;
        const l = await fetch(`${m.url}/v2/members/leader`, { signal: AbortSignal.timeout(1000) });
        const body = (await l.json()) as { name?: string };
        if (l.ok && body.name) return body.name;
      } catch {
        // next
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

function printEndpoints(children: Child[], cfg: DevConfig): void {
  const rows = children.map((c) => [c.name, String(c.proc?.pid ?? '-'), c.url, `${c.url}/metrics`, c.logFile]);
  const header = ['process', 'pid', 'client (etcd v2 API)', 'metrics', 'log'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const url = loopbackUrl(cfg.proxyPort);
  console.log(
    [
      '',
      line(header),
      ...rows.map(line),
      '',
      'Try it (through the read-write proxy):',
      `  curl -s -X PUT ${url}/v2/keys/hello -d value=world`,
      `  curl -si ${url}/v2/keys/hello          # X-Cache, Age and X-Raftgate-Staleness-Ms headers`,
      `  curl -s '${url}/v2/keys/hello?wait=true'   # a watch, multiplexed onto one upstream stream`,
      `  ETCDCTL_API=2 etcdctl get /hello       # etcdctl's default endpoint is this proxy`,
      '',
      'Kill a member (kill -9 <pid>) to watch failover; dev restarts it after a few seconds.',
      'Ctrl-C stops everything; running it again resumes the data.',
    ].join('\n'),
  );
}
