// Shared by the proxy unit tests: a reference store whose every event
// (hidden keys, expiries, refreshes) is captured the way the native
// protocol's upstream stream carries it, and client watchers that record
// what they receive.

import type { Command, KeyStore, StoreEvent, WatchOptions, Watcher } from '../../../core-server/store/index.js';
import { createStore, V2Error } from '../../../core-server/store/index.js';
import type { UpstreamView } from '../../../proxy/watch/index.js';
import type { WatchRecord } from '../../../proxy/watch/index.js';

/** A store plus the stream of every event it records, as the upstream sends it. */
export class Upstream {
  readonly store: KeyStore;
  readonly log: StoreEvent[] = [];
  private readonly all: Watcher;

  constructor(store: KeyStore = createStore({ historyMax: 100_000 })) {
    this.store = store;
    const w = store.watchAll(0);
    if (w instanceof V2Error) throw new Error(w.toBody());
    this.all = w;
  }

  /** Apply a command; returns the new events (possibly none, possibly several for a sync). */
  apply(cmd: Command): StoreEvent[] {
    this.store.apply(cmd);
    const fresh = this.all.take();
    this.log.push(...fresh);
    return fresh;
  }
}

/** A client watcher that drains on every wake-up, as the HTTP layer does, recording what it got. */
export class Client {
  readonly received: StoreEvent[] = [];
  readonly watcher: Watcher;
  readonly spec: { key: string; recursive: boolean; stream: boolean; sinceIndex: number };

  constructor(view: UpstreamView, key: string, opts: WatchOptions, drain = true) {
    const w = view.watch(key, opts);
    if (w instanceof V2Error) throw new Error(`watch failed: ${w.toBody()}`);
    this.watcher = w;
    this.spec = { key, recursive: opts.recursive, stream: opts.stream, sinceIndex: opts.sinceIndex };
    if (drain) {
      w.onWake = () => this.received.push(...w.take());
      this.received.push(...w.take());
    }
  }

  record(): WatchRecord {
    const c = this.watcher.closed;
    const end = c === null ? 'open' : 'cut';
    return { ...this.spec, startIndex: this.watcher.startIndex, received: this.received, end };
  }
}
