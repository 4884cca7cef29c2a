// The staleness state machine end to end, with an injected clock, loader
// and wait: hit within the bound, read-through past it, stale-if-error or
// 503 when the core is unreachable, waiting for the view after a write
// through this proxy, and never answering below an answered index.

import { describe, expect, test } from 'vitest';
import type { ReadOptions } from '../../../core-server/store/index.js';
import { V2Error, createStore } from '../../../core-server/store/index.js';
import { ReadCache, readPolicy, serveRead } from '../../../proxy/cache/index.js';
import type { GetAnswer, ReadDeps } from '../../../proxy/cache/index.js';
import { UpstreamView } from '../../../proxy/watch/index.js';
import { NOW, put } from '../store/helpers.js';
import { Upstream } from './helpers.js';

const FLAT: ReadOptions = { recursive: false, sorted: false };
const cfg = { maxStalenessMs: 1000, maxStalenessCeilingMs: 10_000 };

function setup(): {
  up: Upstream;
  view: UpstreamView;
  cache: ReadCache;
  clock: { now: number };
  deps: ReadDeps & { loads: number; waits: number[]; down: boolean; onWait: (i: number) => void };
} {
  const up = new Upstream();
  const view = new UpstreamView();
  const cache = new ReadCache(view, { cacheBytesMax: 1 << 20 });
  const clock = { now: NOW };
  const deps = {
    loads: 0,
    waits: [] as number[],
    down: false,
    onWait: (_i: number): void => {},
    nowMs: () => clock.now,
    load(): Promise<GetAnswer> {
      deps.loads++;
      if (deps.down) return Promise.reject(new Error('RG_ERR_UPSTREAM_UNREACHABLE'));
      return Promise.resolve(up.store.get('/k', FLAT, clock.now));
    },
    waitForIndex(i: number): Promise<void> {
      deps.waits.push(i);
      deps.onWait(i);
      return Promise.resolve();
    },
    viewIndex: () => view.index,
  };
  view.applyEvents(up.apply(put('/k', 'v1')), clock.now);
  return { up, view, cache, clock, deps };
}

const value = (a: GetAnswer): string | undefined => (a instanceof V2Error ? `error ${a.errorCode}` : a.node.value);

describe('serveRead', () => {
  test('miss → read through → hit while within the bound → read through once past it', async () => {
    const { cache, clock, deps } = setup();
    const p = readPolicy(undefined, cfg);
    expect((await serveRead(cache, '/k', FLAT, p, deps)).source).toBe('upstream');
    clock.now += 1000;
    const hit = await serveRead(cache, '/k', FLAT, p, deps);
    expect(hit).toMatchObject({ source: 'hit', index: 1, ageMs: 1000 });
    clock.now += 1;
    expect((await serveRead(cache, '/k', FLAT, p, deps)).source).toBe('upstream');
    expect(deps.loads).toBe(2);
  });

  test('max-stale loosens, no-cache and max-age=0 always read through', async () => {
    const { cache, clock, deps } = setup();
    await serveRead(cache, '/k', FLAT, readPolicy(undefined, cfg), deps);
    clock.now += 5000;
    expect((await serveRead(cache, '/k', FLAT, readPolicy('max-stale=6', cfg), deps)).source).toBe('hit');
    clock.now -= 5000;
    expect((await serveRead(cache, '/k', FLAT, readPolicy('no-cache', cfg), deps)).source).toBe('upstream');
    expect((await serveRead(cache, '/k', FLAT, readPolicy('max-age=0', cfg), deps)).source).toBe('upstream');
    expect(deps.loads).toBe(3);
  });

  test('core unreachable: stale-if-error serves a cached answer within its bound, else 503 in etcd’s shape', async () => {
    const { cache, clock, deps } = setup();
    await serveRead(cache, '/k', FLAT, readPolicy(undefined, cfg), deps);
    deps.down = true;
    clock.now += 3000;
    const stale = await serveRead(cache, '/k', FLAT, readPolicy('stale-if-error=5', cfg), deps);
    expect(stale).toMatchObject({ source: 'stale-if-error', ageMs: 3000 });
    const none = await serveRead(cache, '/k', FLAT, readPolicy('stale-if-error=2', cfg), deps);
    expect(none.source).toBe('unavailable');
    if (none.source !== 'unavailable') return;
    expect(none.status).toBe(503);
    expect(none.error.toBody()).toBe('{"errorCode":300,"message":"Raft Internal Error","cause":"upstream_unreachable","index":1}\n');
  });

  test('after a write through this proxy, a read waits for the view to reach it (read your writes)', async () => {
    const { up, view, cache, deps } = setup();
    await serveRead(cache, '/k', FLAT, readPolicy(undefined, cfg), deps);
    const events = up.apply(put('/k', 'v2'));
    cache.noteAnswered(2); // the write's response said index 2
    deps.onWait = () => view.applyEvents(events, deps.nowMs()); // the stream catches up while we wait
    const r = await serveRead(cache, '/k', FLAT, readPolicy(undefined, cfg), deps);
    expect(deps.waits).toEqual([2]);
    expect(r).toMatchObject({ source: 'hit', index: 2 });
    expect(r.source === 'hit' && value(r.answer)).toBe('v2');
    expect(deps.loads).toBe(1);
  });

  test('a member that stays behind an answered index is never used to answer: 503', async () => {
    const { cache, deps } = setup();
    const lagging = createStore();
    deps.load = () => Promise.resolve(lagging.get('/k', FLAT, NOW));
    cache.noteAnswered(5);
    const r = await serveRead(cache, '/k', FLAT, readPolicy('no-cache', cfg), deps);
    expect(r).toMatchObject({ source: 'unavailable', cause: 'upstream_behind' });
    expect(deps.waits).toEqual([5, 5]);
    expect(cache.answeredIndexMax).toBe(5);
  });
});
