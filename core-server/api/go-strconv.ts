// Go's strconv rules for the values etcd parses from a v2 request. JS's
// Number() and Boolean parsing accept far more ("0x10", " 5", "1e3", "yes"),
// and a client that gets 200 from Raftgate where etcd said 400 would break
// the first time it met real etcd.

const UINT64_MAX = 18446744073709551615n;

/** strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; else null. */
export function parseGoBool(s: string): boolean | null {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return null;
  }
}

/**
 * strconv.ParseUint(s, 10, 64): ASCII digits only, no sign, no underscores,
 * at most 2^64-1. The value is returned as a JS number; above 2^53 it is
 * approximate, which only matters for indexes no store will ever reach.
 */
export function parseGoUint64(s: string): number | null {
  const n = s.length;
  if (n === 0 || n > 20) return null;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  if (n < 16) return Number(s);
  if (BigInt(s) > UINT64_MAX) return null;
  return Number(s);
}

/** strconv.Quote of a short byte string (given as latin1 chars, one per byte). */
export function goQuote(bytes: string): string {
  const b = Buffer.from(bytes, 'latin1');
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += quoteAscii(c);
      i++;
      continue;
    }
    const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    const chunk = len > 1 && i + len <= b.length ? b.subarray(i, i + len) : null;
    const text = chunk === null ? '' : chunk.toString('utf8');
    if (text !== '' && !text.includes('\ufffd') && text.codePointAt(0)! >= 0xa0) {
      out += text;
      i += len;
    } else {
      out += '\\x' + hex2(c);
      i++;
    }
  }
  return out + '"';
}

function hex2(c: number): string {
  return (c < 16 ? '0' : '') + c.toString(16);
}

function quoteAscii(c: number): string {
  switch (c) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 9:
      return '\\t';
    case 10:
      return '\\n';
    case 11:
      return '\\v';
    case 12:
      return '\\f';
    case 13:
      return '\\r';
    case 34:
      return '\\"';
    case 92:
      return '\\\\';
    default:
      return c < 0x20 || c === 0x7f ? '\\x' + hex2(c) : String.fromCharCode(c);
  }
}
