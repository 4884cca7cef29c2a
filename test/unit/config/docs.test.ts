// The README's configuration reference is what the schema generates: change a
// flag, its default or its description, and this fails until
// `npm run docs:config` is run.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configReference, withConfigReference } from '../../../config/docs.js';
import { describeFields, PROCESS_KINDS } from '../../../config/index.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

describe('README configuration reference', () => {
  it('is current (run `npm run docs:config` when this fails)', () => {
    expect(withConfigReference(readme)).toBe(readme);
  });

  it('has a row for every flag of every process, with its env var', () => {
    const ref = configReference();
    for (const kind of PROCESS_KINDS) for (const d of describeFields(kind)) expect(ref).toContain(`| \`${d.flag}\` | \`${d.env}\` |`);
  });
});
