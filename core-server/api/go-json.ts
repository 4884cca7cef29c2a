// JSON as Go's encoding/json writes it, so bodies are byte-identical to
// etcd's. JSON.stringify differs from Go in a few characters only:
//   - Go escapes '<' '>' '&' (HTML-safe) and U+2028/U+2029;
//   - Go writes \b and \f as \u0008 and \u000c;
//   - Go writes each invalid UTF-8 byte as the escape \ufffd. Keys and values
//     decoded by go-url.ts hold such bytes as U+FFFD, so every U+FFFD is
//     written escaped (a client that sends a real U+FFFD gets it escaped,
//     where Go would write it raw: the rarer case loses).
// Property order is the caller's (the store renders nodes in Go's field order).

const NEEDS_FIXUP = /[<>&\u2028\u2029\ufffd]|\\[bf]/;
const FIXUP = /\\\\|\\b|\\f|[<>&\u2028\u2029\ufffd]/g;

function fix(m: string): string {
  switch (m) {
    case '\\\\':
      return m;
    case '\\b':
      return '\\u0008';
    case '\\f':
      return '\\u000c';
    case '<':
      return '\\u003c';
    case '>':
      return '\\u003e';
    case '&':
      return '\\u0026';
    case '\u2028':
      return '\\u2028';
    case '\u2029':
      return '\\u2029';
    default:
      return '\\ufffd';
  }
}

/** Go's json.Marshal output for a value built of plain objects, arrays, strings and numbers. */
export function goJson(value: unknown): string {
  const s = JSON.stringify(value);
  // One scan on the hot path; the rewrite only for the rare body that needs it.
  return NEEDS_FIXUP.test(s) ? s.replace(FIXUP, fix) : s;
}
