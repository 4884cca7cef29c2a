// Invariant checks that stay on in production (TigerBeetle style): a Raft
// member whose state breaks an invariant must stop, not carry on and spread
// a corrupted log. Never catch these.

export const ASSERT_CODE = 'RG_ERR_ASSERT';

export class AssertionError extends Error {
  readonly code = ASSERT_CODE;
}

export function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new AssertionError(`raft: assertion failed: ${msg}`);
}
