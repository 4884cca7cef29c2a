// Nodes as etcd renders them (node.Repr, NodeExtern.loadInternalNode).
//
// Property order follows etcd's NodeExtern struct (key, value, dir,
// expiration, ttl, nodes, modifiedIndex, createdIndex) so JSON.stringify of a
// rendered node is byte-for-byte etcd's. Empty fields are left out the way
// Go's omitempty leaves them out: the root has no key and index 0, a ttl of 0
// is absent, and an empty directory has no "nodes".
//
// Unsorted listings: etcd lists a directory in Go map order (random). We list
// children in insertion order, which is createdIndex order because a replaced
// key is removed and re-added; the same state always renders the same way.

import { formatRfc3339NanoUtc, ttlSeconds } from './time-format.js';
import type { TreeNode } from './tree-node.js';
import type { NodeJSON } from './types.js';

/** The expiration and ttl of a node with a TTL, added to `out` in etcd's order. */
function addExpiration(out: NodeJSON, n: TreeNode, nowMs: number): void {
  if (n.isPermanent()) return;
  out.expiration = formatRfc3339NanoUtc(n.expireAtMs);
  const ttl = ttlSeconds(n.expireAtMs, nowMs);
  if (ttl !== 0) out.ttl = ttl;
}

function addIndexes(out: NodeJSON, modifiedIndex: number, createdIndex: number): void {
  if (modifiedIndex !== 0) out.modifiedIndex = modifiedIndex;
  if (createdIndex !== 0) out.createdIndex = createdIndex;
}

/** The rendered key of a path ("" for the root, which etcd omits). */
function keyOf(path: string): string | undefined {
  return path === '/' ? undefined : path;
}

/** etcd's node.Repr(false, false): the node alone, without children. */
export function reprNode(n: TreeNode, nowMs: number): NodeJSON {
  const out: NodeJSON = {};
  const key = keyOf(n.path);
  if (key !== undefined) out.key = key;
  if (n.children === null) out.value = n.value;
  else out.dir = true;
  addExpiration(out, n, nowMs);
  addIndexes(out, n.modifiedIndex, n.createdIndex);
  return out;
}

/**
 * An event's node as etcd builds it with newEvent + fields: key, then value or
 * dir, then the node's current expiration, with the event's own indexes.
 */
export function eventNode(
  path: string,
  value: string | null,
  isDir: boolean,
  ttlFrom: TreeNode | null,
  nowMs: number,
  modifiedIndex: number,
  createdIndex: number,
): NodeJSON {
  const out: NodeJSON = {};
  const key = keyOf(path);
  if (key !== undefined) out.key = key;
  if (value !== null) out.value = value;
  if (isDir) out.dir = true;
  if (ttlFrom !== null) addExpiration(out, ttlFrom, nowMs);
  addIndexes(out, modifiedIndex, createdIndex);
  return out;
}

/** Code-point order, which is the byte order Go's sort uses on UTF-8 keys. */
export function compareKeys(a: string, b: string): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) encode code points above U+FFFF, so they sort
    // after U+E000..FFFF in code-point order although their units are smaller.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function byKey(a: NodeJSON, b: NodeJSON): number {
  return compareKeys(a.key ?? '', b.key ?? '');
}

/**
 * A GET's node (loadInternalNode): a key with its value, or a directory with
 * its visible children — their own children too when recursive. Iterative,
 * so a deep tree cannot exhaust the stack.
 */
export function renderForGet(n: TreeNode, recursive: boolean, sorted: boolean, nowMs: number): NodeJSON {
  if (n.children === null) return reprNode(n, nowMs);
  const top = dirShell(n, nowMs);
  const stack: { n: TreeNode; out: NodeJSON }[] = [{ n, out: top }];
  let first = true;
  while (stack.length > 0) {
    const item = stack.pop() as { n: TreeNode; out: NodeJSON };
    const list = item.out.nodes as NodeJSON[];
    for (const child of (item.n.children as Map<string, TreeNode>).values()) {
      if (child.isHidden()) continue;
      if (child.children !== null && recursive) {
        const shell = dirShell(child, nowMs);
        list.push(shell);
        stack.push({ n: child, out: shell });
      } else {
        list.push(reprNode(child, nowMs));
      }
    }
    if (sorted && list.length > 1) list.sort(byKey);
    if (list.length === 0) delete item.out.nodes;
    // Only the top directory lists children when not recursive.
    if (first && !recursive) break;
    first = false;
  }
  return top;
}

/** A directory's node with an empty `nodes` in its place, to be filled. */
function dirShell(n: TreeNode, nowMs: number): NodeJSON {
  const out: NodeJSON = {};
  const key = keyOf(n.path);
  if (key !== undefined) out.key = key;
  out.dir = true;
  addExpiration(out, n, nowMs);
  out.nodes = [];
  addIndexes(out, n.modifiedIndex, n.createdIndex);
  return out;
}
