// Builders for store commands, so tests read like the HTTP requests they stand for.

import type { Command, KeyStore, StoreEvent, WriteRequest } from '../../../core-server/store/index.js';
import { V2Error } from '../../../core-server/store/index.js';

/** A fixed "now" for tests: 2026-01-02T03:04:05.000Z. */
export const NOW = 1_767_323_045_000;

export function req(method: WriteRequest['method'], path: string, over: Partial<WriteRequest> = {}): WriteRequest {
  return {
    method,
    path,
    value: '',
    dir: false,
    prevExist: null,
    prevValue: '',
    prevIndex: 0,
    recursive: false,
    refresh: false,
    expireAtMs: null,
    nowMs: NOW,
    ...over,
  };
}

export function put(path: string, value: string, over: Partial<WriteRequest> = {}): Command {
  return { op: 'write', req: req('PUT', path, { value, ...over }) };
}

export function post(path: string, value: string, over: Partial<WriteRequest> = {}): Command {
  return { op: 'write', req: req('POST', path, { value, ...over }) };
}

export function del(path: string, over: Partial<WriteRequest> = {}): Command {
  return { op: 'write', req: req('DELETE', path, over) };
}

export function sync(nowMs: number): Command {
  return { op: 'sync', nowMs };
}

/** Apply and require success. */
export function ok(s: KeyStore, cmd: Command): StoreEvent {
  const r = s.apply(cmd);
  if (r === null || r instanceof V2Error) throw new Error(`expected success, got ${r === null ? 'null' : r.toBody()}`);
  return r;
}

/** Apply and require a v2 error. */
export function fails(s: KeyStore, cmd: Command): V2Error {
  const r = s.apply(cmd);
  if (!(r instanceof V2Error)) throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r;
}

/** What etcd would put on the wire for an event: {action, node, prevNode}. */
export function wire(e: StoreEvent): string {
  return JSON.stringify({ action: e.action, node: e.node, prevNode: e.prevNode });
}
