// The watch-order checker itself: it passes a correct delivery and names
// each kind of fault (a lost, repeated, reordered or foreign event).

import { describe, expect, test } from 'vitest';
import type { StoreEvent } from '../../../core-server/store/index.js';
import { checkWatchOrder, expectedEvents, liveMatches } from '../../../proxy/watch/index.js';
import type { WatchRecord } from '../../../proxy/watch/index.js';
import { del, put } from '../store/helpers.js';
import { Upstream } from './helpers.js';

function log(): StoreEvent[] {
  const up = new Upstream();
  for (const c of [put('/a', '1'), put('/b', '2'), put('/a/../a', '3'), put('/d/x', '4'), del('/d', { recursive: true }), put('/a', '5')]) up.apply(c);
  return up.log;
}

const base = { key: '/a', recursive: false, stream: true, sinceIndex: 0, startIndex: 0, end: 'open' as const };

describe('checkWatchOrder', () => {
  const l = log();
  const forA = l.filter((e) => e.node.key === '/a');

  test('a correct stream, a correct one-shot and a cut-off prefix pass', () => {
    const records: WatchRecord[] = [
      { ...base, received: forA },
      { ...base, stream: false, received: forA.slice(0, 1) },
      { ...base, end: 'cut', received: forA.slice(0, 2) },
      { ...base, key: '/d/x', received: [l[3] as StoreEvent, l[4] as StoreEvent] },
    ];
    expect(checkWatchOrder(l, records)).toEqual([]);
  });

  test.each([
    ['missing', [forA[0], forA[2]]],
    ['duplicate', [forA[0], forA[0]]],
    ['unexpected', [forA[0], l[1]]],
    ['out-of-order', [forA[1], forA[0]]],
  ] as const)('%s', (kind, received) => {
    const v = checkWatchOrder(l, [{ ...base, received: received as unknown as StoreEvent[] }]);
    expect(v.map((x) => x.kind)).toEqual([kind]);
  });

  test('an open watcher that has not had everything is missing events; a cut one is not', () => {
    expect(checkWatchOrder(l, [{ ...base, received: forA.slice(0, 2) }]).map((x) => x.kind)).toEqual(['missing']);
    expect(checkWatchOrder(l, [{ ...base, end: 'cut', received: [] }])).toEqual([]);
  });

  test('a watch from the history uses etcd’s scan (string prefix for a deleted directory), live ones the notify rule', () => {
    const dirDelete = l[4] as StoreEvent;
    expect(liveMatches(dirDelete, '/dx', false)).toBe(false);
    expect(expectedEvents(l, { ...base, key: '/dx', sinceIndex: 1, startIndex: 6 })).toEqual([dirDelete]);
    expect(expectedEvents(l, { ...base, key: '/dx', sinceIndex: 0, startIndex: 0 })).toEqual([]);
  });

  test('a log that does not reach back to a watcher is reported, not guessed at', () => {
    expect(checkWatchOrder(l.slice(2), [{ ...base, received: [] }]).map((x) => x.kind)).toEqual(['log-too-short']);
  });
});
