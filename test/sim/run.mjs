// Entry point of `npm run sim`: registers the TypeScript loader, then runs cli.ts.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
await import('./cli.ts');
