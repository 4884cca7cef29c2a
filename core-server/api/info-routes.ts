// The non-keys endpoints etcd 3.4 serves beside /v2/keys: /version,
// /health, /v2/members, /v2/machines and /v2/stats/*. Each answer is built
// as data (status, headers, body) with etcd's exact bytes: which bodies end
// in a newline (json.Encoder) and which do not (w.Write of json.Marshal).

import type { KvNode } from '../node/types.js';
import { formatRfc3339NanoUtc } from '../store/time-format.js';
import { goDurationFromMs } from './go-duration.js';
import { goJson } from './go-json.js';
import type { HttpAnswer } from './v2-request.js';
import { methodNotAllowed } from './v2-request.js';
import { H_CLUSTER_ID, JSON_TYPE } from './v2-response.js';

/** What /version reports: clients parse this shape, so it stays etcd's. */
export const ETCD_SERVER_VERSION = '3.4.23';
export const ETCD_CLUSTER_VERSION = '3.4.0';

const VERSION_BODY = goJson({ etcdserver: ETCD_SERVER_VERSION, etcdcluster: ETCD_CLUSTER_VERSION });

function json(status: number, body: string, extra?: Record<string, string>): HttpAnswer {
  return { kind: 'http', status, headers: { 'Content-Type': JSON_TYPE, ...extra }, body };
}

/** httptypes.HTTPError: {"message": ...} without a trailing newline. */
function httpError(status: number, message: string, extra?: Record<string, string>): HttpAnswer {
  return json(status, goJson({ message }), extra);
}

const GET_ONLY = 'GET';

export function versionAnswer(method: string): HttpAnswer {
  if (method !== 'GET') return methodNotAllowed(GET_ONLY);
  return json(200, VERSION_BODY);
}

/** /health: etcd answers {"health":"true"} sniffed as text/plain, 503 {"health":"false"} without a leader. */
export function healthAnswer(healthy: boolean): HttpAnswer {
  const headers = { 'Content-Type': 'text/plain; charset=utf-8' };
  return healthy
    ? { kind: 'http', status: 200, headers, body: '{"health":"true"}' }
    : { kind: 'http', status: 503, headers, body: '{"health":"false"}' };
}

function memberJson(m: { id: string; name: string; peerURLs: string[]; clientURLs: string[] }): unknown {
  return { id: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] };
}

/**
 * /v2/members and /v2/members/leader: the GET answers, and etcd's 405 and
 * 415 answers for the other methods. Membership changes (POST, PUT, DELETE
 * with an id) are made by membersChangeOf and runMembersChange; a request
 * reaches this function only when those do not take it, e.g. on a node that
 * offers no membership changes (no addMember), where it answers 405
 * (Allow: GET) rather than pretending to succeed: a client error, never a 5xx.
 */
export function membersAnswer(method: string, path: string, node: KvNode, contentType: string | undefined): HttpAnswer {
  if (method !== 'GET' && method !== 'POST' && method !== 'DELETE' && method !== 'PUT') {
    return methodNotAllowed('GET,POST,DELETE,PUT');
  }
  const cid = { [H_CLUSTER_ID]: node.clusterId };
  const sub = path.slice('/v2/members'.length).replace(/^\//, '');
  // etcd checks the body's type first on POST, and on PUT once the path has an id.
  const ctype = goMediaType(contentType);
  if ((method === 'POST' || (method === 'PUT' && sub !== '')) && ctype !== 'application/json') {
    return httpError(415, `Bad Content-Type ${ctype}, accept application/json`, cid);
  }
  if (method === 'GET') {
    if (sub === '') return json(200, goJson({ members: node.members().map(memberJson) }) + '\n', cid);
    if (sub === 'leader') {
      const id = node.leaderId();
      const m = id === null ? undefined : node.members().find((x) => x.id === id);
      if (m === undefined) return httpError(503, 'During election', cid);
      return json(200, goJson(memberJson(m)) + '\n', cid);
    }
    return httpError(404, 'Not found', cid);
  }
  if ((method === 'DELETE' || method === 'PUT') && sub === '') {
    // etcd's getID: no id in the path is a plain 405 without Allow.
    const a = methodNotAllowed(null);
    return { ...a, headers: { ...a.headers, ...cid } };
  }
  const a = methodNotAllowed(GET_ONLY);
  return { ...a, headers: { ...a.headers, ...cid } };
}

/** A membership change the caller must carry out (asynchronously) before answering. */
export type MembersChange =
  | { kind: 'add'; peerURLs: string[] }
  | { kind: 'remove'; id: string }
  | { kind: 'update'; id: string; peerURLs: string[] };

const URL_SCHEMES = new Set(['http:', 'https:', 'unix:', 'unixs:']);

/** etcd's peerURLs body: {"peerURLs": [...]}, each a URL with an allowed scheme. */
function parsePeerUrls(body: Buffer | undefined, cid: Record<string, string>): string[] | HttpAnswer {
  let v: unknown;
  try {
    v = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8'));
  } catch (err) {
    return httpError(400, (err as Error).message, cid);
  }
  const urls = (v as { peerURLs?: unknown } | null)?.peerURLs;
  if (!Array.isArray(urls) || urls.length === 0) return httpError(400, 'no valid URLs given', cid);
  for (const u of urls) {
    if (typeof u !== 'string') return httpError(400, 'no valid URLs given', cid);
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      return httpError(400, `URL scheme must be http, https, unix, or unixs: ${u}`, cid);
    }
    if (!URL_SCHEMES.has(parsed.protocol)) return httpError(400, `URL scheme must be http, https, unix, or unixs: ${u}`, cid);
  }
  return urls as string[];
}

/**
 * POST /v2/members, DELETE and PUT /v2/members/<id>, as etcd answers them:
 * a change to make (the caller awaits it with runMembersChange), or an
 * answer now (bad body, 405, 415). Returns null for requests membersAnswer serves.
 */
export function membersChangeOf(method: string, path: string, node: KvNode, contentType: string | undefined, body: Buffer | undefined): MembersChange | HttpAnswer | null {
  const sub = path.slice('/v2/members'.length).replace(/^\//, '');
  const cid = { [H_CLUSTER_ID]: node.clusterId };
  if (node.addMember === undefined) return null;
  if (method === 'POST' && sub === '') {
    if (goMediaType(contentType) !== 'application/json') return null; // membersAnswer says 415
    const urls = parsePeerUrls(body, cid);
    return Array.isArray(urls) ? { kind: 'add', peerURLs: urls } : urls;
  }
  if ((method === 'DELETE' || method === 'PUT') && sub !== '' && !sub.includes('/')) {
    if (!/^[0-9a-f]{1,16}$/i.test(sub)) return httpError(404, `No such member: ${sub}`, cid);
    const id = sub.toLowerCase().padStart(16, '0');
    if (method === 'DELETE') return { kind: 'remove', id };
    if (goMediaType(contentType) !== 'application/json') return null;
    const urls = parsePeerUrls(body, cid);
    return Array.isArray(urls) ? { kind: 'update', id, peerURLs: urls } : urls;
  }
  return null;
}

/** Carries out a membership change and answers as etcd does (201 with the member, 204, 404, 409, 410, 500). */
export async function runMembersChange(change: MembersChange, node: KvNode, rawId: string): Promise<HttpAnswer> {
  const cid = { [H_CLUSTER_ID]: node.clusterId };
  try {
    if (change.kind === 'add') {
      const m = await node.addMember!(change.peerURLs);
      return json(201, goJson(memberJson(m)) + '\n', cid);
    }
    if (change.kind === 'remove') await node.removeMember!(change.id);
    else await node.updateMember!(change.id, change.peerURLs);
    return { kind: 'http', status: 204, headers: { ...cid }, body: '' };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'RG_ERR_MEMBER_NOT_FOUND') return httpError(404, `No such member: ${rawId}`, cid);
    if (code === 'RG_ERR_MEMBER_REMOVED') return httpError(410, `Member permanently removed: ${rawId}`, cid);
    if (code === 'RG_ERR_PEER_URL_EXISTS') return httpError(409, 'membership: peerURL exists', cid);
    return httpError(500, 'Internal Server Error', cid);
  }
}

export function machinesAnswer(method: string, node: KvNode): HttpAnswer {
  if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed('GET,HEAD');
  const urls = node.members().flatMap((m) => m.clientURLs);
  return { kind: 'http', status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: urls.join(', ') };
}

export interface StatsClock {
  /** When this member started (ms since the epoch, from the node's clock). */
  startMs: number;
}

export function statsAnswer(method: string, which: 'self' | 'store' | 'leader', node: KvNode, clock: StatsClock): HttpAnswer {
  if (method !== 'GET') return methodNotAllowed(GET_ONLY);
  const leader = node.leaderId();
  if (which === 'store') return json(200, goJson(node.store.stats()));
  if (which === 'self') {
    const nowMs = node.nowMs();
    const isLeader = leader === node.memberId;
    const self: Record<string, unknown> = {
      name: node.name,
      id: node.memberId,
      state: isLeader ? 'StateLeader' : 'StateFollower',
      startTime: formatRfc3339NanoUtc(clock.startMs),
      leaderInfo: {
        leader: leader ?? '0',
        uptime: goDurationFromMs(nowMs - clock.startMs),
        startTime: formatRfc3339NanoUtc(clock.startMs),
      },
      recvAppendRequestCnt: 0,
      sendAppendRequestCnt: 0,
    };
    return json(200, goJson(self));
  }
  if (leader !== node.memberId) return httpError(403, 'not current leader');
  // Per-follower latency and counts come with the Raft transport; a single
  // member leads no followers, which is exactly what etcd reports for it.
  return json(200, goJson({ leader: node.memberId, followers: {} }));
}

/** etcd's unmarshalRequest: parameters after ';' are dropped (then trimmed, lowercased); otherwise compared as sent. */
function goMediaType(contentType: string | undefined): string {
  const ct = contentType ?? '';
  const semi = ct.indexOf(';');
  return semi === -1 ? ct : ct.slice(0, semi).trim().toLowerCase();
}
