// The durability property behind every restart: any sequence of commands,
// proposed concurrently through the Raft driver of a one-member cluster into
// a real WAL (with a snapshot taken somewhere in the middle), recovers to
// exactly the store that answered the clients — same image, same index, same
// TTL deadlines.

import fc from 'fast-check';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { RaftNode, type PeerNetwork } from '../../../core-server/node/driver.js';
import { openMemberStorage, type MemberStorage } from '../../../core-server/node/storage.js';
import { opsArb } from '../store/arbitraries.js';
import { NOW } from '../store/helpers.js';

const identity = () => ({ memberId: '00000000000000aa', clusterId: '00000000000000bb' });
const noNetwork: PeerNetwork = { send: () => {}, forward: () => false, forwardFail: () => {}, setPeers: () => {} };

function member(storage: MemberStorage, snapshotCount: number): RaftNode {
  return new RaftNode({
    ...identity(),
    name: 'r',
    peerURLs: ['http://127.0.0.1:1'],
    clientURLs: [],
    log: storage,
    network: noNetwork,
    clock: { nowMs: () => NOW },
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    recovered: { snapshot: storage.snapshot, hardState: storage.hardState, entries: storage.entries },
    bootstrap: storage.created ? [{ id: identity().memberId, name: 'r', peerURLs: ['http://127.0.0.1:1'], clientURLs: [] }] : null,
    heartbeatMs: 10,
    electionTimeoutMs: 100,
    snapshotCount,
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

test('replaying the WAL (after a snapshot) gives the store that was live', async () => {
  await fc.assert(
    fc.asyncProperty(opsArb, fc.nat(), async (ops, cut0) => {
      const dir = mkdtempSync(join(tmpdir(), 'rg-replay-'));
      try {
        const cmds = ops.flatMap((o) => (o.kind === 'cmd' && o.cmd.op === 'write' ? [o.cmd.req] : []));
        // A snapshot somewhere in the middle: every `every` applied entries.
        const every = 2 + (cut0 % Math.max(1, cmds.length));
        const storage = await openMemberStorage(dir, { walSegmentBytes: 64 * 1024, newIdentity: identity });
        const node = member(storage, every);
        storage.releaseReplay();
        await node.start();
        // Concurrent proposals: batches form and share fsyncs, as under load.
        await Promise.all(cmds.map((r) => node.propose(r)));
        const live = JSON.stringify(node.store.snapshot());
        const liveIndex = node.raftIndex;
        await node.stop();
        await storage.close();
        if (liveIndex >= 2 * every) expect(readdirSync(join(dir, 'member', 'snap')).some((f) => f.endsWith('.snap'))).toBe(true);

        const reopened = await openMemberStorage(dir, { walSegmentBytes: 64 * 1024, newIdentity: identity });
        const again = member(reopened, every);
        reopened.releaseReplay();
        await again.start();
        // The restarted member re-commits its log (a new term's no-op first) and applies it.
        await until(() => again.raftIndex > liveIndex, `applied index past ${liveIndex}`);
        expect(JSON.stringify(again.store.snapshot())).toBe(live);
        await again.stop();
        await reopened.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 30 },
  );
}, 60_000);
