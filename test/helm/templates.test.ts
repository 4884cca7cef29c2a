// The chart's templates, checked without helm: actions and blocks balance,
// every included template exists, every .Values path a template reads is
// declared in values.yaml and the schema, and every flag and RAFTGATE_*
// variable the templates pass exists in config/schema.ts with a value its
// parser accepts, for the defaults and for every ci values file.
import { describe, expect, it } from 'vitest';

import {
  type Action,
  type Json,
  chartFileExists,
  definedTemplates,
  includedTemplates,
  loadSchema,
  scanTemplate,
  schemaAt,
  templateFiles,
  valueAt,
  defaultValues,
  valuesFiles,
  valuesReferences,
  mergeValues,
} from './chart.js';
import { type Kind, fieldByFlag, fieldTables, flagUses, resolvedValue } from './flags.js';

const files = templateFiles();
const scans = files.map((f) => ({ file: f, ...scanTemplate(f) }));
const actions: Action[] = scans.flatMap((s) => s.actions);
const schema = loadSchema();

describe('template syntax', () => {
  it('finds the chart templates', () => {
    const names = files.map((f) => f.name);
    for (const expected of ['templates/_helpers.tpl', 'templates/NOTES.txt', 'templates/core-statefulset.yaml', 'templates/proxy-deployment.yaml']) {
      expect(names).toContain(expected);
    }
  });

  for (const s of scans) {
    it(`${s.file.name}: every {{ }} action and every block is closed`, () => {
      expect(s.problems).toEqual([]);
      expect(s.actions.length).toBeGreaterThan(0);
    });
  }

  it('the scanner reports what it should (unclosed action, stray }}, unclosed block, stray end)', () => {
    const bad = (text: string) => scanTemplate({ name: 'bad.yaml', text }).problems.join('\n');
    expect(bad('a: {{ .Values.x\nb: 1\n')).toMatch(/action not closed/);
    expect(bad('a: .Values.x }}\n')).toMatch(/"}}" outside any action/);
    expect(bad('{{ if .Values.x }}\na: 1\n')).toMatch(/if is never closed/);
    expect(bad('a: 1\n{{ end }}\n')).toMatch(/end without an open block/);
    expect(bad('{{/* a comment\n')).toMatch(/comment not closed/);
    expect(bad('{{ printf "}}" }}\n{{- /* fine */ -}}\n{{ if .a }}{{ else }}{{ end }}')).toBe('');
  });

  it('defines named templates only in _helpers.tpl, and each once', () => {
    const defines = actions.filter((a) => /^define\s/.test(a.body));
    expect(defines.filter((a) => a.file !== 'templates/_helpers.tpl').map((a) => `${a.file}:${a.line}`)).toEqual([]);
    const names = definedTemplates(actions);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('includes only templates that _helpers.tpl defines', () => {
    const defined = new Set(definedTemplates(actions));
    const missing = includedTemplates(actions)
      .filter(({ name }) => !defined.has(name))
      .map(({ name, action }) => `${action.file}:${action.line} includes "${name}"`);
    expect(missing).toEqual([]);
    expect(includedTemplates(actions).length).toBeGreaterThan(20);
  });

  it('uses every template _helpers.tpl defines', () => {
    const used = new Set(includedTemplates(actions).map((i) => i.name));
    expect(definedTemplates(actions).filter((n) => !used.has(n))).toEqual([]);
  });

  it('reads only chart files that exist (.Files.Get)', () => {
    const gets = actions.flatMap((a) => [...a.body.matchAll(/\.Files\.Get\s+"([^"]+)"/g)].map((m) => m[1]!));
    expect(gets.sort()).toEqual(['files/grafana-dashboard.json', 'files/prometheus-rules.yaml']);
    for (const g of gets) expect(chartFileExists(g), g).toBe(true);
  });
});

describe('.Values references', () => {
  const refs = valuesReferences(actions);

  it('are all static paths (no bare .Values, no index into .Values)', () => {
    expect(refs.length).toBeGreaterThan(100);
    const bare = refs.filter((r) => r.path.length === 0).map((r) => `${r.action.file}:${r.action.line}: ${r.action.body}`);
    expect(bare).toEqual([]);
  });

  it('never use `with`, so every path is spelled out from the root and checkable', () => {
    expect(actions.filter((a) => /^with\b/.test(a.body)).map((a) => `${a.file}:${a.line}`)).toEqual([]);
  });

  it('inside a range body go through $ (range rebinds the dot to the element)', () => {
    const wrong = refs
      .filter((r) => r.action.enclosing.includes('range') && !r.prefix.startsWith('$'))
      .map((r) => `${r.action.file}:${r.action.line}: ${r.action.body}`);
    expect(wrong).toEqual([]);
  });

  it('are declared in values.yaml', () => {
    const values = defaultValues();
    const missing = refs.flatMap((r) => {
      const at = valueAt(values, r.path);
      return at.found ? [] : [`${r.action.file}:${r.action.line}: .Values.${r.path.join('.')} (values.yaml has no ${at.missingAt})`];
    });
    expect([...new Set(missing)]).toEqual([]);
  });

  it('are declared in values.schema.json', () => {
    const missing = refs.filter((r) => schemaAt(schema, r.path) === undefined).map((r) => `${r.action.file}:${r.action.line}: .Values.${r.path.join('.')}`);
    expect([...new Set(missing)]).toEqual([]);
  });

  it('are checked against the whole path: a misspelt leaf is caught', () => {
    // The same lookups the two tests above make, on a path that is wrong only in its last key.
    expect(valueAt(defaultValues(), ['core', 'config', 'snapshotCnt']).found).toBe(false);
    expect(schemaAt(schema, ['core', 'config', 'snapshotCnt'])).toBeUndefined();
    expect(schemaAt(schema, ['core', 'resources', 'limits', 'memory'])).toBeDefined();
  });
});

// ---- flags and variables --------------------------------------------------------

// Flags no template passes, and why; every other flag of `raftgate core` and
// `raftgate proxy` must be rendered, so a flag added to config/schema.ts
// shows up here until the chart exposes it.
const NOT_RENDERED: Record<Kind, Record<string, string>> = {
  core: { 'enable-v2': 'accepted for etcd command lines only; the v2 API is always on' },
  proxy: {},
};

describe('flags and RAFTGATE_* variables the templates pass', () => {
  const uses = flagUses();

  it('belong to a known command', () => {
    expect(uses.length).toBeGreaterThan(30);
    expect(uses.filter((u) => u.kind === undefined).map((u) => u.where)).toEqual([]);
  });

  it('exist in config/schema.ts for that command', () => {
    const unknown = uses.filter((u) => u.kind !== undefined && fieldByFlag(u.kind, u.flag) === undefined).map((u) => `${u.where}: --${u.flag} (${u.kind})`);
    expect(unknown).toEqual([]);
  });

  it('cover every flag of both commands, or say why not', () => {
    for (const kind of ['core', 'proxy'] as const) {
      const rendered = new Set(uses.filter((u) => u.kind === kind).map((u) => u.flag));
      const missing = Object.values(fieldTables[kind])
        .map((f) => f.flag)
        .filter((flag) => !rendered.has(flag) && !(flag in NOT_RENDERED[kind]));
      expect(missing, `${kind} flags neither rendered nor listed in NOT_RENDERED`).toEqual([]);
    }
  });

  it('pass integers through int64, since helm reads numbers as float64 and prints 1000000 as 1e+06', () => {
    const bare: string[] = [];
    for (const u of uses) {
      for (const m of u.valueText.matchAll(/\{\{([^}]*)\}\}/g)) {
        const path = /\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/.exec(m[1]!)?.[1]?.split('.').filter(Boolean);
        if (path === undefined) continue;
        const node = schemaAt(schema, path);
        if (node?.type === 'integer' && !/\|\s*int64\b/.test(m[1]!)) bare.push(`${u.where}: --${u.flag}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it('name only RAFTGATE_* variables that some command reads', () => {
    const envs = new Set([...Object.values(fieldTables.core), ...Object.values(fieldTables.proxy)].map((f) => f.env));
    const named = files.flatMap((f) => [...stripComments(f.text).matchAll(/\bRAFTGATE_[A-Z0-9_]+\b/g)].map((m) => `${f.name}: ${m[0]}`));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !envs.has(n.split(': ')[1]!))).toEqual([]);
  });

  /** Flag values `raftgate` would refuse, for one set of merged values; and how many were checked. */
  function refusedFlags(values: Json): { refused: string[]; checked: number } {
    const refused: string[] = [];
    let checked = 0;
    for (const u of uses) {
      if (u.kind === undefined) continue;
      const field = fieldByFlag(u.kind, u.flag);
      const r = resolvedValue(u, values);
      if (field === undefined || !r.ok) continue;
      checked++;
      const parsed = field.schema.safeParse(r.value);
      if (!parsed.success) refused.push(`--${u.flag}=${r.value}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    }
    return { refused, checked };
  }

  for (const file of valuesFiles()) {
    it(`${file.name}: every flag value is one \`raftgate\` accepts`, () => {
      const { refused, checked } = refusedFlags(file.merged);
      expect(refused).toEqual([]);
      expect(checked).toBeGreaterThan(20);
    });
  }

  it('catches a value the flag parser refuses even where the schema would not (election timeout below 5ms)', () => {
    const values = mergeValues(defaultValues(), { core: { config: { electionTimeout: '1ms' } } });
    expect(refusedFlags(values).refused).toEqual([expect.stringMatching(/^--election-timeout=1ms: must be from 5ms/)]);
  });
});

function stripComments(text: string): string {
  return text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
}
