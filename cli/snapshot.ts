// `raftgate snapshot save FILE [--endpoints URL[,URL...]]`
//   Downloads a member's state machine (store and membership) in the
//   snapshot file format, checks its CRC32C, and writes FILE atomically.
// `raftgate snapshot restore FILE --data-dir DIR --name N --initial-cluster ...`
//   Checks FILE, and creates DIR as a member of a NEW cluster holding that
//   state (etcdctl snapshot restore's model): run it once per member, with
//   the same --initial-cluster and --initial-cluster-token, then start each
//   member with `raftgate core` and the same flags. A damaged file is refused.

import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, exitCodeFor, loadConfig } from '../config/index.js';
import { clusterIdFor, memberIdFor } from '../core-server/node/ids.js';
import { decodeStateImage, encodeStateImage } from '../core-server/node/state-image.js';
import { checkSnapFile, saveSnapshot } from '../core-server/snap/index.js';
import { openWal } from '../core-server/wal/index.js';
import { progressBar } from './progress.js';

const USAGE = [
  'usage: raftgate snapshot save FILE [--endpoints URL[,URL...]]',
  '       raftgate snapshot restore FILE --data-dir DIR --name NAME --initial-cluster NAME=PEER_URL,... \\',
  '                [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URL]',
].join('\n');

async function save(file: string, args: string[]): Promise<number> {
  let endpoints = ['http://127.0.0.1:12379'];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--endpoints' || a.startsWith('--endpoints=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!v) return fail('--endpoints needs a comma-separated list of member client URLs', 2);
      endpoints = v.split(',').map((s) => s.trim()).filter(Boolean);
    } else return fail(`unknown flag ${JSON.stringify(a)}\n${USAGE}`, 2);
  }
  if (existsSync(file)) return fail(`${file} exists; choose a new file name (a snapshot is never written over another)`, 2);
  let lastError = '';
  for (const base of endpoints) {
    let res: Response;
    try {
      res = await fetch(`${base.replace(/\/+$/, '')}/raftgate/v1/snapshot`, { signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      lastError = `${base}: unreachable (${(err as { cause?: { code?: string } }).cause?.code ?? String(err)})`;
      continue;
    }
    if (!res.ok || res.body === null) {
      lastError = `${base}: answered ${res.status}; --endpoints must name core members (a proxy has no snapshot to give)`;
      await res.arrayBuffer().catch(() => undefined);
      continue;
    }
    const total = Number(res.headers.get('content-length') ?? 0);
    const bar = progressBar(`downloading from ${base}`, total);
    const chunks: Uint8Array[] = [];
    let got = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(c);
      got += c.length;
      bar.update(got);
    }
    bar.finish();
    const buf = Buffer.concat(chunks);
    const check = checkSnapFile(buf);
    if ('reason' in check) {
      lastError = `${base}: the downloaded snapshot is damaged (${check.reason} at offset ${check.offset}); try again`;
      continue;
    }
    // Atomic: temp file, fsync, rename, fsync the directory.
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(dirname(file), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
    console.log(`saved snapshot at index ${check.index} (term ${check.term}), ${buf.length} bytes, checksum ok: ${file}`);
    return 0;
  }
  return fail(`could not save a snapshot: ${lastError}`, 1);
}

async function restore(file: string, args: string[]): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig('core', { argv: args, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message, exitCodeFor(err));
    throw err;
  }
  if (loaded.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.some((a) => a === '--data-dir' || a.startsWith('--data-dir='))) return fail(`restore needs --data-dir (the new member's data dir)\n${USAGE}`, 2);
  const cfg = loaded.config;
  if (!existsSync(file)) return fail(`${file} does not exist`, 2);
  if (existsSync(join(cfg.dataDir, 'member')) && readdirSync(join(cfg.dataDir, 'member')).length > 0) {
    return fail(`${cfg.dataDir} already holds a member's data; restore into a new, empty --data-dir`, 2);
  }

  const size = statSync(file).size;
  const bar = progressBar('checking', size);
  const buf = readFileSync(file);
  const check = checkSnapFile(buf, (d) => bar.update(d));
  if ('reason' in check) {
    bar.finish('DAMAGED');
    return fail(`RG_ERR_SNAP_CORRUPT: ${file} is damaged: ${check.reason} at byte offset ${check.offset}; nothing was restored. Save a new snapshot with \`raftgate snapshot save\`.`, 1);
  }
  bar.finish('checksum ok');
  let img;
  try {
    img = decodeStateImage(check.payload);
  } catch (err) {
    return fail(`${file} passed its checksum but does not hold a Raftgate state image (${(err as Error).message}); nothing was restored`, 1);
  }

  // The restored cluster is a new one: its membership is --initial-cluster,
  // with ids derived as for any new cluster, so every restored member agrees.
  const token = cfg.initialClusterToken;
  const members = cfg.initialCluster.map((m) => ({ id: memberIdFor(m.peerUrls, token), name: m.name, peerURLs: [...m.peerUrls], clientURLs: [] as string[] }));
  const memberId = memberIdFor(cfg.initialAdvertisePeerUrls, token);
  const clusterId = clusterIdFor(members.map((m) => m.id));
  const data = encodeStateImage({ v: 1, store: img.store, members: { members, removed: [] } });

  const walDir = join(cfg.dataDir, 'member', 'wal');
  const snapDir = join(cfg.dataDir, 'member', 'snap');
  try {
    await saveSnapshot(snapDir, { index: check.index, term: check.term, data });
    const { wal } = await openWal(walDir, { metadata: { memberId, clusterId }, segmentBytesMax: cfg.walSegmentBytes });
    await wal.append([
      { type: 'snapshot', index: check.index, term: check.term },
      { type: 'hardState', term: check.term, vote: '', commit: check.index },
    ]);
    await wal.close();
  } catch (err) {
    for (const d of [walDir, snapDir]) if (existsSync(d)) for (const f of readdirSync(d)) unlinkSync(join(d, f));
    return fail(`restore failed, nothing kept in ${cfg.dataDir}: ${(err as Error).message}`, 1);
  }
  console.log(
    [
      `restored snapshot index ${check.index} (term ${check.term}) into ${cfg.dataDir}`,
      `  member ${cfg.name} (${memberId}) of a new cluster ${clusterId} with ${members.length} member(s): ${members.map((m) => m.name).join(', ')}`,
      `next: restore the same file for every other member (same --initial-cluster and --initial-cluster-token), then start each with`,
      `  raftgate core --name ${cfg.name} --data-dir ${cfg.dataDir} --initial-cluster ${cfg.initialCluster.map((m) => `${m.name}=${m.peerUrls.join(',')}`).join(',')} --initial-cluster-token ${token} ...`,
    ].join('\n'),
  );
  return 0;
}

function fail(message: string, code: number): number {
  console.error(`raftgate: ${message}`);
  return code;
}

export async function runSnapshotCommand(args: string[]): Promise<number> {
  const [sub, file, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === undefined) {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if ((sub !== 'save' && sub !== 'restore') || file === undefined || file.startsWith('-')) return fail(USAGE, 2);
  return sub === 'save' ? save(file, rest) : restore(file, rest);
}
