// The flags of one member listening on 127.0.0.1, the same for Raftgate and
// etcd 3.4 (Raftgate takes etcd's flag names): `raftgate dev`, the
// benchmarks and the test harnesses start every member with these, and every
// Raftgate proxy with proxyFlags.

import { formatInitialCluster } from './initial-cluster.js';

export interface LoopbackMember {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Raftgate only: the native protocol's port. */
  nativePort?: number;
  /** name=peerURL,... of the initial members; alone in its own cluster when omitted. */
  initialCluster?: string;
}

export function loopbackUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** --initial-cluster for members whose peer URLs are on 127.0.0.1: `name=http://127.0.0.1:port,...`. */
export function loopbackInitialCluster(members: readonly { name: string; peerPort: number }[]): string {
  return formatInitialCluster(members.map((m) => ({ name: m.name, peerUrls: [loopbackUrl(m.peerPort)] })));
}

export function loopbackMemberFlags(m: LoopbackMember): string[] {
  const client = loopbackUrl(m.clientPort);
  const peer = loopbackUrl(m.peerPort);
  return [
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', m.initialCluster ?? `${m.name}=${peer}`,
    ...(m.nativePort !== undefined ? ['--listen-native-urls', loopbackUrl(m.nativePort)] : []),
  ];
}

export interface LoopbackProxy {
  mode: 'readwrite' | 'readonly';
  /** Listens for clients on 127.0.0.1 at this port. */
  port: number;
  /** Client URLs of the members (or etcd) it fronts. */
  endpoints: readonly string[];
  logLevel: string;
}

/** The flags of `raftgate proxy` listening on 127.0.0.1 (after the `proxy` subcommand). */
export function proxyFlags(p: LoopbackProxy): string[] {
  return ['--mode', p.mode, '--listen-client-urls', loopbackUrl(p.port), '--endpoints', p.endpoints.join(','), '--log-level', p.logLevel];
}
