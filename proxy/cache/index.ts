// The proxy's time-bounded read cache and the Cache-Control rules that bound it.

export { ReadCache, cacheKey, renderTtl } from './read-cache.js';
export type { GetAnswer, LoadedAnswer, LoadOutcome, Lookup, MissReason, ReadCacheOptions, ReadCacheStats } from './read-cache.js';
export { parseCacheControl, readPolicy } from './cache-control.js';
export type { Directive, ReadPolicy, StalenessConfig } from './cache-control.js';
export { serveRead } from './serve-read.js';
export type { ReadDeps, ServedRead } from './serve-read.js';
