// One builder per kind of value. Each field's zod schema accepts the raw
// value from any source — a string from a flag or env var, or a YAML/JSON
// value from a file — and yields the typed, validated value. Keeping the
// string-to-value step inside the schema means flags, env and files can never
// disagree about what "1.5MiB" or "true" means.
//
// Reasons are written for the person fixing the config ("must be a duration
// such as 250ms"), not for the programmer; the loader appends what it got.

import { z } from 'zod';

import { formatByteSize, parseByteSize } from './byte-size.js';
import { formatDuration, parseDuration } from './duration.js';
import { formatInitialCluster, parseInitialCluster, type InitialMember } from './initial-cluster.js';
import { parseRedisUrl, parseUrlList } from './urls.js';

/** The kinds of value a field can hold; tests pick an invalid example per kind. */
export type ValueKind =
  | 'string'
  | 'integer'
  | 'duration'
  | 'bytes'
  | 'boolean'
  | 'enum'
  | 'listen-urls'
  | 'urls'
  | 'redis-url'
  | 'initial-cluster';

export interface FieldSpec<T = unknown> {
  /** kebab-case flag name without the leading dashes. */
  readonly flag: string;
  /** RAFTGATE_ + the flag in SCREAMING_SNAKE_CASE. */
  readonly env: string;
  readonly valueKind: ValueKind;
  /** Human-readable type for docs and help: "duration", "integer 1..64". */
  readonly type: string;
  readonly schema: z.ZodType<T>;
  /** undefined: required, optional, or derived from other fields (see defaultText). */
  readonly default: T | undefined;
  readonly defaultText: string;
  readonly description: string;
  readonly required: boolean;
  /** Never echo the value (it may hold a password). */
  readonly secret: boolean;
}

interface Common<T> {
  readonly flag: string;
  readonly description: string;
  readonly default?: T | undefined;
  /** Docs text for a default that is derived or absent. */
  readonly defaultText?: string;
  readonly required?: boolean;
  readonly secret?: boolean;
}

export function envNameFor(flag: string): string {
  return `RAFTGATE_${flag.toUpperCase().replace(/-/gu, '_')}`;
}

function spec<T>(c: Common<T>, valueKind: ValueKind, type: string, schema: z.ZodType<T>, show: (v: T) => string): FieldSpec<T> {
  return {
    flag: c.flag,
    env: envNameFor(c.flag),
    valueKind,
    type,
    schema,
    default: c.default,
    defaultText: c.defaultText ?? (c.default === undefined ? '' : show(c.default)),
    description: c.description,
    required: c.required ?? false,
    secret: c.secret ?? false,
  };
}

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A zod schema from a parse function, for values whose syntax zod cannot express. */
function parsed<T>(parse: (raw: unknown) => Check<T>): z.ZodType<T> {
  return z.unknown().transform((raw, ctx) => {
    const r = parse(raw);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.reason });
      return z.NEVER;
    }
    return r.value;
  });
}

// ---- strings ---------------------------------------------------------------

export const STRING_LENGTH_MAX = 4096;

export function stringField(c: Common<string> & { readonly lengthMax?: number; readonly problem?: (s: string) => string | undefined }): FieldSpec<string> {
  const lengthMax = c.lengthMax ?? STRING_LENGTH_MAX;
  const schema = parsed<string>((raw) => {
    // YAML reads `token: 12345` as a number; a string field takes it as written.
    const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
    if (typeof s !== 'string') return { ok: false, reason: 'must be a string' };
    if (s.length === 0) return { ok: false, reason: 'must not be empty' };
    if (s.length > lengthMax) return { ok: false, reason: `must be at most ${lengthMax} characters` };
    if (s.includes('\0')) return { ok: false, reason: 'must not contain NUL characters' };
    const problem = c.problem?.(s);
    return problem === undefined ? { ok: true, value: s } : { ok: false, reason: problem };
  });
  return spec(c, 'string', 'string', schema, (v) => JSON.stringify(v));
}

// ---- integers --------------------------------------------------------------

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`;
  return `an integer from ${min} to ${max}`;
}

function toNumber(raw: unknown): unknown {
  if (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/u.test(raw)) return Number(raw.trim());
  return raw;
}

export function intField(c: Common<number> & { readonly min: number; readonly max?: number; readonly allowed?: readonly number[] }): FieldSpec<number> {
  const max = c.max ?? Number.MAX_SAFE_INTEGER;
  const allowed = c.allowed;
  const reason = allowed === undefined ? `must be ${rangeText(c.min, max)}` : `must be ${allowed.join(' or ')}`;
  // Not a number at all: name the kind of number; out of range: give the range.
  const typeReason = allowed === undefined && c.min === 1 ? 'must be a positive integer' : reason;
  let schema: z.ZodType<number> = z.preprocess(toNumber, z.int({ error: typeReason }).min(c.min, { error: reason }).max(max, { error: reason }));
  if (allowed !== undefined) schema = schema.refine((n) => allowed.includes(n), { error: reason });
  const type = allowed !== undefined ? allowed.join('|') : max === Number.MAX_SAFE_INTEGER ? 'integer' : `integer ${c.min}..${max}`;
  return spec(c, 'integer', type, schema, String);
}

export function portField(c: Common<number>): FieldSpec<number> {
  return intField({ ...c, min: 1, max: 65535 });
}

// ---- durations -------------------------------------------------------------

export function durationField(c: Common<number> & { readonly minMs: number; readonly maxMs: number }): FieldSpec<number> {
  const syntax = 'must be a duration such as 250ms, 1s or 1m30s (a plain number means milliseconds)';
  const range = `must be from ${formatDuration(c.minMs)} to ${formatDuration(c.maxMs)}`;
  const schema = z
    .union([z.number(), z.string()], { error: syntax })
    .transform((v, ctx) => {
      const ms = typeof v === 'number' ? v : parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: syntax });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.int({ error: 'must be a whole number of milliseconds' }).min(c.minMs, { error: range }).max(c.maxMs, { error: range }));
  return spec(c, 'duration', 'duration', schema, formatDuration);
}

// ---- byte sizes ------------------------------------------------------------

export function bytesField(c: Common<number> & { readonly min: number; readonly max: number }): FieldSpec<number> {
  const range = `must be from ${formatByteSize(c.min)} to ${formatByteSize(c.max)}`;
  const schema = z
    .union([z.number(), z.string()], { error: 'must be a byte size such as 4096, 512KiB, 1.5MiB or 1GiB' })
    .transform((v, ctx) => {
      if (typeof v === 'number') return v;
      const r = parseByteSize(v);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.reason });
        return z.NEVER;
      }
      return r.bytes;
    })
    .pipe(z.int({ error: 'must be a whole number of bytes' }).min(c.min, { error: range }).max(c.max, { error: range }));
  return spec(c, 'bytes', 'bytes', schema, formatByteSize);
}

// ---- booleans --------------------------------------------------------------

// Exactly Go's strconv.ParseBool, so etcd-style env files keep working.
const truthy = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const falsy = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export function boolField(c: Common<boolean>): FieldSpec<boolean> {
  const schema = parsed<boolean>((raw) => {
    if (typeof raw === 'boolean') return { ok: true, value: raw };
    if (typeof raw === 'string' && truthy.has(raw.trim())) return { ok: true, value: true };
    if (typeof raw === 'string' && falsy.has(raw.trim())) return { ok: true, value: false };
    return { ok: false, reason: 'must be true or false' };
  });
  return spec(c, 'boolean', 'boolean', schema, String);
}

// ---- enums -----------------------------------------------------------------

export function enumField<const V extends readonly [string, ...string[]]>(c: Common<V[number]> & { readonly values: V }): FieldSpec<V[number]> {
  const reason = `must be one of ${c.values.join(', ')}`;
  const schema = z.enum(c.values, { error: reason }) as unknown as z.ZodType<V[number]>;
  return spec(c, 'enum', c.values.join('|'), schema, String);
}

// ---- URLs ------------------------------------------------------------------

function urlListSchema(listen: boolean, allowEmpty: boolean): z.ZodType<string[]> {
  return parsed<string[]>((raw) => {
    if (raw === null || raw === undefined) return allowEmpty ? { ok: true, value: [] } : { ok: false, reason: 'must list at least one URL' };
    if (typeof raw !== 'string' && !(Array.isArray(raw) && raw.every((u) => typeof u === 'string'))) {
      return { ok: false, reason: 'must be a comma-separated string or a list of URLs' };
    }
    const r = parseUrlList(raw as string | string[], { listen, allowEmpty });
    return r.ok ? { ok: true, value: r.urls } : r;
  });
}

/** URLs this process binds: IP or localhost hosts only. */
export function listenUrlsField(c: Common<string[]> & { readonly allowEmpty?: boolean }): FieldSpec<string[]> {
  return spec(c, 'listen-urls', 'urls', urlListSchema(true, c.allowEmpty ?? false), (v) => v.join(','));
}

/** URLs other processes connect to: any host name. */
export function urlsField(c: Common<string[]>): FieldSpec<string[]> {
  return spec(c, 'urls', 'urls', urlListSchema(false, false), (v) => v.join(','));
}

export function redisUrlField(c: Common<string | undefined>): FieldSpec<string | undefined> {
  const schema = parsed<string | undefined>((raw) => {
    if (raw === null || raw === undefined || raw === '') return { ok: true, value: undefined };
    if (typeof raw !== 'string') return { ok: false, reason: 'must be a redis:// URL' };
    const r = parseRedisUrl(raw);
    return r.ok ? { ok: true, value: r.url } : r;
  });
  return spec({ ...c, secret: true }, 'redis-url', 'redis-url', schema, (v) => v ?? '');
}

export function initialClusterField(c: Common<InitialMember[]>): FieldSpec<InitialMember[]> {
  const schema = parsed<InitialMember[]>((raw) => {
    const r = parseInitialCluster(raw);
    return r.ok ? { ok: true, value: r.members } : r;
  });
  return spec(c, 'initial-cluster', 'name=url,...', schema, formatInitialCluster);
}
