// Go's mime.ParseMediaType, reduced to what net/http's ParseForm needs: the
// lower-cased media type and the exact error text, because etcd answers a
// malformed Content-Type on PUT/POST with 210 and that text as the cause.

export interface MediaTypeResult {
  /** Lower-cased media type; '' when the type itself was malformed. */
  mediaType: string;
  /** Go's error text, or null. */
  error: string | null;
}

const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && !TSPECIALS.includes(String.fromCharCode(c));
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function consumeToken(v: string, at: number): number {
  let i = at;
  while (i < v.length && isTokenChar(v.charCodeAt(i))) i++;
  return i;
}

function skipSpace(v: string, at: number): number {
  let i = at;
  while (i < v.length && isSpace(v.charCodeAt(i))) i++;
  return i;
}

function checkMediaTypeDisposition(s: string): string | null {
  const t = consumeToken(s, 0);
  if (t === 0) return 'mime: no media type';
  if (t === s.length) return null;
  if (s.charCodeAt(t) !== 47) return 'mime: expected slash after first token';
  const st = consumeToken(s, t + 1);
  if (st === t + 1) return 'mime: expected token after slash';
  if (st !== s.length) return 'mime: unexpected content after media subtype';
  return null;
}

/** A quoted-string or token value at `at`: [value, end] or null (Go's consumeValue failing). */
function consumeValue(v: string, at: number): [string, number] | null {
  if (at >= v.length) return null;
  if (v.charCodeAt(at) !== 34) {
    const end = consumeToken(v, at);
    return end === at ? null : [v.slice(at, end), end];
  }
  let buf = '';
  for (let i = at + 1; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 34) return [buf, i + 1];
    if (c === 92 && i + 1 < v.length && TSPECIALS.includes(v.charAt(i + 1))) {
      buf += v.charAt(i + 1);
      i++;
      continue;
    }
    if (c === 13 || c === 10) return null;
    buf += v.charAt(i);
  }
  return null;
}

/** Go's consumeMediaParam: [name, value, end] or null. */
function consumeParam(v: string, at: number): [string, string, number] | null {
  let i = skipSpace(v, at);
  if (v.charCodeAt(i) !== 59) return null;
  i = skipSpace(v, i + 1);
  const nameEnd = consumeToken(v, i);
  if (nameEnd === i) return null;
  const name = v.slice(i, nameEnd).toLowerCase();
  i = skipSpace(v, nameEnd);
  if (v.charCodeAt(i) !== 61) return null;
  i = skipSpace(v, i + 1);
  const val = consumeValue(v, i);
  if (val === null) return null;
  return [name, val[0], val[1]];
}

export function parseMediaType(v: string): MediaTypeResult {
  const semi = v.indexOf(';');
  const base = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  const typeErr = checkMediaTypeDisposition(base);
  if (typeErr !== null) return { mediaType: '', error: typeErr };
  if (semi < 0) return { mediaType: base, error: null };
  const params = new Map<string, string>();
  let i = semi;
  while (i < v.length) {
    i = skipSpace(v, i);
    if (i >= v.length) break;
    const p = consumeParam(v, i);
    if (p === null) {
      if (v.slice(i).trim() === ';') break; // a trailing ';' is allowed
      return { mediaType: base, error: 'mime: invalid media parameter' };
    }
    const [name, value, end] = p;
    // Continuations ("name*0") live in their own maps in Go; a plain prefix
    // keeps them apart here.
    const key = name.includes('*') ? '*' + name : name;
    const prev = params.get(key);
    if (prev !== undefined && prev !== value) return { mediaType: '', error: 'mime: duplicate parameter name' };
    params.set(key, value);
    i = end;
  }
  return { mediaType: base, error: null };
}
