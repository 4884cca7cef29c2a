// GET /raftgate/v1/status on a proxy (answered in app.ts): what `raftgate
// status` shows for it, as JSON, at the path where a member answers its own
// (core-server/api/ops-routes.ts, `kind: 'core'`). An operator GET like
// /metrics: answered in readonly mode too, never shed by a limit. This type
// is the contract with cli/status.ts, which imports it.

import type { UpstreamMember } from './upstream/types.js';

export interface ProxyStatus {
  kind: 'proxy';
  mode: 'readonly' | 'readwrite';
  /** Since the view was last known current; null before it ever was. */
  stalenessMs: number | null;
  /** --max-staleness (the default bound; a request may move it up to the ceiling). */
  maxStalenessMs: number;
  viewIndex: number;
  /** Client watches open on this proxy. */
  watchers: number;
  /** 0 or 1, however many client watches. */
  upstreamWatchStreams: number;
  upstreamMembersUp: number;
  /** raftgate_proxy_cache_hits_total and _misses_total. */
  cacheHits: number;
  cacheMisses: number;
  cacheEntries: number;
  cacheBytes: number;
  /** raftgate_proxy_upstream_watch_lag_events: how many indexes the view is behind what members have said. */
  upstreamLagEvents: number;
  /** The members as this proxy sees them: health, and which one it believes leads. */
  members: UpstreamMember[];
}
