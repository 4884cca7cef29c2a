// The flags of one member listening on 127.0.0.1, the same for Raftgate and
// etcd 3.4 (Raftgate takes etcd's flag names): `raftgate dev`, the
// benchmarks and the test harnesses start every member with these.

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
