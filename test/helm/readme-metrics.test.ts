// The top-level README's metrics reference names every metric the code
// exports (the contract the dashboard and alerts are held to), except the
// process and Node.js metrics it covers with one row.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { METRIC_CONTRACT } from './metric-contract.js';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

test('README.md lists every raftgate_ metric of the contract', () => {
  const own = METRIC_CONTRACT.filter((m) => !/_(process|nodejs)_/.test(m.name)).map((m) => m.name);
  expect(own.length).toBeGreaterThan(30);
  expect(own.filter((n) => !readme.includes(`\`${n}`))).toEqual([]);
});
