// --initial-cluster: the bootstrap membership, "a=http://h:2380,b=http://h:12380".
// As in etcd a name may repeat to give a member several peer URLs. Files may
// also use a mapping { a: url, b: [url, url] }, which reads better in YAML.

import { parseHttpUrl, URL_LIST_ENTRIES_MAX } from './urls.js';

/** etcd recommends at most 7 voting members; more only slows every commit. */
export const INITIAL_CLUSTER_MEMBERS_MAX = 7;
export const MEMBER_NAME_LENGTH_MAX = 128;

export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
}

export type InitialClusterParse = { ok: true; members: InitialMember[] } | { ok: false; reason: string };

/** Why a member name is unusable, or undefined if it is fine. */
export function memberNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MEMBER_NAME_LENGTH_MAX) return `must be at most ${MEMBER_NAME_LENGTH_MAX} characters`;
  // ',' and '=' would break --initial-cluster; whitespace is always a paste error.
  if (/[,=\s]/u.test(name)) return 'must not contain commas, "=" or whitespace';
  return undefined;
}

export function parseInitialCluster(raw: unknown): InitialClusterParse {
  const pairs: Array<[string, string]> = [];
  if (typeof raw === 'string' || Array.isArray(raw)) {
    const entries = typeof raw === 'string' ? raw.split(',') : raw;
    for (const entry of entries) {
      if (typeof entry !== 'string') return { ok: false, reason: 'entries must be strings of the form name=http://host:port' };
      const eq = entry.indexOf('=');
      if (eq <= 0) return { ok: false, reason: `entry "${entry.trim()}" must have the form name=http://host:port` };
      pairs.push([entry.slice(0, eq).trim(), entry.slice(eq + 1)]);
    }
  } else if (typeof raw === 'object' && raw !== null) {
    for (const [name, urls] of Object.entries(raw)) {
      const list: unknown[] = Array.isArray(urls) ? urls : [urls];
      for (const url of list) {
        if (typeof url !== 'string') return { ok: false, reason: `member ${name}: peer URLs must be strings` };
        pairs.push([name, url]);
      }
    }
  } else {
    return { ok: false, reason: 'must be a list name=http://host:port,...' };
  }
  if (pairs.length === 0) return { ok: false, reason: 'must list at least one member' };
  if (pairs.length > INITIAL_CLUSTER_MEMBERS_MAX * URL_LIST_ENTRIES_MAX) return { ok: false, reason: 'has too many entries' };

  const members: Array<{ name: string; peerUrls: string[] }> = [];
  const owner = new Map<string, string>();
  for (const [name, urlText] of pairs) {
    const problem = memberNameProblem(name);
    if (problem !== undefined) return { ok: false, reason: `member name "${name}" ${problem}` };
    const r = parseHttpUrl(urlText, { listen: false });
    if (!r.ok) return { ok: false, reason: `member ${name}: ${r.reason}` };
    const prev = owner.get(r.url);
    if (prev !== undefined) return { ok: false, reason: `${r.url} is listed for both ${prev} and ${name}` };
    owner.set(r.url, name);
    let member = members.find((m) => m.name === name);
    if (member === undefined) {
      member = { name, peerUrls: [] };
      members.push(member);
    }
    member.peerUrls.push(r.url);
  }
  if (members.length > INITIAL_CLUSTER_MEMBERS_MAX) {
    return { ok: false, reason: `must list at most ${INITIAL_CLUSTER_MEMBERS_MAX} members` };
  }
  return { ok: true, members };
}

export function formatInitialCluster(members: readonly InitialMember[]): string {
  return members.flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u}`)).join(',');
}
