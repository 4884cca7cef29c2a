// The chart's alerts and dashboard: the rule file passes promtool (syntax and
// unit tests of every alert), the dashboard is valid JSON whose queries parse
// as PromQL, and every metric either names is in the metric contract, used
// the way its type allows, and exported by a live core member.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

import { http } from '../helpers/http.js';
import { repoRoot, startRaftgateCore, type RaftgateHandle } from '../helpers/raftgate.js';
import { chartPath, isObject, readChartFile, type Json, type JsonObject } from './chart.js';
import { METRIC_CONTRACT, TARGET_LABELS, contractEntryOf, type ContractMetric } from './metric-contract.js';
import { type ProxyHandle, proxyCommandBuilt, startProxy } from './live-proxy.js';
import { readPromql, substituteGrafanaVariables } from './promql.js';

const rulesPath = chartPath('files', 'prometheus-rules.yaml');
const rulesTestPath = join(repoRoot, 'test', 'helm', 'prometheus-rules.promtool.yaml');

function promtool(args: string[], cwd = repoRoot): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) throw new Error(`promtool could not run (${r.error.message}); it comes with Debian's prometheus package, which .ci/run installs`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

function ruleGroups(): Array<{ name: string; rules: Rule[] }> {
  const doc = parseYaml(readChartFile('files', 'prometheus-rules.yaml')) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups;
}
const rules = ruleGroups().flatMap((g) => g.rules);

interface Query {
  readonly where: string;
  readonly expr: string;
}

function dashboard(): JsonObject {
  const d = JSON.parse(readChartFile('files', 'grafana-dashboard.json')) as Json;
  if (!isObject(d)) throw new Error('grafana-dashboard.json is not an object');
  return d;
}

function panelsOf(d: JsonObject): JsonObject[] {
  const top = (d.panels as JsonObject[] | undefined) ?? [];
  return top.flatMap((p) => [p, ...((p.panels as JsonObject[] | undefined) ?? [])]);
}

function dashboardQueries(d: JsonObject): Query[] {
  const queries: Query[] = [];
  for (const p of panelsOf(d)) {
    for (const t of (p.targets as JsonObject[] | undefined) ?? []) {
      queries.push({ where: `panel "${String(p.title)}" ${String(t.refId)}`, expr: String(t.expr) });
    }
  }
  for (const v of ((d.templating as JsonObject | undefined)?.list as JsonObject[] | undefined) ?? []) {
    if (v.type !== 'query') continue;
    const q = isObject(v.query) ? v.query.query : v.query;
    queries.push({ where: `variable $${String(v.name)}`, expr: String(q) });
  }
  return queries;
}

const ruleQueries: Query[] = rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr }));
const panelQueries = dashboardQueries(dashboard());

/** Problems with how one query uses metrics: unknown names, labels they do not have, counters read raw, gauges rated. */
function queryProblems(q: Query): string[] {
  const problems: string[] = [];
  const read = readPromql(q.expr);
  const used: ContractMetric[] = [];
  if (read.metrics.length === 0) problems.push(`${q.where}: names no metric`);
  for (const m of read.unknownFunctions) problems.push(`${q.where}: unknown function ${m}`);
  for (const use of read.metrics) {
    const entry = contractEntryOf(use.name);
    if (entry === undefined) {
      problems.push(`${q.where}: ${use.name} is not in the metric contract`);
      continue;
    }
    used.push(entry.metric);
    const rated = ['rate', 'irate', 'increase'].includes(use.directlyIn);
    const cumulative = entry.metric.type === 'counter' || entry.suffix !== '';
    if (cumulative && !rated && use.directlyIn !== 'resets') problems.push(`${q.where}: ${use.name} is cumulative; read it through rate() or increase()`);
    if (!cumulative && rated) problems.push(`${q.where}: ${use.name} is a gauge; rate() of it means nothing`);
    if (entry.suffix === '_bucket' && !q.expr.includes('histogram_quantile')) problems.push(`${q.where}: ${use.name} outside histogram_quantile`);
  }
  const known = new Set([...TARGET_LABELS, '__name__', ...used.flatMap((m) => m.labels), ...(used.some((m) => m.type === 'histogram') ? ['le'] : [])]);
  for (const l of read.labels) if (!known.has(l)) problems.push(`${q.where}: label ${l} belongs to none of its metrics`);
  return problems;
}

describe('Prometheus rules (files/prometheus-rules.yaml)', () => {
  it('pass `promtool check rules`', () => {
    const r = promtool(['check', 'rules', '--lint=all', rulesPath]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('fire as their unit tests expect (`promtool test rules`)', () => {
    const r = promtool(['test', 'rules', rulesTestPath], join(repoRoot, 'test', 'helm'));
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it('promtool rejects a broken rule file, so the checks above can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftgate-rules-'));
    try {
      const broken = readChartFile('files', 'prometheus-rules.yaml').replace('raftgate_core_has_leader == 0', 'raftgate_core_has_leader == (0');
      writeFileSync(join(dir, 'rules.yaml'), broken);
      expect(promtool(['check', 'rules', join(dir, 'rules.yaml')]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('include the alerts issue 5 asks for: no leader, leader changes, staleness over bound, watchers dropped, requests shed', () => {
    const alertsOn = (metric: string) => rules.filter((r) => r.alert !== undefined && r.expr.includes(metric)).map((r) => r.alert);
    expect(alertsOn('raftgate_core_has_leader')).toEqual(['RaftgateNoLeader']);
    expect(alertsOn('raftgate_core_leader_changes_total')).toEqual(['RaftgateFrequentLeaderChanges']);
    expect(alertsOn('raftgate_proxy_staleness_seconds')).toEqual(['RaftgateProxyStalenessOverBound']);
    expect(alertsOn('raftgate_proxy_watchers_dropped_total')).toEqual(['RaftgateProxyWatchersDropped']);
    expect(alertsOn('raftgate_proxy_refused_total')).toEqual(['RaftgateProxyRequestsShed']);
  });

  it('give every alert a severity, a summary and a description, and a unit test', () => {
    const tests = readFileSync(rulesTestPath, 'utf8');
    for (const r of rules.filter((x) => x.alert !== undefined)) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
    const tested = new Set([...tests.matchAll(/alertname:\s*(\S+)/g)].map((m) => m[1]));
    const core = ['RaftgateNoLeader', 'RaftgateFrequentLeaderChanges', 'RaftgateProxyStalenessOverBound', 'RaftgateProxyWatchersDropped', 'RaftgateProxyRequestsShed'];
    for (const a of core) expect(tested.has(a), a).toBe(true);
  });

  it('name only contract metrics, with their own labels, counters through rate()/increase()', () => {
    expect(ruleQueries.length).toBeGreaterThanOrEqual(5);
    expect(ruleQueries.flatMap(queryProblems)).toEqual([]);
  });
});

describe('Grafana dashboard (files/grafana-dashboard.json)', () => {
  const d = dashboard();
  const panels = panelsOf(d).filter((p) => p.type !== 'row');

  it('parses, with a uid, a datasource variable and unique panel ids on a 24-column grid', () => {
    expect(typeof d.uid).toBe('string');
    expect(typeof d.title).toBe('string');
    const vars = ((d.templating as JsonObject).list as JsonObject[]).map((v) => `${String(v.name)}:${String(v.type)}`);
    expect(vars).toContain('datasource:datasource');
    const ids = panelsOf(d).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panelsOf(d)) {
      const g = p.gridPos as { x: number; w: number; h: number; y: number };
      expect(g.x + g.w, String(p.title)).toBeLessThanOrEqual(24);
    }
    for (const p of panels) {
      expect((p.datasource as JsonObject).uid, String(p.title)).toBe('${datasource}');
      expect(((p.targets as JsonObject[] | undefined) ?? []).length, String(p.title)).toBeGreaterThan(0);
    }
  });

  it('covers cluster health, request rates and latency, cache hit ratio, staleness and watchers', () => {
    const exprs = panelQueries.map((q) => q.expr).join('\n');
    for (const metric of [
      'raftgate_core_has_leader',
      'raftgate_core_http_requests_total',
      'raftgate_core_http_request_duration_seconds_bucket',
      'raftgate_proxy_http_requests_total',
      'raftgate_proxy_http_request_duration_seconds_bucket',
      'raftgate_proxy_cache_hits_total',
      'raftgate_proxy_cache_misses_total',
      'raftgate_proxy_staleness_seconds',
      'raftgate_proxy_watchers',
      'raftgate_core_watchers',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
  });

  it('name only contract metrics, with their own labels, counters through rate()/increase()', () => {
    expect(panelQueries.length).toBeGreaterThan(30);
    expect(panelQueries.flatMap(queryProblems)).toEqual([]);
  });

  it('has queries that all parse as PromQL (promtool, with Grafana variables filled in)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftgate-dashboard-'));
    try {
      const queries = panelQueries.filter((q) => !q.where.startsWith('variable'));
      const file = join(dir, 'dashboard-queries.yaml');
      writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `raftgate:dashboard_query_${i}`, expr: substituteGrafanaVariables(q.expr) })) }] }));
      const r = promtool(['check', 'rules', file]);
      expect(r.output).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the query reader finds what a bad query gets wrong', () => {
    expect(queryProblems({ where: 'q', expr: 'sum(raftgate_core_http_requests_total)' })).toEqual(['q: raftgate_core_http_requests_total is cumulative; read it through rate() or increase()']);
    expect(queryProblems({ where: 'q', expr: 'rate(raftgate_proxy_staleness_seconds[5m])' })).toEqual(['q: raftgate_proxy_staleness_seconds is a gauge; rate() of it means nothing']);
    expect(queryProblems({ where: 'q', expr: 'sum by (status) (rate(raftgate_core_http_requests_total[5m]))' })).toEqual(['q: label status belongs to none of its metrics']);
    expect(queryProblems({ where: 'q', expr: 'raftgate_proxy_cache_hit_ratio' })).toEqual(['q: raftgate_proxy_cache_hit_ratio is not in the metric contract']);
  });
});

// ---- live /metrics ----------------------------------------------------------------

/** Metric family name -> type, from the Prometheus text exposition. */
function exposedFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!);
  return families;
}

/** Contract names the chart's queries use. */
function namesUsed(): Set<string> {
  const names = new Set<string>();
  for (const q of [...ruleQueries, ...panelQueries]) {
    for (const use of readPromql(q.expr).metrics) {
      const entry = contractEntryOf(use.name);
      if (entry !== undefined) names.add(entry.metric.name);
    }
  }
  return names;
}

const proxyBuilt = proxyCommandBuilt();

/** Contract metrics a scrape lacks or exposes with another type. */
function typeMismatches(expected: readonly ContractMetric[], families: ReadonlyMap<string, string>): string[] {
  return expected.filter((m) => families.get(m.name) !== m.type).map((m) => `${m.name}: contract ${m.type}, live ${families.get(m.name) ?? 'missing'}`);
}

describe('live /metrics of a core member and a proxy in front of it', () => {
  let core: RaftgateHandle | undefined;
  let proxy: ProxyHandle | undefined;
  let coreFamilies = new Map<string, string>();
  let proxyFamilies = new Map<string, string>();

  beforeAll(async () => {
    core = await startRaftgateCore({ name: 'metrics' });
    // A write and two reads, so labelled series exist; through the proxy
    // (a miss, then a hit within the bound) when there is one.
    const front = proxyBuilt ? (proxy = await startProxy(core.clientUrl)).url : core.clientUrl;
    await http(front, { method: 'PUT', path: '/v2/keys/helm-test', form: [['value', 'x']] });
    await http(front, { method: 'GET', path: '/v2/keys/helm-test' });
    await http(front, { method: 'GET', path: '/v2/keys/helm-test' });
    const scrape = async (url: string) => {
      const res = await http(url, { method: 'GET', path: '/metrics' });
      expect(res.status).toBe(200);
      return exposedFamilies(res.text);
    };
    coreFamilies = await scrape(core.clientUrl);
    if (proxy !== undefined) proxyFamilies = await scrape(proxy.url);
  });

  afterAll(async () => {
    await proxy?.stop();
    await core?.stop();
  });

  it('core: exports every contract metric, with the contract type', () => {
    const expected = METRIC_CONTRACT.filter((m) => m.exporter === 'core');
    expect(expected.length).toBeGreaterThan(20);
    expect(typeMismatches(expected, coreFamilies)).toEqual([]);
  });

  it('core: exports every metric the dashboard and alerts use', () => {
    const missing = [...namesUsed()].filter((n) => n.startsWith('raftgate_core_') && !coreFamilies.has(n));
    expect(missing).toEqual([]);
  });

  if (proxyBuilt) {
    it('proxy: exports every contract metric, with the contract type', () => {
      const expected = METRIC_CONTRACT.filter((m) => m.exporter === 'proxy');
      expect(expected.length).toBeGreaterThan(30);
      expect(typeMismatches(expected, proxyFamilies)).toEqual([]);
    });

    it('proxy: exports every metric the dashboard and alerts use', () => {
      const missing = [...namesUsed()].filter((n) => n.startsWith('raftgate_proxy_') && !proxyFamilies.has(n));
      expect(missing).toEqual([]);
    });
  } else {
    it.todo('proxy: exports every contract metric; the built CLI has no `raftgate proxy` yet (npm run build once it lands)');
  }
});
