// Torn tails are truncated (after a copy aside); damage anywhere else is a
// refusal naming file and offset. Exhaustive over every byte of small WALs.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../../core-server/wal/errors.js';
import { openWal } from '../../../core-server/wal/wal.js';
import { verifyWal } from '../../../core-server/wal/verify.js';
import { entries, entry, META, tempDir, view } from './helpers.js';

interface Fixture {
  /** file name -> bytes, as left by a clean close */
  files: Map<string, Uint8Array>;
  order: string[];
  /** offset in the last segment where the final record starts */
  lastRecordAt: number;
  appended: number;
}

const root = tempDir('rg-wal-recovery-');
afterAll(() => root.cleanup());

async function buildFixture(segmentBytesMax: number, appends: number): Promise<Fixture> {
  const dir = mkdtempSync(join(root.dir, 'src-'));
  const { wal } = await openWal(dir, { metadata: META, segmentBytesMax });
  let lastRecordAt = 0;
  for (let i = 1; i <= appends; i++) {
    const last = wal.segmentFiles().at(-1)!;
    const before = statSync(join(dir, last)).size;
    await wal.append([entry(i, 1, `value-${i}`)]);
    const nowLast = wal.segmentFiles().at(-1)!;
    // lastRecordAt is only meaningful when the final record did not trigger a cut
    if (i === appends) lastRecordAt = nowLast === last ? before : -1;
  }
  await wal.close();
  const order = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
  const files = new Map(order.map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
  return { files, order, lastRecordAt, appended: appends };
}

/** Materialises the fixture with one file replaced, in a fresh dir. */
function materialise(fx: Fixture, file: string, bytes: Uint8Array): string {
  const dir = mkdtempSync(join(root.dir, 'case-'));
  for (const [f, b] of fx.files) writeFileSync(join(dir, f), f === file ? bytes : b);
  return dir;
}

async function expectCorrupt(dir: string, file: string, damageAt: number): Promise<void> {
  const before = readdirSync(dir).sort();
  let err: unknown = null;
  try {
    const r = await openWal(dir);
    await r.wal.close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StorageError);
  const se = err as StorageError;
  expect(se.code).toBe('RG_ERR_WAL_CORRUPT');
  expect(se.file).toBe(join(dir, file));
  expect(se.offset).toBeLessThanOrEqual(damageAt);
  expect(se.message).toContain(join(dir, file));
  expect(se.message).toContain(`offset ${se.offset}`);
  expect(se.message).toContain('raftgate wal repair');
  // the refusal changed nothing on disk
  expect(readdirSync(dir).sort()).toEqual(before);
  const report = await verifyWal(dir);
  expect(report.ok).toBe(false);
  expect(report.problem?.kind).toBe('corrupt');
}

describe('torn tail', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await buildFixture(64 * 1024, 4);
    expect(fx.lastRecordAt).toBeGreaterThan(0);
  });

  it('truncating the last record at every byte offset recovers every earlier record and keeps a .broken copy', async () => {
    const last = fx.order.at(-1)!;
    const full = fx.files.get(last)!;
    expect(fx.lastRecordAt).toBeGreaterThan(0);
    for (let cut = fx.lastRecordAt; cut < full.length; cut++) {
      const dir = materialise(fx, last, full.subarray(0, cut));
      const { wal, recovered } = await openWal(dir);
      await wal.close();
      expect(view(recovered.entries)).toEqual(view([1, 2, 3].map((i) => entry(i, 1, `value-${i}`))));
      if (cut === fx.lastRecordAt) {
        expect(recovered.tornTail).toBeNull(); // a clean record boundary is not torn
      } else {
        expect(recovered.tornTail).toMatchObject({ file: join(dir, last), offset: fx.lastRecordAt });
        const copy = readFileSync(join(dir, `${last}.broken`));
        expect(Buffer.compare(copy, Buffer.from(full.subarray(0, cut)))).toBe(0);
        expect(statSync(join(dir, last)).size).toBe(fx.lastRecordAt);
      }
      rmSync(dir, { recursive: true });
    }
  });

  it('a final record with a bad checksum, or a zero-filled tail, is a torn tail', async () => {
    const last = fx.order.at(-1)!;
    const full = fx.files.get(last)!;
    const flipped = full.slice();
    flipped[full.length - 1]! ^= 0xff; // payload byte of the final record
    const zeros = new Uint8Array(full.length + 4096);
    zeros.set(full);
    for (const bytes of [flipped, zeros]) {
      const dir = materialise(fx, last, bytes);
      const { wal, recovered } = await openWal(dir);
      await wal.close();
      expect(recovered.entries.length).toBe(bytes === zeros ? 4 : 3);
      expect(recovered.tornTail).not.toBeNull();
      rmSync(dir, { recursive: true });
    }
  });

  it('after recovery the WAL appends and reopens normally', async () => {
    const last = fx.order.at(-1)!;
    const full = fx.files.get(last)!;
    const dir = materialise(fx, last, full.subarray(0, full.length - 3));
    const a = await openWal(dir);
    await a.wal.append([entry(4, 2, 'again')]);
    await a.wal.close();
    const b = await openWal(dir);
    expect(view(b.recovered.entries).at(-1)).toEqual([4, 2, 'again']);
    expect(b.recovered.tornTail).toBeNull();
    await b.wal.close();
  });
});

describe('corruption is refused', () => {
  it('flipping any single byte before the final record (one segment) is RG_ERR_WAL_CORRUPT at or before it', async () => {
    const fx = await buildFixture(64 * 1024, 3);
    const [file] = fx.order as [string];
    const bytes = fx.files.get(file)!;
    for (let b = 0; b < fx.lastRecordAt; b++) {
      for (const mask of [0x01, 0xff]) {
        const damaged = bytes.slice();
        damaged[b]! ^= mask;
        const dir = materialise(fx, file, damaged);
        await expectCorrupt(dir, file, b);
        rmSync(dir, { recursive: true });
      }
    }
  });

  it('flipping any byte of a segment that is not the last is refused, naming that segment', async () => {
    const fx = await buildFixture(300, 15);
    expect(fx.order.length).toBeGreaterThanOrEqual(3);
    for (const file of fx.order.slice(0, -1)) {
      const bytes = fx.files.get(file)!;
      for (let b = 0; b < bytes.length; b++) {
        const damaged = bytes.slice();
        damaged[b]! ^= 0x5a;
        const dir = materialise(fx, file, damaged);
        await expectCorrupt(dir, file, b);
        rmSync(dir, { recursive: true });
      }
    }
  });

  it('a truncated segment that is not the last, or a missing middle segment, is refused', async () => {
    const fx = await buildFixture(300, 15);
    const first = fx.order[0]!;
    const bytes = fx.files.get(first)!;
    const dir = materialise(fx, first, bytes.subarray(0, bytes.length - 5));
    await expectCorrupt(dir, first, bytes.length - 5);
    rmSync(dir, { recursive: true });

    const dir2 = materialise(fx, '', new Uint8Array());
    rmSync(join(dir2, fx.order[1]!));
    await expectCorrupt(dir2, fx.order[2]!, 0);
    rmSync(dir2, { recursive: true });
  });

  it('swapping two records of the same size is caught by the rolling CRC', async () => {
    const fx = await buildFixture(64 * 1024, 4);
    const [file] = fx.order as [string];
    const bytes = fx.files.get(file)!;
    // entries 1..3 are equal-sized frames just before the last record
    const size = bytes.length - fx.lastRecordAt;
    const e2 = fx.lastRecordAt - 2 * size;
    const e3 = fx.lastRecordAt - size;
    const swapped = bytes.slice();
    swapped.set(bytes.subarray(e3, e3 + size), e2);
    swapped.set(bytes.subarray(e2, e2 + size), e3);
    const dir = materialise(fx, file, swapped);
    await expectCorrupt(dir, file, e2);
    rmSync(dir, { recursive: true });
  });

  it('entries continue across a reopen; damage in an older segment still refuses', async () => {
    const { dir, cleanup } = tempDir();
    const a = await openWal(dir, { metadata: META });
    await a.wal.append(entries(1, 3));
    await a.wal.close();
    const b = await openWal(dir);
    await b.wal.append(entries(4, 5));
    await b.wal.close();
    const segs = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
    expect(segs.length).toBe(2);
    const first = new Uint8Array(readFileSync(join(dir, segs[0]!)));
    first[first.length - 1]! ^= 1; // the final record of a non-last segment
    writeFileSync(join(dir, segs[0]!), first);
    await expect(openWal(dir)).rejects.toMatchObject({ code: 'RG_ERR_WAL_CORRUPT', file: join(dir, segs[0]!) });
    cleanup();
  });
});

describe('data dir hygiene', () => {
  it('removes a half-created segment (.tmp) left by a crash during a cut', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-wal-tmp-'));
    const a = await openWal(dir, { metadata: META });
    await a.wal.append(entries(1, 2));
    await a.wal.close();
    writeFileSync(join(dir, '00000000000000ff-0000000000000003.wal.tmp'), 'partial');
    const b = await openWal(dir);
    expect(b.recovered.entries.length).toBe(2);
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    await b.wal.close();
    rmSync(dir, { recursive: true });
  });
});
