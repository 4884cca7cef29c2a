// The store's snapshot image: plain JSON, flat, versioned.
//
// The tree is a flat list in pre-order (a parent before its children, children
// in their insertion order), so writing and reading it needs no recursion and
// the restored store lists children in the same order as the original. Each
// node is a tuple [path, createdIndex, modifiedIndex, expireAtMs | null,
// value | null] — null value marks a directory — to keep 200,000 keys compact.
// A malformed image is refused with RG_ERR_SNAPSHOT_INVALID before any state
// changes: a snapshot is trusted data, so damage is a loud stop, not a 4xx.

import { eventIndex } from './event-history.js';
import { cleanPath } from './key-path.js';
import type { Counters } from './store-stats.js';
import { COUNTERS } from './store-stats.js';
import type { TreeNode } from './tree-node.js';
import type { StoreEvent } from './types.js';

export const IMAGE_VERSION = 1;

export type NodeTuple = [path: string, createdIndex: number, modifiedIndex: number, expireAtMs: number | null, value: string | null];

export interface StoreImage {
  version: typeof IMAGE_VERSION;
  index: number;
  nodes: NodeTuple[];
  history: StoreEvent[];
  stats: Counters;
}

export interface DecodedNode {
  path: string;
  createdIndex: number;
  modifiedIndex: number;
  expireAtMs: number; // 0 = permanent
  value: string | null;
}

export interface DecodedImage {
  index: number;
  nodes: DecodedNode[];
  history: StoreEvent[];
  counters: Counters;
}

export function encodeImage(root: TreeNode, index: number, history: StoreEvent[], counters: Counters): StoreImage {
  const nodes: NodeTuple[] = [];
  // Pre-order with an explicit stack of child iterators.
  const stack: Iterator<TreeNode>[] = [(root.children as Map<string, TreeNode>).values()];
  while (stack.length > 0) {
    const it = stack[stack.length - 1] as Iterator<TreeNode>;
    const step = it.next();
    if (step.done === true) {
      stack.pop();
      continue;
    }
    const n = step.value;
    nodes.push([n.path, n.createdIndex, n.modifiedIndex, n.isPermanent() ? null : n.expireAtMs, n.children === null ? n.value : null]);
    if (n.children !== null && n.children.size > 0) stack.push(n.children.values());
  }
  // Events are never mutated once recorded, so sharing them is safe; a
  // JSON round trip (the image's intended use) copies them anyway.
  return { version: IMAGE_VERSION, index, nodes, history: history.slice(), stats: { ...counters } };
}

function invalid(why: string): Error {
  return Object.assign(new Error(`RG_ERR_SNAPSHOT_INVALID: ${why}`), { code: 'RG_ERR_SNAPSHOT_INVALID' });
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function decodeImage(image: unknown): DecodedImage {
  if (image === null || typeof image !== 'object') throw invalid('not an object');
  const img = image as Partial<StoreImage>;
  if (img.version !== IMAGE_VERSION) throw invalid(`unknown version ${String(img.version)}`);
  if (!isIndex(img.index)) throw invalid('bad index');
  if (!Array.isArray(img.nodes)) throw invalid('nodes is not an array');
  if (!Array.isArray(img.history)) throw invalid('history is not an array');
  if (img.stats === null || typeof img.stats !== 'object') throw invalid('stats is not an object');

  const nodes: DecodedNode[] = [];
  for (const t of img.nodes as unknown[]) {
    if (!Array.isArray(t) || t.length !== 5) throw invalid('node is not a 5-tuple');
    const [path, createdIndex, modifiedIndex, expireAtMs, value] = t as unknown[];
    if (typeof path !== 'string' || path === '/' || cleanPath(path) !== path) throw invalid(`bad node path ${String(path)}`);
    if (!isIndex(createdIndex) || !isIndex(modifiedIndex)) throw invalid(`bad indexes on ${path}`);
    if (createdIndex > img.index || modifiedIndex > img.index) throw invalid(`${path} is newer than the image`);
    if (expireAtMs !== null && (typeof expireAtMs !== 'number' || !Number.isFinite(expireAtMs) || expireAtMs === 0)) {
      throw invalid(`bad deadline on ${path}`);
    }
    if (value !== null && typeof value !== 'string') throw invalid(`bad value on ${path}`);
    nodes.push({ path, createdIndex, modifiedIndex, expireAtMs: expireAtMs ?? 0, value });
  }

  const history = img.history as StoreEvent[];
  for (let i = 0; i < history.length; i++) {
    const e = history[i];
    if (e === undefined || e === null || typeof e !== 'object' || typeof e.action !== 'string' || e.node === null || typeof e.node !== 'object') {
      throw invalid(`history event ${i} is malformed`);
    }
    const idx = eventIndex(e);
    const prev = history[i - 1];
    if (prev !== undefined && idx !== eventIndex(prev) + 1) throw invalid(`history is not contiguous at event ${i}`);
    if (idx > img.index) throw invalid('history runs past the image index');
  }
  // Every index bump records an event, so the newest event is the index itself.
  const last = history[history.length - 1];
  if (last !== undefined && eventIndex(last) !== img.index) throw invalid('history does not end at the image index');

  const counters = {} as Counters;
  const stats = img.stats as Record<string, unknown>;
  for (const k of COUNTERS) {
    const v = stats[k];
    if (!isIndex(v)) throw invalid(`bad counter ${k}`);
    counters[k] = v;
  }
  return { index: img.index, nodes, history, counters };
}
