// The chart's values: every file helm may be given validates against
// values.schema.json, the schema refuses what a user could get wrong, every
// key is documented, and the defaults are the secure ones the chart promises.
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';

import { type Json, type JsonObject, defaultValues, deref, isObject, loadSchema, mergeValues, readChartFile, valuesFiles } from './chart.js';

function compileSchema(): ValidateFunction {
  // strict: unknown keywords, ambiguous types and misplaced keywords in the
  // schema itself are errors, so the schema cannot silently mean less than
  // it says. Union types ("string or number" quantities) are deliberate.
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  return ajv.compile(loadSchema());
}

const validate = compileSchema();

function errorsOf(values: Json): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** values.yaml with one change laid over it. */
function withChange(change: JsonObject): JsonObject {
  return mergeValues(defaultValues(), change);
}

describe('values files against values.schema.json', () => {
  for (const file of valuesFiles()) {
    it(`${file.name} validates`, () => {
      // Helm validates the merged values, so a ci file is checked as merged.
      expect(errorsOf(file.merged)).toEqual([]);
    });
  }

  it('covers 3 and 5 members, a readonly proxy, sidecar-only, monitoring and L2 redis among the ci files', () => {
    const files = valuesFiles().filter((f) => f.name.startsWith('ci/')).map((f) => f.merged);
    const some = (pred: (v: JsonObject) => boolean) => files.some(pred);
    const get = (v: JsonObject, ...path: string[]): Json | undefined => path.reduce<Json | undefined>((o, k) => (isObject(o ?? null) ? (o as JsonObject)[k] : undefined), v);
    expect(some((v) => get(v, 'core', 'replicas') === 3 && get(v, 'core', 'enabled') === true)).toBe(true);
    expect(some((v) => get(v, 'core', 'replicas') === 5 && get(v, 'core', 'enabled') === true)).toBe(true);
    expect(some((v) => get(v, 'proxy', 'mode') === 'readonly' && get(v, 'proxy', 'enabled') === true)).toBe(true);
    expect(some((v) => get(v, 'sidecar', 'enabled') === true && get(v, 'core', 'enabled') === false && get(v, 'proxy', 'enabled') === false)).toBe(true);
    expect(some((v) => get(v, 'metrics', 'serviceMonitor', 'enabled') === true && get(v, 'metrics', 'prometheusRule', 'enabled') === true && get(v, 'metrics', 'grafanaDashboard', 'enabled') === true)).toBe(true);
    expect(some((v) => get(v, 'proxy', 'l2Redis', 'enabled') === true)).toBe(true);
  });
});

describe('values.schema.json refuses wrong values', () => {
  const wrong: Array<[string, JsonObject, RegExp]> = [
    ['a misspelt top-level key', { proxyy: { mode: 'readonly' } }, /must NOT have additional properties.*proxyy/],
    ['a misspelt nested key', { core: { replicsa: 3 } }, /must NOT have additional properties.*replicsa/],
    ['a misspelt key deep in a shared definition', { core: { resources: { limits: { memroy: '1Gi' } } } }, /memroy/],
    ['an even member count', { core: { replicas: 4 } }, /\/core\/replicas must be equal to one of the allowed values/],
    ['a single member', { core: { replicas: 1 } }, /\/core\/replicas must be equal to one of the allowed values/],
    ['7 members', { core: { replicas: 7 } }, /\/core\/replicas must be equal to one of the allowed values/],
    ['members as a string', { core: { replicas: '3' } }, /\/core\/replicas must be integer/],
    ['a proxy mode that does not exist', { proxy: { mode: 'rw' } }, /\/proxy\/mode must be equal to one of the allowed values/],
    ['a sidecar mode that does not exist', { sidecar: { mode: 'read-only' } }, /\/sidecar\/mode must be equal to one of the allowed values/],
    ['a duration without a unit the flag parser knows', { proxy: { config: { maxStaleness: '1 sec' } } }, /\/proxy\/config\/maxStaleness must match pattern/],
    ['a decimal byte unit', { proxy: { config: { cacheBytesMax: '64MB' } } }, /\/proxy\/config\/cacheBytesMax must match pattern/],
    ['an https endpoint (TLS is not supported yet)', { proxy: { endpoints: ['https://core:2379'] } }, /\/proxy\/endpoints\/0 must match pattern/],
    ['an endpoint with a path', { proxy: { endpoints: ['http://core:2379/v2'] } }, /\/proxy\/endpoints\/0 must match pattern/],
    ['a non-redis L2 URL', { proxy: { l2Redis: { enabled: true, url: 'http://redis:6379' } } }, /\/proxy\/l2Redis\/url must match pattern/],
    ['an unknown anti-affinity', { core: { podAntiAffinity: 'strict' } }, /\/core\/podAntiAffinity must be equal to one of the allowed values/],
    ['an unknown log level', { core: { config: { logLevel: 'trace' } } }, /\/core\/config\/logLevel must be equal to one of the allowed values/],
    ['a proxy flag the proxy does not have', { proxy: { config: { cacheTtl: '5s' } } }, /must NOT have additional properties.*cacheTtl/],
    ['uid 0', { containerSecurityContext: { runAsUser: 0 } }, /\/containerSecurityContext\/runAsUser must be >= 1/],
    ['an env var without a name', { core: { extraEnv: [{ value: 'x' }] } }, /must have required property 'name'/],
    ['an annotation value that is not a string', { core: { podAnnotations: { 'example.com/n': 5 } } }, /\/core\/podAnnotations\/example.com~1n must be string/],
    ['a port out of range', { sidecar: { port: 70000 } }, /\/sidecar\/port must be <= 65535/],
  ];
  for (const [what, change, message] of wrong) {
    it(`rejects ${what}`, () => {
      const errors = errorsOf(withChange(change));
      expect(errors.join('\n')).toMatch(message);
    });
  }
});

describe('values.schema.json shape', () => {
  const schema = loadSchema();

  /** Every object-typed schema node with its JSON pointer. */
  function objectNodes(node: Json, pointer: string, out: Array<{ pointer: string; node: JsonObject }>): Array<{ pointer: string; node: JsonObject }> {
    if (!isObject(node)) return out;
    if (node.type === 'object') out.push({ pointer, node });
    for (const [k, v] of Object.entries(node)) {
      if (Array.isArray(v)) v.forEach((item, i) => objectNodes(item, `${pointer}/${k}/${i}`, out));
      else objectNodes(v, `${pointer}/${k}`, out);
    }
    return out;
  }

  it('closes every object: additionalProperties false, or a typed map with no fixed properties', () => {
    const loose = objectNodes(schema, '#', [])
      // global is Helm's own: a parent chart passes it to every dependency.
      .filter(({ pointer }) => pointer !== '#/properties/global')
      .filter(({ node }) => {
        if (node.additionalProperties === false) return false;
        // A map (annotations, labels, nodeSelector) says what its values are.
        return !(isObject(node.additionalProperties) && Object.keys(node.additionalProperties).length > 0 && node.properties === undefined);
      })
      .map(({ pointer }) => pointer);
    expect(loose).toEqual([]);
  });

  it('declares exactly the keys values.yaml has, at every level', () => {
    const mismatches: string[] = [];
    function compare(values: Json, node: JsonObject, path: string): void {
      const s = deref(schema, node);
      if (!isObject(values) || !isObject(s.properties)) return;
      for (const key of Object.keys(values)) {
        if (!(key in s.properties)) mismatches.push(`${path}${key}: in values.yaml, not in the schema`);
        else compare(values[key]!, s.properties[key] as JsonObject, `${path}${key}.`);
      }
      for (const key of Object.keys(s.properties)) {
        if (!(key in values) && !(path === '' && key === 'global')) mismatches.push(`${path}${key}: in the schema, not in values.yaml (so it has no documented default)`);
      }
    }
    compare(defaultValues(), schema, '');
    expect(mismatches).toEqual([]);
  });
});

describe('values.yaml documentation', () => {
  it('has a "# -- " comment right above every key', () => {
    const doc = parseDocument(readChartFile('values.yaml'));
    const undocumented: string[] = [];
    let keys = 0;
    function walk(map: YAMLMap, prefix: string): void {
      map.items.forEach((pair, i) => {
        keys++;
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        // The yaml library hangs the comment before a map's first key on the map itself.
        const comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? map.commentBefore : undefined) ?? '';
        const nearest = comment.split(/\n\s*\n/).at(-1) ?? '';
        if (!/^\s*-- \S/.test(nearest)) undocumented.push(prefix + key);
        if (isMap(pair.value)) walk(pair.value, `${prefix}${key}.`);
      });
    }
    if (!isMap(doc.contents)) throw new Error('values.yaml is not a mapping');
    walk(doc.contents, '');
    expect(undocumented).toEqual([]);
    // A walk that saw no nested keys would pass vacuously.
    expect(keys).toBeGreaterThan(100);
  });
});

describe('secure defaults', () => {
  const v = defaultValues();
  const pod = v.podSecurityContext as JsonObject;
  const container = v.containerSecurityContext as JsonObject;

  it('runs as a fixed non-root uid and gid, with the runtime seccomp profile', () => {
    expect(pod.runAsNonRoot).toBe(true);
    expect(container.runAsNonRoot).toBe(true);
    expect(container.runAsUser).toBe(pod.runAsUser);
    expect(container.runAsGroup).toBe(pod.runAsGroup);
    expect(pod.runAsUser).toBeGreaterThan(0);
    expect(pod.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(container.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  it('has a read-only root filesystem, no capabilities and no privilege escalation', () => {
    expect(container.readOnlyRootFilesystem).toBe(true);
    expect(container.allowPrivilegeEscalation).toBe(false);
    expect(container.privileged).toBe(false);
    expect(container.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('mounts no service account token', () => {
    expect((v.serviceAccount as JsonObject).automountServiceAccountToken).toBe(false);
  });

  it('sets requests and limits for every container it runs', () => {
    for (const part of ['core', 'proxy', 'sidecar']) {
      const r = (v[part] as JsonObject).resources as JsonObject;
      for (const kind of ['requests', 'limits']) {
        expect(Object.keys(r[kind] as JsonObject).sort(), `${part}.resources.${kind}`).toEqual(['cpu', 'memory']);
      }
    }
  });
});
