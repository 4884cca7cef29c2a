// A member's /metrics, scraped live: it passes `promtool check metrics`
// (Prometheus' own linter) and reports the Raft state an operator alerts on.
// Needs dist/ (npm test builds first) and promtool (Debian's prometheus).

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { http } from '../helpers/http.js';
import { startRaftgateCore, type RaftgateHandle } from '../helpers/raftgate.js';

let m: RaftgateHandle;

beforeAll(async () => {
  m = await startRaftgateCore({ name: 'metrics' });
}, 30_000);

afterAll(async () => {
  await m?.stop();
});

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`${name} not exported`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('core /metrics', () => {
  test('passes promtool check metrics and shows the leader, term, indexes and fsync latency', async () => {
    for (let i = 0; i < 5; i++) expect((await http(m.clientUrl, { method: 'PUT', path: `/v2/keys/m${i}`, form: [['value', 'x']] })).status).toBe(201);
    const r = await http(m.clientUrl, { method: 'GET', path: '/metrics' });
    expect(r.status).toBe(200);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(sample(r.text, 'raftgate_core_is_leader')).toBe(1);
    expect(sample(r.text, 'raftgate_core_has_leader')).toBe(1);
    expect(sample(r.text, 'raftgate_core_raft_term')).toBeGreaterThanOrEqual(1);
    expect(sample(r.text, 'raftgate_core_leader_changes_total')).toBeGreaterThanOrEqual(1);
    expect(sample(r.text, 'raftgate_core_raft_committed_index')).toBeGreaterThanOrEqual(sample(r.text, 'raftgate_core_store_index'));
    expect(sample(r.text, 'raftgate_core_raft_applied_index')).toBeGreaterThanOrEqual(5);
    expect(sample(r.text, 'raftgate_core_wal_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(5);
  });
});
