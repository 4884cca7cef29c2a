// Load shedding answers: immediate, explicit, in etcd's error shape.
//
// Status: 429 when the client itself is over its share (per-client caps: it
// should slow down; others are being served), 503 when the proxy as a whole
// is full (global caps: any client may retry, here or at another proxy),
// both with Retry-After. An oversized body is 413 without Retry-After:
// sending it again cannot succeed.
//
// Error code: etcd's v2 catalogue has no "overloaded" code. We use 300
// (RaftInternal) with etcd's own message, because the 300s are the family
// etcd uses for "the server could not serve this now; nothing was applied"
// (300 Raft Internal Error, 301 During Leader Election), which v2 clients
// already treat as transient server trouble. Any 100-code would assert a
// fact about the key and any 200-code would blame the request's parameters,
// both false here. The message stays the table's so bodies keep etcd's
// exact shape; `cause` names the limit that refused.

import { Ecode, V2Error } from '../../core-server/store/v2-error.js';

export type LimitReason =
  | 'connections'
  | 'connections_per_client'
  | 'inflight'
  | 'inflight_per_client'
  | 'watchers'
  | 'watchers_per_client'
  | 'body_bytes';

export const LIMIT_REASONS: readonly LimitReason[] = [
  'connections',
  'connections_per_client',
  'inflight',
  'inflight_per_client',
  'watchers',
  'watchers_per_client',
  'body_bytes',
];

export interface Refusal {
  status: 413 | 429 | 503;
  headers: Record<string, string>;
  /** etcd's error JSON, newline-terminated. */
  body: string;
  error: V2Error;
}

/** Whether a limit is one client's share (429) rather than the proxy's capacity (503). */
export function isPerClient(reason: LimitReason): boolean {
  return reason.endsWith('_per_client');
}

/**
 * The answer for a refused request. `index` is the proxy's current view
 * index (the error's index and X-Etcd-Index, as etcd stamps its errors).
 */
export function refusal(reason: LimitReason, index: number, retryAfterS = 1): Refusal {
  const error = new V2Error(Ecode.RaftInternal, reason, index);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Etcd-Index': String(index) };
  let status: Refusal['status'];
  if (reason === 'body_bytes') status = 413;
  else {
    status = isPerClient(reason) ? 429 : 503;
    headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterS)));
  }
  return { status, headers, body: error.toBody(), error };
}
