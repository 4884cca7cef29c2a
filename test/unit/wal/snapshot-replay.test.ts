// A snapshot marker replaces the log it covers. What follows it in the WAL is
// kept only where it continues the snapshot: after a member's own snapshot of
// its log, yes; after a snapshot installed from the leader over a log that
// had diverged, no — the old suffix must not come back after a crash (found
// by the simulator, test/sim seed 14 with --wal-replay production).
import { afterAll, describe, expect, it } from 'vitest';
import { openWal } from '../../../core-server/wal/wal.js';
import { entries, META, tempDir, view } from './helpers.js';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';

const root = tempDir('rg-wal-snapreplay-');
afterAll(() => root.cleanup());

async function replayAfter(write: (append: (r: Parameters<Awaited<ReturnType<typeof openWal>>['wal']['append']>[0]) => Promise<void>) => Promise<void>) {
  const dir = mkdtempSync(join(root.dir, 'w-'));
  const { wal } = await openWal(dir, { metadata: META });
  await write((r) => wal.append(r));
  await wal.close();
  const again = await openWal(dir);
  await again.wal.close();
  return again.recovered;
}

describe('WAL replay around a snapshot marker', () => {
  it("keeps the entries after a member's own snapshot of its log", async () => {
    const r = await replayAfter(async (append) => {
      await append(entries(1, 10, 2));
      await append([{ type: 'snapshot', index: 8, term: 2 }]);
    });
    expect(view(r.entries).map(([i]) => i)).toEqual([9, 10]);
  });

  it('drops a diverged suffix when the snapshot came from a leader of another term', async () => {
    const r = await replayAfter(async (append) => {
      await append(entries(1, 10, 2)); // this member's log, terms 2
      await append([{ type: 'snapshot', index: 8, term: 3 }]); // the leader's log had term 3 at 8
    });
    expect(r.entries).toEqual([]);
    expect(r.snapshot).toEqual({ index: 8, term: 3 });
  });

  it('keeps entries written after the marker, and a log that ended before the snapshot is gone', async () => {
    const r = await replayAfter(async (append) => {
      await append(entries(1, 4, 1));
      await append([{ type: 'snapshot', index: 8, term: 3 }]);
      await append(entries(9, 11, 3));
    });
    expect(view(r.entries).map(([i, t]) => [i, t])).toEqual([
      [9, 3],
      [10, 3],
      [11, 3],
    ]);
  });
});
