// The proxy's read cache: GET answers (a node, or a 100/104 error) by
// path + recursive + sorted, bounded in bytes (lru-cache), kept current ONLY
// by the upstream event stream — never by the proxy's own writes, which may
// not have been applied in the order the proxy sent them.
//
// Invariant: every entry is exactly the answer a member would give at the
// view's index (or at the entry's own index, when a read-through brought an
// answer newer than the view). Each event at key k (refreshes included: they
// change a TTL) updates or drops every entry it could change: k itself, every
// ancestor's listing, a "not found" whose missing path k creates, and for a
// delete or expiry everything beneath k (see onEvent and path-index.ts). A
// loaded answer older than the view is not stored: the events between its
// index and the view's have already gone by and could not have invalidated it.
// A fast-check property holds every cached answer to a reference store's.
//
// Time bound: an entry is served only while its age — now minus the last
// time it was known current — is within the request's bound; that is the
// view's staleness, or less for an entry loaded since.
//
// Monotonic reads: the cache remembers the highest index it has answered
// (or a write through this proxy returned: noteAnswered) and never answers
// below it; a caller told 'behind' waits for the view (view.whenIndex) or
// reads again. Concurrent misses on one key share one upstream read.
//
// ttl is re-rendered at serve time from the stored expiration, so a cached
// answer shows the ttl a member would show now. Served nodes without a TTL
// are the stored (frozen) objects: callers must not mutate them.

import { LRUCache } from 'lru-cache';
import { eventIndex } from '../../core-server/store/event-history.js';
import { cleanPath } from '../../core-server/store/key-path.js';
import { ttlSeconds } from '../../core-server/store/time-format.js';
import type { NodeJSON, ReadOptions, StoreEvent } from '../../core-server/store/types.js';
import { Ecode, V2Error } from '../../core-server/store/v2-error.js';
import { isGapEvent } from '../watch/gap-event.js';
import type { UpstreamView } from '../watch/upstream-view.js';
import { PathIndex } from './path-index.js';

/** What a member's GET answers: the node, or an error. */
export type GetAnswer = StoreEvent | V2Error;

/**
 * A loaded answer known current as of `currentAtMs`, when that is earlier
 * than the load's start (an answer from the shared L2 cache is only as
 * current as the view that vouched for it).
 */
export interface LoadedAnswer {
  answer: GetAnswer;
  currentAtMs: number;
}

function isLoaded(x: GetAnswer | LoadedAnswer): x is LoadedAnswer {
  return !(x instanceof V2Error) && 'answer' in x && 'currentAtMs' in x;
}

export interface ReadCacheOptions {
  /** Total bytes of cached answers (approximate: their JSON length plus a fixed overhead). */
  cacheBytesMax: number;
  /** The largest single answer kept; defaults to a quarter of cacheBytesMax. */
  entryBytesMax?: number;
}

export type MissReason = 'absent' | 'stale' | 'behind';

export type Lookup =
  | { hit: true; answer: GetAnswer; index: number; ageMs: number }
  | { hit: false; reason: MissReason; /** For 'behind': the index an answer must reach. */ wantIndex: number };

export type LoadOutcome =
  /** The answer to send; `stored` says whether the cache kept it. */
  | { kind: 'answer'; answer: GetAnswer; index: number; stored: boolean }
  /** The upstream answered below an index this proxy already answered: wait for the view to reach wantIndex, or read again. */
  | { kind: 'behind'; answer: GetAnswer; index: number; wantIndex: number };

export interface ReadCacheStats {
  hits: number;
  misses: number;
  missesStale: number;
  missesBehind: number;
  evictions: number;
  /** Entries dropped or rewritten by upstream events. */
  invalidations: number;
  updates: number;
  /** Loaded answers not kept: older than the view, too large, or not cacheable. */
  storesRefused: number;
  loads: number;
  /** Misses that joined a read already in flight instead of making their own. */
  loadsShared: number;
  bytes: number;
  entries: number;
}

interface Entry {
  /** The GET's path. */
  path: string;
  /**
   * Where the path index files it: the path itself, except for a "key not
   * found" answer, filed under the first missing path (its cause), because
   * an event anywhere under that path (creating it) changes the answer.
   */
  indexPath: string;
  /** The index the answer reflects. */
  index: number;
  /** When the answer was known current (a read-through's start). */
  currentAtMs: number;
  node: NodeJSON | null;
  /** Whether any node in it has an expiration (so ttl must be re-rendered). */
  timed: boolean;
  errorCode: typeof Ecode.KeyNotFound | typeof Ecode.NotDir | null;
  cause: string;
  bytes: number;
}

/** Per-entry bookkeeping beyond the JSON text. */
const ENTRY_OVERHEAD_BYTES = 128;

/** The cache key of a GET: its flags, then its clean path. */
export function cacheKey(path: string, opts: ReadOptions): string {
  return (opts.recursive ? 'r' : '-') + (opts.sorted ? 's' : '-') + cleanPath(path);
}

/** The first missing path a 100 names, when it is `path` or above it as it should be; else the root (every event). */
function missingPrefix(path: string, cause: string): string {
  if (cause === path || cause === '/' || path.startsWith(cause + '/')) return cause;
  return '/';
}

function answerIndex(a: GetAnswer): number {
  return a instanceof V2Error ? a.index : a.etcdIndex;
}

/**
 * Freeze a node tree (entries are shared by every hit) and say whether it
 * holds expirations: 'timed' (ttl re-rendered per hit), 'plain', or
 * 'unparseable' (a deadline past year 9999, which Date.parse cannot read
 * back: such an answer is not cached rather than served with a wrong ttl).
 */
function freezeNode(n: NodeJSON): 'plain' | 'timed' | 'unparseable' {
  let kind: 'plain' | 'timed' | 'unparseable' = 'plain';
  if (n.expiration !== undefined) kind = Number.isFinite(Date.parse(n.expiration)) ? 'timed' : 'unparseable';
  if (n.nodes !== undefined) {
    for (const c of n.nodes) {
      const k = freezeNode(c);
      if (k === 'unparseable' || (k === 'timed' && kind === 'plain')) kind = k;
    }
  }
  Object.freeze(n.nodes);
  Object.freeze(n);
  return kind;
}

/** The node with its ttl (and its children's) as a member would render it at nowMs; etcd's field order. */
export function renderTtl(n: NodeJSON, nowMs: number): NodeJSON {
  const out: NodeJSON = {};
  if (n.key !== undefined) out.key = n.key;
  if (n.value !== undefined) out.value = n.value;
  if (n.dir === true) out.dir = true;
  if (n.expiration !== undefined) {
    out.expiration = n.expiration;
    const ttl = ttlSeconds(Date.parse(n.expiration), nowMs);
    if (ttl !== 0) out.ttl = ttl;
  }
  if (n.nodes !== undefined) out.nodes = n.nodes.map((c) => renderTtl(c, nowMs));
  if (n.modifiedIndex !== undefined) out.modifiedIndex = n.modifiedIndex;
  if (n.createdIndex !== undefined) out.createdIndex = n.createdIndex;
  return out;
}

export class ReadCache {
  private readonly view: UpstreamView;
  private readonly lru: LRUCache<string, Entry>;
  private readonly paths = new PathIndex();
  private readonly inflight = new Map<string, Promise<{ answer: GetAnswer; stored: boolean }>>();
  private readonly entryBytesMax: number;
  private answeredMax = 0;
  private readonly unsubscribe: () => void;
  private counts = {
    hits: 0,
    misses: 0,
    missesStale: 0,
    missesBehind: 0,
    evictions: 0,
    invalidations: 0,
    updates: 0,
    storesRefused: 0,
    loads: 0,
    loadsShared: 0,
  };

  constructor(view: UpstreamView, opts: ReadCacheOptions) {
    if (!Number.isInteger(opts.cacheBytesMax) || opts.cacheBytesMax < 1) throw new Error('RG_ERR_PROXY_CONFIG: cacheBytesMax must be a positive integer');
    this.view = view;
    this.entryBytesMax = opts.entryBytesMax ?? Math.max(1, Math.floor(opts.cacheBytesMax / 4));
    this.lru = new LRUCache<string, Entry>({
      maxSize: opts.cacheBytesMax,
      maxEntrySize: opts.cacheBytesMax,
      sizeCalculation: (e) => e.bytes,
      dispose: (e, key, reason) => {
        if (reason === 'evict') this.counts.evictions++;
        this.paths.remove(e.indexPath, key);
      },
    });
    this.unsubscribe = view.subscribe({
      onEvent: (e) => this.onEvent(e),
      onResync: () => this.clear(),
    });
  }

  /** The highest index this proxy has answered (reads and writes). */
  get answeredIndexMax(): number {
    return this.answeredMax;
  }

  /** Record an index answered to a client (a write through this proxy): no later read may answer below it. */
  noteAnswered(index: number): void {
    if (index > this.answeredMax) this.answeredMax = index;
  }

  /** The proxy's staleness: time since its view was last known current. */
  staleness(nowMs: number): number {
    return this.view.staleness(nowMs);
  }

  /**
   * A cached answer, if there is one within maxStaleMs and at or above every
   * index already answered. A hit counts as answered.
   */
  lookup(path: string, opts: ReadOptions, nowMs: number, maxStaleMs: number): Lookup {
    const e = this.lru.get(cacheKey(path, opts));
    if (e === undefined) return this.miss('absent', 0);
    const ageMs = Math.max(0, nowMs - Math.max(this.view.lastCurrentAtMs, e.currentAtMs));
    if (!(ageMs <= maxStaleMs)) return this.miss('stale', 0);
    const index = Math.max(this.view.index, e.index);
    if (index < this.answeredMax) return this.miss('behind', this.answeredMax);
    this.answeredMax = index;
    this.counts.hits++;
    return { hit: true, answer: this.render(e, index, nowMs), index, ageMs };
  }

  /**
   * The answer an entry holds, as lookup would render it, ignoring the
   * staleness bound and answered indexes; counts nothing, answers nothing
   * (for diagnostics and tests).
   */
  peek(path: string, opts: ReadOptions, nowMs: number): { answer: GetAnswer; index: number } | null {
    const e = this.lru.peek(cacheKey(path, opts));
    if (e === undefined) return null;
    const index = Math.max(this.view.index, e.index);
    return { answer: this.render(e, index, nowMs), index };
  }

  /**
   * Keep an answer read from upstream (a member's GET), current as of
   * `currentAtMs` (when the read was sent). Refused when older than the
   * view or than the entry already held, too large, or not a cacheable
   * answer (only nodes and 100/104 errors are: others say nothing about
   * the keyspace).
   */
  store(path0: string, opts: ReadOptions, answer: GetAnswer, currentAtMs: number): boolean {
    const path = cleanPath(path0);
    const index = answerIndex(answer);
    const key = cacheKey(path, opts);
    const held = this.lru.peek(key);
    if (index < this.view.index || (held !== undefined && index < held.index)) return this.refuse();
    let entry: Entry;
    if (answer instanceof V2Error) {
      if (answer.errorCode !== Ecode.KeyNotFound && answer.errorCode !== Ecode.NotDir) return this.refuse();
      const bytes = ENTRY_OVERHEAD_BYTES + key.length + answer.cause.length;
      const indexPath = answer.errorCode === Ecode.KeyNotFound ? missingPrefix(path, answer.cause) : path;
      entry = { path, indexPath, index, currentAtMs, node: null, timed: false, errorCode: answer.errorCode, cause: answer.cause, bytes };
    } else {
      if (answer.action !== 'get') return this.refuse();
      const bytes = ENTRY_OVERHEAD_BYTES + key.length + JSON.stringify(answer.node).length;
      entry = { path, indexPath: path, index, currentAtMs, node: answer.node, timed: false, errorCode: null, cause: '', bytes };
    }
    if (entry.bytes > this.entryBytesMax) return this.refuse();
    if (entry.node !== null) {
      const kind = freezeNode(entry.node);
      if (kind === 'unparseable') return this.refuse();
      entry.timed = kind === 'timed';
    }
    this.put(key, entry);
    return true;
  }

  /**
   * Read through: one upstream read per key however many callers miss at
   * once. The answer is stored when it may be; each caller then gets it,
   * unless it lies below an index already answered ('behind').
   */
  async getOrLoad(path: string, opts: ReadOptions, nowMs: number, loader: () => Promise<GetAnswer | LoadedAnswer>): Promise<LoadOutcome> {
    const key = cacheKey(path, opts);
    let p = this.inflight.get(key);
    if (p === undefined) {
      this.counts.loads++;
      const shared = loader().then((got) => {
        const answer = isLoaded(got) ? got.answer : got;
        const at = isLoaded(got) ? Math.min(nowMs, got.currentAtMs) : nowMs;
        return { answer, stored: this.store(path, opts, answer, at) };
      });
      p = shared;
      const done = (): void => {
        if (this.inflight.get(key) === shared) this.inflight.delete(key);
      };
      shared.then(done, done);
      this.inflight.set(key, shared);
    } else {
      this.counts.loadsShared++;
    }
    const { answer, stored } = await p;
    const index = answerIndex(answer);
    if (index < this.answeredMax) return { kind: 'behind', answer, index, wantIndex: this.answeredMax };
    this.answeredMax = index;
    return { kind: 'answer', answer, index, stored };
  }

  /** Drop everything (a resync: the view can no longer vouch for any entry). */
  clear(): void {
    this.lru.clear();
    this.paths.clear();
  }

  stats(): ReadCacheStats {
    return { ...this.counts, bytes: this.lru.calculatedSize, entries: this.lru.size };
  }

  /** Stop listening to the view. */
  close(): void {
    this.unsubscribe();
    this.clear();
  }

  // ---- upstream events ------------------------------------------------------

  private onEvent(ev: StoreEvent): void {
    if (isGapEvent(ev)) {
      // Some key's TTL moved and the upstream does not say which (etcd v2).
      this.counts.invalidations += this.lru.size;
      this.clear();
      return;
    }
    const k = ev.node.key ?? '/';
    const idx = eventIndex(ev);
    // Only a delete or an expiry (a directory's, or a key's with "not a
    // directory" answers cached beneath it) changes answers filed beneath k:
    // a write that creates k was filed at k or above by the "not found"
    // answers it changes; a directory's TTL update changes nothing inside.
    const a = ev.action;
    const beneath = a === 'delete' || a === 'expire' || a === 'compareAndDelete';
    for (const key of this.paths.affectedBy(k, beneath)) {
      const e = this.lru.peek(key);
      if (e === undefined || e.index >= idx) continue; // it already reflects this event
      const node = e.path === k ? this.replacement(ev) : null;
      if (node !== null) {
        const bytes = ENTRY_OVERHEAD_BYTES + key.length + JSON.stringify(node).length;
        const kind = freezeNode(node);
        if (bytes <= this.entryBytesMax && kind !== 'unparseable') {
          const timed = kind === 'timed';
          this.put(key, { path: k, indexPath: k, index: idx, currentAtMs: e.currentAtMs, node, timed, errorCode: null, cause: '', bytes });
          this.counts.updates++;
          continue;
        }
      }
      this.counts.invalidations++;
      this.lru.delete(key);
    }
  }

  /**
   * The GET answer for the event's key after it, when the event alone
   * tells: a key (not a directory) that was set, created, updated, swapped
   * or refreshed has exactly the event's node.
   */
  private replacement(ev: StoreEvent): NodeJSON | null {
    if (ev.node.dir === true) return null;
    switch (ev.action) {
      case 'set':
      case 'create':
      case 'update':
      case 'compareAndSwap':
        return { ...ev.node };
      default:
        return null;
    }
  }

  // ---- helpers --------------------------------------------------------------

  private put(key: string, e: Entry): void {
    this.lru.set(key, e);
    if (this.lru.peek(key) === e) this.paths.add(e.indexPath, key);
  }

  private render(e: Entry, index: number, nowMs: number): GetAnswer {
    if (e.errorCode !== null) return new V2Error(e.errorCode, e.cause, index);
    const node = e.node as NodeJSON;
    return { action: 'get', node: e.timed ? renderTtl(node, nowMs) : node, etcdIndex: index };
  }

  private miss(reason: MissReason, wantIndex: number): Lookup {
    this.counts.misses++;
    if (reason === 'stale') this.counts.missesStale++;
    if (reason === 'behind') this.counts.missesBehind++;
    return { hit: false, reason, wantIndex };
  }

  private refuse(): false {
    this.counts.storesRefused++;
    return false;
  }
}
