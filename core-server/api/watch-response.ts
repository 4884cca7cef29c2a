// A client's long poll (wait=true), as etcd's handleKeyWatch serves it:
//
//   register ─► 200 + headers flushed at once (X-Etcd-Index = start index)
//            ─► event ─► one JSON line; end (or, with stream=true, keep going)
//            ─► watcher closed 'cleared' ─► its 401 error body; end
//            ─► watcher closed 'overflow' or client too slow ─► end
//            ─► client goes away ─► watcher.remove() at once
//
// The store calls onWake synchronously inside apply; this file only copies
// events to the socket, so a slow or broken client can never stall a write.
// A stream client that stops reading is cut off once its socket buffer passes
// a bound, the way etcd drops a watcher that cannot keep up.

import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Watcher } from '../store/types.js';
import { eventBody, errorBody } from './v2-response.js';

/** Unsent bytes a stream watch may pile up before it is ended (a client that stopped reading). */
export const WATCH_BUFFER_BYTES_MAX = 1 << 20;

export interface WatchSession {
  /** Called once when the response is over, however it ended. */
  onDone: () => void;
}

/**
 * Copy a registered watcher's events to `res`, whose headers the caller has
 * already written and flushed. Returns at once; the session ends by itself.
 */
export function pipeWatcher(w: Watcher, res: ServerResponse, stream: boolean, log: FastifyBaseLogger, session: WatchSession): void {
  let done = false;

  const finish = (): void => {
    if (done) return;
    done = true;
    w.onWake = null;
    w.remove();
    res.off('close', finish);
    session.onDone();
  };

  const end = (body?: string): void => {
    finish();
    if (!res.writableEnded) res.end(body);
  };

  const drain = (): void => {
    if (done) return;
    try {
      for (const ev of w.take()) {
        if (!stream) return end(eventBody(ev));
        res.write(eventBody(ev));
        if (res.writableLength > WATCH_BUFFER_BYTES_MAX) return end();
      }
      if (w.closed === 'cleared' && w.error !== null) return end(errorBody(w.error));
      if (w.closed !== null) return end();
    } catch (err) {
      // Never let a socket problem travel back into the store's apply loop.
      log.warn({ err }, 'watch response failed');
      end();
    }
  };

  res.on('close', finish);
  w.onWake = drain;
  // Events found in the history at registration are already queued.
  drain();
}
