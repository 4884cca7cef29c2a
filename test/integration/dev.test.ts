// `raftgate dev` — what `npm start` runs — as a newcomer uses it: it prints
// its endpoints, serves through the read-write proxy, restarts a member that
// was killed, stops every process on Ctrl-C and resumes the data on the next
// run; --fresh asks before deleting and a mismatched member count is refused.
// Needs dist/ (npm test builds first).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { devPorts, startDev, type DevHandle } from '../helpers/dev.js';
import { http } from '../helpers/http.js';
import { releasePort } from '../helpers/ports.js';
import { raftgateBin } from '../helpers/raftgate.js';

const dataDir = mkdtempSync(join(tmpdir(), 'raftgate-dev-'));
const running: DevHandle[] = [];

afterAll(async () => {
  for (const d of running) await d.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidsOf(out: string): { name: string; pid: number; url: string }[] {
  return [...out.matchAll(/^(member-\d|proxy|readonly-proxy)\s+(\d+)\s+(http:\S+)/gm)].map((m) => ({ name: m[1]!, pid: Number(m[2]), url: m[3]! }));
}

describe('raftgate dev', () => {
  test('starts three members and two proxies, survives a killed member, stops cleanly, resumes', async () => {
    const ports = await devPorts();
    const dev = await startDev({ dataDir, ports });
    running.push(dev);
    const out = dev.out();
    expect(out).toMatch(/ready in [\d.]+s: 3 members \(leader member-\d\), 2 proxies/);
    const pids = pidsOf(out);
    expect(pids.map((p) => p.name)).toEqual(['member-1', 'member-2', 'member-3', 'proxy', 'readonly-proxy']);
    const proxy = `http://127.0.0.1:${ports.proxy}`;

    expect((await http(proxy, { method: 'PUT', path: '/v2/keys/hello', form: [['value', 'world']] })).status).toBe(201);
    const got = await http(proxy, { method: 'GET', path: '/v2/keys/hello' });
    expect((got.json as { node: { value: string } }).node.value).toBe('world');
    expect(got.headers['x-cache']).toBeDefined();
    expect((await http(`http://127.0.0.1:${ports.readonlyProxy}`, { method: 'PUT', path: '/v2/keys/hello', form: [['value', 'no']] })).status).toBe(501);

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
    const again = await startDev({ dataDir, ports });
    running.push(again);
    const r = await http(proxy, { method: 'GET', path: '/v2/keys/during?quorum=true' });
    expect((r.json as { node: { value: string } }).node.value).toBe('failover');
    // Even a dev killed outright takes its children with it.
    const second = pidsOf(again.out()).map((p) => p.pid);
    expect(second).toHaveLength(5);
    again.proc.kill('SIGKILL');
    await again.exited;
    for (let i = 0; i < 100 && second.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(second.filter(alive)).toEqual([]);
    releasePort(ports.proxy);
    releasePort(ports.readonlyProxy);
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
