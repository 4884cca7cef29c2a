// Go's net/url and net/http path rules, as etcd's HTTP server applies them
// before and while it parses a v2 request. Clients that work against etcd
// depend on these details (which bytes a key may hold, which error a bad
// query gives), so they are reproduced here rather than approximated with
// decodeURIComponent and URLSearchParams, which differ on '+', ';', invalid
// escapes and invalid UTF-8.
//
// Strings here carry bytes the way Go strings do: URL text from the network is
// ASCII (Node refuses other bytes in a request line); characters above 0x7f
// (possible through inject) are taken as their UTF-8 bytes.

import { goQuote } from './go-strconv.js';

/** Query and form values by name, in the order Go's url.Values keeps them. */
export type FormValues = Map<string, string[]>;

/** A failed unescape: Go's url.EscapeError text. */
export class EscapeError {
  constructor(readonly text: string) {}
  get message(): string {
    return 'invalid URL escape ' + goQuote(this.text);
  }
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** UTF-8 bytes of a JS string (code units above 0x7f encoded, lone surrogates as U+FFFD). */
export function bytesOf(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

/**
 * Go's utf8-tolerant view of bytes as text: every byte that does not start a
 * valid sequence becomes one U+FFFD, as Go's json encoder counts them (the
 * WHATWG decoder would merge a truncated sequence into a single U+FFFD).
 */
export function decodeGoUtf8(b: Uint8Array, start = 0, end = b.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (b[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
  let out = '';
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = validSeqLen(b, i, end);
    if (n === 0) {
      out += '\ufffd';
      i++;
      continue;
    }
    out += Buffer.from(b.buffer, b.byteOffset + i, n).toString('utf8');
    i += n;
  }
  return out;
}

/** Length of the valid UTF-8 sequence at i (2..4), or 0 (Go's utf8.DecodeRune rules). */
function validSeqLen(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < end && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * Go's url.unescape in query mode ('+' is a space) or path mode ('+' stays).
 * Returns the decoded text, or an EscapeError naming the bad escape.
 */
export function unescape(s: string, plusIsSpace: boolean): string | EscapeError {
  // Fast path: nothing to decode.
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 || c >= 0x80 || (plusIsSpace && c === 43)) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  const b = bytesOf(s);
  const out = new Uint8Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 37) {
      const hi = i + 1 < b.length ? hexVal(b[i + 1]!) : -1;
      const lo = i + 2 < b.length ? hexVal(b[i + 2]!) : -1;
      if (hi < 0 || lo < 0) {
        const bad = b.subarray(i, Math.min(i + 3, b.length));
        return new EscapeError(Buffer.from(bad).toString('latin1'));
      }
      out[n++] = hi * 16 + lo;
      i += 2;
    } else if (c === 43 && plusIsSpace) {
      out[n++] = 32;
    } else {
      out[n++] = c;
    }
  }
  return decodeGoUtf8(out, 0, n);
}

/**
 * Go's url.ParseQuery: every pair is kept that decodes; the error returned is
 * the first bad escape, except that a ';' anywhere wins (Go 1.17+ assigns the
 * semicolon error unconditionally).
 */
export function parseQueryInto(m: FormValues, query: string): string | null {
  if (query === '') return null;
  let err: string | null = null;
  for (const pair of query.split('&')) {
    if (pair.includes(';')) {
      err = 'invalid semicolon separator in query';
      continue;
    }
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = unescape(eq < 0 ? pair : pair.slice(0, eq), true);
    if (k instanceof EscapeError) {
      err ??= k.message;
      continue;
    }
    const v = unescape(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (v instanceof EscapeError) {
      err ??= v.message;
      continue;
    }
    const vals = m.get(k);
    if (vals === undefined) m.set(k, [v]);
    else vals.push(v);
  }
  return err;
}

/**
 * Go's path.Clean on a rooted path: no empty, '.' or '..' segments ('..' at
 * the root stays at the root).
 */
export function goPathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.charCodeAt(0) === 47;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Go's net/http cleanPath (ServeMux): rooted, cleaned, trailing '/' kept. */
export function muxCleanPath(p: string): string {
  if (p === '') return '/';
  if (p.charCodeAt(0) !== 47) p = '/' + p;
  // Fast path: already clean (the common case: no "//", "/." segments).
  if (!p.includes('//') && !p.includes('/.')) return p;
  let np = goPathClean(p);
  if (p.charCodeAt(p.length - 1) === 47 && np !== '/') np += '/';
  return np;
}

const PATH_SAFE = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-_.~$&+,/:;=@]/.test(ch)) PATH_SAFE[c] = 1;
}

/** Go's url.PathEscape-as-whole-path (encodePath mode): what URL.String() prints. */
export function escapePath(p: string): string {
  const b = bytesOf(p);
  let out = '';
  for (const c of b) {
    if (c < 128 && PATH_SAFE[c] === 1) out += String.fromCharCode(c);
    else out += '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

/** Go's html.EscapeString as net/http's htmlReplacer does it. */
export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&#34;';
      default:
        return '&#39;';
    }
  });
}

/** The request target split as Go's url.ParseRequestURI splits it (no fragment handling). */
export interface RawTarget {
  rawPath: string;
  rawQuery: string;
}

export function splitTarget(rawUrl: string): RawTarget {
  // Absolute-form targets ("http://host/path") carry the path after the host.
  if (rawUrl.charCodeAt(0) !== 47) {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(rawUrl);
    if (m !== null) rawUrl = rawUrl.slice(m[0].length);
  }
  const q = rawUrl.indexOf('?');
  if (q < 0) return { rawPath: rawUrl, rawQuery: '' };
  return { rawPath: rawUrl.slice(0, q), rawQuery: rawUrl.slice(q + 1) };
}
