// Rebuilding a member's store on start: the newest snapshot, then every
// logged command after it, applied in order. Because the store is
// deterministic and time travels in the commands, this gives exactly the
// state the member had acknowledged (test/unit/node/replay.test.ts).

import { createStore, type KeyStore } from '../store/index.js';
import { decodeCommand } from './command-codec.js';
import type { MemberStorage } from './storage.js';

export interface Recovered {
  store: KeyStore;
  /** Index of the last log entry applied (0 for an empty log). */
  lastIndex: number;
}

export function recoverStore(storage: Pick<MemberStorage, 'snapshot' | 'entries'>): Recovered {
  const store = createStore();
  if (storage.snapshot) store.restore(storage.snapshot.image);
  let lastIndex = storage.snapshot?.index ?? 0;
  for (const e of storage.entries) {
    store.apply(decodeCommand(e.data));
    lastIndex = e.index;
  }
  return { store, lastIndex };
}
