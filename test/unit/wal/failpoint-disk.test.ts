import { afterEach, describe, expect, it } from 'vitest';
import { armFailpoint, disarmFailpoint, failpoint, parseFailpoints } from '../../../core-server/wal/failpoint.js';
import { MemoryDisk } from '../../../core-server/wal/memory-disk.js';
import { openWal } from '../../../core-server/wal/wal.js';
import { entry, META } from './helpers.js';

afterEach(() => {
  for (const n of ['walBeforeFsync', 'walAfterFsync', 'snapBeforeRename', 'snapAfterRename'] as const) disarmFailpoint(n);
});

describe('failpoints', () => {
  it('parses the RAFTGATE_FAILPOINTS syntax and rejects typos loudly', () => {
    const m = parseFailpoints('walBeforeFsync=exit, snapAfterRename=sleep(250),walAfterFsync=off');
    expect(m.get('walBeforeFsync')).toEqual({ kind: 'exit' });
    expect(m.get('snapAfterRename')).toEqual({ kind: 'sleep', ms: 250 });
    expect(m.has('walAfterFsync')).toBe(false);
    expect(() => parseFailpoints('walBeforFsync=exit')).toThrow(/cannot parse/);
    expect(() => parseFailpoints('walBeforeFsync=explode')).toThrow(/cannot parse/);
  });

  it('is a no-op unless armed', () => {
    expect(failpoint('walBeforeFsync')).toBeUndefined();
  });

  it('walBeforeFsync fires before the data is durable: a crash there loses the batch, which was never acknowledged', async () => {
    const disk = new MemoryDisk();
    const { wal } = await openWal('/w', { metadata: META, disk });
    await wal.append([entry(1)]);
    let fired = 0;
    armFailpoint('walBeforeFsync', {
      kind: 'call',
      fn: () => {
        fired++;
        disk.crash(); // power cut at the failpoint
      },
    });
    await expect(wal.append([entry(2)])).rejects.toMatchObject({ code: 'RG_ERR_WAL_IO' });
    expect(fired).toBe(1);
    disarmFailpoint('walBeforeFsync');
    const r = await openWal('/w', { disk });
    expect(r.recovered.entries.map((e) => e.index)).toEqual([1]);
    await r.wal.close();
  });

  it('walAfterFsync fires after the data is durable: a crash there keeps the batch', async () => {
    const disk = new MemoryDisk();
    const { wal } = await openWal('/w', { metadata: META, disk });
    armFailpoint('walAfterFsync', { kind: 'throw' });
    await expect(wal.append([entry(1)])).rejects.toMatchObject({ code: 'RG_ERR_WAL_IO' });
    disarmFailpoint('walAfterFsync');
    disk.crash();
    const r = await openWal('/w', { disk });
    expect(r.recovered.entries.map((e) => e.index)).toEqual([1]);
    await r.wal.close();
  });
});

describe('MemoryDisk', () => {
  it('forgets unsynced writes and un-fsynced directory entries on crash', async () => {
    const disk = new MemoryDisk();
    await disk.mkdirp('/a');
    const h = await disk.create('/a/f');
    await h.writev([new Uint8Array([1, 2])], 0);
    await h.sync();
    await h.writev([new Uint8Array([3])], 2);
    expect(await disk.size('/a/f')).toBe(3);
    disk.crash();
    expect(await disk.readdir('/a')).toEqual([]); // the directory was never fsynced
    const g = await disk.create('/a/g');
    await g.writev([new Uint8Array([9, 9])], 0);
    await g.sync();
    await disk.fsyncDir('/a');
    await g.writev([new Uint8Array([7])], 2);
    disk.crash();
    expect(Array.from(await disk.readFile('/a/g'))).toEqual([9, 9]);
    await expect(g.sync()).rejects.toMatchObject({ code: 'EIO' }); // the old process is gone
  });
});
