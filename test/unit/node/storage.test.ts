// A member's durable state across the crash between writing a snapshot file
// and marking it in the WAL: the next start replays as if the marker were
// there, and the log goes on after the snapshot (found by test/sim).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { openMemberStorage } from '../../../core-server/node/storage.js';
import { saveSnapshot } from '../../../core-server/snap/index.js';
import type { Entry } from '../../../core-server/raft/types.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-storage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const identity = () => ({ memberId: '00000000000000aa', clusterId: '00000000000000bb' });
const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(`e${index}`) });

test('a snapshot file the WAL never marked: the log it replaced stays gone, and the next entry follows it', async () => {
  const s1 = await openMemberStorage(dir, { walSegmentBytes: 1 << 20, newIdentity: identity });
  await s1.save({ term: 1, vote: '', commit: 3 }, [1, 2, 3, 4, 5].map((i) => ent(i, 1)));
  await s1.close();
  // A leader's snapshot at 8 (term 2) landed as a file; the crash came before its WAL marker.
  await saveSnapshot(join(dir, 'member', 'snap'), { index: 8, term: 2, data: new Uint8Array([1, 2, 3]) });

  const s2 = await openMemberStorage(dir, { walSegmentBytes: 1 << 20, newIdentity: identity });
  expect(s2.snapshot?.index).toBe(8);
  expect(s2.entries).toEqual([]);
  await s2.save({ term: 2, vote: '', commit: 9 }, [ent(9, 2)]);
  await s2.close();

  const s3 = await openMemberStorage(dir, { walSegmentBytes: 1 << 20, newIdentity: identity });
  expect(s3.entries.map((e) => [e.index, e.term])).toEqual([[9, 2]]);
  await s3.close();
});
