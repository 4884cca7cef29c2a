// Many v2 long-poll watchers (`GET /v2/keys/<key>?wait=true`), each on its
// own raw TCP connection: the cheapest client there is, so the benchmark
// measures the server's fan-out rather than an HTTP client library. Each
// watcher records when its response head arrived (a server that flushes
// headers on registration) and when its response was complete (the event).
//
// Connections are spread over several loopback source addresses
// (127.0.0.2, 127.0.0.3, ...: all of 127/8 is local on Linux), so a server
// that caps connections per client address sees many clients, as it would in
// production, rather than one client with thousands of connections.

import net from 'node:net';
import { ResponseReader, type ResponsePhase } from './http-response.js';

/** Watchers per loopback source address. */
export const WATCHERS_PER_SOURCE_ADDRESS = 200;

/** The loopback source address for watcher i: 127.0.0.2 for the first `perAddress`, then 127.0.0.3, ... */
export function spreadSourceAddress(i: number, perAddress = WATCHERS_PER_SOURCE_ADDRESS): string {
  if (!(Number.isInteger(i) && i >= 0)) throw new RangeError(`watcher index must be a non-negative integer, got ${i}`);
  const k = 2 + Math.floor(i / perAddress);
  if (k > 254) throw new RangeError(`watcher ${i}: more than ${253 * perAddress} watchers need more source addresses than 127.0.0.2-254`);
  return `127.0.0.${k}`;
}

export interface WatcherFleetOptions {
  port: number;
  /** Path and query, e.g. `/v2/keys/bench/w?wait=true`. */
  path: string;
  count: number;
  /** Connects in flight at once while opening; default 100 (stays under listen backlogs). */
  connectConcurrency?: number;
  /** Give up opening after this long; default 60 s. */
  openTimeoutMs?: number;
}

export interface WatcherFleet {
  readonly count: number;
  /** Watchers whose response head has arrived. */
  headsSeen(): number;
  /** Watchers whose response is complete. */
  completed(): number;
  /** Watchers whose connection failed, with a few reasons. */
  failed(): { count: number; samples: string[] };
  /** Resolves once every watcher has completed or failed, or after timeoutMs (false). */
  waitAllDone(timeoutMs: number): Promise<boolean>;
  /** For each completed watcher: ms from `sinceNs` (process.hrtime.bigint()) to completion. */
  completionMs(sinceNs: bigint): number[];
  /** How many completed watchers got status 200 and a body that `check` accepts. */
  countValid(check: (body: string) => boolean): number;
  /** Destroys every connection. */
  close(): void;
}

interface Watcher {
  socket: net.Socket;
  reader: ResponseReader;
  headNs: bigint;
  doneNs: bigint;
  error: string;
}

/** Opens `count` watchers; resolves when every request has been written (or its connection failed). */
export async function openWatchers(o: WatcherFleetOptions): Promise<WatcherFleet> {
  const request = Buffer.from(`GET ${o.path} HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nAccept: application/json\r\n\r\n`);
  const watchers: Watcher[] = [];
  let heads = 0;
  let done = 0;
  let failedCount = 0;
  const failedSamples: string[] = [];
  let onSettled: (() => void) | undefined;
  const settled = () => done + failedCount >= o.count;
  const fail = (w: Watcher, why: string) => {
    if (w.error !== '' || w.doneNs !== 0n) return;
    w.error = why;
    failedCount++;
    if (failedSamples.length < 3) failedSamples.push(why);
    if (settled()) onSettled?.();
  };

  /** Records a watcher's completion or failure once its reader reaches `phase`. */
  const after = (w: Watcher, phase: ResponsePhase) => {
    if (phase === 'done' && w.doneNs === 0n) {
      w.doneNs = process.hrtime.bigint();
      done++;
      if (settled()) onSettled?.();
    } else if (phase === 'error') {
      fail(w, w.reader.error);
    }
  };

  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: o.port, localAddress: spreadSourceAddress(i) });
      const w: Watcher = { socket, reader: new ResponseReader(), headNs: 0n, doneNs: 0n, error: '' };
      watchers.push(w);
      socket.setNoDelay(true);
      socket.on('connect', () => {
        socket.write(request);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => {
        const before = w.reader.phase;
        const phase = w.reader.feed(chunk);
        if (before === 'head' && phase !== 'head' && w.headNs === 0n) {
          w.headNs = process.hrtime.bigint();
          heads++;
        }
        after(w, phase);
      });
      socket.on('end', () => after(w, w.reader.end()));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        fail(w, err.code ?? err.message);
        resolve();
      });
    });

  const concurrency = o.connectConcurrency ?? 100;
  const deadline = Date.now() + (o.openTimeoutMs ?? 60_000);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, o.count) }, async () => {
      while (next < o.count && Date.now() < deadline) await openOne(next++);
    }),
  );

  return {
    count: o.count,
    headsSeen: () => heads,
    completed: () => done,
    failed: () => ({ count: failedCount + (o.count - watchers.length), samples: failedSamples }),
    waitAllDone(timeoutMs) {
      if (settled()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        onSettled = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
    completionMs: (sinceNs) => watchers.filter((w) => w.doneNs !== 0n).map((w) => Number(w.doneNs - sinceNs) / 1e6),
    countValid: (check) => watchers.filter((w) => w.doneNs !== 0n && w.reader.status === 200 && check(w.reader.body())).length,
    close() {
      for (const w of watchers) w.socket.destroy();
    },
  };
}
