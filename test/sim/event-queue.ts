// The virtual clock: a priority queue of events ordered by time, ties broken
// by insertion order, so two events at the same millisecond always run in
// the same order. Time only moves when the next event is taken.

export interface Timed<E> {
  at: number;
  seq: number;
  event: E;
}

export class EventQueue<E> {
  private heap: Timed<E>[] = [];
  private seq = 0;
  /** Virtual milliseconds since the start of the run. */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `event` `delayMs` from now (never in the past). */
  after(delayMs: number, event: E): void {
    this.push({ at: this.now + Math.max(0, delayMs), seq: this.seq++, event });
  }

  /**
   * Schedules `event` at absolute time `at` (never in the past). Use this,
   * not after(at - now), when events must keep the order of their times:
   * now + (at - now) can round to either side of at.
   */
  at(at: number, event: E): void {
    this.push({ at: Math.max(this.now, at), seq: this.seq++, event });
  }

  /** Takes the next event and moves the clock to it; undefined when nothing is scheduled. */
  pop(): Timed<E> | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    this.now = top.at;
    return top;
  }

  private push(t: Timed<E>): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before<E>(a: Timed<E>, b: Timed<E>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
