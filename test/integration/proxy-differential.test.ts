// The differential conformance scenarios (test/conformance/) sent through a
// readwrite proxy and to a member directly: the normalised answers must be
// equal. Two fresh members with the same history, one behind the proxy, are
// driven step by step with the conformance suite's own ScenarioRunner and
// normalisation, so "same answer" means what it means there.
//
// Excluded, with the reason (each is a documented difference, not a bug):
//   - /v2/stats/store scenarios: a member counts a failed get for every keys
//     request that reaches its HTTP API (etcd's auth check); through the
//     proxy, reads answered from the cache or over the native protocol never
//     reach it, so the counters move differently;
//   - /v2/stats/self and /v2/stats/leader compare only their shape and pass
//     through; they are kept.
// Needs dist/ (npm test builds first).

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffObservations } from '../conformance/normalise.js';
import type { Difference, Observation } from '../conformance/normalise.js';
import { ScenarioRunner } from '../conformance/runner.js';
import type { Target } from '../conformance/runner.js';
import { allScenarios } from '../conformance/scenarios.js';
import type { Scenario } from '../conformance/scenarios.js';
import { http } from '../helpers/http.js';
import { startRaftgateProxy } from '../helpers/proxy.js';
import type { ProxyHandle } from '../helpers/proxy.js';
import { startRaftgateCore } from '../helpers/raftgate.js';
import type { RaftgateHandle } from '../helpers/raftgate.js';

const dataDirParent = existsSync('/dev/shm') ? '/dev/shm' : undefined;
const excluded = (s: Scenario): boolean => s.steps.some((st) => (st.kind === undefined || st.kind === 'request') && st.path.startsWith('/v2/stats/store'));
const sampled = allScenarios.filter((s) => !excluded(s));

let direct: RaftgateHandle;
let behind: RaftgateHandle;
let proxy: ProxyHandle;
let refTarget: Target;
let candTarget: Target;

beforeAll(async () => {
  // Same member name on both sides, as the conformance suite does.
  [direct, behind] = await Promise.all([startRaftgateCore({ name: 'rg', dataDirParent }), startRaftgateCore({ name: 'rg', dataDirParent })]);
  // The member reads forms up to Go's 10 MiB; the proxy's own default limit is
  // stricter (1.5 MiB, refused with 413): lifted here so the 2 MB scenario compares.
  proxy = await startRaftgateProxy({ endpoints: [behind.clientUrl], extraArgs: ['--body-bytes-max', '10MiB'] });
  refTarget = { label: 'raftgate', clientUrl: direct.clientUrl, peerUrl: direct.peerUrl };
  candTarget = { label: 'raftgate', clientUrl: proxy.url, peerUrl: behind.peerUrl };
  for (const t of [refTarget, candTarget]) {
    const res = await http(t.clientUrl, { method: 'PUT', path: '/v2/keys/warmup', form: [['value', 'ready']] });
    if (res.status !== 201) throw new Error(`warm-up write answered ${res.status}: ${res.text}`);
  }
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.allSettled([direct?.stop(), behind?.stop()]);
});

function show(v: unknown): string {
  const t = JSON.stringify(v) ?? 'undefined';
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

function compare(a: Observation | Observation[] | undefined, b: Observation | Observation[] | undefined): Difference[] {
  if (Array.isArray(a) && Array.isArray(b)) return a.flatMap((x, i) => (b[i] === undefined ? [{ field: `[${i}]`, etcd: x, raftgate: '<none>' }] : diffObservations(x, b[i] as Observation)));
  if (a === undefined || b === undefined || Array.isArray(a) || Array.isArray(b)) return [];
  return diffObservations(a, b);
}

describe('conformance scenarios: member directly vs through a readwrite proxy', () => {
  it('samples most of the suite', () => {
    expect(sampled.length).toBeGreaterThanOrEqual(allScenarios.length - 10);
  });

  for (const scenario of sampled) {
    it(scenario.name, async () => {
      const ref = new ScenarioRunner(refTarget);
      const cand = new ScenarioRunner(candTarget);
      await ref.begin();
      await cand.begin();
      const out: string[] = [];
      try {
        for (const [i, step] of scenario.steps.entries()) {
          if (step.kind === 'sleep' || step.kind === 'pending') await new Promise((r) => setTimeout(r, step.kind === 'sleep' ? step.ms : (step.ms ?? 300)));
          const a = await ref.run(step);
          const b = await cand.run(step);
          for (const d of compare(a, b)) out.push(`step ${i + 1} ${d.field}: member ${show(d.etcd)} / proxy ${show(d.raftgate)}`);
        }
      } finally {
        ref.end();
        cand.end();
      }
      expect(out, `${scenario.name}\n${out.join('\n')}`).toEqual([]);
    }, 60_000);
  }
});
