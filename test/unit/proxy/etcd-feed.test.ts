// The etcd v2 upstream's stream machine (proxy/upstream/etcd-feed.ts)
// against a model of what etcd 3.4 shows a recursive v2 long poll on "/"
// (checked against a live etcd): from its history the first event >= N of
// any key, hidden keys included, refreshes never; live, neither hidden keys
// nor refreshes; headers at once with etcd's index. Over random histories and
// random poll timings, the view must end up with every event etcd recorded,
// in order, each once, with gap events exactly at the refreshes — and when a
// "settled" guess turns out wrong, it must rewind rather than lose an event.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { eventIndex } from '../../../core-server/store/event-history.js';
import type { StoreEvent } from '../../../core-server/store/types.js';
import { ProxySink } from '../../../proxy/app.js';
import { EtcdFeed } from '../../../proxy/upstream/etcd-feed.js';
import type { FeedAction } from '../../../proxy/upstream/etcd-feed.js';
import { isGapEvent } from '../../../proxy/watch/gap-event.js';
import { UpstreamView } from '../../../proxy/watch/upstream-view.js';

type Kind = 'plain' | 'hidden' | 'refresh';

function ev(i: number, kind: Kind): StoreEvent & { kind: Kind } {
  const key = kind === 'hidden' ? `/_h${i}` : `/k${i}`;
  return { action: 'set', node: { key, value: String(i), modifiedIndex: i, createdIndex: i }, etcdIndex: i, ...(kind === 'refresh' ? { refresh: true } : {}), kind };
}

interface Run {
  seen: StoreEvent[];
  rewinds: number;
  firstSync: number;
}

/**
 * Drive the machine over `kinds` (event i+1 has kinds[i]). `advances[j]`
 * is how many events etcd records before poll j; `lateBody[j]` makes a
 * history answer arrive only after `settle`.
 */
function drive(kinds: Kind[], startAt: number, advances: number[], lateBody: boolean[]): Run {
  const all = kinds.map((k, i) => ev(i + 1, k));
  let etcdIndex = startAt;
  const view = new UpstreamView({ historyMax: 100_000 });
  const sink = new ProxySink(view, { nowMs: () => 0 }, 100);
  const seen: StoreEvent[] = [];
  let firstSync = -1;
  view.subscribe({
    onEvent: (e) => seen.push(e),
    onResync: (_a, b) => {
      if (firstSync < 0) firstSync = b;
      while (seen.length > 0 && eventIndex(seen[seen.length - 1] as StoreEvent) > b) seen.pop();
    },
  });
  const feed = new EtcdFeed(1000);
  const apply = (acts: FeedAction[]): void => {
    for (const a of acts) {
      if (a.t === 'resync') sink.resync(a.index);
      else if (a.t === 'events') sink.events(a.events);
      else sink.progress(a.index);
    }
  };
  for (let j = 0; j < 10_000; j++) {
    etcdIndex = Math.min(all.length, etcdIndex + (advances[j % advances.length] ?? 0));
    if (sink.synced && view.index >= all.length) break;
    const { waitIndex } = feed.beginPoll(sink, etcdIndex);
    const x = etcdIndex;
    apply(feed.onHeaders(x));
    // What etcd answers: a history scan first, else the next live visible event.
    let fromHistory: StoreEvent | undefined;
    if (waitIndex !== null && waitIndex <= x) fromHistory = all.slice(waitIndex - 1, x).find((e) => e.kind !== 'refresh');
    if (fromHistory !== undefined) {
      if (lateBody[j % lateBody.length] === true && feed.ambiguous) apply(feed.onSettled(sink));
      apply(feed.onEvent(fromHistory, sink));
      continue;
    }
    if (feed.ambiguous) apply(feed.onSettled(sink));
    // Live: etcd records more; the first visible one at or after max(N, X+1) wakes the poll.
    const from = Math.max(waitIndex ?? 0, x + 1);
    const live = all.slice(from - 1).find((e) => e.kind === 'plain');
    if (live === undefined) {
      // Nothing visible will ever come: the re-arm ends the poll once etcd is done.
      etcdIndex = all.length;
      feed.onEnded();
      continue;
    }
    etcdIndex = Math.max(etcdIndex, eventIndex(live));
    apply(feed.onEvent(live, sink));
  }
  return { seen, rewinds: feed.rewinds, firstSync };
}

function check(kinds: Kind[], r: Run): void {
  // Contiguous from the first sync to the end, each index once.
  const idx = r.seen.map(eventIndex);
  expect(idx).toEqual(Array.from({ length: kinds.length - r.firstSync }, (_, i) => r.firstSync + 1 + i));
  for (const e of r.seen) {
    const k = kinds[eventIndex(e) - 1];
    if (k === 'refresh') expect(isGapEvent(e), `index ${eventIndex(e)} is a refresh`).toBe(true);
    else expect(e.node.key, `index ${eventIndex(e)}`).toBe(k === 'hidden' ? `/_h${eventIndex(e)}` : `/k${eventIndex(e)}`);
  }
}

describe('etcd v2 stream machine', () => {
  test('hidden keys come from the history, refreshes become gap events, nothing is lost or repeated', () => {
    const kinds: Kind[] = ['plain', 'hidden', 'hidden', 'refresh', 'plain', 'refresh', 'refresh', 'hidden', 'plain', 'plain', 'refresh'];
    const r = drive(kinds, 0, [1, 0, 2, 0, 3], [false]);
    check(kinds, r);
    expect(r.rewinds).toBe(0);
  });

  test('a fresh start reaches back into etcd\'s history, so waitIndex works at once', () => {
    const kinds: Kind[] = Array.from({ length: 30 }, (_, i) => (i % 7 === 3 ? 'refresh' : i % 5 === 1 ? 'hidden' : 'plain'));
    const r = drive(kinds, 20, [0], [false]);
    expect(r.firstSync).toBe(0);
    check(kinds, r);
  });

  test('a history answer that arrives after `settle` rewinds the view instead of dropping the event', () => {
    const kinds: Kind[] = ['plain', 'plain', 'hidden', 'plain', 'plain'];
    const r = drive(kinds, 0, [0, 3, 0, 2], [true]);
    expect(r.rewinds).toBeGreaterThan(0);
    check(kinds, r);
  });

  test('random histories and timings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Kind>('plain', 'plain', 'plain', 'hidden', 'refresh'), { minLength: 1, maxLength: 60 }),
        fc.nat(10),
        fc.array(fc.nat(4), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        (kinds, start, advances, late) => {
          const r = drive(kinds, Math.min(start, kinds.length), advances, late);
          check(kinds, r);
        },
      ),
      { numRuns: 300 },
    );
  });
});
