// One node of the keyspace: a key (value set, children null) or a directory
// (children set). A plain class with no closures so 200,000 keys stay small:
// every field is a slot in one hidden class.

/** 0 means "no TTL" (etcd's zero time.Time, "Permanent"). */
export const PERMANENT = 0;

export class TreeNode {
  /** Full clean path ("/" for the root). */
  readonly path: string;
  parent: TreeNode | null;
  createdIndex: number;
  modifiedIndex: number;
  /** Absolute deadline in ms, or PERMANENT. */
  expireAtMs: number;
  /** Value of a key; '' for a directory. */
  value: string;
  /** Children by name, in insertion (= createdIndex) order; null for a key. */
  children: Map<string, TreeNode> | null;
  /** Position in the TTL heap, -1 when not in it. Owned by TtlHeap. */
  heapPos: number;

  constructor(
    path: string,
    parent: TreeNode | null,
    createdIndex: number,
    expireAtMs: number,
    value: string,
    isDir: boolean,
  ) {
    this.path = path;
    this.parent = parent;
    this.createdIndex = createdIndex;
    this.modifiedIndex = createdIndex;
    this.expireAtMs = expireAtMs;
    this.value = value;
    this.children = isDir ? new Map() : null;
    this.heapPos = -1;
  }

  isDir(): boolean {
    return this.children !== null;
  }

  isPermanent(): boolean {
    return this.expireAtMs === PERMANENT;
  }

  /** The last path segment. */
  name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }

  /** etcd's node.IsHidden: the last segment starts with '_'. */
  isHidden(): boolean {
    return this.path.charCodeAt(this.path.lastIndexOf('/') + 1) === 95; // '_'
  }
}
