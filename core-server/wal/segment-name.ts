// Segment file names: `<seq 16 hex>-<firstIndex 16 hex>.wal`. Fixed-width hex
// makes lexical order equal numeric order, so a plain sort lists segments in
// the order they were written. firstIndex is the index the next entry was
// expected to have when the segment was cut (used to decide what to release).

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export interface SegmentName {
  seq: number;
  firstIndex: number;
  name: string;
}

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): SegmentName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const seq = Number.parseInt(m[1]!, 16);
  const firstIndex = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return null;
  return { seq, firstIndex, name };
}

/** The WAL segments among `names`, oldest first. */
export function listSegments(names: readonly string[]): SegmentName[] {
  const out: SegmentName[] = [];
  for (const n of names) {
    const s = parseSegmentName(n);
    if (s !== null) out.push(s);
  }
  return out.sort((a, b) => a.seq - b.seq);
}
