import { describe, expect, it } from 'vitest';
import { percentile, median, formatRatio, parseDurationMs, summarizeLatenciesUs, markdownTable } from '../../../bench/lib/stats.js';

describe('bench stats', () => {
  it('takes nearest-rank percentiles of sorted samples', () => {
    const s = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBe(50);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile(s, 100)).toBe(100);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(s, 101)).toThrow(RangeError);
  });

  it('sorts latency samples numerically, not as strings', () => {
    const sum = summarizeLatenciesUs([10_000, 2_000, 900, 30_000]);
    expect(sum.p50Ms).toBe(2);
    expect(sum.maxMs).toBe(30);
    expect(sum.count).toBe(4);
  });

  it('takes medians, averaging the middle pair and skipping NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('formats ratios and refuses to divide by nothing', () => {
    expect(formatRatio(1, 2)).toBe('0.50x');
    expect(formatRatio(25, 2)).toBe('12.5x');
    expect(formatRatio(1, 0)).toBe('n/a');
    expect(formatRatio(NaN, 1)).toBe('n/a');
  });

  it('parses durations', () => {
    expect(parseDurationMs('5s')).toBe(5000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1m')).toBe(60_000);
    expect(parseDurationMs('2')).toBe(2000);
    expect(() => parseDurationMs('fast')).toThrow(/bad duration/);
  });

  it('renders a markdown table with aligned columns', () => {
    const t = markdownTable(['a', 'bb'], [['x', '1'], ['yyy', '22']], [false, true]);
    expect(t.split('\n')).toEqual(['| a   | bb |', '|-----|---:|', '| x   |  1 |', '| yyy | 22 |']);
  });
});
