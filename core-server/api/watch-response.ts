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
import { errorBody, renderedEvent } from './v2-response.js';

/** Unsent bytes a stream watch may pile up before it is ended (a client that stopped reading). */
export const WATCH_BUFFER_BYTES_MAX = 1 << 20;

/** How a watch response ended (the proxy counts the watchers it drops). */
export type WatchEnd = 'event' | 'client-gone' | 'cleared' | 'overflow' | 'slow' | 'removed' | 'error';

export interface WatchSession {
  /** Called once when the response is over, however it ended. */
  onDone: (end: WatchEnd) => void;
  /** Unsent bytes a stream watch may pile up before it is ended; default WATCH_BUFFER_BYTES_MAX. */
  bufferBytesMax?: number;
  /**
   * Backpressure instead of a byte cut (the proxy): above this many unsent
   * bytes, stop taking events and resume on 'drain', so the watcher's own
   * bounded queue fills instead; when it overflows the watcher is closed.
   * A fast reader then never loses its watch to a burst, and a reader that
   * stopped is cut off once it is a queue's worth of events behind.
   */
  pauseAboveBytes?: number;
}

/**
 * Copy a registered watcher's events to `res`, whose headers the caller has
 * already written and flushed. Returns at once; the session ends by itself.
 */
export function pipeWatcher(w: Watcher, res: ServerResponse, stream: boolean, log: FastifyBaseLogger, session: WatchSession): void {
  let done = false;
  let waitingDrain = false;
  const bufferBytesMax = session.bufferBytesMax ?? WATCH_BUFFER_BYTES_MAX;
  const pauseAbove = session.pauseAboveBytes;

  const finish = (how: WatchEnd): void => {
    if (done) return;
    done = true;
    w.onWake = null;
    w.remove();
    res.off('close', gone);
    session.onDone(how);
  };
  const gone = (): void => finish('client-gone');

  const end = (how: WatchEnd, body?: string | Buffer): void => {
    finish(how);
    if (!res.writableEnded) res.end(body);
  };

  const drain = (): void => {
    if (done) return;
    try {
      if (pauseAbove !== undefined) {
        if (w.closed === 'overflow') return end('overflow');
        if (res.writableLength > pauseAbove) {
          if (!waitingDrain) {
            waitingDrain = true;
            res.once('drain', () => {
              waitingDrain = false;
              drain();
            });
          }
          return;
        }
      }
      for (const ev of w.take()) {
        if (!stream) return end('event', renderedEvent(ev));
        res.write(renderedEvent(ev));
        if (pauseAbove === undefined && res.writableLength > bufferBytesMax) return end('slow');
      }
      if (w.closed === 'cleared' && w.error !== null) return end('cleared', errorBody(w.error));
      if (w.closed !== null) return end(w.closed === 'overflow' ? 'overflow' : 'removed');
    } catch (err) {
      // Never let a socket problem travel back into the store's apply loop.
      log.warn({ err }, 'watch response failed');
      end('error');
    }
  };

  res.on('close', gone);
  w.onWake = drain;
  // Events found in the history at registration are already queued.
  drain();
}
