// How long a cluster takes to accept a write again after its leader dies:
// the time from `kill -9` of the leader to the first write acknowledged by a
// survivor.
//
// The writer starts a new attempt every `attemptEveryMs` (round robin over
// the survivors) without waiting for the previous one, each with its own
// timeout. A single sequential writer would measure its own timeout as much
// as the cluster: a write sent to a follower just before the follower learns
// the leader is gone is forwarded into the void and only fails when its
// timeout ends (etcd 3.4 holds it up to 7 s). Staggered attempts bound the
// measurement's resolution by attemptEveryMs instead, the same for both
// systems.

import { setMaxListeners } from 'node:events';
import { Agent } from 'undici';
import type { BenchRequest } from './load.js';

export interface FirstWriteOptions {
  /** Client URLs of the survivors. */
  origins: readonly string[];
  /** Write number n (0-based, unique per call) -> the write to send. */
  request: (attempt: number) => BenchRequest;
  ok: (status: number) => boolean;
  /** Default 20 ms. */
  attemptEveryMs?: number;
  /** Default 3 s. */
  attemptTimeoutMs?: number;
  /** Give up (ms = NaN) after this long; default 30 s. */
  giveUpMs?: number;
}

export interface FirstWriteResult {
  /** From just before the kill to the first acknowledged write; NaN if none within giveUpMs. */
  ms: number;
  /** Attempts started (including the one that succeeded). */
  attempts: number;
  /** Status or error code -> count, for the attempts that failed. */
  failures: Record<string, number>;
  /** The survivor that acknowledged it. */
  origin: string;
}

/** Sends one write through `agent`; resolves with the status or an error code, never rejects. */
async function attempt(agent: Agent, origin: string, req: BenchRequest, timeoutMs: number, signal: AbortSignal): Promise<{ status: number; code: string }> {
  try {
    const opts: Parameters<Agent['request']>[0] = {
      origin,
      path: req.path,
      method: req.method,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
    };
    if (req.body !== undefined) opts.body = req.body;
    if (req.headers !== undefined) opts.headers = req.headers;
    const res = await agent.request(opts);
    await res.body.dump();
    return { status: res.statusCode, code: String(res.statusCode) };
  } catch (err) {
    return { status: 0, code: (err as { code?: string }).code ?? 'ERROR' };
  }
}

/**
 * Checks every survivor takes a write (and opens a connection to it), then
 * calls `kill` and measures until the first write after it is acknowledged.
 */
export async function timeToFirstWrite(kill: () => void, o: FirstWriteOptions): Promise<FirstWriteResult> {
  const everyMs = o.attemptEveryMs ?? 20;
  const timeoutMs = o.attemptTimeoutMs ?? 3000;
  const giveUpMs = o.giveUpMs ?? 30_000;
  const agent = new Agent({ keepAliveTimeout: 60_000, connectTimeout: timeoutMs });
  const abort = new AbortController();
  // Every attempt in flight listens on it (up to attemptTimeoutMs / attemptEveryMs at once).
  setMaxListeners(0, abort.signal);
  const failures: Record<string, number> = {};
  let seq = 0;
  let n = 0;
  try {
    for (const origin of o.origins) {
      const r = await attempt(agent, origin, o.request(seq++), 10_000, abort.signal);
      if (!o.ok(r.status)) throw new Error(`failover: a survivor (${origin}) refused a write before the kill: ${r.code}`);
    }
    return await new Promise<FirstWriteResult>((resolve) => {
      const start = process.hrtime.bigint();
      let done = false;
      const finish = (r: FirstWriteResult) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        abort.abort();
        resolve(r);
      };
      const launch = () => {
        if (done) return;
        const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
        if (elapsedMs > giveUpMs) {
          finish({ ms: Number.NaN, attempts: n, failures, origin: '' });
          return;
        }
        const origin = o.origins[n++ % o.origins.length] as string;
        void attempt(agent, origin, o.request(seq++), timeoutMs, abort.signal).then((r) => {
          if (done) return;
          if (o.ok(r.status)) {
            finish({ ms: Number(process.hrtime.bigint() - start) / 1e6, attempts: n, failures, origin });
          } else {
            failures[r.code] = (failures[r.code] ?? 0) + 1;
          }
        });
      };
      kill();
      const timer = setInterval(launch, everyMs);
      launch();
    });
  } finally {
    abort.abort();
    await agent.destroy().catch(() => undefined);
  }
}
