// Free TCP ports on 127.0.0.1 for test processes (etcd, raftgate).
//
// The kernel picks a free port when we bind port 0; we release it at once and
// hand the number to a child process. Between release and the child's bind
// another process could take it, so two guards make collisions unlikely when
// vitest runs test files in parallel forks:
//   1. within this process, a port is never handed out twice;
//   2. across processes, a port is reserved by creating a lock file with
//      O_EXCL in a shared temp folder; a reservation older than
//      `reservationMsMax` is considered stale (its owner may have died).
// A child that still loses the race fails to bind and exits; the helpers that
// spawn processes retry with fresh ports a bounded number of times.
import { createServer } from 'node:net';
import { mkdirSync, openSync, closeSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const host = '127.0.0.1';
const attemptsMax = 50;
const reservationMsMax = 10 * 60_000;
const lockDir = join(tmpdir(), 'raftgate-test-ports');
const handedOut = new Set<number>();

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('ports: listen(0) returned no TCP address'));
        return;
      }
      const port = address.port;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function reserveAcrossProcesses(port: number): boolean {
  mkdirSync(lockDir, { recursive: true });
  const file = join(lockDir, String(port));
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch {
    try {
      const ageMs = Date.now() - statSync(file).mtimeMs;
      if (ageMs > reservationMsMax) {
        unlinkSync(file);
        closeSync(openSync(file, 'wx'));
        return true;
      }
    } catch {
      // Another process replaced or removed it meanwhile: treat as taken.
    }
    return false;
  }
}

/** One free port on 127.0.0.1, reserved for this test process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const port = await bindEphemeral();
    if (handedOut.has(port)) continue;
    if (!reserveAcrossProcesses(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`ports: no free port on ${host} after ${attemptsMax} attempts`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

/** Drop the cross-process reservation once the port's owner has exited. */
export function releasePort(port: number): void {
  handedOut.delete(port);
  try {
    unlinkSync(join(lockDir, String(port)));
  } catch {
    // Already released or expired: nothing to do.
  }
}
