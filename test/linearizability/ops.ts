// The operations a fault test records against the etcd v2 keys API, one key
// each: their inputs (with builders), their outputs (with a reader for
// etcd's wire format), and how to print them. Plain GETs are not here: they
// are served from a member's local store and are not linearizable; only
// quorum=true GETs are checked.

/** prevValue / prevIndex of a compare; at least one is given (as etcd requires for a compare). */
export interface Compare {
  prevValue?: string;
  prevIndex?: number;
}

export type Input =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string }
  | { op: 'create'; key: string; value: string }
  | ({ op: 'cas'; key: string; value: string } & Compare)
  | { op: 'delete'; key: string }
  | ({ op: 'cad'; key: string } & Compare);

/**
 * A successful answer. Every field is optional: a field left out is not
 * checked (a recorder that does not know it must leave it out, never guess).
 */
export interface OkOutput {
  ok: true;
  /** get: the value read; set/create/cas: the value written (node.value). */
  value?: string;
  /** node.modifiedIndex: for a get the node's, for a write or delete the index it took. */
  modifiedIndex?: number;
  /** prevNode.value of a set/cas/delete/cad; null = the response had no prevNode. */
  prevValue?: string | null;
  /** prevNode.modifiedIndex of a set/cas/delete/cad. */
  prevModifiedIndex?: number;
  /** X-Etcd-Index of the response. */
  index?: number;
}

/** A definite etcd error: the operation did not apply. */
export interface ErrorOutput {
  ok: false;
  errorCode: number;
  /** The error body's `index` (etcd's index when the operation failed). */
  index?: number;
}

export type Output = OkOutput | ErrorOutput;

/**
 * The etcd errors that prove an operation of this model did not apply and
 * that the model can explain. Any other code (300 raft internal, 301 leader
 * election, 5xx, timeouts) is not an outcome: record the operation unknown.
 */
export const DEFINITE_ERROR_CODES: ReadonlySet<number> = new Set([100, 101, 105]);

function checkCompare(c: Compare): void {
  // etcd treats prevValue='' and prevIndex=0 as "not given": a compare with
  // neither is a plain set/delete, and would be modelled wrongly as a compare.
  if (c.prevValue === undefined && c.prevIndex === undefined) throw new Error('a compare needs prevValue or prevIndex');
  if (c.prevValue === '') throw new Error("prevValue '' means no compare to etcd");
  if (c.prevIndex !== undefined && !(Number.isSafeInteger(c.prevIndex) && c.prevIndex > 0)) {
    throw new Error(`prevIndex must be a positive integer, got ${c.prevIndex}`);
  }
}

function compareOf(c: Compare): Compare {
  checkCompare(c);
  const out: Compare = {};
  if (c.prevValue !== undefined) out.prevValue = c.prevValue;
  if (c.prevIndex !== undefined) out.prevIndex = c.prevIndex;
  return out;
}

/** Builders for the inputs, so a fault test reads like the requests it sends. */
export const v2 = {
  /** GET with quorum=true (plain GETs are served locally and are not linearizable). */
  get: (key: string): Input => ({ op: 'get', key }),
  set: (key: string, value: string): Input => ({ op: 'set', key, value }),
  /** PUT with prevExist=false. */
  create: (key: string, value: string): Input => ({ op: 'create', key, value }),
  cas: (key: string, value: string, c: Compare): Input => ({ op: 'cas', key, value, ...compareOf(c) }),
  delete: (key: string): Input => ({ op: 'delete', key }),
  cad: (key: string, c: Compare): Input => ({ op: 'cad', key, ...compareOf(c) }),
} as const;

function describeCompare(c: Compare): string {
  const parts: string[] = [];
  if (c.prevValue !== undefined) parts.push(`prevValue=${JSON.stringify(c.prevValue)}`);
  if (c.prevIndex !== undefined) parts.push(`prevIndex=${c.prevIndex}`);
  return parts.join(' ');
}

export function describeInput(i: Input): string {
  switch (i.op) {
    case 'get':
    case 'delete':
      return `${i.op}(${i.key})`;
    case 'set':
    case 'create':
      return `${i.op}(${i.key}, ${JSON.stringify(i.value)})`;
    case 'cas':
      return `cas(${i.key}, ${JSON.stringify(i.value)}, ${describeCompare(i)})`;
    case 'cad':
      return `cad(${i.key}, ${describeCompare(i)})`;
  }
}

export function describeOutput(o: Output | undefined): string {
  if (o === undefined) return 'unknown';
  if (!o.ok) return `error ${o.errorCode}${o.index === undefined ? '' : ` (index ${o.index})`}`;
  const parts = ['ok'];
  if (o.value !== undefined) parts.push(JSON.stringify(o.value));
  if (o.modifiedIndex !== undefined) parts.push(`@${o.modifiedIndex}`);
  if (o.prevValue !== undefined) parts.push(`prev=${o.prevValue === null ? 'none' : JSON.stringify(o.prevValue)}`);
  if (o.prevModifiedIndex !== undefined) parts.push(`prev@${o.prevModifiedIndex}`);
  if (o.index !== undefined) parts.push(`(index ${o.index})`);
  return parts.join(' ');
}
// ---- from etcd's wire format -------------------------------------------------

function isObject(v: unknown): v is { [k: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optNumber(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${what}: expected an integer, got ${JSON.stringify(v)}`);
  return v;
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The Output of one etcd v2 keys response: `body` is the parsed JSON (an
 * event `{action, node, prevNode?}` or an error `{errorCode, index}`),
 * `etcdIndex` the X-Etcd-Index header when there is one. Throws on a body
 * of neither shape, so a recorder never files garbage as an answer; the
 * caller decides whether an error code is definite (DEFINITE_ERROR_CODES).
 */
export function outputFromV2(body: unknown, etcdIndex?: string | number | null): Output {
  if (!isObject(body)) throw new Error(`not an etcd v2 keys response: ${JSON.stringify(body)}`);
  if (body['errorCode'] !== undefined) {
    const errorCode = optNumber(body['errorCode'], 'errorCode') as number;
    const index = optNumber(body['index'], 'error index');
    return index === undefined ? { ok: false, errorCode } : { ok: false, errorCode, index };
  }
  const node = body['node'];
  if (typeof body['action'] !== 'string' || !isObject(node)) throw new Error(`not an etcd v2 keys response: ${JSON.stringify(body)}`);
  const out: OkOutput = { ok: true };
  const value = optString(node['value'], 'node.value');
  if (value !== undefined) out.value = value;
  const mod = optNumber(node['modifiedIndex'], 'node.modifiedIndex');
  if (mod !== undefined) out.modifiedIndex = mod;
  if (body['action'] !== 'get') {
    const prev = body['prevNode'];
    if (prev === undefined) out.prevValue = null;
    else if (isObject(prev)) {
      const pv = optString(prev['value'], 'prevNode.value');
      if (pv !== undefined) out.prevValue = pv;
      const pm = optNumber(prev['modifiedIndex'], 'prevNode.modifiedIndex');
      if (pm !== undefined) out.prevModifiedIndex = pm;
    } else throw new Error(`prevNode: expected an object, got ${JSON.stringify(prev)}`);
  }
  if (etcdIndex !== undefined && etcdIndex !== null && etcdIndex !== '') {
    const x = typeof etcdIndex === 'number' ? etcdIndex : Number(etcdIndex);
    if (!Number.isSafeInteger(x)) throw new Error(`X-Etcd-Index: not an integer: ${etcdIndex}`);
    out.index = x;
  }
  return out;
}
