// Client connections, counted as they are accepted: total and per client
// address (limits/slot-limiter.ts). A connection over a cap is not dropped
// silently: its socket is marked, its first request is answered at once with
// the refusal (429 per client, 503 total; Retry-After; JSON naming the
// limit) and `Connection: close`, and the socket is destroyed shortly after
// whether or not a request ever came — so a refused client learns why, and
// holds nothing for long.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { LimitReason } from './refusal.js';
import { ConnectionLimiter } from './slot-limiter.js';

export interface ConnectionGate {
  readonly limiter: ConnectionLimiter;
  /** Why this socket was refused, or null if it holds a slot. */
  refusedReason(socket: Socket | undefined): LimitReason | null;
}

/** How long a refused socket may live to carry its answer. */
const REFUSED_SOCKET_LINGER_MS = 2000;

export function attachConnectionGate(
  server: Server,
  limits: { connectionsMax: number; connectionsPerClientMax: number | null },
  onRefused: (reason: LimitReason) => void,
): ConnectionGate {
  const limiter = new ConnectionLimiter(limits);
  const refused = new WeakMap<Socket, LimitReason>();
  server.on('connection', (socket: Socket) => {
    const g = limiter.accept(socket.remoteAddress ?? 'unknown');
    if (g.ok) {
      socket.once('close', () => g.release());
      return;
    }
    refused.set(socket, g.reason);
    onRefused(g.reason);
    setTimeout(() => socket.destroy(), REFUSED_SOCKET_LINGER_MS).unref();
  });
  return {
    limiter,
    refusedReason: (socket) => (socket === undefined ? null : (refused.get(socket) ?? null)),
  };
}
