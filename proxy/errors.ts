// The proxy's operating errors: stable codes with the facts, never bare
// strings. What a CLIENT sees is always etcd's error JSON (code 300 with a
// stable `cause`, see limits/refusal.ts for why 300); these codes are what the
// proxy's logs, metrics and callers branch on.

export type ProxyErrorCode =
  /** No member could be reached within the upstream timeout; nothing was applied. */
  | 'RG_ERR_PROXY_UPSTREAM_UNAVAILABLE'
  /** A write reached a member and the connection died before its answer: it may or may not have been applied. */
  | 'RG_ERR_PROXY_WRITE_OUTCOME_UNKNOWN'
  /** A member answered something that is neither an etcd answer nor an etcd error. */
  | 'RG_ERR_PROXY_UPSTREAM_BAD_ANSWER'
  /** The endpoints belong to different clusters, or to no Raftgate/etcd cluster at all. */
  | 'RG_ERR_PROXY_UPSTREAM_MISMATCH'
  | 'RG_ERR_PROXY_CONFIG';

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  /** For upstream failures: whether the request may have reached a member. */
  readonly sent: boolean;
  readonly facts: Readonly<Record<string, unknown>>;

  constructor(code: ProxyErrorCode, message: string, opts: { sent?: boolean; facts?: Record<string, unknown> } = {}) {
    super(`${code}: ${message}`);
    this.name = 'ProxyError';
    this.code = code;
    this.sent = opts.sent ?? false;
    this.facts = opts.facts ?? {};
  }
}

export function isProxyError(e: unknown, code?: ProxyErrorCode): e is ProxyError {
  return e instanceof ProxyError && (code === undefined || e.code === code);
}

/**
 * The `cause` a client reads in the etcd-style error body for each failure,
 * as stable as the codes: dashboards and client retry logic may match them.
 */
export const CLIENT_CAUSE = {
  unreachable: 'upstream_unreachable',
  behind: 'upstream_behind',
  outcomeUnknown: 'upstream_outcome_unknown',
  badAnswer: 'upstream_bad_answer',
} as const;
