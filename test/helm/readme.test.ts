// The chart's documentation against the chart: the generated values
// reference is current, and the sidecar snippet in README.md and in
// examples/sidecar-app.yaml is one container that matches the chart's
// defaults and that `raftgate proxy` would accept.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { type Json, type JsonObject, chartPath, defaultValues, isObject, readChartFile } from './chart.js';
import { fieldByFlag, flagUses, resolvedValue } from './flags.js';
import { valuesReference, withReference } from './values-doc.js';

describe('README.md values reference', () => {
  it('is what values.yaml and values.schema.json generate', () => {
    const readme = readChartFile('README.md');
    const expected = withReference(readme, valuesReference());
    if (process.env.UPDATE_HELM_README === '1' && expected !== readme) writeFileSync(chartPath('README.md'), expected);
    else expect(readme, 'stale: run UPDATE_HELM_README=1 npx vitest run test/helm/readme.test.ts').toBe(expected);
  });

  it('has a row for every leaf value, with its default', () => {
    const reference = valuesReference();
    expect(reference).toContain('| `core.replicas` | 3 \\| 5 | `3` |');
    expect(reference).toContain('| `proxy.config.maxStaleness` | string | `"1s"` |');
    expect(reference).toContain('| `sidecar.port` | integer | `2379` |');
    expect(reference.split('\n').filter((l) => l.startsWith('| `')).length).toBeGreaterThan(120);
  });
});

function sidecarFromExample(): JsonObject {
  const app = parseYaml(readChartFile('examples', 'sidecar-app.yaml')) as JsonObject;
  const containers = (((app.spec as JsonObject).template as JsonObject).spec as JsonObject).containers as JsonObject[];
  const sidecar = containers.find((c) => c.name === 'raftgate-proxy');
  if (sidecar === undefined) throw new Error('examples/sidecar-app.yaml has no raftgate-proxy container');
  return sidecar;
}

function sidecarFromReadme(): Json {
  const readme = readChartFile('README.md');
  const m = /<!-- sidecar-snippet[^>]*-->\s*```yaml\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error('README.md has no sidecar-snippet block');
  return parseYaml(m[1]!) as Json;
}

/** `--flag=value` arguments as a map. */
function flagsOf(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of args) {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(a);
    if (m !== null) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe('sidecar snippet (README.md and examples/sidecar-app.yaml)', () => {
  const sidecar = sidecarFromExample();
  const args = sidecar.args as string[];
  const flags = flagsOf(args);

  it('is the same container in both places', () => {
    expect(sidecarFromReadme()).toEqual([sidecar]);
  });

  it('runs `raftgate proxy` on loopback only, pointed at the release members', () => {
    expect(args[0]).toBe('proxy');
    expect(flags.get('listen-client-urls')).toBe('http://127.0.0.1:2379');
    expect(flags.get('endpoints')?.split(',')).toEqual([0, 1, 2].map((i) => `http://raftgate-core-${i}.raftgate-core-headless.default.svc:2379`));
  });

  it('passes only flags `raftgate proxy` has, with values it accepts', () => {
    const problems: string[] = [];
    for (const [flag, value] of flags) {
      const field = fieldByFlag('proxy', flag);
      if (field === undefined) problems.push(`--${flag}: no such proxy flag`);
      else if (!field.schema.safeParse(value).success) problems.push(`--${flag}=${value}: refused`);
    }
    expect(problems).toEqual([]);
  });

  it('carries the defaults of values.yaml: every flag the proxy template takes from values, the image, resources and security context', () => {
    const values = defaultValues();
    const fromValues = flagUses().filter((u) => u.kind === 'proxy' && u.valueText.includes('.Values.'));
    expect(fromValues.length).toBeGreaterThan(10);
    for (const u of fromValues) {
      const r = resolvedValue(u, values);
      if (!r.ok) continue;
      expect(flags.get(u.flag), `--${u.flag} (values.yaml ${r.path ?? ''})`).toBe(r.value);
    }
    const sc = values.sidecar as JsonObject;
    expect(flags.get('mode')).toBe(sc.mode);
    expect(sidecar.resources).toEqual(sc.resources);
    expect(sidecar.securityContext).toEqual(values.containerSecurityContext);
    const image = values.image as JsonObject;
    expect(sidecar.image).toBe(`${String(image.repository)}:0.1.0`);
  });

  it('probes from inside the container, since the kubelet cannot reach 127.0.0.1 of a pod', () => {
    for (const [probe, path] of [['readinessProbe', '/ready'], ['livenessProbe', '/health']] as const) {
      const p = sidecar[probe];
      expect(isObject(p) && isObject(p.exec), probe).toBe(true);
      const command = ((p as JsonObject).exec as JsonObject).command as string[];
      expect(command.slice(0, 2)).toEqual(['node', '-e']);
      expect(command[2]).toContain(`http://127.0.0.1:2379${path}`);
    }
  });

  it('is used by the example app through localhost', () => {
    const text = readChartFile('examples', 'sidecar-app.yaml');
    expect(text).toMatch(/curl [^\n]*http:\/\/127\.0\.0\.1:2379\/v2\/keys\//);
  });
});
