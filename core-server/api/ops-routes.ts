// Operator endpoints beside etcd's API (under /raftgate/v1/, a path etcd
// does not use): what `raftgate status` and `raftgate snapshot save` ask a
// member for.
//
//   GET /raftgate/v1/status    this member's Raft and store state, as JSON
//   GET /raftgate/v1/snapshot  the state machine now, in the snapshot file
//                              format (header with term, index and CRC32C,
//                              then the payload), ready to be saved as is

import { encodeSnapHeader } from '../snap/index.js';
import type { KvNode } from '../node/types.js';
import type { HttpAnswer } from './v2-request.js';
import { methodNotAllowed } from './v2-request.js';
import { ETCD_SERVER_VERSION } from './info-routes.js';

export const STATUS_PATH = '/raftgate/v1/status';
export const SNAPSHOT_PATH = '/raftgate/v1/snapshot';

export interface MemberStatus {
  kind: 'core';
  version: string;
  /** The member's process id (to signal it, e.g. in the README's failover tour). */
  pid: number;
  name: string;
  id: string;
  clusterId: string;
  /** Leader id, or null while there is none. */
  leader: string | null;
  isLeader: boolean;
  raftTerm: number;
  raftCommitIndex: number;
  raftAppliedIndex: number;
  raftLastIndex: number;
  etcdIndex: number;
  /** Bytes of WAL and snapshot files in the data dir. */
  dataBytes: number;
  watchers: number;
}

export interface OpsDeps {
  node: KvNode;
  dataBytes: () => number;
  watchers: () => number;
  /** The state machine as a snapshot; absent where the node has none to give. */
  stateImage?: () => { index: number; term: number; data: Uint8Array };
}

export function statusAnswer(method: string, d: OpsDeps): HttpAnswer {
  if (method !== 'GET') return methodNotAllowed('GET');
  const s = d.node.status?.();
  const body: MemberStatus = {
    kind: 'core',
    version: ETCD_SERVER_VERSION,
    pid: process.pid,
    name: d.node.name,
    id: d.node.memberId,
    clusterId: d.node.clusterId,
    leader: d.node.leaderId(),
    isLeader: d.node.leaderId() === d.node.memberId,
    raftTerm: d.node.raftTerm,
    raftCommitIndex: s?.commit ?? d.node.raftIndex,
    raftAppliedIndex: d.node.raftIndex,
    raftLastIndex: s?.lastIndex ?? d.node.raftIndex,
    etcdIndex: d.node.store.index,
    dataBytes: d.dataBytes(),
    watchers: d.watchers(),
  };
  return { kind: 'http', status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) + '\n' };
}

/** The snapshot as bytes; the caller sends them as application/octet-stream. */
export function snapshotBytes(d: OpsDeps): { index: number; term: number; bytes: Buffer } | null {
  if (d.stateImage === undefined) return null;
  const img = d.stateImage();
  const header = encodeSnapHeader(img.term, img.index, img.data);
  return { index: img.index, term: img.term, bytes: Buffer.concat([header, img.data]) };
}
