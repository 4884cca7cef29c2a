// Differential conformance: every scenario in scenarios.ts is sent to real
// etcd 3.4 (--enable-v2) and to a Raftgate core member, step by step (etcd
// first, so TTL and watch timing line up), and the normalised answers must be
// equal. RAFTGATE_DIFF_TARGET=etcd compares etcd with a second etcd instead,
// which must always pass: it proves the normalisation hides no real
// behaviour and invents no difference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync } from 'node:fs';
import { startEtcd, type EtcdHandle } from '../helpers/etcd.js';
import { startRaftgateCore, type RaftgateHandle } from '../helpers/raftgate.js';
import { http } from '../helpers/http.js';
import { allScenarios, type Scenario, type Step } from './scenarios.js';
import { ScenarioRunner, type Target } from './runner.js';
import { diffObservations, type Difference, type Observation } from './normalise.js';

const againstEtcd = process.env['RAFTGATE_DIFF_TARGET'] === 'etcd';
// tmpfs keeps etcd's fsync per write cheap on a shared 2-core machine.
const dataDirParent = existsSync('/dev/shm') ? '/dev/shm' : undefined;
const scenarioTimeoutMs = 60_000;
const pendingWaitMsDefault = 300;
// RAFTGATE_DIFF_DUMP=file appends every normalised etcd observation there (JSON
// lines), to read what etcd actually does while writing scenarios.
const dumpFile = process.env['RAFTGATE_DIFF_DUMP'];

let reference: EtcdHandle | undefined;
let candidate: { handle: EtcdHandle | RaftgateHandle; label: 'etcd' | 'raftgate' } | undefined;
let refTarget: Target;
let candTarget: Target;

function show(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, null, 0);
  return s === undefined ? 'undefined' : s.length > 600 ? `${s.slice(0, 600)}…` : s;
}

function describeStep(step: Step): string {
  switch (step.kind) {
    case undefined:
    case 'request': {
      const q = step.query ? ` query=${show(step.query)}` : '';
      const f = step.form ? ` form=${show(step.form)}` : '';
      return `${step.method} ${step.path}${q}${f}${step.body !== undefined ? ` body=${show(step.body)}` : ''}`;
    }
    case 'repeat':
      return `repeat ${step.count}× ${describeStep(step.step)}`;
    case 'watch':
      return `watch ${step.id} ${step.path} ${show(step.query)}${step.events !== undefined ? ` (stream, ${step.events} events)` : ''}`;
    case 'awaitWatch':
      return `awaitWatch ${step.id}`;
    case 'pending':
      return `pending? ${step.id}`;
    case 'sleep':
      return `sleep ${step.ms} ms`;
  }
}

interface Mismatch {
  stepIndex: number;
  step: string;
  iteration?: number;
  differences: Difference[];
}

function compare(a: Observation | Observation[] | undefined, b: Observation | Observation[] | undefined): { iteration?: number; differences: Difference[] } {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i];
      const y = b[i];
      if (x === undefined || y === undefined) return { iteration: i, differences: [{ field: 'response', etcd: x ?? '<none>', raftgate: y ?? '<none>' }] };
      const d = diffObservations(x, y);
      if (d.length > 0) return { iteration: i, differences: d };
    }
    return { differences: [] };
  }
  if (a === undefined || b === undefined || Array.isArray(a) || Array.isArray(b)) return { differences: [] };
  return { differences: diffObservations(a, b) };
}

async function runScenario(scenario: Scenario): Promise<Mismatch[]> {
  const ref = new ScenarioRunner(refTarget);
  const cand = new ScenarioRunner(candTarget);
  await ref.begin();
  await cand.begin();
  const mismatches: Mismatch[] = [];
  try {
    for (const [stepIndex, step] of scenario.steps.entries()) {
      if (step.kind === 'sleep' || step.kind === 'pending') {
        await new Promise((r) => setTimeout(r, step.kind === 'sleep' ? step.ms : (step.ms ?? pendingWaitMsDefault)));
      }
      const a = await ref.run(step);
      const b = await cand.run(step);
      if (dumpFile !== undefined) {
        const shown = Array.isArray(a) ? a.at(-1) : a;
        appendFileSync(dumpFile, `${JSON.stringify({ scenario: scenario.name, step: stepIndex + 1, request: describeStep(step), etcd: shown })}\n`);
      }
      const { iteration, differences } = compare(a, b);
      if (differences.length > 0) mismatches.push({ stepIndex, step: describeStep(step), iteration, differences });
    }
  } finally {
    ref.end();
    cand.end();
  }
  return mismatches;
}

function report(scenario: Scenario, mismatches: Mismatch[]): string {
  const other = candidate?.label === 'etcd' ? 'etcd #2' : 'raftgate';
  const lines = [`scenario "${scenario.name}": ${mismatches.length} step(s) differ (etcd vs ${other}; indexes as @+N from the scenario's start)`];
  for (const m of mismatches) {
    lines.push(`  step ${m.stepIndex + 1}: ${m.step}${m.iteration !== undefined ? ` (iteration ${m.iteration + 1})` : ''}`);
    for (const d of m.differences) {
      lines.push(`    ${d.field}:`, `      etcd:     ${show(d.etcd)}`, `      ${other.padEnd(9)} ${show(d.raftgate)}`);
    }
  }
  return lines.join('\n');
}

describe(`v2 API conformance: etcd vs ${againstEtcd ? 'etcd' : 'raftgate'}`, () => {
  beforeAll(async () => {
    // Same member name on both sides, so /v2/members and stats compare names.
    const name = 'rg';
    if (againstEtcd) {
      const [a, b] = await Promise.all([startEtcd({ name, dataDirParent }), startEtcd({ name, dataDirParent })]);
      reference = a;
      candidate = { handle: b, label: 'etcd' };
    } else {
      // Fails with a clear message when dist/ is missing (npm test builds first).
      const rg = await startRaftgateCore({ name, dataDirParent });
      candidate = { handle: rg, label: 'raftgate' };
      reference = await startEtcd({ name, dataDirParent });
    }
    refTarget = { label: 'etcd', clientUrl: reference.clientUrl, peerUrl: reference.peerUrl };
    candTarget = { label: candidate.label, clientUrl: candidate.handle.clientUrl, peerUrl: candidate.handle.peerUrl };
    // One write on each side first, so every base index is above zero and a
    // literal 0 (etcd's index on parameter errors) is never ambiguous.
    for (const t of [refTarget, candTarget]) {
      const res = await http(t.clientUrl, { method: 'PUT', path: '/v2/keys/warmup', form: [['value', 'ready']] });
      if (res.status !== 201) throw new Error(`${t.label}: warm-up write answered ${res.status}: ${res.text}`);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([reference?.stop(), candidate?.handle.stop()]);
  }, 30_000);

  it('has at least 100 scenarios with unique names', () => {
    expect(allScenarios.length).toBeGreaterThanOrEqual(100);
    expect(new Set(allScenarios.map((s) => s.name)).size).toBe(allScenarios.length);
  });

  for (const scenario of allScenarios) {
    it(scenario.name, async () => {
      const mismatches = await runScenario(scenario);
      const processes = [reference?.describe(), candidate?.handle.describe()];
      expect(mismatches.length, mismatches.length > 0 ? `${report(scenario, mismatches)}` : '').toBe(0);
      // A crashed server would make every later scenario fail confusingly.
      for (const p of processes) expect(p ?? '').not.toMatch(/^pid: \d+, exited/m);
    }, scenarioTimeoutMs);
  }
});
