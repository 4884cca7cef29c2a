import { readdirSync, statSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDisk } from '../../../core-server/wal/memory-disk.js';
import { isStorageError } from '../../../core-server/wal/errors.js';
import { openWal } from '../../../core-server/wal/wal.js';
import type { AppendRecord } from '../../../core-server/wal/record.js';
import { countingDisk, entries, entry, META, tempDir, view } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});
function tmp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('openWal: create and recover', () => {
  it('creates a WAL with the member and cluster ids, and reads them back', async () => {
    const dir = tmp();
    const a = await openWal(dir, { metadata: META });
    expect(a.recovered.created).toBe(true);
    expect(a.recovered.entries).toEqual([]);
    await a.wal.close();
    const b = await openWal(dir);
    expect(b.recovered.created).toBe(false);
    expect(b.recovered.metadata).toEqual(META);
    expect(b.recovered.hardState).toBeNull();
    await b.wal.close();
  });

  it('refuses to create a WAL without ids', async () => {
    await expect(openWal(tmp())).rejects.toMatchObject({ code: 'RG_ERR_WAL_NO_METADATA' });
  });

  it('returns exactly the appended entries, the last hard state and snapshot marker', async () => {
    const dir = tmp();
    const { wal } = await openWal(dir, { metadata: META });
    await wal.append([...entries(1, 5), { type: 'hardState', term: 1, vote: 'a', commit: 3 }]);
    await wal.append([{ type: 'snapshot', index: 2, term: 1 }, ...entries(6, 7, 2), { type: 'hardState', term: 2, vote: 'b', commit: 6 }]);
    await wal.close();
    const { recovered, wal: w2 } = await openWal(dir);
    expect(view(recovered.entries)).toEqual(view(entries(3, 5).concat(entries(6, 7, 2))));
    expect(recovered.hardState).toEqual({ term: 2, vote: 'b', commit: 6 });
    expect(recovered.snapshot).toEqual({ index: 2, term: 1 });
    expect(w2.lastIndex()).toBe(7);
    await w2.close();
  });

  it('an entry at an existing index overwrites it and drops the suffix (Raft truncation)', async () => {
    const dir = tmp();
    const { wal } = await openWal(dir, { metadata: META });
    await wal.append(entries(1, 6, 1));
    await wal.append([entry(4, 2, 'new-4'), entry(5, 2, 'new-5')]);
    await wal.close();
    const { recovered, wal: w2 } = await openWal(dir);
    expect(view(recovered.entries)).toEqual([...view(entries(1, 3, 1)), [4, 2, 'new-4'], [5, 2, 'new-5']]);
    // and appending continues from the truncated end
    await w2.append([entry(6, 2, 'new-6')]);
    await w2.close();
    const { recovered: r3, wal: w3 } = await openWal(dir);
    expect(r3.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new TextDecoder().decode(r3.entries[5]!.data)).toBe('new-6');
    await w3.close();
  });

  it('rejects appends that would leave a gap, without poisoning the WAL', async () => {
    const { wal } = await openWal(tmp(), { metadata: META });
    await wal.append(entries(1, 2));
    await expect(wal.append([entry(4)])).rejects.toMatchObject({ code: 'RG_ERR_WAL_USAGE' });
    await expect(wal.append([entry(3)])).resolves.toBeUndefined();
    await wal.close();
    await expect(wal.append([entry(4)])).rejects.toMatchObject({ code: 'RG_ERR_WAL_CLOSED' });
  });
});

describe('group commit', () => {
  it('200 concurrent appends share a handful of fsyncs, and each resolves only after its fsync', async () => {
    const dir = tmp();
    const counting = countingDisk();
    const { wal } = await openWal(dir, { metadata: META, disk: counting.disk });
    const before = counting.fsyncs();
    const late: number[] = [];
    const calls = Array.from({ length: 200 }, (_, i) => {
      const syncedAtCall = counting.fsyncs();
      return wal.append([entry(i + 1)]).then(() => {
        if (counting.fsyncs() <= syncedAtCall) late.push(i);
      });
    });
    await Promise.all(calls);
    const used = counting.fsyncs() - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(2);
    // no caller resolved before an fsync that completed after its call
    expect(late).toEqual([]);
    await wal.close();
    const { recovered, wal: w2 } = await openWal(dir);
    expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await w2.close();
  });

  it('appends arriving while an fsync is in flight wait for the next one', async () => {
    const disk = new MemoryDisk();
    const { wal } = await openWal('/m/wal', { metadata: META, disk });
    const syncsBefore = disk.counts.fileSyncs;
    const first = wal.append([entry(1)]);
    await Promise.resolve(); // let the first flush start
    await Promise.resolve();
    const second = Array.from({ length: 50 }, (_, i) => wal.append([entry(i + 2)]));
    await Promise.all([first, ...second]);
    expect(disk.counts.fileSyncs - syncsBefore).toBe(2);
    expect(wal.stats().fsyncs).toBeGreaterThanOrEqual(2);
    await wal.close();
  });

  it('a failed fsync rejects the callers it covered and every later append', async () => {
    const disk = new MemoryDisk();
    let failSync = false;
    const realCreate = disk.create.bind(disk);
    disk.create = async (p) => {
      const h = await realCreate(p);
      return { writev: (c, at) => h.writev(c, at), sync: () => (failSync ? Promise.reject(new Error('EIO')) : h.sync()), close: () => h.close() };
    };
    const { wal } = await openWal('/m/wal', { metadata: META, disk });
    await wal.append([entry(1)]);
    failSync = true;
    const a = wal.append([entry(2)]);
    const b = wal.append([entry(3)]);
    await expect(a).rejects.toMatchObject({ code: 'RG_ERR_WAL_IO' });
    await expect(b).rejects.toMatchObject({ code: 'RG_ERR_WAL_IO' });
    failSync = false;
    // fsyncgate: after a failed fsync nothing later may be acknowledged
    await expect(wal.append([entry(2)])).rejects.toMatchObject({ code: 'RG_ERR_WAL_IO' });
  });

  it('sustains well over 10,000 small entries per second (loose bound: timing is not the test)', async () => {
    const dir = tmp();
    const { wal } = await openWal(dir, { metadata: META });
    const data = new Uint8Array(100).fill(7);
    const n = 20_000;
    const t0 = performance.now();
    const batches: Array<Promise<void>> = [];
    for (let i = 1; i <= n; i += 100) {
      const batch: AppendRecord[] = [];
      for (let j = i; j < i + 100; j++) batch.push({ type: 'entry', term: 1, index: j, data });
      batches.push(wal.append(batch));
    }
    await Promise.all(batches);
    const perSec = n / ((performance.now() - t0) / 1000);
    await wal.close();
    expect(perSec).toBeGreaterThan(10_000);
  });
});

describe('segments', () => {
  it('cuts at segmentBytesMax, carries the rolling CRC across files, and reads back in order', async () => {
    const dir = tmp();
    const { wal } = await openWal(dir, { metadata: META, segmentBytesMax: 512 });
    for (let i = 1; i <= 60; i += 3) await wal.append(entries(i, i + 2));
    await wal.append([{ type: 'hardState', term: 1, vote: 'x', commit: 60 }]);
    await wal.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(f).toMatch(/^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/);
    // every full segment stopped right after crossing the limit
    for (const f of files.slice(0, -2)) expect(statSync(`${dir}/${f}`).size).toBeLessThan(512 + 200);
    const { recovered, wal: w2 } = await openWal(dir);
    expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(recovered.hardState?.commit).toBe(60);
    await w2.close();
  });

  it('releaseTo deletes only segments wholly at or below the snapshot, and recovery still works', async () => {
    const dir = tmp();
    const { wal } = await openWal(dir, { metadata: META, segmentBytesMax: 400 });
    for (let i = 1; i <= 100; i += 5) await wal.append([...entries(i, i + 4), { type: 'hardState', term: 1, vote: 'v', commit: i }]);
    const before = wal.segmentFiles();
    await expect(wal.releaseTo(50)).rejects.toMatchObject({ code: 'RG_ERR_WAL_USAGE' }); // no snapshot yet
    await wal.append([{ type: 'snapshot', index: 50, term: 1 }]);
    const released = await wal.releaseTo(50);
    expect(released.length).toBeGreaterThan(0);
    expect(wal.segmentFiles()).toEqual(before.filter((f) => !released.includes(f)));
    // every released segment was cut before index 51 was expected
    const firstKept = Number.parseInt(wal.segmentFiles()[0]!.slice(17, 33), 16);
    expect(firstKept).toBeLessThanOrEqual(51);
    await wal.close();
    const { recovered, wal: w2 } = await openWal(dir);
    expect(recovered.metadata).toEqual(META);
    expect(recovered.snapshot).toEqual({ index: 50, term: 1 });
    expect(recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
    expect(recovered.hardState?.commit).toBe(96);
    await w2.close();
  });
});

describe('property: appends, cuts, reopens and crashes read back the same records', () => {
  type Op = { kind: 'append'; n: number; back: number; hs: boolean } | { kind: 'snapshot' } | { kind: 'reopen' } | { kind: 'release' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 6 }), back: fc.nat(3), hs: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
  );

  it('matches a model of the Raft log', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.integer({ min: 150, max: 2000 }), async (ops, segmentBytesMax) => {
        const disk = new MemoryDisk();
        const dir = '/d/member/wal';
        let { wal } = await openWal(dir, { metadata: META, disk, segmentBytesMax });
        // model: the live log, the snapshot index, the last hard state
        let log: Array<[number, number, string]> = [];
        let snap = 0;
        let hs: { term: number; vote: string; commit: number } | null = null;
        let term = 1;
        for (const o of ops) {
          if (o.kind === 'append') {
            const last = log.length > 0 ? log[log.length - 1]![0] : snap;
            const start = Math.max(snap + 1, last + 1 - o.back);
            if (start <= last) term++; // overwriting implies a newer leader
            const batch: AppendRecord[] = [];
            log = log.filter(([i]) => i < start);
            for (let i = start; i < start + o.n; i++) {
              batch.push(entry(i, term, `t${term}-${i}`));
              log.push([i, term, `t${term}-${i}`]);
            }
            if (o.hs) {
              hs = { term, vote: `m${term}`, commit: start };
              batch.push({ type: 'hardState', ...hs });
            }
            await wal.append(batch);
          } else if (o.kind === 'snapshot') {
            const last = log.length > 0 ? log[log.length - 1]![0] : snap;
            if (last === snap) continue;
            snap = Math.max(snap, last - 1);
            // A snapshot's term is the term of the entry at its index.
            await wal.append([{ type: 'snapshot', index: snap, term: log.find(([i]) => i === snap)?.[1] ?? term }]);
            log = log.filter(([i]) => i > snap);
          } else if (o.kind === 'release') {
            if (snap > 0) await wal.releaseTo(snap);
          } else {
            await wal.close();
            const r = await openWal(dir, { disk, segmentBytesMax });
            expect(view(r.recovered.entries)).toEqual(log);
            expect(r.recovered.hardState).toEqual(hs);
            expect(r.recovered.snapshot?.index ?? 0).toBe(snap);
            wal = r.wal;
          }
        }
        // a power cut after everything resolved loses nothing
        disk.crash();
        const r = await openWal(dir, { disk });
        expect(view(r.recovered.entries)).toEqual(log);
        expect(r.recovered.tornTail).toBeNull();
        await r.wal.close();
      }),
      { numRuns: 60 },
    );
  });

  it('a crash before the fsync loses only unacknowledged appends', async () => {
    const disk = new MemoryDisk();
    const { wal } = await openWal('/w', { metadata: META, disk });
    await wal.append(entries(1, 3));
    void wal.append(entries(4, 6)).catch(() => {}); // never awaited: not acknowledged
    disk.crash();
    const r = await openWal('/w', { disk });
    expect(r.recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    await r.wal.close();
  });
});

describe('errors', () => {
  it('carry stable codes', async () => {
    const err = await openWal(tmp()).catch((e: unknown) => e);
    expect(isStorageError(err, 'RG_ERR_WAL_NO_METADATA')).toBe(true);
  });
});
