// A read's staleness bound from its Cache-Control request directives
// (RFC 9111 §5.2.1, RFC 5861 stale-if-error), applied to the proxy's notion
// of age: a cached answer's age is the proxy's staleness, the time since it
// last knew its view was current.
//
//   (nothing)          the configured --max-staleness
//   max-stale=S        S seconds, looser or tighter than the default
//   max-stale          as stale as the ceiling allows
//   max-age=N          at most N seconds (max-age=0: read through)
//   no-cache           read through
//   stale-if-error=S   if the read-through fails, a cached answer up to S
//                      seconds stale may still be served (bare: its ceiling)
//
// Every bound is capped by the configured ceiling (stale-if-error by its own,
// --stale-if-error-ceiling). Directive names are
// case-insensitive; arguments may be tokens or quoted strings. A directive
// with a malformed argument is ignored, as RFC 9111 has caches do with what
// they do not understand — except no-cache, which is honoured with or
// without an argument because reading through is never wrong. When a
// directive repeats, the most restrictive value wins.

export interface StalenessConfig {
  /** The bound when the request says nothing (--max-staleness). */
  maxStalenessMs: number;
  /** The most any request may ask for. */
  maxStalenessCeilingMs: number;
  /**
   * The most stale-if-error may ask for (serving stale when no member
   * answers may reasonably reach further back than ordinary reads);
   * defaults to maxStalenessCeilingMs.
   */
  staleIfErrorCeilingMs?: number;
}

export interface ReadPolicy {
  /** Do not answer from the cache at all (no-cache, max-age=0). */
  readThrough: boolean;
  /** The largest staleness a cached answer may have. */
  maxStaleMs: number;
  /** When the read-through fails: serve a cached answer at most this stale; null = say the core is unreachable. */
  staleIfErrorMs: number | null;
}

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
const DELTA_SECONDS_MAX = 2 ** 31;

/** One directive: lower-case name, and its argument (unquoted) or null when bare. */
export interface Directive {
  name: string;
  value: string | null;
}

/**
 * Split Cache-Control header values into directives. Malformed pieces (an
 * empty name, an unterminated quote) are dropped, never fatal.
 */
export function parseCacheControl(header: string | readonly string[] | undefined): Directive[] {
  if (header === undefined) return [];
  const text = typeof header === 'string' ? header : header.join(',');
  const out: Directive[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    // name
    let j = i;
    while (j < n && text[j] !== ',' && text[j] !== '=') j++;
    const name = text.slice(i, j).trim().toLowerCase();
    let value: string | null = null;
    let ok = name !== '' && /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name);
    if (j < n && text[j] === '=') {
      j++;
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      if (text[j] === '"') {
        let v = '';
        j++;
        let closed = false;
        while (j < n) {
          const c = text[j] as string;
          if (c === '\\' && j + 1 < n) {
            v += text[j + 1];
            j += 2;
            continue;
          }
          if (c === '"') {
            closed = true;
            j++;
            break;
          }
          v += c;
          j++;
        }
        value = v;
        if (!closed) ok = false;
        // Anything between the closing quote and the next comma makes it malformed.
        const rest = j;
        while (j < n && text[j] !== ',') j++;
        if (text.slice(rest, j).trim() !== '') ok = false;
      } else {
        const start = j;
        while (j < n && text[j] !== ',') j++;
        value = text.slice(start, j).trim();
      }
    }
    if (ok) out.push({ name, value });
    i = j + 1;
  }
  return out;
}

/** delta-seconds (1*DIGIT) in ms, or null when malformed. */
function deltaMs(value: string | null): number | null {
  if (value === null || !/^[0-9]+$/.test(value)) return null;
  const s = Number(value);
  return Math.min(s, DELTA_SECONDS_MAX) * 1000;
}

function minOf(a: number | null, b: number): number {
  return a === null ? b : Math.min(a, b);
}

/** The staleness policy for one request. */
export function readPolicy(header: string | readonly string[] | undefined, cfg: StalenessConfig): ReadPolicy {
  const ceiling = cfg.maxStalenessCeilingMs;
  const sieCeiling = cfg.staleIfErrorCeilingMs ?? ceiling;
  let noCache = false;
  let maxAge: number | null = null;
  let maxStale: number | null = null;
  let staleIfError: number | null = null;
  for (const d of parseCacheControl(header)) {
    switch (d.name) {
      case 'no-cache':
        noCache = true;
        break;
      case 'max-age': {
        const ms = deltaMs(d.value);
        if (ms !== null) maxAge = minOf(maxAge, ms);
        break;
      }
      case 'max-stale': {
        const ms = d.value === null ? ceiling : deltaMs(d.value);
        if (ms !== null) maxStale = minOf(maxStale, ms);
        break;
      }
      case 'stale-if-error': {
        const ms = d.value === null ? sieCeiling : deltaMs(d.value);
        if (ms !== null) staleIfError = minOf(staleIfError, ms);
        break;
      }
      default:
        break; // min-fresh, only-if-cached, no-store, no-transform, extensions: not ours
    }
  }
  let bound = maxStale ?? cfg.maxStalenessMs;
  if (maxAge !== null) bound = Math.min(bound, maxAge);
  bound = Math.min(bound, ceiling);
  return {
    readThrough: noCache || maxAge === 0,
    maxStaleMs: bound,
    staleIfErrorMs: staleIfError === null ? null : Math.min(staleIfError, sieCeiling),
  };
}
