// Turns one HTTP response into an "observation" that is equal on two servers
// exactly when a client could not tell them apart, for the differential suite.
//
// Every normalisation below is listed with its reason. Anything not listed is
// compared byte for byte. None of them hides a behaviour a client depends on:
//
// 1. Indexes are relative. The two servers start from different histories
//    (etcd writes its own /0 cluster keys, so its first user write is index 4;
//    Raftgate may start elsewhere), so an absolute index is printed as "@+N" /
//    "@-N": its offset from X-Etcd-Index read just before the scenario began.
//    Applies to the X-Etcd-Index header, the JSON fields createdIndex,
//    modifiedIndex and index, the 20-digit names of in-order (POST) keys, the
//    indexes inside 101 "[prevIndex != modifiedIndex]" and 401 "[start/since]"
//    causes. The literal 0 stays 0: etcd answers parameter errors (2xx codes)
//    with index 0 and X-Etcd-Index 0, which a client can see.
// 2. `expiration` becomes "<expiration>" once it has been checked to be an
//    RFC 3339 UTC timestamp inside a sane window (not before the scenario
//    began minus slack, not after the end of the step plus an hour) and, when
//    the node also carries `ttl`, consistent with it (expiration ≈ response
//    time + ttl). A failed check is reported as "<expiration bad: ...>".
// 3. `ttl` is compared with ±1 tolerance (in `diff`), because the remaining
//    seconds depend on when each server answered; in raw text it becomes
//    "<ttl>" and the value itself is compared in the JSON.
// 4. X-Raft-Index and X-Raft-Term are "<numeric>", X-Etcd-Cluster-ID
//    "<hex>": their values depend on each server's Raft history and random
//    ids, but their presence and format are checked.
// 5. Member and cluster ids in bodies (`/v2/members` id) become "<hex-id>"
//    after a format check; the server's own client/peer URLs become
//    "<client-url>"/"<peer-url>" (their ports are picked at random).
// 6. `/v2/stats/store` counters are reported as deltas from the first store
//    stats response of the same scenario: the absolute counts depend on all
//    earlier traffic (etcd also counts its own internal writes).
// 7. Steps marked `compare: 'shape'` (/version, /v2/stats/self, ...) keep
//    only the structure: every leaf becomes its type name. The values (uptime,
//    version string, counters) are not stable even between two etcds.
// 8. Without sorted=true, the children of a directory come in Go map order,
//    which is random: two etcds (or one etcd asked twice) list them
//    differently. Such `nodes` arrays are sorted by key before comparing, and
//    their raw text is re-serialised from the sorted JSON (this loses only
//    character escaping inside those listings, which other scenarios compare
//    on single keys). With sorted=true the order is compared as sent.
// 9. Date and Content-Length headers are not compared: the date is the clock,
//    and the length follows from the body, which is compared in full.

import type { HttpResponse } from '../helpers/http.js';

export interface NormaliseContext {
  /** X-Etcd-Index just before the scenario started. */
  base: number;
  /** Values substituted from `{{base+N}}` templates in this step: value -> "@+N". */
  templated: ReadonlyMap<string, string>;
  scenarioStartMs: number;
  stepStartMs: number;
  stepEndMs: number;
  clientUrl: string;
  peerUrl: string;
  /** First /v2/stats/store body seen in this scenario, if any. */
  statsBase: Record<string, number> | undefined;
  /** The request had a prevIndex parameter with this value. */
  prevIndex: string | undefined;
  shape: boolean;
  /** The body is a stream of JSON documents, one per line. */
  stream: boolean;
  /** The request did not ask for sorted=true: child order is unspecified. */
  unordered: boolean;
}

export interface Observation {
  status: number;
  headers: Record<string, string>;
  json: unknown;
  text: string;
}

const comparedHeaders = [
  'content-type',
  'allow',
  'location',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'x-etcd-index',
  'x-raft-index',
  'x-raft-term',
  'x-etcd-cluster-id',
] as const;

const expirationSlackMs = 5_000;
const expirationHorizonMs = 3_600_000;
const ttlConsistencyMs = 2_500;

export function relIndex(value: number, base: number): string | number {
  if (value === 0) return 0;
  const d = value - base;
  return d >= 0 ? `@+${d}` : `@${d}`;
}

function relIndexText(text: string, base: number): string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? String(relIndex(n, base)) : text;
}

const inOrderKey = /\/(\d{20})(?=\/|$)/g;

function normaliseKey(key: string, base: number): string {
  return key.replace(inOrderKey, (_m, digits: string) => `/<in-order ${relIndex(Number(digits), base)}>`);
}

function normaliseCause(cause: string, errorCode: unknown, ctx: NormaliseContext): string {
  if (errorCode === 101 && ctx.prevIndex !== undefined) {
    // "[prevValue != value] [prevIndex != modifiedIndex]" or just the index pair.
    return cause.replace(/\[(\d+) != (\d+)\]$/, (m, want: string, have: string) => {
      if (want !== ctx.prevIndex) return m;
      const wantLabel = ctx.templated.get(want) ?? want;
      return `[${wantLabel} != ${relIndexText(have, ctx.base)}]`;
    });
  }
  if (errorCode === 401) {
    return cause.replace(/\[(\d+)\/(\d+)\]$/, (_m, start: string, since: string) => {
      return `[${relIndexText(start, ctx.base)}/${ctx.templated.get(since) ?? relIndexText(since, ctx.base)}]`;
    });
  }
  return normaliseKey(cause, ctx.base);
}

function checkExpiration(value: unknown, ttl: unknown, ctx: NormaliseContext): string {
  if (typeof value !== 'string') return `<expiration bad: not a string: ${JSON.stringify(value)}>`;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(value)) return `<expiration bad: not RFC 3339 UTC: ${value}>`;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return `<expiration bad: unparsable: ${value}>`;
  if (ms < ctx.scenarioStartMs - expirationSlackMs - expirationHorizonMs) return `<expiration bad: too early: ${value}>`;
  if (ms > ctx.stepEndMs + expirationHorizonMs + expirationSlackMs) return `<expiration bad: too late: ${value}>`;
  if (typeof ttl === 'number' && ttl > 0) {
    const expectedLowMs = ctx.stepStartMs + (ttl - 1) * 1000 - ttlConsistencyMs;
    const expectedHighMs = ctx.stepEndMs + ttl * 1000 + ttlConsistencyMs;
    if (ms < expectedLowMs || ms > expectedHighMs) return `<expiration bad: inconsistent with ttl ${ttl}: ${value}>`;
  }
  return '<expiration>';
}

function normaliseNode(value: unknown, ctx: NormaliseContext, parentKey: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => normaliseNode(v, ctx, parentKey));
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' && parentKey !== undefined && /URLs$/.test(parentKey)) return normaliseUrl(value, ctx);
    return value;
  }
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if ((k === 'createdIndex' || k === 'modifiedIndex' || k === 'index') && typeof v === 'number') {
      out[k] = relIndex(v, ctx.base);
    } else if (k === 'key' && typeof v === 'string') {
      out[k] = normaliseKey(v, ctx.base);
    } else if (k === 'expiration') {
      out[k] = checkExpiration(v, obj['ttl'], ctx);
    } else if (k === 'cause' && typeof v === 'string') {
      out[k] = normaliseCause(v, obj['errorCode'], ctx);
    } else if (k === 'id' && typeof v === 'string') {
      out[k] = /^[0-9a-f]{1,16}$/.test(v) ? '<hex-id>' : v;
    } else {
      out[k] = normaliseNode(v, ctx, k);
    }
  }
  return out;
}

function normaliseUrl(url: string, ctx: NormaliseContext): string {
  if (url === ctx.clientUrl) return '<client-url>';
  if (url === ctx.peerUrl) return '<peer-url>';
  return url;
}

function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value === null) return null;
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = shapeOf(v);
    return out;
  }
  return `<${typeof value}>`;
}

export function isStoreStats(json: unknown): json is Record<string, number> {
  return (
    json !== null &&
    typeof json === 'object' &&
    !Array.isArray(json) &&
    'setsSuccess' in json &&
    Object.values(json).every((v) => typeof v === 'number')
  );
}

function statsDelta(json: Record<string, number>, base: Record<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    // `watchers` is a gauge (current watchers), not a counter: compare as is.
    out[k] = k === 'watchers' ? v : base[k] === undefined ? `<new ${v}>` : `+${v - base[k]}`;
  }
  return out;
}

function normaliseHeaders(headers: Record<string, string>, ctx: NormaliseContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of comparedHeaders) {
    const v = headers[name];
    if (v === undefined) continue;
    if (name === 'x-etcd-index') out[name] = relIndexText(v, ctx.base);
    else if (name === 'x-raft-index' || name === 'x-raft-term') out[name] = /^\d+$/.test(v) ? '<numeric>' : v;
    else if (name === 'x-etcd-cluster-id') out[name] = /^[0-9a-f]{1,16}$/.test(v) ? '<hex>' : v;
    else out[name] = v;
  }
  return out;
}

/**
 * The raw text with the same substitutions applied textually, so that key
 * order, escaping, whitespace and the trailing newline are still compared.
 */
function normaliseText(text: string, ctx: NormaliseContext, json: unknown): string {
  if (ctx.shape) return json === undefined ? text : `${JSON.stringify(shapeOf(json))}${trailing(text)}`;
  if (isStoreStats(json) && ctx.statsBase !== undefined) return `${JSON.stringify(statsDelta(json, ctx.statsBase))}${trailing(text)}`;
  let out = text
    .replace(/"(createdIndex|modifiedIndex|index)":(\d+)/g, (_m, k: string, n: string) => `"${k}":${JSON.stringify(relIndex(Number(n), ctx.base))}`)
    .replace(/"expiration":"[^"]*"/g, '"expiration":"<expiration>"')
    .replace(/"ttl":-?\d+/g, '"ttl":"<ttl>"')
    .replace(/"id":"[0-9a-f]{1,16}"/g, '"id":"<hex-id>"');
  out = replaceStrings(out, 'key', (key) => normaliseKey(key, ctx.base));
  const code = Number(/"errorCode":(\d+)/.exec(text)?.[1]);
  out = replaceStrings(out, 'cause', (cause) => normaliseCause(cause, code, ctx));
  out = out.split(ctx.clientUrl).join('<client-url>').split(ctx.peerUrl).join('<peer-url>');
  return out;
}

/**
 * Rewrite the JSON string values of `"field":"..."` in raw text. A value is
 * re-encoded only if `rewrite` changed it, so Go's own escaping (\u003c, \u0026,
 * \u2028) stays visible to the comparison.
 */
function replaceStrings(text: string, field: string, rewrite: (s: string) => string): string {
  const re = new RegExp(`"${field}":"((?:[^"\\\\]|\\\\.)*)"`, 'g');
  return text.replace(re, (m, raw: string) => {
    let decoded: string;
    try {
      decoded = JSON.parse(`"${raw}"`) as string;
    } catch {
      return m;
    }
    const rewritten = rewrite(decoded);
    return rewritten === decoded ? m : `"${field}":${JSON.stringify(rewritten)}`;
  });
}

function trailing(text: string): string {
  return /\s*$/.exec(text)?.[0] ?? '';
}

function sortNodes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortNodes);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = k === 'nodes' && Array.isArray(v) ? v.map(sortNodes).sort(byKey) : sortNodes(v);
  }
  return out;
}

function byKey(a: unknown, b: unknown): number {
  const ka = String((a as { key?: unknown } | null)?.key ?? '');
  const kb = String((b as { key?: unknown } | null)?.key ?? '');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function normalise(res: HttpResponse, ctx: NormaliseContext): Observation {
  const obs = normaliseInOrder(res, ctx);
  if (!ctx.unordered || ctx.shape || !obs.text.includes('"nodes":')) return obs;
  const parsed = parseOrUndefined(obs.text);
  const text = parsed === undefined ? obs.text : `${JSON.stringify(sortNodes(parsed))}${trailing(obs.text)}`;
  return { ...obs, json: sortNodes(obs.json), text };
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function normaliseInOrder(res: HttpResponse, ctx: NormaliseContext): Observation {
  let json: unknown = res.json;
  if (ctx.stream) json = res.text.split('\n').filter((l) => l.trim() !== '').map((l) => safeParse(l));
  let njson: unknown;
  if (json === undefined) njson = undefined;
  else if (ctx.shape) njson = shapeOf(json);
  else if (isStoreStats(json) && ctx.statsBase !== undefined) njson = statsDelta(json, ctx.statsBase);
  else njson = normaliseNode(json, ctx, undefined);
  return { status: res.status, headers: normaliseHeaders(res.headers, ctx), json: njson, text: normaliseText(res.text, ctx, json) };
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return `<not json: ${line}>`;
  }
}

export interface Difference {
  field: string;
  etcd: unknown;
  raftgate: unknown;
}

/** Structural differences; `ttl` numbers may differ by one second. */
export function diff(a: unknown, b: unknown, path = ''): Difference[] {
  if (a === b) return [];
  if (typeof a === 'number' && typeof b === 'number' && /(^|\.)ttl$/.test(path) && Math.abs(a - b) <= 1) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: Difference[] = [];
    if (a.length !== b.length) out.push({ field: `${path}.length`, etcd: a.length, raftgate: b.length });
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(...diff(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Difference[] = [];
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      const field = path === '' ? k : `${path}.${k}`;
      if (!(k in ao)) out.push({ field, etcd: '<absent>', raftgate: bo[k] });
      else if (!(k in bo)) out.push({ field, etcd: ao[k], raftgate: '<absent>' });
      else out.push(...diff(ao[k], bo[k], field));
    }
    return out;
  }
  return [{ field: path === '' ? '(value)' : path, etcd: a, raftgate: b }];
}

/** Differences between two observations: status, headers, JSON, then raw text. */
export function diffObservations(etcd: Observation, raftgate: Observation): Difference[] {
  const out: Difference[] = [];
  if (etcd.status !== raftgate.status) out.push({ field: 'status', etcd: etcd.status, raftgate: raftgate.status });
  out.push(...diff(etcd.headers, raftgate.headers, 'header'));
  out.push(...diff(etcd.json, raftgate.json, 'json'));
  // The raw text matters only when the JSON agrees (otherwise it repeats the
  // same difference); with ttl tolerance the raw form hides ttl values.
  if (out.length === 0 && etcd.text !== raftgate.text) out.push({ field: 'body text', etcd: etcd.text, raftgate: raftgate.text });
  return out;
}
