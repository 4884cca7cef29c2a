// `raftgate dev` — what `npm start` runs — as a newcomer uses it: it prints
// its endpoints, serves through the read-write proxy, restarts a member that
// was killed, stops every process on Ctrl-C and resumes the data on the next
// run; --fresh asks before deleting and a mismatched member count is refused.
// Needs dist/ (npm test builds first).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { http } from '../helpers/http.js';
import { freePorts, releasePort } from '../helpers/ports.js';
import { assertBuilt, raftgateBin, repoRoot } from '../helpers/raftgate.js';

const dataDir = mkdtempSync(join(tmpdir(), 'raftgate-dev-'));
const running: ChildProcess[] = [];

afterAll(() => {
  for (const p of running) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port whose three members' nine ports are all free, below the kernel's ephemeral range. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 1000);
    const ports = [0, 1, 2, 10, 11, 12, 20, 21, 22].map((d) => base + d);
    if ((await Promise.all(ports.map(canBind))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports for the dev cluster');
}

interface Dev {
  proc: ChildProcess;
  out: () => string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function startDev(args: string[]): Dev {
  assertBuilt();
  const proc = spawn(process.execPath, [raftgateBin, 'dev', '--data-dir', dataDir, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let text = '';
  proc.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
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
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('raftgate dev', () => {
  test('starts three members and two proxies, survives a killed member, stops cleanly, resumes', async () => {
    const base = await freeBase();
    const [rw, ro] = (await freePorts(2)) as [number, number];
    const args = ['--base-port', String(base), '--proxy-port', String(rw), '--readonly-proxy-port', String(ro)];
    const dev = startDev(args);
    await dev.waitFor(/Ctrl-C stops everything/);
    const out = dev.out();
    expect(out).toMatch(/ready in [\d.]+s: 3 members \(leader member-\d\), 2 proxies/);
    const pids = [...out.matchAll(/^(member-\d|proxy|readonly-proxy)\s+(\d+)\s+(http:\S+)/gm)].map((m) => ({ name: m[1]!, pid: Number(m[2]), url: m[3]! }));
    expect(pids.map((p) => p.name)).toEqual(['member-1', 'member-2', 'member-3', 'proxy', 'readonly-proxy']);
    const proxy = `http://127.0.0.1:${rw}`;

    expect((await http(proxy, { method: 'PUT', path: '/v2/keys/hello', form: [['value', 'world']] })).status).toBe(201);
    const got = await http(proxy, { method: 'GET', path: '/v2/keys/hello' });
    expect((got.json as { node: { value: string } }).node.value).toBe('world');
    expect(got.headers['x-cache']).toBeDefined();
    expect((await http(`http://127.0.0.1:${ro}`, { method: 'PUT', path: '/v2/keys/hello', form: [['value', 'no']] })).status).toBe(501);

    // Kill a member: writes keep working through the proxy, and dev brings it back.
    const victim = pids[1]!;
    process.kill(victim.pid, 'SIGKILL');
    await dev.waitFor(new RegExp(`${victim.name} exited \\(signal SIGKILL\\); restarting`));
    // A write in the middle of an election may be refused (503 + Retry-After),
    // or, if it was in flight to the killed member, answered with etcd's 300
    // (outcome unknown); a client retrying gets through within seconds.
    const answers: string[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const w = await http(proxy, { method: 'PUT', path: '/v2/keys/during', form: [['value', 'failover']], timeoutMs: 10_000 });
      answers.push(`${w.status} ${w.text.slice(0, 200)}`);
      if (w.status === 201 || w.status === 200) break;
      if (w.status === 503) expect(w.headers['retry-after']).toBeDefined();
      else expect((w.json as { errorCode?: number }).errorCode, w.text).toBe(300);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(answers[answers.length - 1], answers.join('\n')).toMatch(/^20[01] /);
    await dev.waitFor(new RegExp(`${victim.name} is back \\(pid \\d+\\)`));
    const backPid = Number(dev.out().match(new RegExp(`${victim.name} is back \\(pid (\\d+)\\)`))![1]);

    // Ctrl-C: every child exits, and dev says how to resume.
    dev.proc.kill('SIGINT');
    expect(await dev.exited).toBe(0);
    expect(dev.out()).toMatch(/stopped; `npm start` resumes this data/);
    for (const p of [...pids.filter((p) => p !== victim), { ...victim, pid: backPid }]) expect(alive(p.pid), `${p.name} pid ${p.pid} still running`).toBe(false);

    // A second run resumes the data.
    const again = startDev(args);
    await again.waitFor(/Ctrl-C stops everything/);
    const r = await http(proxy, { method: 'GET', path: '/v2/keys/during?quorum=true' });
    expect((r.json as { node: { value: string } }).node.value).toBe('failover');
    // Even a dev killed outright takes its children with it.
    const second = [...again.out().matchAll(/^(?:member-\d|proxy|readonly-proxy)\s+(\d+)\s+http:/gm)].map((m) => Number(m[1]));
    expect(second).toHaveLength(5);
    again.proc.kill('SIGKILL');
    await again.exited;
    for (let i = 0; i < 100 && second.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(second.filter(alive)).toEqual([]);
    releasePort(rw);
    releasePort(ro);
  }, 120_000);

  test('--fresh will not delete without asking; a data dir of another member count is refused', () => {
    const fresh = spawnSync(process.execPath, [raftgateBin, 'dev', '--data-dir', dataDir, '--fresh'], { encoding: 'utf8', input: '' });
    expect(fresh.status).toBe(2);
    expect(fresh.stderr).toMatch(/--fresh would delete .*; add --yes to confirm/);
    const five = spawnSync(process.execPath, [raftgateBin, 'dev', '--data-dir', dataDir, '--members', '5'], { encoding: 'utf8' });
    expect(five.status).toBe(2);
    expect(five.stderr).toMatch(/holds a 3-member dev cluster .*--members 3/);
  });
});
