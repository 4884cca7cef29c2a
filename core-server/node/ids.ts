// Member and cluster ids, derived the way etcd derives them for a new
// cluster: from the peer URLs and the cluster token, so every member of a
// freshly bootstrapped cluster computes the same ids without talking. Once
// created, the ids are stored in the data dir (the WAL's metadata record) and
// read back from there, never recomputed (seed 000, slide 18: the data dir
// owns its identity).

import { createHash } from 'node:crypto';

function hash64(parts: string[]): string {
  return createHash('sha1').update(parts.join('\n')).digest('hex').slice(0, 16);
}

export function memberIdFor(peerURLs: readonly string[], clusterToken: string): string {
  return hash64([...peerURLs].sort().concat(clusterToken));
}

export function clusterIdFor(memberIds: readonly string[]): string {
  return hash64([...memberIds].sort());
}
