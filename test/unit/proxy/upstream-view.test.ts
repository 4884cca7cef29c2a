// The proxy's upstream view: events from the one upstream stream feed a ring
// and a watcher hub with etcd's watch semantics; progress keeps it current;
// a resync answers every watcher that may have missed an event with 401;
// a slow watcher is closed alone.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Command, StoreEvent } from '../../../core-server/store/index.js';
import { createStore, Ecode, V2Error } from '../../../core-server/store/index.js';
import { UpstreamView, checkWatchOrder } from '../../../proxy/watch/index.js';
import { syncArb, writeArb } from '../store/arbitraries.js';
import { NOW, del, put } from '../store/helpers.js';
import { Client, Upstream } from './helpers.js';

const T0 = 1_000_000;

function fed(cmds: Command[], opts: { historyMax?: number; watcherQueueMax?: number } = {}): { up: Upstream; view: UpstreamView } {
  const up = new Upstream();
  const view = new UpstreamView(opts);
  for (const c of cmds) view.applyEvents(up.apply(c), T0);
  return { up, view };
}

describe('index and currency', () => {
  test('events and progress make the view current; a lagging progress does not', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    expect(view.index).toBe(0);
    expect(view.staleness(T0)).toBe(Infinity);
    view.applyEvents(up.apply(put('/a', '1')), T0);
    expect(view.index).toBe(1);
    expect(view.lastCurrentAtMs).toBe(T0);
    view.applyProgress(1, T0 + 100);
    expect(view.staleness(T0 + 350)).toBe(250);
    view.applyProgress(0, T0 + 500); // a member behind this view proves nothing
    expect(view.lastCurrentAtMs).toBe(T0 + 100);
    expect(view.stats().progressBehind).toBe(1);
    view.applyEvents([], T0 + 600); // an empty batch is not news
    expect(view.lastCurrentAtMs).toBe(T0 + 100);
  });

  test('a resumed stream that repeats events is de-duplicated', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    const e1 = up.apply(put('/a', '1'));
    const e2 = up.apply(put('/a', '2'));
    const c = new Client(view, '/a', { recursive: false, stream: true, sinceIndex: 0 });
    view.applyEvents(e1, T0);
    view.applyEvents([...e1, ...e2], T0);
    expect(c.received.map((e) => e.node.value)).toEqual(['1', '2']);
    expect(view.stats().eventsDuplicate).toBe(1);
  });

  test('whenIndex resolves once the view reaches the index, or with what it has when aborted', async () => {
    const up = new Upstream();
    const view = new UpstreamView();
    const reached = view.whenIndex(2);
    const ac = new AbortController();
    const given = view.whenIndex(5, ac.signal);
    view.applyEvents(up.apply(put('/a', '1')), T0);
    view.applyEvents(up.apply(put('/a', '2')), T0);
    await expect(reached).resolves.toBe(2);
    ac.abort();
    await expect(given).resolves.toBe(2);
    await expect(view.whenIndex(1)).resolves.toBe(2);
  });
});

describe('watch semantics are the store’s', () => {
  const cmds = [put('/a', '1'), put('/d/x', '2'), put('/d/_h', '3'), put('/a', '4'), del('/d', { recursive: true }), put('/z', '5')];

  test.each([
    ['/a', false, 1],
    ['/a', false, 3],
    ['/d', true, 1],
    ['/d/x', false, 3],
    ['/', true, 1],
    ['/d/_h', false, 0],
    ['/z', true, 5],
  ] as const)('watch %s recursive=%s from waitIndex %s answers as a member does', (key, recursive, since) => {
    const { up, view } = fed(cmds);
    for (const stream of [false, true]) {
      const opts = { recursive, stream, sinceIndex: since };
      const mine = view.watch(key, opts);
      const theirs = up.store.watch(key, opts);
      expect(mine).not.toBeInstanceOf(V2Error);
      expect(theirs).not.toBeInstanceOf(V2Error);
      if (mine instanceof V2Error || theirs instanceof V2Error) return;
      expect(mine.startIndex).toBe(theirs.startIndex);
      expect(mine.take()).toEqual(theirs.take());
      // ...and live
      const more = up.apply(put(key === '/' ? '/live' : key, 'live'));
      view.applyEvents(more, T0);
      expect(mine.take()).toEqual(theirs.take());
      mine.remove();
      theirs.remove();
    }
  });

  test('a waitIndex older than the ring is etcd’s 401, same body as a member with the same history', () => {
    const up = new Upstream(createStore({ historyMax: 3 }));
    const view = new UpstreamView({ historyMax: 3 });
    for (let i = 0; i < 6; i++) view.applyEvents(up.apply(put('/k', String(i))), T0);
    const mine = view.watch('/k', { recursive: false, stream: false, sinceIndex: 2 });
    const theirs = up.store.watch('/k', { recursive: false, stream: false, sinceIndex: 2 });
    expect(mine).toBeInstanceOf(V2Error);
    expect((mine as V2Error).errorCode).toBe(Ecode.EventIndexCleared);
    expect((mine as V2Error).toBody()).toBe((theirs as V2Error).toBody());
    expect((mine as V2Error).toBody()).toBe(
      '{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [4/2]","index":6}\n',
    );
  });

  test('refreshes reach the ring but no watcher', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    view.applyEvents(up.apply(put('/t', 'v', { expireAtMs: NOW + 5000 })), T0);
    const c = new Client(view, '/t', { recursive: false, stream: true, sinceIndex: 0 });
    const refresh = up.apply(put('/t', '', { refresh: true, prevExist: true, expireAtMs: NOW + 9000 }));
    expect(refresh[0]?.refresh).toBe(true);
    view.applyEvents(refresh, T0);
    expect(view.index).toBe(2);
    expect(c.received).toEqual([]);
  });

  test('deleting a directory reaches watchers inside it; the proxy cannot tell which paths existed', () => {
    const { up, view } = fed([put('/d/x/y', '1')]);
    const onKey = new Client(view, '/d/x/y', { recursive: false, stream: false, sinceIndex: 0 });
    const absent = new Client(view, '/d/nope', { recursive: false, stream: false, sinceIndex: 0 });
    const sibling = new Client(view, '/dd', { recursive: false, stream: false, sinceIndex: 0 });
    const hiddenInside = new Client(view, '/d/_h', { recursive: true, stream: false, sinceIndex: 0 });
    view.applyEvents(up.apply(del('/d', { recursive: true })), T0);
    expect(onKey.received.map((e) => e.node.key)).toEqual(['/d']);
    expect(absent.received.map((e) => e.node.key)).toEqual(['/d']); // a member keeps this one waiting
    expect(hiddenInside.received.map((e) => e.node.key)).toEqual(['/d']);
    expect(sibling.received).toEqual([]);
  });
});

describe('resync', () => {
  test('every watcher that may have missed an event gets 401; one waiting for later keeps waiting', () => {
    const { view } = fed([put('/a', '1'), put('/a', '2')]);
    const waiting = new Client(view, '/a', { recursive: false, stream: false, sinceIndex: 0 });
    const stream = new Client(view, '/', { recursive: true, stream: true, sinceIndex: 0 });
    const future = new Client(view, '/a', { recursive: false, stream: false, sinceIndex: 50 });
    const woke: string[] = [];
    waiting.watcher.onWake = () => woke.push('waiting');
    view.resync(40, T0 + 10);
    expect(view.index).toBe(40);
    expect(view.lastCurrentAtMs).toBe(T0 + 10);
    expect(woke).toEqual(['waiting']); // told at once, not left waiting
    for (const c of [waiting, stream]) {
      expect(c.watcher.closed).toBe('cleared');
      expect(c.watcher.error?.errorCode).toBe(Ecode.EventIndexCleared);
      expect(c.watcher.error?.index).toBe(40);
    }
    expect(future.watcher.closed).toBeNull();
    expect(view.stats().watchersCleared).toBe(2);
    expect(view.stats().watchers).toBe(1);
    // The ring is empty: any waitIndex in the past is now 401 too.
    const w = view.watch('/a', { recursive: false, stream: false, sinceIndex: 39 });
    expect(w).toBeInstanceOf(V2Error);
  });

  test('a stream that skips indexes forces a resync instead of silence', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    view.applyEvents(up.apply(put('/a', '1')), T0);
    const c = new Client(view, '/a', { recursive: false, stream: true, sinceIndex: 0 });
    up.apply(put('/a', '2')); // lost on the way
    view.applyEvents(up.apply(put('/b', '3')), T0);
    expect(view.index).toBe(3);
    expect(c.watcher.closed).toBe('cleared');
    expect(view.stats().gaps).toBe(1);
    const d = new Client(view, '/a', { recursive: false, stream: true, sinceIndex: 0 });
    view.applyProgress(7, T0); // progress past the events seen: 4..7 were lost
    expect(d.watcher.closed).toBe('cleared');
    expect(view.stats().gaps).toBe(2);
  });

  test('listeners see events in order, and resyncs, before any watcher wakes', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    const seen: string[] = [];
    const off = view.subscribe({ onEvent: (e) => seen.push(`event ${e.node.modifiedIndex}`), onResync: (a, b) => seen.push(`resync ${a}->${b}`) });
    const c = new Client(view, '/a', { recursive: false, stream: true, sinceIndex: 0 });
    c.watcher.onWake = () => seen.push('wake');
    view.applyEvents([...up.apply(put('/a', '1')), ...up.apply(put('/a', '2'))], T0);
    view.resync(9, T0);
    off();
    view.applyEvents(up.apply(put('/x', '1')), T0);
    expect(seen).toEqual(['event 1', 'event 2', 'wake', 'resync 2->9', 'wake']);
  });
});

describe('bounded watcher queues', () => {
  test('a watcher that cannot keep up is closed and counted; the others get every event', () => {
    const up = new Upstream();
    const view = new UpstreamView({ watcherQueueMax: 4 });
    const slow = new Client(view, '/k', { recursive: false, stream: true, sinceIndex: 0 }, false);
    const fast = Array.from({ length: 50 }, () => new Client(view, '/k', { recursive: false, stream: true, sinceIndex: 0 }));
    for (let i = 0; i < 20; i++) view.applyEvents(up.apply(put('/k', String(i))), T0);
    expect(slow.watcher.closed).toBe('overflow');
    expect(slow.watcher.take()).toHaveLength(4); // what it had before it was cut off
    expect(view.stats().watchersOverflowed).toBe(1);
    for (const c of fast) expect(c.received).toHaveLength(20);
    expect(checkWatchOrder(up.log, [...fast.map((c) => c.record()), { ...slow.record(), received: [] }])).toEqual([]);
  });
});

// Watch paths overlap the write paths of the store's arbitraries (plus
// prefixes that only string-match and paths that never exist).
const watchPaths = ['/', '/a', '/a/b', '/a/b/c', '/a/b/c/d', '/a/_h', '/ab', '/b', '/_x', '/_x/y', '/c', '/c/d', '/zz'];

const watchArb = fc.record({
  path: fc.constantFrom(...watchPaths),
  recursive: fc.boolean(),
  stream: fc.boolean(),
  back: fc.constantFrom(0, 0, 1, 3, 10), // waitIndex this far behind the view (0 = none)
});

describe('property: every watcher gets exactly its events, in order', () => {
  test('random writes, expiries and refreshes in random batches, some lost (resync); watchers join throughout', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.oneof({ arbitrary: writeArb, weight: 6 }, { arbitrary: syncArb, weight: 1 }),
            flush: fc.boolean(),
            lose: fc.constantFrom(false, false, false, false, false, false, false, true),
            join: fc.array(watchArb, { maxLength: 8 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          const up = new Upstream();
          const view = new UpstreamView({ historyMax: 20, watcherQueueMax: 1000 });
          const clients: Client[] = [];
          let pending: StoreEvent[] = [];
          for (const s of steps) {
            if (s.op.kind !== 'cmd') continue;
            pending.push(...up.apply(s.op.cmd));
            if (s.lose && pending.length > 0) {
              // The stream lost these; the core's history no longer reaches back: resync.
              pending = [];
              view.resync(up.store.index, T0);
            } else if (s.flush) {
              view.applyEvents(pending, T0);
              pending = [];
            }
            for (const j of s.join) {
              const since = j.back === 0 ? 0 : Math.max(1, view.index - j.back + 1);
              const w = view.watch(j.path, { recursive: j.recursive, stream: j.stream, sinceIndex: since });
              if (w instanceof V2Error) {
                expect(w.errorCode).toBe(Ecode.EventIndexCleared);
                expect(since).toBeLessThanOrEqual(view.index);
                if (view.historyStartIndex !== 0) expect(since).toBeLessThan(view.historyStartIndex);
                continue;
              }
              w.remove();
              clients.push(new Client(view, j.path, { recursive: j.recursive, stream: j.stream, sinceIndex: since }));
            }
          }
          view.applyEvents(pending, T0);
          expect(checkWatchOrder(up.log, clients.map((c) => c.record()))).toEqual([]);
          for (const c of clients) {
            if (c.watcher.closed === 'cleared') expect(c.watcher.error?.errorCode).toBe(Ecode.EventIndexCleared);
            else expect(c.watcher.closed).toBeNull();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('5,000 watchers over overlapping keys and prefixes, one random stream', () => {
    const up = new Upstream();
    const view = new UpstreamView();
    const rnd = fc.sample(fc.tuple(fc.oneof({ arbitrary: writeArb, weight: 8 }, { arbitrary: syncArb, weight: 1 }), fc.nat(9)), { numRuns: 400, seed: 42 });
    const joins = fc.sample(watchArb, { numRuns: 5000, seed: 7 });
    const clients: Client[] = [];
    let j = 0;
    for (const [op, batch] of rnd) {
      if (op.kind === 'cmd') view.applyEvents(up.apply(op.cmd), T0);
      for (let k = 0; k < 12 + batch && j < joins.length; k++, j++) {
        const spec = joins[j] as (typeof joins)[number];
        const since = spec.back === 0 ? 0 : Math.max(1, view.index - spec.back + 1);
        clients.push(new Client(view, spec.path, { recursive: spec.recursive, stream: spec.stream, sinceIndex: since }));
      }
    }
    expect(clients.length).toBe(5000);
    expect(up.log.length).toBeGreaterThan(100);
    const delivered = clients.reduce((n, c) => n + c.received.length, 0);
    expect(delivered).toBeGreaterThan(5000);
    expect(checkWatchOrder(up.log, clients.map((c) => c.record()))).toEqual([]);
  });
});

describe('property: a watch on the proxy hears what the same watch on a member hears', () => {
  /** The one documented difference: a directory delete/expire reaching a path inside it that the member knew did not exist. */
  const explained = (e: StoreEvent, key: string): boolean => {
    const k = e.node.key ?? '/';
    return (e.action === 'delete' || e.action === 'expire') && e.prevNode?.dir === true && key.startsWith(k === '/' ? '/' : k + '/');
  };

  test('same events in the same order, except the documented directory-delete case', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.oneof({ arbitrary: writeArb, weight: 6 }, { arbitrary: syncArb, weight: 1 }), join: fc.array(watchArb, { maxLength: 4 }) }), {
          maxLength: 50,
        }),
        (steps) => {
          const up = new Upstream();
          const view = new UpstreamView({ historyMax: 1000 });
          const pairs: { key: string; stream: boolean; mine: Client; theirs: StoreEvent[] }[] = [];
          for (const s of steps) {
            if (s.op.kind === 'cmd') view.applyEvents(up.apply(s.op.cmd), T0);
            for (const j of s.join) {
              const since = j.back === 0 ? 0 : Math.max(1, view.index - j.back + 1);
              const opts = { recursive: j.recursive, stream: j.stream, sinceIndex: since };
              const w = up.store.watch(j.path, opts);
              if (w instanceof V2Error) throw new Error(w.toBody());
              const theirs: StoreEvent[] = [];
              w.onWake = () => theirs.push(...w.take());
              theirs.push(...w.take());
              pairs.push({ key: j.path, stream: j.stream, mine: new Client(view, j.path, opts), theirs });
            }
          }
          for (const { key, stream, mine, theirs } of pairs) {
            const got = mine.received.map((e) => e.node.modifiedIndex);
            const want = theirs.map((e) => e.node.modifiedIndex);
            if (stream) {
              // The member's events, in order, plus only explained extras.
              expect(mine.received.filter((e) => !explained(e, key) || want.includes(e.node.modifiedIndex)).map((e) => e.node.modifiedIndex)).toEqual(want);
            } else if (JSON.stringify(got) !== JSON.stringify(want)) {
              // A one-shot fired earlier on an explained event.
              expect(mine.received).toHaveLength(1);
              expect(explained(mine.received[0] as StoreEvent, key)).toBe(true);
              if (want.length > 0) expect(got[0]).toBeLessThan(want[0] as number);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
