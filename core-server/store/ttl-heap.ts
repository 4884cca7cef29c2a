// A binary min-heap of the nodes that have a TTL (etcd's ttl_key_heap.go).
//
// Order is (deadline, path) rather than etcd's deadline-then-heap-accident:
// keys sharing a deadline then expire in the same order on every member and
// after every snapshot restore, because the order depends on data alone.

import type { TreeNode } from './tree-node.js';

function before(a: TreeNode, b: TreeNode): boolean {
  if (a.expireAtMs !== b.expireAtMs) return a.expireAtMs < b.expireAtMs;
  return a.path < b.path;
}

export class TtlHeap {
  private readonly items: TreeNode[] = [];

  get size(): number {
    return this.items.length;
  }

  top(): TreeNode | null {
    return this.items[0] ?? null;
  }

  push(n: TreeNode): void {
    if (n.heapPos !== -1) throw new Error('RG_ERR_STORE_ASSERT: node already in the TTL heap');
    n.heapPos = this.items.length;
    this.items.push(n);
    this.up(n.heapPos);
  }

  remove(n: TreeNode): void {
    const i = n.heapPos;
    if (i === -1) return;
    const last = this.items.pop() as TreeNode;
    n.heapPos = -1;
    if (last === n) return;
    this.items[i] = last;
    last.heapPos = i;
    this.down(i);
    this.up(last.heapPos);
  }

  /** Re-place a node whose deadline changed. */
  update(n: TreeNode): void {
    if (n.heapPos === -1) {
      this.push(n);
      return;
    }
    this.down(n.heapPos);
    this.up(n.heapPos);
  }

  clear(): void {
    for (const n of this.items) n.heapPos = -1;
    this.items.length = 0;
  }

  private up(i0: number): void {
    let i = i0;
    const items = this.items;
    const n = items[i] as TreeNode;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pn = items[p] as TreeNode;
      if (!before(n, pn)) break;
      items[i] = pn;
      pn.heapPos = i;
      i = p;
    }
    items[i] = n;
    n.heapPos = i;
  }

  private down(i0: number): void {
    let i = i0;
    const items = this.items;
    const len = items.length;
    const n = items[i] as TreeNode;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= len) break;
      const r = l + 1;
      let c = l;
      if (r < len && before(items[r] as TreeNode, items[l] as TreeNode)) c = r;
      const cn = items[c] as TreeNode;
      if (!before(cn, n)) break;
      items[i] = cn;
      cn.heapPos = i;
      i = c;
    }
    items[i] = n;
    n.heapPos = i;
  }
}
