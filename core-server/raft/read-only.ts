// ReadIndex bookkeeping on the leader (etcd's ReadOnlySafe): a read tagged
// `ctx` is served at the commit index the leader had when it was asked, but
// only after a heartbeat round carrying `ctx` was acknowledged by a quorum,
// which proves no newer leader had committed anything by then.

import type { MemberId } from './types.js';

export interface ReadIndexRequest {
  /** Who asked: the leader itself, or a follower that forwarded it. */
  from: MemberId;
  context: string;
}

interface ReadIndexStatus {
  req: ReadIndexRequest;
  index: number;
  acks: Map<MemberId, boolean>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Request contexts in arrival order; a quorum ack for one confirms all before it too. */
  private queue: string[] = [];

  /** Duplicate contexts are ignored: the first request's index stands. */
  addRequest(index: number, req: ReadIndexRequest): void {
    if (this.pending.has(req.context)) return;
    this.pending.set(req.context, { req, index, acks: new Map() });
    this.queue.push(req.context);
  }

  /** Records a heartbeat ack; returns the acks so far, or undefined for an unknown context. */
  recvAck(id: MemberId, context: string): ReadonlyMap<MemberId, boolean> | undefined {
    const rs = this.pending.get(context);
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Dequeues every request up to and including `context`. */
  advance(context: string): { req: ReadIndexRequest; index: number }[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: { req: ReadIndexRequest; index: number }[] = [];
    for (const ctx of done) {
      const rs = this.pending.get(ctx);
      this.pending.delete(ctx);
      if (rs) out.push({ req: rs.req, index: rs.index });
    }
    return out;
  }

  /** The newest pending context: a heartbeat for it confirms all older ones. */
  lastPendingRequestCtx(): string {
    return this.queue[this.queue.length - 1] ?? '';
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
