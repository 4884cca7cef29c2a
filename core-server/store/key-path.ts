// Key paths: cleaning, limits and the hidden-key rule.
//
// The HTTP layer hands the store canonical keys, but the store cleans them
// again (as etcd's store does with path.Clean(path.Join("/", p))) so that a
// caller bug can never create two spellings of one key.

import { Ecode, V2Error } from './v2-error.js';

/**
 * The longest key the store accepts, in UTF-16 code units. etcd has no such
 * limit of its own (its request size cap bounds keys), but a bounded key also
 * bounds the tree's depth (every segment costs at least two characters), so
 * no walk can be made arbitrarily deep.
 */
export const KEY_LENGTH_MAX = 8192;

/**
 * Go's path.Clean(path.Join("/", p)): a leading '/', no trailing '/', no empty,
 * '.' or '..' segments ('..' above the root stays at the root).
 */
export function cleanPath(p: string): string {
  // Fast path: already canonical (the common case from the HTTP layer).
  if (isCanonical(p)) return p;
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

function isCanonical(p: string): boolean {
  if (p === '/') return true;
  if (p.length === 0 || p.charCodeAt(0) !== 47 || p.charCodeAt(p.length - 1) === 47) return false;
  if (p.includes('//')) return false;
  // A '.' or '..' segment needs a "/." somewhere.
  return !p.includes('/.');
}

/** A V2Error when the key is longer than the store allows, else null. */
export function checkKeyLength(p: string, index: number): V2Error | null {
  if (p.length <= KEY_LENGTH_MAX) return null;
  return new V2Error(Ecode.InvalidField, `key is ${p.length} characters long, over the limit of ${KEY_LENGTH_MAX}`, index);
}

/** The segments of a clean path ("/" has none). */
export function segmentsOf(clean: string): string[] {
  return clean === '/' ? [] : clean.slice(1).split('/');
}

/** Go's path.Split for a clean path: the parent directory and the last segment. */
export function splitPath(clean: string): { dir: string; name: string } {
  const i = clean.lastIndexOf('/');
  return { dir: i <= 0 ? '/' : clean.slice(0, i), name: clean.slice(i + 1) };
}

/** Join a clean directory path and a child name. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}

/**
 * etcd's watcher_hub isHidden: whether the event key is hidden from a watcher
 * at watchPath, i.e. some segment below watchPath starts with '_'. When a
 * directory is deleted, watchers deeper than the key are notified too and are
 * never hidden.
 */
export function isHiddenBelow(watchPath: string, keyPath: string): boolean {
  if (watchPath.length > keyPath.length) return false;
  const after = keyPath.slice(watchPath.length);
  // path.Clean("/" + after) contains "/_" exactly when a segment of `after`
  // starts with '_' (the first segment too, thanks to the added '/').
  return ('/' + after).includes('/_');
}
