// The cache's path index: which entries an event at a path reaches.

import { expect, test } from 'vitest';
import { PathIndex } from '../../../proxy/cache/path-index.js';

test('self and ancestors always; beneath only when asked; empty branches pruned', () => {
  const ix = new PathIndex();
  for (const [p, k] of [
    ['/', 'root'],
    ['/a', 'a'],
    ['/a/b', 'ab'],
    ['/a/b/c', 'abc'],
    ['/a/bb', 'abb'],
    ['/ab', 'ab2'],
  ] as const) {
    ix.add(p, k);
  }
  expect(ix.affectedBy('/a/b', false).sort()).toEqual(['a', 'ab', 'root']);
  expect(ix.affectedBy('/a/b', true).sort()).toEqual(['a', 'ab', 'abc', 'root']);
  expect(ix.affectedBy('/a/x/y', true).sort()).toEqual(['a', 'root']);
  expect(ix.affectedBy('/', true)).toHaveLength(6);
  ix.remove('/a/b/c', 'abc');
  ix.remove('/a/b/c', 'abc'); // idempotent
  ix.remove('/nope', 'x');
  expect(ix.size).toBe(5);
  expect(ix.affectedBy('/a/b', true).sort()).toEqual(['a', 'ab', 'root']);
  ix.clear();
  expect(ix.size).toBe(0);
  expect(ix.affectedBy('/a', true)).toEqual([]);
});
