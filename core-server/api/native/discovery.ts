// GET /raftgate/v1/native: how a proxy, given only a member's client URL,
// finds the member's native-protocol address (and whose member it is).

import type { KvNode } from '../../node/types.js';
import type { HttpAnswer } from '../v2-request.js';
import { methodNotAllowed } from '../v2-request.js';

export const NATIVE_DISCOVERY_PATH = '/raftgate/v1/native';

export interface NativeDiscovery {
  nativeUrls: string[];
  memberId: string;
  clusterId: string;
}

export function nativeDiscoveryAnswer(method: string, node: KvNode, nativeUrls: readonly string[]): HttpAnswer {
  if (method !== 'GET') return methodNotAllowed('GET');
  const body: NativeDiscovery = { nativeUrls: [...nativeUrls], memberId: node.memberId, clusterId: node.clusterId };
  return { kind: 'http', status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) + '\n' };
}
