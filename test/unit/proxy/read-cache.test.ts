// The read cache: kept current only by upstream events, served only within
// the staleness bound, never answering below an index already answered,
// one upstream read per key for concurrent misses, bounded in bytes — and,
// checked against a reference store, never wrong.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Command, ReadOptions } from '../../../core-server/store/index.js';
import { V2Error, createStore } from '../../../core-server/store/index.js';
import { ReadCache } from '../../../proxy/cache/index.js';
import type { GetAnswer, Lookup } from '../../../proxy/cache/index.js';
import { UpstreamView } from '../../../proxy/watch/index.js';
import { getArb, syncArb, writeArb } from '../store/arbitraries.js';
import { NOW, del, post, put, req, sync } from '../store/helpers.js';
import { Upstream } from './helpers.js';

const FLAT: ReadOptions = { recursive: false, sorted: false };
const DEEP: ReadOptions = { recursive: true, sorted: true };
const ALL_OPTS: ReadOptions[] = [FLAT, DEEP, { recursive: true, sorted: false }, { recursive: false, sorted: true }];

/** What a client would see: the JSON of a node answer or the error body, with its index. */
function show(a: GetAnswer): string {
  return a instanceof V2Error ? `error ${a.toBody()}` : `${a.etcdIndex} ${JSON.stringify(a.node)}`;
}

class Harness {
  readonly up = new Upstream();
  readonly view = new UpstreamView();
  readonly cache: ReadCache;
  nowMs = NOW;

  constructor(cacheBytesMax = 1 << 20) {
    this.cache = new ReadCache(this.view, { cacheBytesMax });
  }

  write(cmd: Command): void {
    this.view.applyEvents(this.up.apply(cmd), this.nowMs);
  }

  /** Read through the cache as the proxy would: hit, or load from the store and keep. */
  read(path: string, opts: ReadOptions = FLAT): { hit: boolean; answer: GetAnswer } {
    const l = this.cache.lookup(path, opts, this.nowMs, Infinity);
    if (l.hit) return { hit: true, answer: l.answer };
    const answer = this.up.store.get(path, opts, this.nowMs);
    this.cache.store(path, opts, answer, this.nowMs);
    this.cache.noteAnswered(answer instanceof V2Error ? answer.index : answer.etcdIndex);
    return { hit: false, answer };
  }

  lookup(path: string, opts: ReadOptions = FLAT, maxStaleMs = Infinity): Lookup {
    return this.cache.lookup(path, opts, this.nowMs, maxStaleMs);
  }

  /** Every cached answer among these reads equals a fresh read of the store. */
  expectConsistent(paths: readonly string[]): void {
    for (const p of paths) {
      for (const o of ALL_OPTS) {
        const l = this.cache.peek(p, o, this.nowMs);
        if (l !== null) {
          expect(l.index).toBe(this.up.store.index);
          expect(show(l.answer), `${p} ${JSON.stringify(o)}`).toBe(show(this.up.store.get(p, o, this.nowMs)));
        }
      }
    }
  }
}

const PATHS = ['/', '/d', '/d/k', '/d/e', '/d/e/f', '/d/_h', '/d/_h/x', '/dd', '/other', '/d/k/below'];

function warmed(setup: Command[]): Harness {
  const h = new Harness();
  for (const c of setup) h.write(c);
  for (const p of PATHS) for (const o of [FLAT, DEEP]) h.read(p, o);
  return h;
}

describe('hits and misses', () => {
  test('a miss, then a hit stamped with the view’s index and its age', () => {
    const h = new Harness();
    h.write(put('/k', 'v'));
    expect(h.read('/k').hit).toBe(false);
    h.write(put('/other', 'x'));
    h.nowMs += 250;
    const l = h.lookup('/k');
    expect(l.hit && l.index).toBe(2);
    expect(l.hit && l.ageMs).toBe(250);
    expect(l.hit && show(l.answer)).toBe(show(h.up.store.get('/k', FLAT, h.nowMs)));
    expect(h.cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
  });

  test('not-found and not-a-directory answers are cached too, and invalidated by the key’s creation', () => {
    const h = new Harness();
    h.write(put('/f', 'file'));
    expect(h.read('/missing').answer).toBeInstanceOf(V2Error);
    expect(h.read('/f/under').answer).toBeInstanceOf(V2Error);
    expect(h.read('/missing').hit).toBe(true);
    expect(h.read('/f/under').hit).toBe(true);
    h.write(put('/missing/deeper', '1'));
    h.write(del('/f'));
    expect(h.lookup('/missing').hit).toBe(false);
    expect(h.lookup('/f/under').hit).toBe(false);
    h.expectConsistent(['/missing', '/f/under']);
  });

  test('ttl is rendered at serve time, as a member renders it', () => {
    const h = new Harness();
    h.write(put('/t', 'v', { expireAtMs: NOW + 10_000 }));
    h.write(put('/d/t', 'v', { expireAtMs: NOW + 20_000 }));
    h.read('/t');
    h.read('/d', DEEP);
    for (const dt of [1, 2500, 9001, 10_000, 11_500]) {
      h.nowMs = NOW + dt;
      h.expectConsistent(['/t', '/d']);
      expect(h.lookup('/t').hit).toBe(true);
    }
  });
});

test('a deadline past year 9999 is served through but not cached (its ttl could not be re-rendered)', () => {
  const h = new Harness();
  h.write(put('/far', 'v', { expireAtMs: Date.UTC(12000, 0, 1) }));
  expect(h.read('/far').hit).toBe(false);
  expect(h.read('/far').hit).toBe(false);
  h.write(put('/near', 'v', { expireAtMs: NOW + 60_000 }));
  h.read('/near');
  h.write(put('/near', 'w', { expireAtMs: Date.UTC(12000, 0, 1) })); // in-place update refused too
  expect(h.lookup('/near').hit).toBe(false);
});

describe('invalidation by upstream events, for every action', () => {
  const base = [put('/d/k', '1'), put('/d/e/f', '2'), put('/d/_h/x', '3'), put('/dd', '4'), put('/other', '5')];

  test.each<[string, Command[], string[], string[]]>([
    // [what, commands, paths that must still hit, paths that must miss]
    ['set on a key updates it in place', [put('/d/k', 'new')], ['/d/k', '/other', '/dd', '/d/e/f'], ['/d', '/']],
    ['create', [put('/d/n', 'x', { prevExist: false })], ['/d/k', '/other'], ['/d', '/']],
    ['create in order', [post('/d/e', 'x')], ['/d/k', '/other', '/d/e/f'], ['/d/e', '/d', '/']],
    ['update', [put('/d/k', 'u', { prevExist: true })], ['/d/k', '/other'], ['/d', '/']],
    ['compareAndSwap', [put('/d/k', 'c', { prevValue: '1' })], ['/d/k', '/other'], ['/d', '/']],
    ['delete of a key', [del('/d/k')], ['/other', '/d/e/f'], ['/d/k', '/d/k/below', '/d', '/']],
    ['compareAndDelete', [del('/d/k', { prevValue: '1' })], ['/other'], ['/d/k', '/d', '/']],
    ['recursive delete of a directory', [del('/d', { recursive: true })], ['/other', '/dd'], ['/d', '/d/k', '/d/e', '/d/e/f', '/d/_h/x', '/']],
    ['a hidden key', [put('/d/_h/x', 'h2')], ['/d/_h/x', '/d/k', '/other'], ['/d/_h', '/d', '/']],
    ['a TTL refresh', [put('/d/k', '', { refresh: true, prevExist: true, expireAtMs: NOW + 60_000 })], ['/other'], ['/d']],
    ['a directory made with a TTL', [put('/d/e', '', { dir: true, prevExist: true, expireAtMs: NOW + 5_000 })], ['/d/k', '/d/e/f'], ['/d/e', '/d']],
  ])('%s', (_what, cmds, hits, misses) => {
    const h = warmed(base);
    for (const c of cmds) h.write(c);
    for (const p of hits) expect(h.lookup(p).hit, `${p} should still be cached`).toBe(true);
    for (const p of misses) expect(h.lookup(p).hit, `${p} should be dropped`).toBe(false);
    h.expectConsistent(PATHS);
  });

  test('expiry of a key and of a directory', () => {
    const h = warmed([...base, put('/d/e', '', { dir: true, prevExist: true, expireAtMs: NOW + 1_000 }), put('/d/k', 'v', { expireAtMs: NOW + 2_000 })]);
    h.nowMs = NOW + 1_500;
    h.write(sync(h.nowMs));
    expect(h.lookup('/d/e/f').hit).toBe(false);
    expect(h.lookup('/d/k').hit).toBe(true);
    h.expectConsistent(PATHS);
    h.nowMs = NOW + 2_500;
    h.write(sync(h.nowMs));
    expect(h.lookup('/d/k').hit).toBe(false);
    h.expectConsistent(PATHS);
  });

  test('local writes alone change nothing: only the event does', () => {
    const h = warmed(base);
    h.up.apply(put('/d/k', 'not yet seen')); // applied on the core, event still in flight
    const l = h.lookup('/d/k');
    expect(l.hit && show(l.answer)).toContain('"value":"1"');
    expect(h.cache.stats().invalidations + h.cache.stats().updates).toBe(0);
  });

  test('a resync drops everything', () => {
    const h = warmed(base);
    expect(h.cache.stats().entries).toBeGreaterThan(10);
    h.view.resync(100, h.nowMs);
    expect(h.cache.stats().entries).toBe(0);
    expect(h.lookup('/other').hit).toBe(false);
  });
});

describe('the staleness bound', () => {
  test('served while staleness ≤ bound; progress renews it; past the bound it misses', () => {
    const h = new Harness();
    h.write(put('/k', 'v'));
    h.read('/k');
    h.nowMs += 1000;
    expect(h.lookup('/k', FLAT, 1000).hit).toBe(true);
    h.nowMs += 1;
    expect(h.lookup('/k', FLAT, 1000)).toEqual({ hit: false, reason: 'stale', wantIndex: 0 });
    expect(h.cache.staleness(h.nowMs)).toBe(1001);
    h.view.applyProgress(1, h.nowMs);
    h.nowMs += 100;
    const l = h.lookup('/k', FLAT, 1000);
    expect(l.hit && l.ageMs).toBe(100);
    expect(h.lookup('/k', FLAT, 99).hit).toBe(false);
    expect(h.cache.stats().missesStale).toBe(2);
  });

  test('before the view was ever current, only an answer just read through may be served', () => {
    const view = new UpstreamView();
    const cache = new ReadCache(view, { cacheBytesMax: 1 << 16 });
    const s = createStore();
    cache.store('/k', FLAT, s.get('/k', FLAT, NOW), NOW);
    expect(cache.lookup('/k', FLAT, NOW + 500, 1000).hit).toBe(true);
    expect(cache.lookup('/k', FLAT, NOW + 1500, 1000).hit).toBe(false);
  });
});

describe('monotonic reads and loads', () => {
  test('a loaded answer older than the view is not kept', () => {
    const h = new Harness();
    h.write(put('/k', '1'));
    const old = h.up.store.get('/k', FLAT, h.nowMs);
    h.write(put('/k', '2'));
    expect(h.cache.store('/k', FLAT, old, h.nowMs)).toBe(false);
    expect(h.lookup('/k').hit).toBe(false);
    expect(h.cache.stats().storesRefused).toBe(1);
  });

  test('an answer ahead of the view is kept, and not dropped by the events it already reflects', () => {
    const h = new Harness();
    const first = h.up.apply(put('/k', '1'));
    const second = h.up.apply(put('/k', '2'));
    expect(h.cache.store('/k', FLAT, h.up.store.get('/k', FLAT, h.nowMs), h.nowMs)).toBe(true);
    h.view.applyEvents(first, h.nowMs);
    let l = h.lookup('/k');
    expect(l.hit && l.index).toBe(2);
    h.view.applyEvents(second, h.nowMs);
    l = h.lookup('/k');
    expect(l.hit && show(l.answer)).toContain('"value":"2"');
  });

  test('never answers below an index already answered, or written through this proxy', () => {
    const h = new Harness();
    h.write(put('/a', '1'));
    h.read('/a');
    const writeEvents = h.up.apply(put('/a', '2')); // a write through this proxy answered index 2
    h.cache.noteAnswered(2);
    expect(h.lookup('/a')).toEqual({ hit: false, reason: 'behind', wantIndex: 2 });
    h.view.applyEvents(writeEvents, h.nowMs);
    const l = h.lookup('/a');
    expect(l.hit && show(l.answer)).toContain('"value":"2"');
    expect(h.cache.answeredIndexMax).toBe(2);
  });

  test('a read-through from a lagging member is "behind" and must wait or be re-read', async () => {
    const h = new Harness();
    const lagging = createStore();
    h.write(put('/a', '1'));
    h.write(put('/b', '1'));
    h.read('/b'); // answered at 2
    const r = await h.cache.getOrLoad('/a', FLAT, h.nowMs, () => Promise.resolve(lagging.get('/a', FLAT, h.nowMs)));
    expect(r.kind).toBe('behind');
    expect(r.kind === 'behind' && r.wantIndex).toBe(2);
  });

  test('concurrent misses on one key make one upstream read', async () => {
    const h = new Harness();
    h.write(put('/hot', 'v'));
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const loader = async (): Promise<GetAnswer> => {
      calls++;
      await gate;
      return h.up.store.get('/hot', FLAT, h.nowMs);
    };
    const all = Array.from({ length: 100 }, () => h.cache.getOrLoad('/hot', FLAT, h.nowMs, loader));
    const other = h.cache.getOrLoad('/hot', DEEP, h.nowMs, loader); // another cache key: its own read
    release();
    const results = await Promise.all([...all, other]);
    expect(calls).toBe(2);
    for (const r of results) expect(r.kind === 'answer' && show(r.answer)).toContain('"value":"v"');
    expect(results[0]?.kind === 'answer' && results[0].stored).toBe(true);
    expect(h.cache.stats()).toMatchObject({ loads: 2, loadsShared: 99 });
    // The next miss after the read finished makes a new one.
    h.cache.clear();
    await h.cache.getOrLoad('/hot', FLAT, h.nowMs, loader);
    expect(calls).toBe(3);
  });

  test('a failed read reaches every waiter and is not remembered', async () => {
    const h = new Harness();
    let calls = 0;
    const failing = (): Promise<GetAnswer> => {
      calls++;
      return Promise.reject(new Error('RG_ERR_UPSTREAM_UNREACHABLE'));
    };
    const both = [h.cache.getOrLoad('/k', FLAT, h.nowMs, failing), h.cache.getOrLoad('/k', FLAT, h.nowMs, failing)];
    for (const p of both) await expect(p).rejects.toThrow('UNREACHABLE');
    await expect(h.cache.getOrLoad('/k', FLAT, h.nowMs, failing)).rejects.toThrow();
    expect(calls).toBe(2);
  });
});

describe('the byte bound', () => {
  test('evicts least recently used entries to stay within cacheBytesMax, and counts them', () => {
    const h = new Harness(4096);
    for (let i = 0; i < 40; i++) h.write(put(`/k${i}`, 'x'.repeat(100)));
    for (let i = 0; i < 40; i++) {
      h.read('/k0'); // kept hot
      h.read(`/k${i}`);
    }
    const st = h.cache.stats();
    expect(st.bytes).toBeLessThanOrEqual(4096);
    expect(st.evictions).toBeGreaterThan(0);
    expect(st.entries).toBeLessThan(40);
    expect(h.lookup('/k0').hit).toBe(true);
    expect(h.lookup('/k1').hit).toBe(false);
    // Evicted entries left the path index: events on them are harmless.
    for (let i = 0; i < 40; i++) h.write(put(`/k${i}`, 'y'));
    h.expectConsistent(Array.from({ length: 40 }, (_, i) => `/k${i}`));
  });

  test('an answer larger than the entry bound is served but not kept', () => {
    const h = new Harness(4096);
    h.write(put('/big', 'x'.repeat(2000)));
    expect(h.read('/big').hit).toBe(false);
    expect(h.read('/big').hit).toBe(false);
    expect(h.cache.stats().storesRefused).toBe(2);
  });
});

describe('property: every cached answer equals a fresh read of a reference store', () => {
  const readPaths = ['/', '/a', '/a/b', '/a/b/c', '/a/_h', '/b', '/_x', '/_x/y', '/c', '/c/d', '/a/b/c/d', '/nope'];

  test('after any sequence of writes, expiries, refreshes and reads', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: writeArb, weight: 5 }, { arbitrary: syncArb, weight: 1 }, { arbitrary: getArb, weight: 4 }), { maxLength: 80 }),
        fc.integer({ min: 0, max: 25_000 }),
        (ops, readAt) => {
          const h = new Harness(1 << 20);
          for (const op of ops) {
            if (op.kind === 'cmd') {
              if (op.cmd.op === 'sync') h.nowMs = op.cmd.nowMs;
              h.write(op.cmd);
            } else {
              h.read(op.path, { recursive: op.recursive, sorted: op.sorted });
            }
            h.expectConsistent(readPaths);
          }
          h.nowMs = NOW + readAt; // ttl re-rendered at any later time
          h.expectConsistent(readPaths);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('property: answers read through from members ahead of or behind the view', () => {
  const readPaths = ['/', '/a', '/a/b', '/a/b/c', '/a/_h', '/b', '/_x/y', '/c', '/c/d', '/nope'];
  const stepArb = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('cmd' as const), op: fc.oneof({ arbitrary: writeArb, weight: 5 }, { arbitrary: syncArb, weight: 1 }) }), weight: 5 },
    { arbitrary: fc.record({ kind: fc.constant('deliver' as const), batches: fc.nat(4) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('read' as const), get: getArb, lag: fc.constantFrom(0, 0, 1, 3) }), weight: 6 },
  );

  test('every hit equals the member’s answer at the index it is stamped with; nothing older than the view is kept', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 70 }), (steps) => {
        const up = new Upstream();
        const view = new UpstreamView();
        const cache = new ReadCache(view, { cacheBytesMax: 1 << 20 });
        const nowMs = NOW + 500;
        // The member's state after each command, to read "as of" any index.
        const images = new Map<number, unknown>([[0, up.store.snapshot()]]);
        const indexes = [0];
        const pending: ReturnType<Upstream['apply']>[] = [];
        const stores = new Map<number, ReturnType<typeof createStore>>();
        const at = (index: number): ReturnType<typeof createStore> => {
          let s = stores.get(index);
          if (s === undefined) {
            s = createStore();
            s.restore(images.get(index));
            stores.set(index, s);
          }
          return s;
        };
        for (const st of steps) {
          if (st.kind === 'cmd') {
            if (st.op.kind !== 'cmd') continue;
            const evs = up.apply(st.op.cmd);
            if (evs.length === 0) continue;
            pending.push(evs);
            images.set(up.store.index, up.store.snapshot());
            indexes.push(up.store.index);
          } else if (st.kind === 'deliver') {
            for (const evs of pending.splice(0, st.batches)) view.applyEvents(evs, nowMs);
          } else {
            if (st.get.kind !== 'get') continue;
            const { path, recursive, sorted } = st.get;
            const opts = { recursive, sorted };
            const idx = indexes[Math.max(0, indexes.length - 1 - st.lag)] as number;
            const answer = at(idx).get(path, opts, nowMs);
            const kept = cache.store(path, opts, answer, nowMs);
            if (idx < view.index) expect(kept).toBe(false);
          }
          for (const p of readPaths) {
            for (const o of ALL_OPTS) {
              const l = cache.peek(p, o, nowMs);
              if (l === null) continue;
              expect(images.has(l.index), `hit stamped ${l.index} between commands`).toBe(true);
              expect(show(l.answer), `${p} ${JSON.stringify(o)} at ${l.index}`).toBe(show(at(l.index).get(p, o, nowMs)));
            }
          }
        }
      }),
      { numRuns: 250 },
    );
  });
});

test('req helper sanity (the arbitraries build real requests)', () => {
  expect(req('PUT', '/x').method).toBe('PUT');
});

test('paths are cleaned as a member cleans them: one entry per key however it is spelled', () => {
  const h = new Harness();
  h.write(put('/a/b', 'v'));
  h.read('/a/b/');
  expect(h.lookup('/a//b').hit).toBe(true);
  h.write(put('/a/b', 'w'));
  const l = h.lookup('/a/./b');
  expect(l.hit && show(l.answer)).toContain('"value":"w"');
});
