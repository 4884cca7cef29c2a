// A small HTTP client for tests, on undici's dispatcher API so that the path
// is sent exactly as given (no URL normalisation of `//`, `%2F`, `..`), which
// the conformance suite needs to probe etcd's own handling of odd paths.
import { Agent, type Dispatcher } from 'undici';

export type Pairs = ReadonlyArray<readonly [string, string]>;

export interface HttpRequest {
  method: string;
  /** Path including any raw query string; sent byte for byte. */
  path: string;
  /** Extra query pairs, appended after `path` (form-urlencoded). */
  query?: Pairs;
  /** Form body pairs, sent as application/x-www-form-urlencoded. */
  form?: Pairs;
  /** A raw body, for requests whose body is not a well-formed form. */
  body?: string;
  headers?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  text: string;
  /** The parsed body, or undefined when the body is not JSON. */
  json: unknown;
}

const timeoutMsDefault = 10_000;
const bodyBytesMax = 16 * 1024 * 1024;

// One agent for all tests in this process; a short keep-alive so that an
// aborted long-poll never leaves a socket that outlives a stopped server.
const agent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 2_000, connect: { timeout: 5_000 } });

export function encodePairs(pairs: Pairs): string {
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

export function fullPath(path: string, query: Pairs | undefined): string {
  if (query === undefined || query.length === 0) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${encodePairs(query)}`;
}

function flattenHeaders(raw: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Start a request and return its response once the headers arrive; the body
 * is then read by `readBody` (or in full by `http`). Used directly for
 * streaming watches.
 */
export async function open(baseUrl: string, req: HttpRequest): Promise<Dispatcher.ResponseData> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...req.headers };
  let body: string | undefined = req.body;
  if (req.form !== undefined) {
    body = encodePairs(req.form);
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  const timeoutMs = req.timeoutMs ?? timeoutMsDefault;
  return agent.request({
    origin: url.origin,
    path: fullPath(req.path, req.query),
    method: req.method as Dispatcher.HttpMethod,
    headers,
    body,
    signal: req.signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** Send one request and read the whole body (bounded). */
export async function http(baseUrl: string, req: HttpRequest): Promise<HttpResponse> {
  const res = await open(baseUrl, req);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of res.body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    bytes += buf.length;
    if (bytes > bodyBytesMax) {
      res.body.destroy();
      throw new Error(`http: ${req.method} ${req.path}: body larger than ${bodyBytesMax} bytes`);
    }
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: res.statusCode, headers: flattenHeaders(res.headers), text, json: parseJson(text) };
}

export { flattenHeaders };

/** GET a URL until it answers 200, polling every `intervalMs`, at most `timeoutMs`. */
export async function waitForOk(
  baseUrl: string,
  path: string,
  opts: { timeoutMs: number; intervalMs?: number; isAlive?: () => boolean; describe?: () => string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const intervalMs = opts.intervalMs ?? 50;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (opts.isAlive !== undefined && !opts.isAlive()) {
      throw new Error(`process exited before ${baseUrl}${path} answered 200${opts.describe ? `\n${opts.describe()}` : ''}`);
    }
    try {
      const res = await http(baseUrl, { method: 'GET', path, timeoutMs: 1_000 });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${baseUrl}${path} did not answer 200 within ${opts.timeoutMs} ms (last: ${last})${opts.describe ? `\n${opts.describe()}` : ''}`,
  );
}
