import { describe, expect, it } from 'vitest';
import { defaultCommonOptions, intListArg, parseFlags } from '../../../bench/lib/cli.js';
import { promValue } from '../../../bench/lib/scrape.js';
import { comparisonTable, throughputMetrics, type RunSummary, type Workload } from '../../../bench/lib/runs.js';

describe('parseFlags', () => {
  it('applies common and mode flags, with inline and separate values', () => {
    const o = defaultCommonOptions('/repo');
    let watchers: number[] = [];
    parseFlags(['--duration=2s', '--runs', '1', '--only', 'etcd', '--no-write', '--watchers', '10,20', '--wait-for-load', '1.5'], o, { '--watchers': (v) => (watchers = intListArg('--watchers', v(), 1, 100)) }, 'usage');
    expect(o.durationMs).toBe(2000);
    expect(o.runs).toBe(1);
    expect(o.systems).toEqual(['etcd']);
    expect(o.write).toBe(false);
    expect(o.quietLoad).toBe(1.5);
    expect(watchers).toEqual([10, 20]);
  });

  it('refuses unknown flags, missing values and out-of-range numbers', () => {
    const o = defaultCommonOptions('/repo');
    expect(() => parseFlags(['--bogus'], o, {}, 'the usage')).toThrow(/unknown flag "--bogus"[\s\S]*the usage/);
    expect(() => parseFlags(['--runs'], o, {}, '')).toThrow(/needs a value/);
    expect(() => parseFlags(['--runs', '0'], o, {}, '')).toThrow(/1\.\.50/);
    expect(() => intListArg('--watchers', '10,x', 1, 100)).toThrow(/--watchers/);
  });
});

describe('promValue', () => {
  const text = [
    '# HELP raftgate_proxy_watchers Client watches',
    '# TYPE raftgate_proxy_watchers gauge',
    'raftgate_proxy_watchers 5000',
    'raftgate_proxy_watchers_dropped_total{reason="overflow"} 2',
    'raftgate_proxy_watchers_dropped_total{reason="cleared"} 3',
  ].join('\n');
  it('reads a sample by exact name and sums label sets', () => {
    expect(promValue(text, 'raftgate_proxy_watchers')).toBe(5000);
    expect(promValue(text, 'raftgate_proxy_watchers_dropped_total')).toBe(5);
    expect(promValue(text, 'raftgate_proxy_watch')).toBeNaN();
  });
});

describe('comparisonTable', () => {
  const run = (okPerSec: number, p50Ms: number, errors = 0): RunSummary => ({
    okPerSec, okCount: 1, p50Ms, p99Ms: p50Ms * 2, errors, failures: {}, failureSamples: [], serverCpuUsPerReq: 1, clientCpuPct: 1, serverRssBytes: Number.NaN,
  });
  const w: Workload = { id: 'put-1', title: 'PUT', connections: 1, requests: () => () => ({ method: 'GET', path: '/' }), ok: () => true };
  it('shows medians side by side with Raftgate/etcd ratios and failures', () => {
    const t = comparisonTable([w], { 'put-1': [run(100, 1), run(300, 3), run(200, 2)] }, { 'put-1': [run(50, 4, 1)] }, throughputMetrics).split('\n');
    expect(t[0]).toMatch(/^\| workload \| conns \| etcd req\/s \| RG req\/s \| RG\/etcd \| etcd p50 ms/);
    expect(t[2]).toMatch(/\| PUT +\| +1 \| +200 \| +50 \| +0\.25x \| +2\.00 \| +4\.00 \| +2\.00x \|.*\| +0 \/ 1 \|$/);
  });
  it('shows n/a for a system that did not run', () => {
    expect(comparisonTable([w], undefined, { 'put-1': [run(50, 4)] }, throughputMetrics)).toContain('n/a');
  });
});
