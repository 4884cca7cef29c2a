// Rendering v2 answers as etcd writes them (v2http writeKeyEvent,
// writeKeyError, v2error.Error.WriteTo): the status, the X-Etcd-* headers
// and the JSON bytes, including the newline Go's json.Encoder appends.
// PURE (but for a cache of rendered bytes), so the proxy renders from its
// cache with the same bytes.

import type { NodeJSON, StoreEvent } from '../store/types.js';
import type { V2Error } from '../store/v2-error.js';
import { goJson } from './go-json.js';

/**
 * Go canonicalises header names, so etcd sends "X-Etcd-Cluster-Id" (not
 * "-ID"); we send the same bytes.
 */
export const H_CLUSTER_ID = 'X-Etcd-Cluster-Id';
export const H_ETCD_INDEX = 'X-Etcd-Index';
export const H_RAFT_INDEX = 'X-Raft-Index';
export const H_RAFT_TERM = 'X-Raft-Term';
export const JSON_TYPE = 'application/json';

/**
 * etcd's CORS wrapper adds these to every answer (its default --cors is "*"),
 * and answers OPTIONS on any path with an empty 200.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
};

/** Event.IsCreated: 201 for a create, and for a set that replaced nothing. */
export function eventStatus(ev: StoreEvent): number {
  if (ev.action === 'create') return 201;
  return ev.action === 'set' && ev.prevNode === undefined ? 201 : 200;
}

/**
 * The event's JSON line. etcdIndex and refresh are not part of etcd's JSON
 * (json:"-"); with noValueOnSuccess a successful set/create/update/CAS
 * answers only its action.
 */
export function eventBody(ev: StoreEvent, noValueOnSuccess = false): string {
  const a = ev.action;
  if (noValueOnSuccess && (a === 'set' || a === 'compareAndSwap' || a === 'create' || a === 'update')) {
    return '{"action":"' + a + '"}\n';
  }
  let s = '{"action":"' + a + '","node":' + goJson(ev.node);
  if (ev.prevNode !== undefined) s += ',"prevNode":' + goJson(ev.prevNode);
  return s + '}\n';
}

/**
 * The event's JSON line as bytes, rendered once per event object: one event
 * wakes every watcher that matches it, and a cached answer is the same
 * object on every hit, so thousands of answers cost one render and encode.
 */
const rendered = new WeakMap<StoreEvent, Buffer>();
/** A get's body depends only on its node (etcdIndex is a header): cached per node, which a cache hands out again and again. */
const renderedGets = new WeakMap<NodeJSON, Buffer>();

export function renderedEvent(ev: StoreEvent): Buffer {
  const byNode = ev.action === 'get' && ev.prevNode === undefined;
  let b = byNode ? renderedGets.get(ev.node) : rendered.get(ev);
  if (b === undefined) {
    b = Buffer.from(eventBody(ev));
    if (byNode) renderedGets.set(ev.node, b);
    else rendered.set(ev, b);
  }
  return b;
}

/** Error.toJsonString + "\n", with Go's escaping (a key in the cause may hold '<' or '&'). */
export function errorBody(e: V2Error): string {
  return goJson(e.toJSON()) + '\n';
}
