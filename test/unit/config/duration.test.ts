import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration } from '../../../config/index.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['1s', 1000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['1h', 3_600_000],
    ['2h45m', 9_900_000],
    ['1500us', undefined], // not a whole millisecond: refused, never rounded
    ['2000000ns', 2],
    ['2000µs', 2],
    ['0', 0],
    ['100', 100], // plain numbers are milliseconds, like etcd's --heartbeat-interval
    [' 42 ', 42],
    ['-1s', -1000], // syntax is Go's; the field's range refuses it
  ])('reads %j as %j ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '1x', '1 s', '1.5', 'ten seconds', '1s1', '.s', '1d', '1e3'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('round-trips every whole number of milliseconds through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 24 * 3_600_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('sums Go-style components written in any combination', () => {
    fc.assert(
      fc.property(
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(1000),
        fc.nat(1000),
        fc.integer({ min: 0, max: 15 }),
        (h, m, s, ms, mask) => {
          const parts: string[] = [];
          let total = 0;
          const components: Array<[number, string, number]> = [
            [1, `${h}h`, h * 3_600_000],
            [2, `${m}m`, m * 60_000],
            [4, `${s}s`, s * 1000],
            [8, `${ms}ms`, ms],
          ];
          for (const [bit, text, value] of components) {
            if ((mask | (mask === 0 ? 1 : 0)) & bit) {
              parts.push(text);
              total += value;
            }
          }
          expect(parseDuration(parts.join(''))).toBe(total);
        },
      ),
    );
  });

  it('reads fractional seconds exactly', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 0, max: 999 }), (s, milli) => {
        const text = `${s}.${String(milli).padStart(3, '0')}s`;
        expect(parseDuration(text)).toBe(s * 1000 + milli);
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [100, '100ms'],
    [1000, '1s'],
    [1500, '1s500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
  ])('prints %j ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
