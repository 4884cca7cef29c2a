// Random store operations for property tests: writes of every method and
// parameter over a small set of overlapping paths (so conflicts, dirs, hidden
// keys and TTLs interact), syncs that expire keys, and reads.

import fc from 'fast-check';
import type { Command, WriteRequest } from '../../../core-server/store/index.js';
import { NOW, req } from './helpers.js';

export type Op = { kind: 'cmd'; cmd: Command } | { kind: 'get'; path: string; recursive: boolean; sorted: boolean };

const paths = ['/', '/a', '/a/b', '/a/b/c', '/a/_h', '/b', '/_x/y', '/c/d'];
const values = ['', 'v1', 'v2'];

export const writeArb: fc.Arbitrary<Op> = fc
  .record({
    method: fc.constantFrom<WriteRequest['method']>('PUT', 'PUT', 'PUT', 'POST', 'DELETE', 'DELETE'),
    path: fc.constantFrom(...paths),
    value: fc.constantFrom(...values),
    dir: fc.boolean(),
    prevExist: fc.constantFrom<boolean | null>(null, null, true, false),
    prevValue: fc.constantFrom('', '', 'v1'),
    prevIndex: fc.constantFrom(0, 0, 0, 1, 2, 3),
    recursive: fc.boolean(),
    refresh: fc.boolean(),
    ttlS: fc.constantFrom<number | null>(null, null, 1, 3),
    atS: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ ttlS, atS, ...r }) => {
    const nowMs = NOW + atS * 1000;
    const cmd: Command = { op: 'write', req: req(r.method, r.path, { ...r, nowMs, expireAtMs: ttlS === null ? null : nowMs + ttlS * 1000 }) };
    return { kind: 'cmd', cmd } as const;
  });

export const syncArb: fc.Arbitrary<Op> = fc
  .integer({ min: 0, max: 25_000 })
  .map((dt) => ({ kind: 'cmd', cmd: { op: 'sync', nowMs: NOW + dt } }) as const);

export const getArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('get' as const),
  path: fc.constantFrom(...paths),
  recursive: fc.boolean(),
  sorted: fc.boolean(),
});

export const opsArb = fc.array(fc.oneof({ arbitrary: writeArb, weight: 6 }, { arbitrary: syncArb, weight: 1 }, { arbitrary: getArb, weight: 1 }), {
  maxLength: 60,
});

