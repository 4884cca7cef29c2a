// The pure v2 store's public surface.

import { V2Store } from './store.js';
import type { StoreOptions } from './store.js';
import type { KeyStore } from './types.js';

export type {
  Action,
  Command,
  KeyStore,
  NodeJSON,
  ReadOptions,
  StoreEvent,
  StoreStats,
  WatchOptions,
  Watcher,
  WatcherCloseReason,
  WriteRequest,
} from './types.js';
export { Ecode, V2Error, isV2Error, messageOf, v2Error } from './v2-error.js';
export type { EcodeNumber, V2ErrorBody } from './v2-error.js';
export type { StoreOptions } from './store.js';
export { KEY_LENGTH_MAX } from './key-path.js';
export { formatRfc3339NanoUtc, ttlSeconds } from './time-format.js';

/**
 * A fresh, empty v2 store. Defaults are etcd's: 1000 events of history and
 * 100 queued events per watcher.
 */
export function createStore(opts?: StoreOptions): KeyStore {
  return new V2Store(opts);
}
