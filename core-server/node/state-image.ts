// What a snapshot holds: the v2 store's image and the cluster membership, at
// one applied index. The same bytes are written to the member's snap file and
// sent to a follower that fell behind the leader's compacted log.

import { pack, unpack } from '../msgpack.js';
import type { MembershipImage } from './membership.js';

export const STATE_IMAGE_VERSION = 1;

export interface StateImage {
  v: typeof STATE_IMAGE_VERSION;
  store: unknown;
  members: MembershipImage;
}

export function encodeStateImage(img: StateImage): Uint8Array {
  return pack(img);
}

export function decodeStateImage(data: Uint8Array): StateImage {
  const v = unpack(data) as Partial<StateImage> | null;
  if (v === null || typeof v !== 'object' || v.v !== STATE_IMAGE_VERSION || v.members === undefined) {
    throw Object.assign(new Error(`snapshot data is not a version-${STATE_IMAGE_VERSION} state image`), { code: 'RG_ERR_BAD_SNAPSHOT' });
  }
  return v as StateImage;
}
