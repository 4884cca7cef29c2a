// URL lists, validated the way etcd's types.NewURLs does: every URL is
// scheme://host:port with nothing after it, because these URLs are handed to
// listen() and to peers, and a path or a missing port would fail far from the
// config that caused it. Only http: for now; https: is refused with the reason
// rather than served in clear text by surprise.
//
// URLs are stored normalised as "http://host:port" (lower-case host, no
// trailing slash) so two spellings of one address compare equal.

export const URL_LIST_ENTRIES_MAX = 16;
export const URL_TEXT_LENGTH_MAX = 2048;

export type UrlParse = { ok: true; url: string; host: string; port: number } | { ok: false; reason: string };

const authorityPattern = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[0-9a-fA-F:.]+\]|[^\s/:?#@[\]]+):(\d{1,5})\/?$/u;

export interface UrlRules {
  /** Listen URLs are bound, so their host must be an IP address or localhost (as etcd requires). */
  readonly listen: boolean;
}

export function parseHttpUrl(text: string, rules: UrlRules): UrlParse {
  const s = text.trim();
  if (s.length === 0) return { ok: false, reason: 'contains an empty URL' };
  if (s.length > URL_TEXT_LENGTH_MAX) return { ok: false, reason: `has a URL longer than ${URL_TEXT_LENGTH_MAX} characters` };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/u.exec(s)?.[1]?.toLowerCase();
  if (scheme === 'https') return { ok: false, reason: `${s}: TLS is not supported yet` };
  if (scheme !== 'http') return { ok: false, reason: `${s}: must be an http:// URL` };
  const m = authorityPattern.exec(s);
  if (m === null) return { ok: false, reason: `${s}: must have the form http://host:port with no path` };
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, reason: `${s}: port must be at most 65535` };
  let host: string;
  try {
    host = new URL(`http://${m[2] ?? ''}:1`).hostname;
  } catch {
    return { ok: false, reason: `${s}: invalid host` };
  }
  if (rules.listen && !isIpOrLocalhost(host)) {
    return { ok: false, reason: `${s}: a listen URL needs an IP address (or localhost) to bind, not a host name` };
  }
  if (!rules.listen && port === 0) return { ok: false, reason: `${s}: port 0 cannot be connected to` };
  return { ok: true, url: `http://${host}:${port}`, host, port };
}

function isIpOrLocalhost(host: string): boolean {
  if (host === 'localhost') return true;
  if (host.startsWith('[')) return true; // the URL parser accepted it as IPv6
  return /^\d{1,3}(\.\d{1,3}){3}$/u.test(host);
}

/** True for 0.0.0.0 and [::]: fine to listen on, useless to advertise. */
export function isUnspecifiedHost(url: string): boolean {
  return /^http:\/\/(0\.0\.0\.0|\[::\]):/u.test(url);
}

export function portOf(url: string): number {
  const m = /:(\d+)$/u.exec(url);
  if (m === null) throw new Error(`assert: normalised URL without port: ${url}`);
  return Number(m[1]);
}

export function hostOf(url: string): string {
  return url.slice('http://'.length, url.lastIndexOf(':'));
}

export type UrlListParse = { ok: true; urls: string[] } | { ok: false; reason: string };

/**
 * Parses a comma-separated string (flags, env) or an array of strings (files).
 * `allowEmpty` lets an empty list through for fields where empty means "derive".
 */
export function parseUrlList(raw: string | readonly string[], rules: UrlRules & { allowEmpty: boolean }): UrlListParse {
  const parts = typeof raw === 'string' ? (raw.trim() === '' ? [] : raw.split(',')) : [...raw];
  if (parts.length === 0) {
    return rules.allowEmpty ? { ok: true, urls: [] } : { ok: false, reason: 'must list at least one URL' };
  }
  if (parts.length > URL_LIST_ENTRIES_MAX) return { ok: false, reason: `must list at most ${URL_LIST_ENTRIES_MAX} URLs` };
  const urls: string[] = [];
  for (const part of parts) {
    const r = parseHttpUrl(part, rules);
    if (!r.ok) return r;
    if (urls.includes(r.url)) return { ok: false, reason: `lists ${r.url} twice` };
    urls.push(r.url);
  }
  return { ok: true, urls };
}

/** redis://[user:password@]host:port[/db]; rediss:// is refused until TLS is supported. */
export function parseRedisUrl(text: string): { ok: true; url: string } | { ok: false; reason: string } {
  const s = text.trim();
  if (s.length > URL_TEXT_LENGTH_MAX) return { ok: false, reason: `must be at most ${URL_TEXT_LENGTH_MAX} characters` };
  if (/^rediss:/iu.test(s)) return { ok: false, reason: 'TLS is not supported yet' };
  if (!/^redis:\/\//iu.test(s)) return { ok: false, reason: 'must be a redis:// URL' };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return { ok: false, reason: 'must be a redis://host:port URL' };
  }
  if (u.hostname === '') return { ok: false, reason: 'must name a host' };
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/u.test(u.pathname)) {
    return { ok: false, reason: 'path must be a database number such as /0' };
  }
  return { ok: true, url: s };
}

/** Hides a password in a URL so error messages and logs never print it. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/iu, '$1***@');
}
