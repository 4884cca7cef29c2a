// The pure etcd v2 keyspace: etcd 3.4's v2store (store.go, node.go) and the
// way its v2 applier (apply_v2.go) turns a logged request into a store call.
//
// Everything is deterministic: time arrives as data (the request's nowMs and
// expireAtMs, the sync command's nowMs, get's nowMs), children keep insertion
// order and same-deadline keys expire in path order, so every member applying
// the same log holds the same state and answers the same bytes.
//
// Index rule: each successful write and each expired key bumps the index by
// one and records exactly one event (a refresh too, though watchers never see
// it); failures change nothing but the stats.

import { EventHistory } from './event-history.js';
import { checkKeyLength, cleanPath, joinPath, splitPath } from './key-path.js';
import { eventNode, renderForGet, reprNode } from './render.js';
import { decodeImage, encodeImage } from './snapshot-image.js';
import { reconcileWatchers, startWatch } from './watch-start.js';
import type { Counter, Counters } from './store-stats.js';
import { withWatchers, zeroCounters } from './store-stats.js';
import { PERMANENT, TreeNode } from './tree-node.js';
import { TtlHeap } from './ttl-heap.js';
import type {
  Command,
  KeyStore,
  NodeJSON,
  ReadOptions,
  StoreEvent,
  StoreStats,
  WatchOptions,
  Watcher,
  WriteRequest,
} from './types.js';
import { Ecode, V2Error } from './v2-error.js';
import { AllWatcher, WatcherHub } from './watcher-hub.js';

export interface StoreOptions {
  /** Events kept for watches that start in the past (etcd: 1000). */
  historyMax?: number;
  /** Events queued per watcher before it is closed as overflowed (etcd: 100). */
  watcherQueueMax?: number;
}

/** etcd treats deadlines before 2000-01-01 as "no TTL" on create/set (store.go minExpireTime). */
const MIN_EXPIRE_MS = 946_684_800_000;

/** Visited once per removed node; the store uses it to notify watchers and drop TTLs. */
type RemoveVisitor = (n: TreeNode) => void;

export class V2Store implements KeyStore {
  private root: TreeNode;
  private currentIndex = 0;
  private readonly ttl = new TtlHeap();
  private readonly history: EventHistory;
  private readonly hub: WatcherHub;
  private counters: Counters = zeroCounters();

  constructor(opts: StoreOptions = {}) {
    this.root = newRoot();
    this.history = new EventHistory(opts.historyMax ?? 1000);
    this.hub = new WatcherHub(opts.watcherQueueMax ?? 100);
  }

  get index(): number {
    return this.currentIndex;
  }

  apply(cmd: Command): StoreEvent | V2Error | null {
    try {
      if (cmd.op === 'sync') {
        this.deleteExpired(cmd.nowMs);
        return null;
      }
      return this.write(cmd.req);
    } finally {
      this.hub.flushWakes();
    }
  }

  nextDeadlineMs(): number | null {
    const top = this.ttl.top();
    return top === null ? null : top.expireAtMs;
  }

  get(path: string, opts: ReadOptions, nowMs: number): StoreEvent | V2Error {
    const p = cleanPath(path);
    const tooLong = checkKeyLength(p, this.currentIndex);
    const n = tooLong ?? this.lookup(p);
    if (n instanceof V2Error) {
      this.count('getsFail');
      return n;
    }
    this.count('getsSuccess');
    return {
      action: 'get',
      node: renderForGet(n, opts.recursive, opts.sorted, nowMs),
      etcdIndex: this.currentIndex,
    };
  }

  /**
   * A watch that starts in the history may already hold its event(s) when
   * this returns (etcd answers it at once): the caller sets onWake and then
   * calls take() once before waiting.
   */
  watch(path: string, opts: WatchOptions): Watcher | V2Error {
    try {
      return this.startWatch(path, opts);
    } finally {
      // Nothing to wake yet (the caller sets onWake after this returns and
      // must take() once): just forget the wake-ups queued by history hits.
      this.hub.flushWakes();
    }
  }

  private startWatch(path: string, opts: WatchOptions): Watcher | V2Error {
    return startWatch(this.hub, this.history, this.currentIndex, path, opts);
  }

  /**
   * Every event from sinceIndex on (0 = from the next one), whatever its key,
   * refreshes included: the native protocol's upstream watch. A start older
   * than the history is etcd's 401, as for watch().
   */
  watchAll(sinceIndex: number): Watcher | V2Error {
    const storeIndex = this.currentIndex;
    const since = sinceIndex === 0 ? storeIndex + 1 : sinceIndex;
    const h = this.history;
    if (since <= storeIndex && (h.size === 0 || since < h.startIndex)) {
      return h.size === 0
        ? new V2Error(Ecode.EventIndexCleared, `the requested history has been cleared [${storeIndex + 1}/${since}]`, storeIndex)
        : h.clearedError(since, storeIndex);
    }
    const w = new AllWatcher(this.hub, h, since, storeIndex);
    this.hub.registerAll(w);
    return w;
  }

  countFailedGet(): void {
    this.count('getsFail');
  }

  stats(): StoreStats {
    return withWatchers(this.counters, this.hub.count);
  }

  snapshot(): unknown {
    return encodeImage(this.root, this.currentIndex, this.history.toArray(), this.counters);
  }

  restore(image: unknown): void {
    const img = decodeImage(image); // throws before touching state when malformed
    // Build the whole tree aside first: a bad image leaves this store untouched.
    const root = newRoot();
    const timed: TreeNode[] = [];
    let lastDir = root; // pre-order: a node's parent is usually the last directory seen
    for (const rec of img.nodes) {
      const { dir, name } = splitPath(rec.path);
      const parent = lastDir.path === dir ? lastDir : lookupFrom(root, dir, 0);
      if (parent instanceof V2Error || parent.children === null || parent.children.has(name)) {
        throw new Error(`RG_ERR_SNAPSHOT_INVALID: node ${rec.path} is a duplicate or comes before its parent directory`);
      }
      const n = new TreeNode(rec.path, parent, rec.createdIndex, rec.expireAtMs, rec.value ?? '', rec.value === null);
      n.modifiedIndex = rec.modifiedIndex;
      parent.children.set(name, n);
      if (n.children !== null) lastDir = n;
      if (!n.isPermanent()) timed.push(n);
    }
    const oldIndex = this.currentIndex;
    this.ttl.clear();
    this.root = root;
    for (const n of timed) this.ttl.push(n);
    this.currentIndex = img.index;
    this.history.clear();
    const events = img.history.slice(Math.max(0, img.history.length - this.history.capacity));
    for (const e of events) this.history.add(e);
    this.counters = { ...img.counters };
    try {
      this.reconcileWatchers(oldIndex);
      this.hub.reconcileAll(this.history, oldIndex, this.currentIndex);
    } finally {
      this.hub.flushWakes();
    }
  }

  // ---- writes -------------------------------------------------------------

  private write(req: WriteRequest): StoreEvent | V2Error {
    const path = cleanPath(req.path);
    const tooLong = checkKeyLength(path, this.currentIndex);
    if (tooLong !== null) return tooLong;
    const hasCompare = req.prevIndex > 0 || req.prevValue !== '';
    switch (req.method) {
      case 'DELETE':
        return hasCompare ? this.compareAndDelete(path, req) : this.delete(path, req.dir, req.recursive, req.nowMs);
      case 'POST':
        return this.create(path, req, true, false, 'create');
      case 'PUT':
        if (req.prevExist === true) return hasCompare ? this.compareAndSwap(path, req) : this.update(path, req);
        if (req.prevExist === false) return this.create(path, req, false, false, 'create');
        if (hasCompare) return this.compareAndSwap(path, req);
        return this.set(path, req);
    }
  }

  private set(path: string, req: WriteRequest): StoreEvent | V2Error {
    const prev = this.lookup(path);
    if (prev instanceof V2Error && prev.errorCode !== Ecode.KeyNotFound) return this.fail('setsFail', prev);
    if (req.refresh && prev instanceof V2Error) return this.fail('setsFail', prev);
    const value = req.refresh && !(prev instanceof V2Error) ? prev.value : req.value;
    return this.create(path, { ...req, value }, false, true, 'set');
  }

  /**
   * etcd's internalCreate, for Create (replace=false) and Set (replace=true).
   * Intermediate directories are created as needed, with the new index.
   */
  private create(
    path0: string,
    req: WriteRequest,
    unique: boolean,
    replace: boolean,
    action: 'create' | 'set',
  ): StoreEvent | V2Error {
    const okCounter: Counter = action === 'set' ? 'setsSuccess' : 'createSuccess';
    const failCounter: Counter = action === 'set' ? 'setsFail' : 'createFail';
    const curr = this.currentIndex;
    const next = curr + 1;
    let path = path0;
    if (unique) path = joinPath(path, String(next).padStart(20, '0'));
    if (path === '/') return this.fail(failCounter, new V2Error(Ecode.RootROnly, '/', curr));
    const tooLong = checkKeyLength(path, curr);
    if (tooLong !== null) return this.fail(failCounter, tooLong);
    let expireAtMs = req.expireAtMs ?? PERMANENT;
    if (expireAtMs < MIN_EXPIRE_MS) expireAtMs = PERMANENT;

    const { dir: dirPath, name } = splitPath(path);
    const d = this.walkCreatingDirs(dirPath, next);
    if (d instanceof V2Error) {
      this.count('setsFail'); // etcd's internalCreate counts this itself, whatever the action
      return this.fail(failCounter, d);
    }
    const children = d.children as Map<string, TreeNode>;
    let prevNode: NodeJSON | undefined;
    const existing = children.get(name);
    if (existing !== undefined) {
      if (!replace) return this.fail(failCounter, new V2Error(Ecode.NodeExist, path, curr));
      if (existing.children !== null) return this.fail(failCounter, new V2Error(Ecode.NotFile, path, curr));
      prevNode = reprNode(existing, req.nowMs);
      children.delete(name);
      this.ttl.remove(existing);
    }
    const n = new TreeNode(path, d, next, expireAtMs, req.dir ? '' : req.value, req.dir);
    children.set(name, n);
    if (!n.isPermanent()) this.ttl.push(n);
    this.currentIndex = next;
    const e: StoreEvent = { action, node: reprNode(n, req.nowMs), etcdIndex: next };
    if (prevNode !== undefined) e.prevNode = prevNode;
    this.count(okCounter);
    this.record(e, req.refresh && action === 'set');
    return e;
  }

  private update(path: string, req: WriteRequest): StoreEvent | V2Error {
    const curr = this.currentIndex;
    const next = curr + 1;
    // etcd returns these two errors without marking the operation failed.
    if (path === '/') return this.fail('updateSuccess', new V2Error(Ecode.RootROnly, '/', curr));
    const n = this.lookup(path);
    if (n instanceof V2Error) return this.fail('updateFail', n);
    const isDir = n.children !== null;
    if (isDir && req.value !== '') return this.fail('updateSuccess', new V2Error(Ecode.NotFile, path, curr));
    const value = req.refresh ? n.value : req.value;
    const prevNode = reprNode(n, req.nowMs);
    // etcd 3.4 writes value and modifiedIndex of a key only; a directory's
    // stored modifiedIndex stays (verified: GET after a dir update shows the old one).
    if (!isDir) {
      n.value = value;
      n.modifiedIndex = next;
    }
    this.updateTtl(n, req.expireAtMs ?? PERMANENT);
    this.currentIndex = next;
    const e: StoreEvent = {
      action: 'update',
      node: eventNode(path, isDir ? null : value, isDir, n, req.nowMs, next, n.createdIndex),
      prevNode,
      etcdIndex: next,
    };
    this.count('updateSuccess');
    this.record(e, req.refresh);
    return e;
  }

  private compareAndSwap(path: string, req: WriteRequest): StoreEvent | V2Error {
    const curr = this.currentIndex;
    if (path === '/') return this.fail('compareAndSwapSuccess', new V2Error(Ecode.RootROnly, '/', curr));
    const n = this.lookup(path);
    if (n instanceof V2Error) return this.fail('compareAndSwapFail', n);
    if (n.children !== null) return this.fail('compareAndSwapFail', new V2Error(Ecode.NotFile, path, curr));
    const cause = compareFailure(n, req.prevValue, req.prevIndex);
    if (cause !== null) return this.fail('compareAndSwapFail', new V2Error(Ecode.TestFailed, cause, curr));
    const value = req.refresh ? n.value : req.value;
    const next = curr + 1;
    const prevNode = reprNode(n, req.nowMs);
    n.value = value;
    n.modifiedIndex = next;
    this.updateTtl(n, req.expireAtMs ?? PERMANENT);
    this.currentIndex = next;
    const e: StoreEvent = {
      action: 'compareAndSwap',
      node: eventNode(path, value, false, n, req.nowMs, next, n.createdIndex),
      prevNode,
      etcdIndex: next,
    };
    this.count('compareAndSwapSuccess');
    this.record(e, req.refresh);
    return e;
  }

  private delete(path: string, dir0: boolean, recursive: boolean, nowMs: number): StoreEvent | V2Error {
    const curr = this.currentIndex;
    if (path === '/') return this.fail('deleteSuccess', new V2Error(Ecode.RootROnly, '/', curr));
    const dir = dir0 || recursive; // recursive implies dir
    const n = this.lookup(path);
    if (n instanceof V2Error) return this.fail('deleteFail', n);
    if (n.children !== null) {
      if (!dir) return this.fail('deleteFail', new V2Error(Ecode.NotFile, path, curr));
      if (n.children.size !== 0 && !recursive) return this.fail('deleteFail', new V2Error(Ecode.DirNotEmpty, path, curr));
    }
    const next = curr + 1;
    const e: StoreEvent = {
      action: 'delete',
      node: eventNode(path, null, n.children !== null, null, nowMs, next, n.createdIndex),
      prevNode: reprNode(n, nowMs),
      etcdIndex: next,
    };
    this.removeSubtree(n, e);
    this.currentIndex = next;
    this.count('deleteSuccess');
    this.record(e, false);
    return e;
  }

  private compareAndDelete(path: string, req: WriteRequest): StoreEvent | V2Error {
    const curr = this.currentIndex;
    const n = this.lookup(path);
    if (n instanceof V2Error) return this.fail('compareAndDeleteFail', n);
    // etcd counts both of these as successes (see store-stats.ts).
    if (n.children !== null) return this.fail('compareAndDeleteSuccess', new V2Error(Ecode.NotFile, path, curr));
    const cause = compareFailure(n, req.prevValue, req.prevIndex);
    if (cause !== null) return this.fail('compareAndDeleteSuccess', new V2Error(Ecode.TestFailed, cause, curr));
    const next = curr + 1;
    const e: StoreEvent = {
      action: 'compareAndDelete',
      node: eventNode(path, null, false, null, req.nowMs, next, n.createdIndex),
      prevNode: reprNode(n, req.nowMs),
      etcdIndex: next,
    };
    this.removeSubtree(n, e);
    this.currentIndex = next;
    this.count('compareAndDeleteSuccess');
    this.record(e, false);
    return e;
  }

  /** etcd's DeleteExpiredKeys: every node whose deadline is ≤ nowMs, earliest first. */
  private deleteExpired(nowMs: number): void {
    for (;;) {
      const n = this.ttl.top();
      if (n === null || n.expireAtMs > nowMs) return;
      const next = this.currentIndex + 1;
      this.currentIndex = next;
      const e: StoreEvent = {
        action: 'expire',
        node: eventNode(n.path, null, n.children !== null, null, nowMs, next, n.createdIndex),
        prevNode: reprNode(n, nowMs),
        etcdIndex: next,
      };
      this.ttl.remove(n);
      this.removeSubtree(n, e);
      this.count('expireCount');
      this.record(e, false);
    }
  }

  // ---- helpers ------------------------------------------------------------

  /** Record an event in the history, and tell watchers unless it is a refresh (watchers of all events hear it too). */
  private record(e: StoreEvent, refresh: boolean): void {
    if (refresh) e.refresh = true;
    this.history.add(e);
    if (!refresh) this.hub.notify(e);
    this.hub.notifyAll(this.history, this.currentIndex);
  }

  private count(c: Counter): void {
    this.counters[c]++;
  }

  private fail(c: Counter, err: V2Error): V2Error {
    this.count(c);
    return err;
  }

  /** etcd's internalGet: 104 through a key, 100 for a missing segment. */
  private lookup(path: string): TreeNode | V2Error {
    return lookupFrom(this.root, path, this.currentIndex);
  }

  /** etcd's walk with checkDir: the directory at dirPath, creating missing ones with createdIndex. */
  private walkCreatingDirs(dirPath: string, createdIndex: number): TreeNode | V2Error {
    let n = this.root;
    if (dirPath === '/') return n;
    let start = 1;
    while (start <= dirPath.length) {
      let end = dirPath.indexOf('/', start);
      if (end === -1) end = dirPath.length;
      const name = dirPath.slice(start, end);
      const children = n.children as Map<string, TreeNode>;
      const child = children.get(name);
      if (child === undefined) {
        const d = new TreeNode(joinPath(n.path, name), n, createdIndex, PERMANENT, '', true);
        children.set(name, d);
        n = d;
      } else if (child.children === null) {
        return new V2Error(Ecode.NotDir, child.path, this.currentIndex);
      } else {
        n = child;
      }
      start = end + 1;
    }
    return n;
  }

  /** etcd's node.UpdateTTL. */
  private updateTtl(n: TreeNode, expireAtMs: number): void {
    n.expireAtMs = expireAtMs;
    if (expireAtMs === PERMANENT) this.ttl.remove(n);
    else this.ttl.update(n);
  }

  /**
   * Remove a node and everything under it (etcd's node.Remove with
   * dir=recursive=true, its preconditions checked by the caller): drop TTLs
   * and offer the event to watchers at every removed path. Iterative
   * post-order, so depth cannot exhaust the stack.
   */
  private removeSubtree(top: TreeNode, e: StoreEvent): void {
    const visit: RemoveVisitor = (n) => {
      if (!n.isPermanent()) this.ttl.remove(n);
      this.hub.notifyAt(e, n.path, true);
    };
    if (top.children !== null && top.children.size > 0) {
      const stack: { n: TreeNode; it: Iterator<TreeNode> }[] = [{ n: top, it: top.children.values() }];
      while (stack.length > 0) {
        const frame = stack[stack.length - 1] as { n: TreeNode; it: Iterator<TreeNode> };
        const step = frame.it.next();
        if (step.done === true) {
          stack.pop();
          if (frame.n !== top) {
            frame.n.parent = null;
            visit(frame.n);
          }
          continue;
        }
        const child = step.value;
        if (child.children !== null && child.children.size > 0) {
          stack.push({ n: child, it: child.children.values() });
        } else {
          child.parent = null;
          visit(child);
        }
      }
    }
    const parent = top.parent;
    if (parent !== null && parent.children !== null && parent.children.get(top.name()) === top) {
      parent.children.delete(top.name());
    }
    top.parent = null;
    visit(top);
  }

  /** After a restore: no registered watcher may wait while events it wanted pass it by (see watch-start.ts). */
  private reconcileWatchers(oldIndex: number): void {
    reconcileWatchers(this.hub, this.history, oldIndex, this.currentIndex);
  }
}

function newRoot(): TreeNode {
  return new TreeNode('/', null, 0, PERMANENT, '', true);
}

/** Walk from `root` to `path` without allocating per segment; errors carry `index`. */
function lookupFrom(root: TreeNode, path: string, index: number): TreeNode | V2Error {
  let n = root;
  if (path === '/') return n;
  let start = 1;
  while (start <= path.length) {
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    if (n.children === null) return new V2Error(Ecode.NotDir, n.path, index);
    const name = path.slice(start, end);
    const child = n.children.get(name);
    if (child === undefined) return new V2Error(Ecode.KeyNotFound, joinPath(n.path, name), index);
    n = child;
    start = end + 1;
  }
  return n;
}

/** etcd's getCompareFailCause, or null when the compare passes. */
function compareFailure(n: TreeNode, prevValue: string, prevIndex: number): string | null {
  const indexMatch = prevIndex === 0 || n.modifiedIndex === prevIndex;
  const valueMatch = prevValue === '' || n.value === prevValue;
  if (indexMatch && valueMatch) return null;
  if (indexMatch) return `[${prevValue} != ${n.value}]`;
  if (valueMatch) return `[${prevIndex} != ${n.modifiedIndex}]`;
  return `[${prevValue} != ${n.value}] [${prevIndex} != ${n.modifiedIndex}]`;
}
