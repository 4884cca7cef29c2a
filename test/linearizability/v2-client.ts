// One recorded v2 operation over HTTP, for fault tests: stamp the call, send
// the request, and file the answer the way the checker needs it. Only an
// event or an error that proves the op did not apply (100, 101, 105) is an
// answer; anything else (other codes, 5xx, a reset, a timeout) leaves the op
// unknown, which is always safe.

import { http } from '../helpers/http.js';
import type { HttpRequest } from '../helpers/http.js';
import type { ClientId, History } from './history.js';
import { DEFINITE_ERROR_CODES, outputFromV2 } from './ops.js';
import type { Compare, Input, Output } from './ops.js';

/** The etcd v2 request for an input (keys are sent as given: use plain ones like /lin/k1). */
export function v2Request(input: Input): HttpRequest {
  const path = `/v2/keys${input.key}`;
  const compare = (c: Compare): [string, string][] => {
    const pairs: [string, string][] = [];
    if (c.prevValue !== undefined) pairs.push(['prevValue', c.prevValue]);
    if (c.prevIndex !== undefined) pairs.push(['prevIndex', String(c.prevIndex)]);
    return pairs;
  };
  switch (input.op) {
    case 'get':
      return { method: 'GET', path, query: [['quorum', 'true']] };
    case 'set':
      return { method: 'PUT', path, form: [['value', input.value]] };
    case 'create':
      return { method: 'PUT', path, form: [['value', input.value], ['prevExist', 'false']] };
    case 'cas':
      return { method: 'PUT', path, form: [['value', input.value], ...compare(input)] };
    case 'delete':
      return { method: 'DELETE', path };
    case 'cad':
      return { method: 'DELETE', path, query: compare(input) };
  }
}

export interface SendOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Send `input` to `baseUrl` and record it in `h` for `client`. Resolves with
 * the output, or undefined when the op stays unknown; never rejects for a
 * network or server failure (that is what unknown is for).
 */
export async function sendV2(h: History, client: ClientId, baseUrl: string, input: Input, opts: SendOptions = {}): Promise<Output | undefined> {
  const req: HttpRequest = { ...v2Request(input), ...opts };
  const op = h.invoke(client, input);
  let output: Output | undefined;
  try {
    const res = await http(baseUrl, req);
    const parsed = res.json === undefined ? undefined : outputFromV2(res.json, res.headers['x-etcd-index']);
    if (parsed !== undefined && (parsed.ok ? res.status < 300 : DEFINITE_ERROR_CODES.has(parsed.errorCode))) output = parsed;
  } catch {
    output = undefined; // reset, timeout, abort, or a body that is not an etcd answer
  }
  if (output === undefined) op.unknown();
  else op.ok(output);
  return output;
}
