// Reads: what a GET returns for keys, directories and the root, hidden keys,
// sorting, TTL rendering, and the time format. Bodies marked "etcd 3.4.23"
// were checked against real etcd.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createStore, Ecode, V2Error, formatRfc3339NanoUtc, ttlSeconds } from '../../../core-server/store/index.js';
import type { KeyStore, StoreEvent } from '../../../core-server/store/index.js';
import { NOW, ok, post, put, wire } from './helpers.js';

const flat = { recursive: false, sorted: false };
const deep = { recursive: true, sorted: false };
const deepSorted = { recursive: true, sorted: true };

function getOk(s: KeyStore, path: string, opts = flat, nowMs = NOW): StoreEvent {
  const r = s.get(path, opts, nowMs);
  if (r instanceof V2Error) throw new Error(r.toBody());
  return r;
}

describe('get', () => {
  test('the empty root has no key and no indexes (etcd 3.4.23)', () => {
    expect(wire(getOk(createStore(), '/'))).toBe('{"action":"get","node":{"dir":true}}');
  });

  test('a directory lists direct children only, child dirs without their nodes (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/a/b', '1'));
    expect(wire(getOk(s, '/'))).toBe(
      '{"action":"get","node":{"dir":true,"nodes":[{"key":"/a","dir":true,"modifiedIndex":1,"createdIndex":1}]}}',
    );
    expect(wire(getOk(s, '/', deep))).toBe(
      '{"action":"get","node":{"dir":true,"nodes":[{"key":"/a","dir":true,"nodes":[{"key":"/a/b","value":"1","modifiedIndex":1,"createdIndex":1}],"modifiedIndex":1,"createdIndex":1}]}}',
    );
  });

  test('an empty directory has no nodes field, even recursive (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/d', '', { dir: true }));
    expect(wire(getOk(s, '/d', deep))).toBe('{"action":"get","node":{"key":"/d","dir":true,"modifiedIndex":1,"createdIndex":1}}');
  });

  test('a key GET carries the store index, not the key index', () => {
    const s = createStore();
    ok(s, put('/k', 'v'));
    ok(s, put('/other', 'v'));
    const e = getOk(s, '/k');
    expect(e.etcdIndex).toBe(2);
    expect(e.node).toEqual({ key: '/k', value: 'v', modifiedIndex: 1, createdIndex: 1 });
  });

  test('errors: 100 with the first missing path, 104 through a key (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, put('/a/b', '1'));
    const miss = s.get('/nonexist/deeper', flat, NOW) as V2Error;
    expect([miss.errorCode, miss.cause, miss.index]).toEqual([Ecode.KeyNotFound, '/nonexist', 1]);
    const notDir = s.get('/a/b/c', flat, NOW) as V2Error;
    expect([notDir.errorCode, notDir.cause, notDir.index]).toEqual([Ecode.NotDir, '/a/b', 1]);
  });

  test('hidden keys are gettable but never listed (etcd 3.4.23)', () => {
    const s = createStore();
    ok(s, post('/q', '1'));
    ok(s, put('/q/_h', 'h'));
    ok(s, put('/_top/x', 'y'));
    expect(getOk(s, '/q/_h').node.value).toBe('h');
    expect(getOk(s, '/_top/x').node.value).toBe('y');
    expect(wire(getOk(s, '/', deep))).toBe(
      '{"action":"get","node":{"dir":true,"nodes":[{"key":"/q","dir":true,"nodes":[{"key":"/q/00000000000000000001","value":"1","modifiedIndex":1,"createdIndex":1}],"modifiedIndex":1,"createdIndex":1}]}}',
    );
  });

  test('sorted sorts by key at every level; unsorted is creation order', () => {
    const s = createStore();
    for (const k of ['/d/c', '/d/a/z', '/d/a/b', '/d/b']) ok(s, put(k, k));
    const keys = (e: StoreEvent): unknown => e.node.nodes?.map((n) => [n.key, n.nodes?.map((m) => m.key)]);
    expect(keys(getOk(s, '/d', deepSorted))).toEqual([
      ['/d/a', ['/d/a/b', '/d/a/z']],
      ['/d/b', undefined],
      ['/d/c', undefined],
    ]);
    expect(keys(getOk(s, '/d', deep))).toEqual([
      ['/d/c', undefined],
      ['/d/a', ['/d/a/z', '/d/a/b']],
      ['/d/b', undefined],
    ]);
    // A set that replaces a key re-creates it, so it moves to the end.
    ok(s, put('/d/c', 'again'));
    expect(getOk(s, '/d').node.nodes?.map((n) => n.key)).toEqual(['/d/a', '/d/b', '/d/c']);
  });

  test('sorting is by code point, like Go on UTF-8 bytes', () => {
    const s = createStore();
    ok(s, put('/s/\u{1F600}', 'emoji'));
    ok(s, put('/s/\uFF21', 'fullwidth A'));
    ok(s, put('/s/B', 'B'));
    expect(getOk(s, '/s', deepSorted).node.nodes?.map((n) => n.value)).toEqual(['B', 'fullwidth A', 'emoji']);
  });

  test('ttl and expiration are rendered against the nowMs of the read', () => {
    const s = createStore();
    ok(s, put('/t', 'v', { expireAtMs: NOW + 5_000 }));
    expect(getOk(s, '/t', flat, NOW).node).toEqual({
      key: '/t',
      value: 'v',
      expiration: '2026-01-02T03:04:10Z',
      ttl: 5,
      modifiedIndex: 1,
      createdIndex: 1,
    });
    expect(getOk(s, '/t', flat, NOW + 1).node.ttl).toBe(5); // 4.999 s rounds up
    expect(getOk(s, '/t', flat, NOW + 1_000).node.ttl).toBe(4);
    expect(getOk(s, '/t', flat, NOW + 5_000).node.ttl).toBeUndefined(); // 0 is omitted, like omitempty
  });

  test('get counts toward stats', () => {
    const s = createStore();
    ok(s, put('/k', 'v'));
    getOk(s, '/k');
    s.get('/missing', flat, NOW);
    expect(s.stats()).toMatchObject({ getsSuccess: 1, getsFail: 1 });
  });
});

describe('time format (Go RFC3339Nano, UTC)', () => {
  test.each([
    [0, '1970-01-01T00:00:00Z'],
    [1_767_323_045_000, '2026-01-02T03:04:05Z'],
    [1_767_323_045_100, '2026-01-02T03:04:05.1Z'],
    [1_767_323_045_120, '2026-01-02T03:04:05.12Z'],
    [1_767_323_045_123, '2026-01-02T03:04:05.123Z'],
    [951_782_400_000, '2000-02-29T00:00:00Z'], // leap day of a century leap year
    [4_107_542_399_999, '2100-02-28T23:59:59.999Z'], // 2100 is not a leap year
    [253_402_300_799_000, '9999-12-31T23:59:59Z'],
  ])('%i → %s', (ms, text) => {
    expect(formatRfc3339NanoUtc(ms)).toBe(text);
  });

  test('agrees with Date.toISOString (fraction trimmed) from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        const iso = new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
        expect(formatRfc3339NanoUtc(ms)).toBe(iso.endsWith('.Z') ? iso.replace('.Z', 'Z') : iso);
      }),
      { numRuns: 2000 },
    );
  });

  test.each([
    [5_000, 0, 5],
    [5_000, 1, 5],
    [4_001, 0, 5],
    [1, 0, 1],
    [0, 0, 0],
    [0, 300, 0], // 0.3 s past the deadline truncates to 0, as Go's division does
    [0, 1_500, -1],
  ])('ttl of deadline %i at now %i is %i', (deadline, now, ttl) => {
    expect(ttlSeconds(deadline, now)).toBe(ttl);
  });
});
