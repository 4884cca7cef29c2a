// The durability property behind every restart: any sequence of commands,
// proposed concurrently through the single-member driver into a real WAL
// (with a snapshot taken somewhere in the middle), recovers to exactly the
// store that answered the clients — same image, same index, same TTLs.

import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { SingleNode } from '../../../core-server/node/index.js';
import { openMemberStorage } from '../../../core-server/node/storage.js';
import { recoverStore } from '../../../core-server/node/recover.js';
import { createStore } from '../../../core-server/store/index.js';
import { opsArb } from '../store/arbitraries.js';
import { NOW } from '../store/helpers.js';

const identity = () => ({ memberId: '00000000000000aa', clusterId: '00000000000000bb' });

test('replaying the WAL (after a snapshot) gives the store that was live', async () => {
  await fc.assert(
    fc.asyncProperty(opsArb, fc.nat(), async (ops, cut0) => {
      const dir = mkdtempSync(join(tmpdir(), 'rg-replay-'));
      try {
        const storage = await openMemberStorage(dir, { walSegmentBytes: 64 * 1024, newIdentity: identity });
        const store = createStore();
        const node = new SingleNode({
          store,
          sink: storage,
          clock: { nowMs: () => NOW },
          ...identity(),
          name: 'r',
          peerURLs: [],
          clientURLs: [],
          lastIndex: 0,
          term: 1,
        });
        const cmds = ops.flatMap((o) => (o.kind === 'cmd' && o.cmd.op === 'write' ? [o.cmd.req] : []));
        const cut = cmds.length === 0 ? 0 : cut0 % cmds.length;
        // Concurrent proposals: batches form and share fsyncs, as under load.
        await Promise.all(cmds.slice(0, cut).map((r) => node.propose(r)));
        await storage.saveSnapshot(node.raftIndex, node.raftTerm, store.snapshot());
        await Promise.all(cmds.slice(cut).map((r) => node.propose(r)));
        const live = JSON.stringify(store.snapshot());
        const liveIndex = node.raftIndex;
        await node.stop();
        await storage.close();

        const reopened = await openMemberStorage(dir, { walSegmentBytes: 64 * 1024, newIdentity: identity });
        const { store: again, lastIndex } = recoverStore(reopened);
        await reopened.close();
        expect(lastIndex).toBe(liveIndex);
        expect(JSON.stringify(again.snapshot())).toBe(live);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 40 },
  );
});
