// A closed-loop HTTP load generator: `connections` workers, each with exactly
// one request in flight on its own keep-alive connection, issuing the next
// request as soon as the previous response has been read in full. Throughput
// is therefore what the server sustains at that concurrency, and latency is
// per request (no coordinated-omission correction: this is not an open-loop
// generator and does not claim to be one).
//
// Every response status is checked with `ok(status)`: a server that fails
// fast must not look fast, so failures are counted apart and their latency is
// kept out of the percentiles.

import { Pool, type Dispatcher } from 'undici';
import { Mulberry32 } from '../../core-server/raft/rng.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface BenchRequest {
  method: HttpMethod;
  /** Path and query, e.g. `/v2/keys/foo?quorum=true`. */
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  /** e.g. `http://127.0.0.1:2379` */
  origin: string;
  /** Concurrent in-flight requests, one per connection. */
  connections: number;
  /** Stop issuing new requests after this long. At least one of durationMs and totalRequests is required. */
  durationMs?: number;
  /** Stop after issuing this many requests in total. */
  totalRequests?: number;
  /** Hard bound on the whole run even when totalRequests is set; default 10 minutes. */
  timeLimitMs?: number;
  /** Builds request number `seq` (0-based, in issue order across all workers). */
  next: (seq: number) => BenchRequest;
  /** Which statuses count as success; default 2xx. */
  ok?: (status: number) => boolean;
  /** Abort the run once this many requests have failed; default 10,000. */
  errorsMax?: number;
  /** Per-request timeout for headers and body; default 30 s. */
  requestTimeoutMs?: number;
  /** Called about once a second with progress so far (for long loads). */
  onProgress?: (p: { completed: number; okCount: number; errors: number; elapsedMs: number }) => void;
}

export interface LoadResult {
  /** Requests that got any answer or failed: okCount + errors. */
  completed: number;
  okCount: number;
  errors: number;
  /** Status code (or error code for transport failures) -> count, failures only. */
  failures: Record<string, number>;
  /** Up to 5 example failures, for the report. */
  failureSamples: string[];
  elapsedMs: number;
  /** Successful responses per second over elapsedMs. */
  okPerSec: number;
  /** Latency of each successful request, microseconds, in completion order. */
  latenciesUs: Float64Array;
  /** CPU this (client) process used during the run, as % of one core. */
  clientCpuPct: number;
  /** True when the run stopped on timeLimitMs or errorsMax rather than its own end. */
  aborted: boolean;
  abortReason?: string;
}

const defaultOk = (status: number) => status >= 200 && status < 300;

interface RawResponse {
  status: number;
  /** The first bytes of the body (for failure reports); the rest is counted, not kept. */
  bodyHead: string;
  bodyBytes: number;
}

const BODY_HEAD_BYTES_MAX = 512;

/**
 * One request through undici's dispatch API with a minimal handler: the body
 * is read in full but not turned into a stream or a string, which keeps the
 * generator's own CPU per request low (it shares the machine with the server).
 */
function dispatchOnce(pool: Pool, req: BenchRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let bodyBytes = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    const handler: Dispatcher.DispatchHandler = {
      // undici tells the new handler API from the legacy one by this method.
      onRequestStart() {},
      onResponseStart(_controller, statusCode) {
        status = statusCode;
      },
      onResponseData(_controller, chunk) {
        bodyBytes += chunk.length;
        if (headBytes < BODY_HEAD_BYTES_MAX) {
          head.push(chunk);
          headBytes += chunk.length;
        }
      },
      onResponseEnd() {
        resolve({ status, bodyBytes, bodyHead: headBytes > 0 ? Buffer.concat(head).toString('utf8', 0, Math.min(headBytes, BODY_HEAD_BYTES_MAX)) : '' });
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    };
    const opts: Dispatcher.DispatchOptions = { method: req.method, path: req.path };
    if (req.body !== undefined) opts.body = req.body;
    if (req.headers !== undefined) opts.headers = req.headers;
    pool.dispatch(opts, handler);
  });
}

/** A growable Float64Array so a long run does not allocate per sample. */
class SampleBuffer {
  private buf = new Float64Array(1 << 16);
  private n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = v;
  }
  toArray(): Float64Array {
    return this.buf.slice(0, this.n);
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const connections = opts.connections;
  if (!(Number.isInteger(connections) && connections >= 1 && connections <= 4096)) {
    throw new RangeError(`connections must be an integer in 1..4096, got ${connections}`);
  }
  if (opts.durationMs === undefined && opts.totalRequests === undefined) {
    throw new Error('runLoad: give durationMs or totalRequests (every run is bounded)');
  }
  const ok = opts.ok ?? defaultOk;
  const errorsMax = opts.errorsMax ?? 10_000;
  const timeLimitMs = opts.timeLimitMs ?? 10 * 60_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const totalRequests = opts.totalRequests ?? Number.POSITIVE_INFINITY;

  const pool = new Pool(opts.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    connectTimeout: 10_000,
  });

  const samples = new SampleBuffer();
  const failures: Record<string, number> = {};
  const failureSamples: string[] = [];
  let seq = 0;
  let okCount = 0;
  let errors = 0;
  let aborted = false;
  let abortReason: string | undefined;

  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const msSinceStart = () => Number(process.hrtime.bigint() - start) / 1e6;
  const stopAtMs = Math.min(opts.durationMs ?? Number.POSITIVE_INFINITY, timeLimitMs);
  let lastEndNs = start;

  const fail = (key: string, detail: string) => {
    errors++;
    failures[key] = (failures[key] ?? 0) + 1;
    if (failureSamples.length < 5) failureSamples.push(detail);
    if (errors >= errorsMax && !aborted) {
      aborted = true;
      abortReason = `${errors} failed requests (errorsMax)`;
    }
  };

  const progressTimer = opts.onProgress
    ? setInterval(() => opts.onProgress?.({ completed: okCount + errors, okCount, errors, elapsedMs: msSinceStart() }), 1000)
    : undefined;

  const worker = async () => {
    // Bounded: each iteration issues one request and the loop ends on the
    // request budget, the deadline or the abort flag.
    for (;;) {
      if (aborted || seq >= totalRequests) return;
      const elapsed = msSinceStart();
      if (elapsed >= stopAtMs) {
        // A request-count run cut short by the time limit did not finish its work.
        if (opts.totalRequests !== undefined && elapsed >= timeLimitMs && !aborted) {
          aborted = true;
          abortReason = `time limit ${timeLimitMs} ms reached after ${seq} of ${totalRequests} requests`;
        }
        return;
      }
      const req = opts.next(seq++);
      const t0 = process.hrtime.bigint();
      try {
        const res = await dispatchOnce(pool, req);
        const t1 = process.hrtime.bigint();
        lastEndNs = t1;
        if (ok(res.status)) {
          okCount++;
          samples.push(Number(t1 - t0) / 1000);
        } else {
          fail(String(res.status), `${req.method} ${req.path} -> ${res.status} ${res.bodyHead.slice(0, 200)}`);
        }
      } catch (err) {
        lastEndNs = process.hrtime.bigint();
        const e = err as { code?: string; message?: string };
        fail(e.code ?? 'ERROR', `${req.method} ${req.path} -> ${e.code ?? ''} ${e.message ?? String(err)}`);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: connections }, () => worker()));
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await pool.close().catch(() => pool.destroy());
  }

  const elapsedMs = Math.max(Number(lastEndNs - start) / 1e6, 1e-3);
  const cpu = process.cpuUsage(cpuStart);
  const result: LoadResult = {
    completed: okCount + errors,
    okCount,
    errors,
    failures,
    failureSamples,
    elapsedMs,
    okPerSec: okCount / (elapsedMs / 1000),
    latenciesUs: samples.toArray(),
    clientCpuPct: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    aborted,
  };
  if (abortReason !== undefined) result.abortReason = abortReason;
  return result;
}

/** The form body etcd's v2 API takes for `PUT ...?value=`: `value=<urlencoded>`. */
export function formValueBody(value: string): string {
  return `value=${encodeURIComponent(value)}`;
}

export const formHeaders: Record<string, string> = Object.freeze({
  'content-type': 'application/x-www-form-urlencoded',
}) as Record<string, string>;

/** A deterministic 32-bit PRNG (mulberry32), so both systems see the same key sequence. */
export function seededRandom(seed: number): () => number {
  const prng = new Mulberry32(seed);
  return () => prng.next();
}

/** A printable value of exactly `bytes` characters (URL-safe, so the form body is bytes+6 long). */
export function makeValue(bytes: number, seed = 1): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const rnd = seededRandom(seed);
  let s = '';
  for (let i = 0; i < bytes; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}
