import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repairWal } from '../../../core-server/wal/repair.js';
import { formatVerifyReport, verifyWal } from '../../../core-server/wal/verify.js';
import { openWal } from '../../../core-server/wal/wal.js';
import { entries, META, tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

async function walWithSegments(): Promise<{ dir: string; segs: string[] }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const { wal } = await openWal(t.dir, { metadata: META, segmentBytesMax: 300 });
  for (let i = 1; i <= 20; i += 2) await wal.append([...entries(i, i + 1), { type: 'hardState', term: 1, vote: 'v', commit: i }]);
  await wal.close();
  return { dir: t.dir, segs: readdirSync(t.dir).filter((f) => f.endsWith('.wal')).sort() };
}

describe('verifyWal', () => {
  it('reports every segment with its entry range, and the last index', async () => {
    const { dir, segs } = await walWithSegments();
    const r = await verifyWal(dir);
    expect(r.ok).toBe(true);
    expect(r.problem).toBeUndefined();
    expect(r.segments.map((s) => s.file)).toEqual(segs);
    expect(r.lastIndex).toBe(20);
    expect(r.metadata).toEqual(META);
    const withEntries = r.segments.filter((s) => s.firstIndex !== null);
    expect(withEntries[0]!.firstIndex).toBe(1);
    expect(withEntries.at(-1)!.lastIndex).toBe(20);
    for (const s of r.segments) expect(s.bytes).toBe(readFileSync(join(dir, s.file)).length);
    const text = formatVerifyReport(r);
    expect(text).toContain(segs[0]!);
    expect(text).toContain('last index: 20');
    expect(text.trim().endsWith('OK')).toBe(true);
  });

  it('tells a torn tail (ok) from corruption (not ok), without changing anything', async () => {
    const { dir, segs } = await walWithSegments();
    const last = join(dir, segs.at(-1)!);
    const bytes = readFileSync(last);
    writeFileSync(last, bytes.subarray(0, bytes.length - 2));
    const torn = await verifyWal(dir);
    expect(torn.ok).toBe(true);
    expect(torn.problem).toMatchObject({ kind: 'torn-tail', file: segs.at(-1) });
    expect(formatVerifyReport(torn)).toContain('torn tail');
    expect(readFileSync(last).length).toBe(bytes.length - 2);

    const first = join(dir, segs[0]!);
    const f = readFileSync(first);
    f[100]! ^= 0xff;
    writeFileSync(first, f);
    const bad = await verifyWal(dir);
    expect(bad.ok).toBe(false);
    expect(bad.problem).toMatchObject({ kind: 'corrupt', file: segs[0] });
    expect(bad.problem!.offset).toBeLessThanOrEqual(100);
    expect(formatVerifyReport(bad)).toMatch(/CORRUPT: .* at offset \d+\. .*raftgate wal repair/);
  });

  it('reports an empty directory as not ok', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = await verifyWal(t.dir);
    expect(r.ok).toBe(false);
  });
});

describe('repairWal', () => {
  it('cuts at the first bad record, sets the rest aside, and the WAL opens with everything before it', async () => {
    const { dir, segs } = await walWithSegments();
    expect(segs.length).toBeGreaterThanOrEqual(3);
    const mid = join(dir, segs[1]!);
    const original = readFileSync(mid);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 10]! ^= 0x01;
    writeFileSync(mid, damaged);
    await expect(openWal(dir)).rejects.toMatchObject({ code: 'RG_ERR_WAL_CORRUPT' });

    const res = await repairWal(dir);
    expect(res.cut).toHaveLength(1);
    expect(res.cut[0]).toMatchObject({ kind: 'corrupt', file: segs[1] });
    // nothing lost silently: the damaged file and every later one are kept aside
    expect(Buffer.compare(readFileSync(join(dir, `${segs[1]}.broken`)), damaged)).toBe(0);
    for (const later of segs.slice(2)) expect(readdirSync(dir)).toContain(`${later}.broken`);

    const { wal, recovered } = await openWal(dir);
    const idx = recovered.entries.map((e) => e.index);
    expect(idx[0]).toBe(1);
    expect(idx).toEqual(Array.from({ length: idx.length }, (_, i) => i + 1)); // a clean prefix
    expect(idx.length).toBeLessThan(20);
    await wal.close();
    expect((await repairWal(dir)).cut).toEqual([]); // idempotent on a sound WAL
  });
});
