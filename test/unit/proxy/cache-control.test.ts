// Cache-Control request directives → the staleness bound for one read.
// Default bound 1 s, ceiling 30 s.

import { describe, expect, test } from 'vitest';
import { parseCacheControl, readPolicy } from '../../../proxy/cache/index.js';
import type { ReadPolicy } from '../../../proxy/cache/index.js';

const cfg = { maxStalenessMs: 1000, maxStalenessCeilingMs: 30_000 };
const policy = (readThrough: boolean, maxStaleMs: number, staleIfErrorMs: number | null = null): ReadPolicy => ({ readThrough, maxStaleMs, staleIfErrorMs });

describe('readPolicy', () => {
  test.each<[string | string[] | undefined, ReadPolicy]>([
    [undefined, policy(false, 1000)],
    ['', policy(false, 1000)],
    ['max-stale=5', policy(false, 5000)],
    ['max-stale=0', policy(false, 0)], // tighter than the default
    ['max-stale', policy(false, 30_000)],
    ['max-stale=3600', policy(false, 30_000)], // capped by the ceiling
    ['max-age=0', policy(true, 0)],
    ['max-age=2', policy(false, 1000)], // max-age only tightens
    ['max-age=0, max-stale=10', policy(true, 0)],
    ['max-stale=10, max-age=4', policy(false, 4000)],
    ['no-cache', policy(true, 1000)],
    ['No-Cache', policy(true, 1000)],
    ['no-cache="x"', policy(true, 1000)], // reading through is never wrong
    ['MAX-STALE=7', policy(false, 7000)],
    ['max-stale="7"', policy(false, 7000)], // quoted-string form
    [' max-stale = 7 ', policy(false, 7000)],
    ['stale-if-error=60', policy(false, 1000, 30_000)],
    ['stale-if-error=5', policy(false, 1000, 5000)],
    ['stale-if-error', policy(false, 1000, 30_000)],
    ['max-age=0, stale-if-error=10', policy(true, 0, 10_000)],
    [['max-stale=9', 'max-stale=3'], policy(false, 3000)], // repeated: the most restrictive
    [['no-store', 'only-if-cached, min-fresh=3, x-ext=1'], policy(false, 1000)], // not ours: ignored
    // Malformed arguments: the directive is ignored.
    ['max-stale=abc', policy(false, 1000)],
    ['max-stale=-1', policy(false, 1000)],
    ['max-stale=1.5', policy(false, 1000)],
    ['max-age', policy(false, 1000)],
    ['max-age=', policy(false, 1000)],
    ['max-age=abc, max-stale=2', policy(false, 2000)],
    ['max-stale="3', policy(false, 1000)], // unterminated quote
    ['max-stale="3"x', policy(false, 1000)],
    ['=5, max-stale=2', policy(false, 2000)],
    [',,, max-stale=2,,', policy(false, 2000)],
    ['stale-if-error=soon', policy(false, 1000)],
    ['max-stale=99999999999999999999', policy(false, 30_000)], // RFC 9111: overflow is 2^31 s
  ])('%j', (header, want) => {
    expect(readPolicy(header, cfg)).toEqual(want);
  });
});

describe('parseCacheControl', () => {
  test('names lower-cased, quoted values unescaped, bare directives have no value', () => {
    expect(parseCacheControl('Max-Stale, foo="a\\"b,c", max-age=3')).toEqual([
      { name: 'max-stale', value: null },
      { name: 'foo', value: 'a"b,c' },
      { name: 'max-age', value: '3' },
    ]);
  });
});
