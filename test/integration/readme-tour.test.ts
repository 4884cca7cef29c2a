// The README's five-minute tour, run as written against a fresh `raftgate
// dev` (what `npm start` runs), so the tour cannot rot. Each `$ command` in
// the README block between the tour markers is run with bash; the lines
// under it are the expected output, line by line, where `...` matches
// anything. Ports are rewritten from the defaults to free ones.
// Needs dist/ (npm test builds first), etcdctl, and `npx raftgate` working
// in the repository (it does after `npm install`).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDev, type DevHandle } from '../helpers/dev.js';
import { repoRoot } from '../helpers/raftgate.js';

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

let dev: DevHandle | null = null;
const ports: Record<number, number> = {};

beforeAll(async () => {
  // npx links this package into its cache on first use; do that once, here,
  // not inside a timed step (two first uses at once can race in npm).
  const warm = spawnSync('npx', ['raftgate', '--version'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  expect(warm.status, `npx raftgate --version: ${warm.stdout}${warm.stderr}`).toBe(0);
  dev = await startDev();
  const p = dev.ports;
  Object.assign(ports, { 2379: p.proxy, 2479: p.readonlyProxy, 12379: p.members[0], 12389: p.members[1], 12399: p.members[2] });
}, 90_000);

afterAll(async () => {
  await dev?.destroy();
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
      const context = `$ ${command}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- dev ---\n${dev?.out().slice(-2000)}`;
      expect(r.status, context).toBe(0);
      expect(out.length, context).toBe(step.expected.length);
      step.expected.forEach((e, i) => expect(out[i], context).toMatch(pattern(e)));
    }
  }, 120_000);
});
