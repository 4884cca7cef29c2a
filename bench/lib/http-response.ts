// A minimal, incremental HTTP/1.1 response reader for the watch benchmark's
// raw sockets: it tells when the head has arrived (a watch is registered and
// flushed) and when the body is complete (the event has arrived), with
// Content-Length, chunked, or close-delimited bodies. Pure: feed it bytes.

export type ResponsePhase = 'head' | 'body' | 'done' | 'error';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** Bounds on what one response may hold; past them the reader fails rather than grow. */
const HEAD_BYTES_MAX = 64 * 1024;
const BODY_BYTES_MAX = 16 * 1024 * 1024;

export class ResponseReader {
  phase: ResponsePhase = 'head';
  status = 0;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Record<string, string> = {};
  error = '';
  private pending: Buffer = Buffer.alloc(0);
  private readonly parts: Buffer[] = [];
  private bodyBytes = 0;
  private mode: 'length' | 'chunked' | 'close' = 'close';
  /** Where a chunked body is: a size line, chunk data, the CRLF after it, or the trailer after the last chunk. */
  private chunk: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  /** Body bytes still due (length mode) or left in the current chunk. */
  private remaining = 0;

  /** Takes the next bytes of the connection; returns the phase after them. */
  feed(chunk: Buffer): ResponsePhase {
    if (this.phase === 'done' || this.phase === 'error') return this.phase;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.phase === 'head') this.readHead();
    if (this.phase === 'body') this.readBody();
    return this.phase;
  }

  /** The connection closed: a close-delimited body is complete, anything else unfinished is an error. */
  end(): ResponsePhase {
    if (this.phase === 'body' && this.mode === 'close') this.phase = 'done';
    else if (this.phase === 'head' || this.phase === 'body') this.fail('connection closed before the response was complete');
    return this.phase;
  }

  /** The body received so far (chunk framing removed). */
  body(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }

  private fail(why: string): void {
    this.phase = 'error';
    this.error = why;
  }

  private readHead(): void {
    const at = this.pending.indexOf(HEAD_END);
    if (at < 0) {
      if (this.pending.length > HEAD_BYTES_MAX) this.fail('response head too large');
      return;
    }
    const lines = this.pending.toString('latin1', 0, at).split('\r\n');
    this.pending = this.pending.subarray(at + HEAD_END.length);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) {
      this.fail(`bad status line: ${(lines[0] ?? '').slice(0, 80)}`);
      return;
    }
    this.status = Number(m[1]);
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      this.headers[name] = this.headers[name] === undefined ? value : `${this.headers[name]}, ${value}`;
    }
    const te = this.headers['transfer-encoding'];
    const cl = this.headers['content-length'];
    if (te !== undefined && /chunked/i.test(te)) {
      this.mode = 'chunked';
      this.chunk = 'size';
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (!Number.isInteger(n) || n < 0) {
        this.fail(`bad content-length: ${cl}`);
        return;
      }
      this.mode = 'length';
      this.remaining = n;
    } else {
      this.mode = 'close';
    }
    // 1xx, 204 and 304 have no body.
    if (this.status < 200 || this.status === 204 || this.status === 304 || (this.mode === 'length' && this.remaining === 0)) {
      this.phase = 'done';
      return;
    }
    this.phase = 'body';
  }

  private take(n: number): void {
    if (n === 0) return;
    this.parts.push(this.pending.subarray(0, n));
    this.bodyBytes += n;
    this.pending = this.pending.subarray(n);
    if (this.bodyBytes > BODY_BYTES_MAX) this.fail('response body too large');
  }

  /** The next CRLF-terminated line of pending, consumed; undefined while incomplete. */
  private line(): string | undefined {
    const eol = this.pending.indexOf(CRLF);
    if (eol < 0) return undefined;
    const text = this.pending.toString('latin1', 0, eol);
    this.pending = this.pending.subarray(eol + CRLF.length);
    return text;
  }

  private readBody(): void {
    if (this.mode === 'close') {
      this.take(this.pending.length);
      return;
    }
    if (this.mode === 'length') {
      const n = Math.min(this.remaining, this.pending.length);
      this.take(n);
      this.remaining -= n;
      if (this.remaining === 0 && this.phase === 'body') this.phase = 'done';
      return;
    }
    // chunked: size line, data, CRLF, ..., "0" line, trailer lines, empty line.
    while (this.phase === 'body') {
      if (this.chunk === 'size') {
        const text = this.line();
        if (text === undefined) return;
        const size = parseInt(text.split(';')[0] ?? '', 16);
        if (!Number.isInteger(size) || size < 0) {
          this.fail(`bad chunk size line: ${text.slice(0, 40)}`);
          return;
        }
        this.remaining = size;
        this.chunk = size === 0 ? 'trailer' : 'data';
      } else if (this.chunk === 'data') {
        const n = Math.min(this.remaining, this.pending.length);
        this.take(n);
        this.remaining -= n;
        if (this.remaining > 0) return;
        this.chunk = 'data-end';
      } else if (this.chunk === 'data-end') {
        if (this.pending.length < CRLF.length) return;
        this.pending = this.pending.subarray(CRLF.length);
        this.chunk = 'size';
      } else {
        const text = this.line();
        if (text === undefined) return;
        if (text === '') this.phase = 'done';
      }
    }
  }
}
