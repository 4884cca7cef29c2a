// Runs the steps of a conformance scenario against one server and turns each
// response into a normalised observation (see normalise.ts). The test file
// drives two runners step by step, etcd first, so that timing steps (sleeps,
// watches, TTLs) line up on both servers.
import { http, open, flattenHeaders, parseJson, type HttpResponse, type Pairs } from '../helpers/http.js';
import { normalise, isStoreStats, type Observation } from './normalise.js';
import type { RequestStep, Step } from './scenarios.js';

export interface Target {
  label: 'etcd' | 'raftgate';
  clientUrl: string;
  peerUrl: string;
}

interface PendingWatch {
  done: Promise<HttpResponse>;
  settled: boolean;
  abort: AbortController;
  stream: boolean;
  startMs: number;
  templated: Map<string, string>;
  params: Pairs;
  /** What arrived so far, reported if the watch times out. */
  partial: HttpResponse | undefined;
}

const requestTimeoutMs = 10_000;
// The spellings Go's strconv.ParseBool reads as true (etcd parses booleans so).
const goTrue = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const watchHeadersWaitMs = 2_000;
const watchTimeoutMsDefault = 5_000;
const watchLifetimeMsMax = 30_000;

function timeoutResponse(what: string): HttpResponse {
  return { status: -1, headers: {}, text: what, json: undefined };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class ScenarioRunner {
  base = 0;
  private scenarioStartMs = 0;
  private statsBase: Record<string, number> | undefined;
  private readonly watches = new Map<string, PendingWatch>();

  constructor(readonly target: Target) {}

  /** Read X-Etcd-Index before the scenario: every index is relative to it. */
  async begin(): Promise<void> {
    this.scenarioStartMs = Date.now();
    const res = await http(this.target.clientUrl, { method: 'GET', path: '/v2/keys/', timeoutMs: requestTimeoutMs });
    const idx = Number(res.headers['x-etcd-index']);
    if (res.status !== 200 || !Number.isSafeInteger(idx)) {
      throw new Error(`${this.target.label}: GET /v2/keys/ gave status ${res.status}, X-Etcd-Index ${res.headers['x-etcd-index']}: cannot take the base index`);
    }
    this.base = idx;
    this.statsBase = undefined;
  }

  /** Abort every watch still open. */
  end(): void {
    for (const w of this.watches.values()) w.abort.abort();
    this.watches.clear();
  }

  private expand(s: string, templated: Map<string, string>): string {
    return s.replace(/\{\{base([+-]\d+)?\}\}/g, (_m, off: string | undefined) => {
      const n = Number(off ?? 0);
      const value = String(this.base + n);
      templated.set(value, n >= 0 ? `@+${n}` : `@${n}`);
      return value;
    });
  }

  private expandPairs(pairs: Pairs | undefined, templated: Map<string, string>): Pairs | undefined {
    return pairs?.map(([k, v]) => [k, this.expand(v, templated)] as const);
  }

  private observe(
    res: HttpResponse,
    step: { compare?: 'full' | 'shape' },
    templated: Map<string, string>,
    startMs: number,
    stream: boolean,
    params: Pairs,
  ): Observation {
    const param = (name: string): string | undefined => params.find(([k]) => k === name)?.[1];
    if (step.compare !== 'shape' && isStoreStats(res.json) && this.statsBase === undefined) this.statsBase = res.json;
    return normalise(res, {
      base: this.base,
      templated,
      scenarioStartMs: this.scenarioStartMs,
      stepStartMs: startMs,
      stepEndMs: Date.now(),
      clientUrl: this.target.clientUrl,
      peerUrl: this.target.peerUrl,
      statsBase: this.statsBase,
      prevIndex: param('prevIndex'),
      shape: step.compare === 'shape',
      stream,
      unordered: !goTrue.has(param('sorted') ?? ''),
    });
  }

  private async request(step: RequestStep): Promise<Observation> {
    const templated = new Map<string, string>();
    const path = this.expand(step.path, templated);
    const query = this.expandPairs(step.query, templated);
    const form = this.expandPairs(step.form, templated);
    const body = step.body === undefined ? undefined : this.expand(step.body, templated);
    const params = [...(form ?? []), ...(query ?? []), ...new URLSearchParams(path.split('?')[1] ?? '').entries()];
    const startMs = Date.now();
    let res: HttpResponse;
    try {
      res = await http(this.target.clientUrl, { method: step.method, path, query, form, body, headers: step.headers, timeoutMs: requestTimeoutMs });
    } catch (err) {
      res = timeoutResponse(`request failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return this.observe(res, step, templated, startMs, false, params);
  }

  /** Run one step; `undefined` for steps with nothing to compare. */
  async run(step: Step): Promise<Observation | Observation[] | undefined> {
    switch (step.kind) {
      case undefined:
      case 'request':
        return this.request(step);
      case 'repeat': {
        const out: Observation[] = [];
        for (let i = 0; i < step.count; i++) out.push(await this.request(step.step));
        return out;
      }
      case 'sleep':
        return undefined; // slept once for both servers by the caller
      case 'watch':
        return this.startWatch(step.id, step.path, step.query, step.events);
      case 'awaitWatch':
        return this.awaitWatch(step.id, step.timeoutMs ?? watchTimeoutMsDefault);
      case 'pending': {
        const w = this.watches.get(step.id);
        if (w === undefined) throw new Error(`scenario bug: no watch ${step.id}`);
        return { status: 0, headers: {}, json: { pending: !w.settled }, text: '' };
      }
    }
  }

  private async startWatch(id: string, pathT: string, queryT: Pairs | undefined, events: number | undefined): Promise<Observation> {
    const templated = new Map<string, string>();
    const path = this.expand(pathT, templated);
    const query = this.expandPairs(queryT, templated) ?? [];
    const stream = events !== undefined;
    const abort = new AbortController();
    const startMs = Date.now();
    const lifetime = setTimeout(() => abort.abort(), watchLifetimeMsMax);
    let resolveHeaders: (r: HttpResponse) => void = () => undefined;
    const headersArrived = new Promise<HttpResponse>((r) => (resolveHeaders = r));
    const watch: PendingWatch = { done: Promise.resolve(timeoutResponse('')), settled: false, abort, stream, startMs, templated, params: query, partial: undefined };
    watch.done = (async (): Promise<HttpResponse> => {
      try {
        const res = await open(this.target.clientUrl, { method: 'GET', path, query, timeoutMs: watchLifetimeMsMax, signal: abort.signal });
        const headers = flattenHeaders(res.headers);
        resolveHeaders({ status: res.statusCode, headers, text: '', json: undefined });
        let text = '';
        watch.partial = { status: res.statusCode, headers, text, json: undefined };
        for await (const chunk of res.body) {
          text += Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
          watch.partial = { status: res.statusCode, headers, text, json: undefined };
          if (stream && text.split('\n').filter((l) => l.trim() !== '').length >= (events ?? 0) && text.endsWith('\n')) {
            abort.abort();
            break;
          }
        }
        return { status: res.statusCode, headers, text, json: parseJson(text) };
      } catch (err) {
        const res = timeoutResponse(`watch ended without a response: ${err instanceof Error ? err.message : String(err)}`);
        resolveHeaders(res);
        return res;
      } finally {
        clearTimeout(lifetime);
        watch.settled = true;
      }
    })();
    // Etcd registers the watcher and then flushes the headers, so once they
    // arrive a following write cannot race past the watch.
    this.watches.set(id, watch);
    const head = await withTimeout(headersArrived, watchHeadersWaitMs);
    if (head === 'timeout') return { status: 0, headers: {}, json: { headers: `none within ${watchHeadersWaitMs} ms` }, text: '' };
    return this.observe({ ...head, text: '', json: undefined }, {}, templated, startMs, false, query);
  }

  private async awaitWatch(id: string, timeoutMs: number): Promise<Observation> {
    const w = this.watches.get(id);
    if (w === undefined) throw new Error(`scenario bug: no watch ${id}`);
    const res = await withTimeout(w.done, timeoutMs);
    this.watches.delete(id);
    if (res === 'timeout') {
      w.abort.abort();
      const marker = `<no (further) event within ${timeoutMs} ms>`;
      const got = w.partial === undefined ? timeoutResponse(marker) : { ...w.partial, text: `${w.partial.text}${marker}` };
      return this.observe(got, {}, w.templated, w.startMs, w.stream, w.params);
    }
    return this.observe(res, {}, w.templated, w.startMs, w.stream, w.params);
  }
}
