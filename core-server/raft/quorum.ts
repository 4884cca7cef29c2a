// Majority quorum arithmetic over one set of voters (Raftgate changes
// membership one voter at a time, so there is never a joint configuration).

import type { MemberId } from './types.js';

export type VoteResult = 'pending' | 'lost' | 'won';

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index a majority of voters have acknowledged. A voter with no
 * entry in `acked` counts as 0. With no voters there is no quorum to commit
 * anything: returns Infinity as etcd does, so a joint computation never blocks
 * on an empty half; callers cap it by their own logic.
 */
export function committedIndex(voters: readonly MemberId[], acked: (id: MemberId) => number | undefined): number {
  if (voters.length === 0) return Infinity;
  const matched = voters.map((id) => acked(id) ?? 0).sort((a, b) => b - a);
  return matched[majority(voters.length) - 1]!;
}

/** Tally: won once a majority said yes, lost once a majority can no longer say yes. */
export function voteResult(voters: readonly MemberId[], votes: ReadonlyMap<MemberId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = majority(voters.length);
  if (yes >= q) return 'won';
  if (yes + missing >= q) return 'pending';
  return 'lost';
}
