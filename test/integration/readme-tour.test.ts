// The README's five-minute tour, run as written against a fresh `raftgate
// dev` (what `npm start` runs), so the tour cannot rot. Each `$ command` in
// the README block between the tour markers is run with bash; the lines
// under it are the expected output, line by line, where `...` matches
// anything. Ports are rewritten from the defaults to free ones.
// Needs dist/ (npm test builds first), etcdctl, and `npx raftgate` working
// in the repository (it does after `npm install`).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePorts, releasePort } from '../helpers/ports.js';
import { assertBuilt, raftgateBin, repoRoot } from '../helpers/raftgate.js';

interface Step {
  command: string;
  expected: string[];
}

/** The tour's steps, from README.md. */
export function tourSteps(readme: string): Step[] {
  const begin = readme.indexOf('<!-- tour:begin -->');
  const end = readme.indexOf('<!-- tour:end -->');
  if (begin < 0 || end < begin) throw new Error('README.md has no tour markers');
  const steps: Step[] = [];
  for (const line of readme.slice(begin, end).split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (line.startsWith('```') || line.startsWith('<!--') || line.startsWith('#') || line.trim() === '') continue;
    else steps[steps.length - 1]?.expected.push(line);
  }
  return steps;
}

function pattern(expected: string): RegExp {
  const parts = expected.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'raftgate-tour-'));
let dev: ChildProcess | null = null;
let devOut = '';
const ports: Record<number, number> = {};

beforeAll(async () => {
  assertBuilt();
  // npx links this package into its cache on first use; do that once, here,
  // not inside a timed step (two first uses at once can race in npm).
  const warm = spawnSync('npx', ['raftgate', '--version'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  expect(warm.status, `npx raftgate --version: ${warm.stdout}${warm.stderr}`).toBe(0);
  let base = 0;
  for (let i = 0; i < 200 && base === 0; i++) {
    const b = 20_000 + 10 * Math.floor(Math.random() * 1000);
    if ((await Promise.all([0, 1, 2, 10, 11, 12, 20, 21, 22].map((d) => canBind(b + d)))).every(Boolean)) base = b;
  }
  expect(base).toBeGreaterThan(0);
  const [rw, ro] = (await freePorts(2)) as [number, number];
  Object.assign(ports, { 2379: rw, 2479: ro, 12379: base, 12389: base + 10, 12399: base + 20 });
  dev = spawn(process.execPath, [raftgateBin, 'dev', '--data-dir', dataDir, '--base-port', String(base), '--proxy-port', String(rw), '--readonly-proxy-port', String(ro)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (c: Buffer) => (devOut += c.toString()));
  dev.stderr!.on('data', (c: Buffer) => (devOut += c.toString()));
  for (let i = 0; i < 600 && !devOut.includes('Ctrl-C stops everything'); i++) {
    if (dev.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(devOut, devOut).toContain('Ctrl-C stops everything');
}, 60_000);

afterAll(async () => {
  if (dev !== null && dev.exitCode === null) {
    const exited = new Promise((r) => dev!.once('exit', r));
    dev.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (dev.exitCode === null) dev.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
  releasePort(ports[2379]!);
  releasePort(ports[2479]!);
});

describe('README tour', () => {
  const steps = tourSteps(readFileSync(join(repoRoot, 'README.md'), 'utf8'));

  test('the README has a tour of at least ten commands', () => {
    expect(steps.length).toBeGreaterThanOrEqual(10);
  });

  test('every command of the tour gives the output the README shows', () => {
    for (const step of steps) {
      const command = step.command.replace(/127\.0\.0\.1:(\d+)/g, (m, p: string) => (ports[Number(p)] !== undefined ? `127.0.0.1:${ports[Number(p)]}` : m));
      const r = spawnSync('bash', ['-c', command], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
      // Header lines from curl -i end in \r\n.
      const out = r.stdout.replace(/\s+$/, '').split('\n').map((l) => l.replace(/\r$/, '')).filter((l, _i, all) => !(all.length === 1 && l === ''));
      const context = `$ ${command}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- dev ---\n${devOut.slice(-2000)}`;
      expect(r.status, context).toBe(0);
      expect(out.length, context).toBe(step.expected.length);
      step.expected.forEach((e, i) => expect(out[i], context).toMatch(pattern(e)));
    }
  }, 120_000);
});
