// Goal: damage on disk is handled the way an operator is promised, at the
// process level: a torn WAL tail (an interrupted last write) is copied aside
// and cut, and the member starts with every write before it; a flipped byte in
// the middle of a WAL segment or in the snapshot is a refusal to start that
// names the file and the offset, with a stable code and no JavaScript stack;
// and `raftgate wal verify` reports the same finding on the same bytes.
//
// Each case works on a COPY of one data dir, written by a real member and
// stopped with SIGTERM. The test reads frame boundaries itself from the
// documented layout (16-byte header: u32 payload length, u8 type, ...; an
// entry's payload starts with u64 term, u64 index), so it does not trust the
// scanner it is testing to say where records are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from '../helpers/http.js';
import { clientUrl, launchMember, raftgateCli, releasePorts, reservePorts, waitExit, waitHealthy, type MemberPorts, type MemberRun } from './member-process.js';

const KEYS = 250;
const VALUE_BYTES = 200;
const SNAPSHOT_COUNT = 100;
const MEMBER_ARGS = ['--snapshot-count', String(SNAPSHOT_COUNT)];
const REFUSAL_WAIT_MS = 15_000;
const STACK_LINE = /^\s+at .+/m;

interface Written {
  key: string;
  value: string;
  modifiedIndex: number;
  raftIndex: number;
}

interface Frame {
  start: number;
  end: number;
  type: number;
  /** Entry index, for entry frames (type 2). */
  index?: number;
}

const TYPE_ENTRY = 2;
const TYPE_SNAPSHOT = 5;

function frames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = buf.readUInt32LE(at);
    const type = buf[at + 4]!;
    const end = at + 16 + len;
    if (end > buf.length) break;
    const f: Frame = { start: at, end, type };
    if (type === TYPE_ENTRY) f.index = Number(buf.readBigUInt64LE(at + 16 + 8));
    out.push(f);
    at = end;
  }
  expect(at, 'the intact segment should parse to its end').toBe(buf.length);
  return out;
}

function walDir(dataDir: string): string {
  return join(dataDir, 'member', 'wal');
}
function snapDir(dataDir: string): string {
  return join(dataDir, 'member', 'snap');
}
function lastSegmentName(dataDir: string): string {
  const segs = readdirSync(walDir(dataDir)).filter((f) => f.endsWith('.wal')).sort();
  const last = segs[segs.length - 1];
  if (last === undefined) throw new Error(`no WAL segment in ${walDir(dataDir)}`);
  return last;
}
function newestSnapName(dataDir: string): string {
  const snaps = readdirSync(snapDir(dataDir)).filter((f) => f.endsWith('.snap')).sort();
  const last = snaps[snaps.length - 1];
  if (last === undefined) throw new Error(`no snapshot in ${snapDir(dataDir)}`);
  return last;
}
function snapIndexOf(name: string): number {
  return Number.parseInt(name.slice(17, 33), 16);
}
function flipByte(path: string, offset: number): void {
  const buf = readFileSync(path);
  buf[offset] = buf[offset]! ^ 0x5a;
  writeFileSync(path, buf);
}

describe('on-disk damage, at the process level', () => {
  let parent = '';
  let original = '';
  let ports: MemberPorts;
  const written: Written[] = [];
  let segName = '';
  let segBytes: Buffer = Buffer.alloc(0);
  let segFrames: Frame[] = [];
  let snapName = '';
  let copies = 0;
  let current: MemberRun | null = null;

  beforeAll(async () => {
    parent = mkdtempSync(join(tmpdir(), 'raftgate-corrupt-'));
    original = join(parent, 'original');
    ports = await reservePorts();
    const run = launchMember(original, ports, { extraArgs: MEMBER_ARGS });
    current = run;
    await waitHealthy(run, ports);
    const url = clientUrl(ports);
    for (let i = 0; i < KEYS; i++) {
      const key = `/c/k${String(i).padStart(4, '0')}`;
      const value = `v${i}-`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26)));
      const res = await http(url, { method: 'PUT', path: `/v2/keys${key}`, form: [['value', value]] });
      expect(res.status, res.text).toBe(201);
      const node = (res.json as { node: { modifiedIndex: number } }).node;
      written.push({ key, value, modifiedIndex: node.modifiedIndex, raftIndex: Number(res.headers['x-raft-index']) });
    }
    // Snapshots are written in the background; wait (bounded) for the one at the last multiple.
    // A snapshot is due every SNAPSHOT_COUNT applied entries (Raft's own
    // entries — membership, the leader's no-op — count too).
    const want = Math.floor(written[written.length - 1]!.raftIndex / SNAPSHOT_COUNT) * SNAPSHOT_COUNT;
    for (let i = 0; i < 100; i++) {
      const snaps = existsSync(snapDir(original)) ? readdirSync(snapDir(original)).filter((f) => f.endsWith('.snap')) : [];
      if (snaps.some((s) => snapIndexOf(s) >= want)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await run.proc.stop();
    const exit = await run.exited;
    expect(exit.code, `SIGTERM should stop the member cleanly\n${run.proc.describe()}`).toBe(0);
    current = null;

    segName = lastSegmentName(original);
    segBytes = readFileSync(join(walDir(original), segName));
    segFrames = frames(segBytes);
    snapName = newestSnapName(original);
    const entries = segFrames.filter((f) => f.type === TYPE_ENTRY);
    expect(entries.length, `the last segment ${segName} should hold entries`).toBeGreaterThan(20);
    expect(snapIndexOf(snapName)).toBeGreaterThanOrEqual(want);
    // Clean copy first: the member's own verify agrees the original is sound.
    const v = raftgateCli(['wal', 'verify', original]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    if (current !== null) await current.proc.kill9();
    releasePorts(ports);
    rmSync(parent, { recursive: true, force: true });
  });

  function copyData(): string {
    const dir = join(parent, `copy-${++copies}`);
    cpSync(original, dir, { recursive: true });
    return dir;
  }

  /** What a start on a copy whose last segment is cut at `offset` must contain: everything up to here. */
  function lastDurable(offset: number): number {
    let last = 0;
    for (const f of segFrames) if (f.type === TYPE_ENTRY && f.end <= offset) last = Math.max(last, f.index!);
    // Entries in earlier segments and the snapshot are untouched.
    const firstInSeg = segFrames.find((f) => f.type === TYPE_ENTRY)?.index ?? Infinity;
    const before = written.filter((w) => w.raftIndex < firstInSeg).reduce((m, w) => Math.max(m, w.raftIndex), 0);
    return Math.max(last, before, snapIndexOf(snapName));
  }

  /** The frame a cut at `offset` tears: the first frame that does not end at or before it. */
  function tornFrame(offset: number): Frame {
    const f = segFrames.find((fr) => fr.end > offset);
    if (f === undefined) throw new Error(`offset ${offset} is past the last frame`);
    return f;
  }

  async function startOnTornCopy(offset: number): Promise<void> {
    const dir = copyData();
    const segPath = join(walDir(dir), segName);
    truncateSync(segPath, offset);
    const torn = readFileSync(segPath);
    const cutAt = tornFrame(offset).start;

    // verify first, on the untouched copy: a torn tail is not damage (exit 0) and is reported where it is.
    const v = raftgateCli(['wal', 'verify', dir]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`torn tail`);
    expect(v.stdout).toContain(`${segName} at offset ${cutAt}`);

    const run = launchMember(dir, ports, { extraArgs: MEMBER_ARGS });
    current = run;
    await waitHealthy(run, ports);
    const url = clientUrl(ports);
    try {
      // The member said what it did, and kept the bytes it cut.
      const out = run.proc.output.text();
      expect(out, 'the member should log the torn tail').toMatch(/torn tail/i);
      expect(out).toContain(segName);
      // ...at the same offset `wal verify` reported.
      expect(out, 'the member logs where it cut').toMatch(new RegExp(`"offset":${cutAt}\\b|offset ${cutAt}\\b`));
      const broken = readdirSync(walDir(dir)).filter((f) => f.startsWith(segName) && f.endsWith('.broken'));
      expect(broken, 'the torn segment should be copied aside as .broken').toHaveLength(1);
      expect(readFileSync(join(walDir(dir), broken[0]!)).equals(torn), 'the .broken copy holds the bytes as found').toBe(true);
      if (cutAt > 0) expect(statSync(segPath).size).toBe(cutAt);

      // Every write up to the torn record is there, exactly; nothing after it is.
      const durable = lastDurable(offset);
      const tree = await http(url, { method: 'GET', path: '/v2/keys/c?recursive=true&sorted=true' });
      expect(tree.status, tree.text.slice(0, 300)).toBe(200);
      const nodes = new Map(((tree.json as { node: { nodes?: { key: string; value: string; modifiedIndex: number }[] } }).node.nodes ?? []).map((n) => [n.key, n]));
      const kept = written.filter((w) => w.raftIndex <= durable);
      const lost = written.filter((w) => w.raftIndex > durable);
      for (const w of kept) expect(nodes.get(w.key), `${w.key} (raft index ${w.raftIndex} <= ${durable}) must survive`).toEqual({ key: w.key, value: w.value, modifiedIndex: w.modifiedIndex, createdIndex: w.modifiedIndex });
      for (const w of lost) expect(nodes.has(w.key), `${w.key} (raft index ${w.raftIndex} > ${durable}) was never durable`).toBe(false);
      const lastKept = kept[kept.length - 1]!;
      expect(Number(tree.headers['x-etcd-index'])).toBe(lastKept.modifiedIndex);

      // And the member takes writes again, continuing the index.
      const put = await http(url, { method: 'PUT', path: '/v2/keys/c/after-repair', form: [['value', 'ok']] });
      expect(put.status, `a write after torn-tail recovery: ${put.text}\n${run.proc.describe()}`).toBe(201);
      expect((put.json as { node: { modifiedIndex: number } }).node.modifiedIndex).toBe(lastKept.modifiedIndex + 1);
      const get = await http(url, { method: 'GET', path: '/v2/keys/c/after-repair' });
      expect((get.json as { node?: { value?: string } }).node?.value).toBe('ok');
    } finally {
      await run.proc.stop();
      current = null;
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a tear in the middle of the final entry record: starts, keeps all before it, copies the segment aside', async () => {
    // The last frame of a Ready is its hard state; the entry before it is the last write.
    const last = segFrames.filter((f) => f.type === TYPE_ENTRY).pop()!;
    expect(last.end).toBeGreaterThan(segBytes.length - 200);
    await startOnTornCopy(last.start + 16 + Math.floor((last.end - last.start - 16) / 2));
  });

  it('a tear inside the header of a record a few before the end: cuts there and keeps every earlier write', async () => {
    const entries = segFrames.filter((f) => f.type === TYPE_ENTRY);
    const f = entries[entries.length - 5]!;
    expect(f.index!).toBeGreaterThan(snapIndexOf(snapName));
    await startOnTornCopy(f.start + 7);
  });

  it('a tear one byte short of the end of the segment', async () => {
    await startOnTornCopy(segBytes.length - 1);
  });

  it('a tear that cuts the newest snapshot marker: the snapshot still holds the writes, and writes continue', async () => {
    const markers = segFrames.filter((f) => f.type === TYPE_SNAPSHOT);
    const marker = markers[markers.length - 1];
    expect(marker, `expected a snapshot marker record in ${segName}`).toBeDefined();
    await startOnTornCopy(marker!.start + 3);
  });

  async function expectRefusal(dir: string, code: string, file: string, offset: number): Promise<void> {
    const v = raftgateCli(['wal', 'verify', dir]);
    const run = launchMember(dir, ports, { extraArgs: MEMBER_ARGS });
    current = run;
    const exit = await waitExit(run, REFUSAL_WAIT_MS);
    current = null;
    const stderr = run.stderr.text();
    const why = `member stderr:\n${stderr}\n${run.proc.describe()}`;
    expect(exit.timedOut, `the member should refuse to start, it kept running\n${why}`).toBe(false);
    expect(exit.code, why).not.toBe(0);
    expect(exit.code, why).not.toBeNull();
    expect(stderr, why).toContain(code);
    expect(stderr, why).toContain(file);
    expect(stderr, why).toMatch(new RegExp(`offset ${offset}\\b`));
    expect(stderr, `no JavaScript stack trace in what an operator reads\n${why}`).not.toMatch(STACK_LINE);
    // The member did not move or cut anything it refused.
    expect(readdirSync(walDir(dir)).filter((f) => f.endsWith('.broken'))).toEqual([]);

    // `raftgate wal verify` says the same thing about the same bytes.
    const base = file.split('/').pop()!;
    expect(v.code, v.stdout + v.stderr).toBe(1);
    expect(v.stdout, v.stdout).toContain(base);
    expect(v.stdout, v.stdout).toMatch(new RegExp(`CORRUPT.*offset ${offset}\\b`));
    expect(v.stdout + v.stderr).not.toMatch(STACK_LINE);
    rmSync(dir, { recursive: true, force: true });
  }

  it('a flipped byte in a record payload in the middle of a segment: refuses to start, names file and offset', async () => {
    const entries = segFrames.filter((f) => f.type === TYPE_ENTRY);
    const f = entries[Math.floor(entries.length / 2)]!;
    const dir = copyData();
    const path = join(walDir(dir), segName);
    flipByte(path, f.start + 16 + 20);
    await expectRefusal(dir, 'RG_ERR_WAL_CORRUPT', path, f.start);
  });

  it('a flipped byte in a record length in the middle of a segment: refuses, never mistaken for a torn tail', async () => {
    const entries = segFrames.filter((f) => f.type === TYPE_ENTRY);
    const f = entries[Math.floor(entries.length / 3)]!;
    const dir = copyData();
    const path = join(walDir(dir), segName);
    flipByte(path, f.start + 1);
    await expectRefusal(dir, 'RG_ERR_WAL_CORRUPT', path, f.start);
  });

  it('a flipped byte in the snapshot payload: refuses to start with RG_ERR_SNAP_CORRUPT, names file and offset', async () => {
    const dir = copyData();
    const path = join(snapDir(dir), snapName);
    const size = statSync(path).size;
    flipByte(path, Math.floor(size / 2));
    // The payload checksum covers bytes 40..end: the damage is reported where the payload starts.
    await expectRefusal(dir, 'RG_ERR_SNAP_CORRUPT', path, 40);
  });

  it('a flipped byte in the snapshot header: refuses to start with RG_ERR_SNAP_CORRUPT at offset 0', async () => {
    const dir = copyData();
    const path = join(snapDir(dir), snapName);
    flipByte(path, 20);
    await expectRefusal(dir, 'RG_ERR_SNAP_CORRUPT', path, 0);
  });
});
