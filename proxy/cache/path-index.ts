// Which cached answers an event at a key could change: those indexed at the
// key and at every ancestor directory (their listings), and for a delete or
// an expiry those at every path beneath it. A trie of the indexed paths finds
// them in O(depth + affected), however large the cache. (What path an answer
// is indexed under is the cache's business: see read-cache.ts.)

import { segmentsOf } from '../../core-server/store/key-path.js';

interface TrieNode {
  children: Map<string, TrieNode>;
  keys: Set<string>;
  parent: TrieNode | null;
  name: string;
}

function newNode(parent: TrieNode | null, name: string): TrieNode {
  return { children: new Map(), keys: new Set(), parent, name };
}

export class PathIndex {
  private readonly root = newNode(null, '');
  private count = 0;

  /** Cache keys indexed. */
  get size(): number {
    return this.count;
  }

  add(path: string, cacheKey: string): void {
    let n = this.root;
    for (const seg of segmentsOf(path)) {
      let c = n.children.get(seg);
      if (c === undefined) {
        c = newNode(n, seg);
        n.children.set(seg, c);
      }
      n = c;
    }
    if (!n.keys.has(cacheKey)) {
      n.keys.add(cacheKey);
      this.count++;
    }
  }

  remove(path: string, cacheKey: string): void {
    let n: TrieNode | undefined = this.root;
    for (const seg of segmentsOf(path)) {
      n = n.children.get(seg);
      if (n === undefined) return;
    }
    if (!n.keys.delete(cacheKey)) return;
    this.count--;
    // Prune empty branches so the trie never outgrows the cache.
    while (n.parent !== null && n.keys.size === 0 && n.children.size === 0) {
      n.parent.children.delete(n.name);
      n = n.parent;
    }
  }

  /** Cache keys at `path` and at its ancestors, and (when `beneath`) at every path inside it. */
  affectedBy(path: string, beneath: boolean): string[] {
    const out: string[] = [];
    let n: TrieNode | undefined = this.root;
    for (const seg of segmentsOf(path)) {
      for (const k of n.keys) out.push(k);
      n = n.children.get(seg);
      if (n === undefined) return out;
    }
    if (!beneath) {
      for (const k of n.keys) out.push(k);
      return out;
    }
    const stack: TrieNode[] = [n];
    while (stack.length > 0) {
      const t = stack.pop() as TrieNode;
      for (const k of t.keys) out.push(k);
      for (const c of t.children.values()) stack.push(c);
    }
    return out;
  }

  clear(): void {
    this.root.children.clear();
    this.root.keys.clear();
    this.count = 0;
  }
}
