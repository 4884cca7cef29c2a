import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSnapFile, encodeSnapHeader, formatSnapshotReport, loadNewestSnapshot, saveSnapshot, snapName, verifySnapshots } from '../../../core-server/snap/index.js';
import { armFailpoint, disarmFailpoint, MemoryDisk, StorageError } from '../../../core-server/wal/index.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
  disarmFailpoint('snapBeforeRename');
  disarmFailpoint('snapAfterRename');
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'rg-snap-'));
  dirs.push(d);
  return d;
}
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function expectSnapCorrupt(dir: string, file: string, damageAt: number): Promise<void> {
  let err: unknown = null;
  try {
    await loadNewestSnapshot(dir);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StorageError);
  const se = err as StorageError;
  expect(se.code).toBe('RG_ERR_SNAP_CORRUPT');
  expect(se.file).toBe(join(dir, file));
  expect(se.offset).toBeLessThanOrEqual(damageAt);
  expect(se.message).toContain(join(dir, file));
}

describe('snapshots', () => {
  it('save then load returns the newest by term and index', async () => {
    const dir = tmp();
    expect(await loadNewestSnapshot(dir)).toBeNull();
    await saveSnapshot(dir, { term: 1, index: 90, data: bytes('a') });
    await saveSnapshot(dir, { term: 2, index: 100, data: bytes('b') });
    await saveSnapshot(dir, { term: 1, index: 95, data: bytes('c') });
    const s = await loadNewestSnapshot(dir);
    expect(s).toMatchObject({ term: 2, index: 100, file: join(dir, snapName(2, 100)) });
    expect(text(s!.data)).toBe('b');
    expect(readdirSync(dir).sort().at(-1)).toBe(snapName(2, 100));
  });

  it('keeps at most keepMax files, dropping the oldest', async () => {
    const dir = tmp();
    for (let i = 1; i <= 7; i++) await saveSnapshot(dir, { term: 1, index: i * 10, data: bytes(`s${i}`) }, { keepMax: 3 });
    expect(readdirSync(dir).sort()).toEqual([snapName(1, 50), snapName(1, 60), snapName(1, 70)]);
  });

  it('leaves no file visible when a crash happens before the rename, and removes the temp file at start', async () => {
    const disk = new MemoryDisk();
    await saveSnapshot('/s', { term: 1, index: 10, data: bytes('old') }, { disk });
    armFailpoint('snapBeforeRename', { kind: 'throw' });
    await expect(saveSnapshot('/s', { term: 1, index: 20, data: bytes('new') }, { disk })).rejects.toMatchObject({ code: 'RG_ERR_FAILPOINT' });
    disarmFailpoint('snapBeforeRename');
    expect(await disk.readdir('/s')).toContain(`${snapName(1, 20)}.tmp`);
    const report = await verifySnapshots('/s', { disk });
    expect(report.leftovers).toEqual([`${snapName(1, 20)}.tmp`]);
    const s = await loadNewestSnapshot('/s', { disk });
    expect(s?.index).toBe(10);
    expect(await disk.readdir('/s')).toEqual([snapName(1, 10)]);
  });

  it('a crash after the rename but before the directory fsync keeps either the old or the new snapshot, never a broken one', async () => {
    const disk = new MemoryDisk();
    await saveSnapshot('/s', { term: 1, index: 10, data: bytes('old') }, { disk });
    armFailpoint('snapAfterRename', { kind: 'call', fn: () => disk.crash() });
    await saveSnapshot('/s', { term: 1, index: 20, data: bytes('new') }, { disk }).catch(() => {});
    disarmFailpoint('snapAfterRename');
    const s = await loadNewestSnapshot('/s', { disk });
    expect([10, 20]).toContain(s?.index);
    expect(text(s!.data)).toBe(s!.index === 10 ? 'old' : 'new');
  });

  it('truncation at every offset is refused with RG_ERR_SNAP_CORRUPT, never a crash or a fallback', async () => {
    const dir = tmp();
    await saveSnapshot(dir, { term: 1, index: 5, data: bytes('older and fine') });
    const file = snapName(2, 9);
    await saveSnapshot(dir, { term: 2, index: 9, data: bytes('the payload of the newest snapshot') });
    const full = readFileSync(join(dir, file));
    for (let cut = 0; cut < full.length; cut++) {
      writeFileSync(join(dir, file), full.subarray(0, cut));
      await expectSnapCorrupt(dir, file, cut);
    }
    writeFileSync(join(dir, file), Buffer.concat([full, Buffer.from([0])]));
    await expectSnapCorrupt(dir, file, full.length);
  });

  it('flipping any byte is refused with RG_ERR_SNAP_CORRUPT at or before the damage', async () => {
    const dir = tmp();
    const file = snapName(3, 42);
    await saveSnapshot(dir, { term: 3, index: 42, data: bytes('{"k":"v","n":[1,2,3]}') });
    const full = readFileSync(join(dir, file));
    for (let b = 0; b < full.length; b++) {
      const damaged = Buffer.from(full);
      damaged[b]! ^= 0x10;
      writeFileSync(join(dir, file), damaged);
      await expectSnapCorrupt(dir, file, b);
    }
  });

  it('a file whose name disagrees with its header is refused', async () => {
    const dir = tmp();
    await saveSnapshot(dir, { term: 1, index: 5, data: bytes('x') });
    writeFileSync(join(dir, snapName(1, 6)), readFileSync(join(dir, snapName(1, 5))));
    await expectSnapCorrupt(dir, snapName(1, 6), 8);
  });

  it('verifySnapshots reports every file and formats a report', async () => {
    const dir = tmp();
    await saveSnapshot(dir, { term: 1, index: 5, data: bytes('x') });
    await saveSnapshot(dir, { term: 1, index: 6, data: bytes('y') });
    let r = await verifySnapshots(dir);
    expect(r.ok).toBe(true);
    expect(r.newest).toBe(snapName(1, 6));
    expect(r.files.map((f) => f.file)).toEqual([snapName(1, 5), snapName(1, 6)]);
    const old = join(dir, snapName(1, 5));
    const b = readFileSync(old);
    b[b.length - 1]! ^= 1;
    writeFileSync(old, b);
    r = await verifySnapshots(dir);
    expect(r.ok).toBe(false);
    expect(r.files[0]).toMatchObject({ ok: false, problem: { offset: 40, reason: 'payload checksum mismatch' } });
    expect(formatSnapshotReport(r)).toContain('CORRUPT at offset 40');
  });

  it('round-trips a large snapshot (tens of MB) byte for byte', async () => {
    const dir = tmp();
    const data = new Uint8Array(24 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    await saveSnapshot(dir, { term: 4, index: 200_000, data });
    const s = await loadNewestSnapshot(dir);
    expect(s!.data.length).toBe(data.length);
    expect(Buffer.compare(Buffer.from(s!.data.buffer, s!.data.byteOffset, s!.data.length), Buffer.from(data.buffer))).toBe(0);
  });

  it('checkSnapFile (what `raftgate snapshot` and start-up share) checks header, length and checksum, reporting progress', () => {
    const payload = new Uint8Array(2.5 * 1024 * 1024).fill(7);
    const file = Buffer.concat([encodeSnapHeader(3, 9, payload), payload]);
    const seen: number[] = [];
    const ok = checkSnapFile(file, (d) => seen.push(d));
    expect(ok).toMatchObject({ term: 3, index: 9 });
    expect('payload' in ok && ok.payload.length).toBe(payload.length);
    expect(seen).toEqual([40 + (1 << 20), 40 + 2 * (1 << 20), file.length]);
    expect(checkSnapFile(file.subarray(0, file.length - 1))).toEqual({ offset: file.length - 1, reason: `file is truncated: ${file.length - 1} of ${file.length} bytes` });
    expect(checkSnapFile(Buffer.concat([file, Buffer.from([0])]))).toEqual({ offset: file.length, reason: 'file has 1 bytes after the payload' });
    const flipped = Buffer.from(file);
    flipped[flipped.length - 1]! ^= 1;
    expect(checkSnapFile(flipped)).toEqual({ offset: 40, reason: 'payload checksum mismatch' });
    expect(checkSnapFile(file.subarray(0, 10))).toMatchObject({ offset: 10 });
  });
});
