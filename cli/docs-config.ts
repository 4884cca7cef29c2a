// `npm run docs:config`: rewrites the README's configuration reference from the schema.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigReference } from '../config/docs.js';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const before = readFileSync(readme, 'utf8');
const after = withConfigReference(before);
if (after === before) console.log('README.md configuration reference is up to date');
else {
  writeFileSync(readme, after);
  console.log('README.md configuration reference rewritten from config/schema.ts');
}
