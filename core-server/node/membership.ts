// The cluster's membership as the state machine knows it: who the members
// are, their names and URLs, and which ids were removed for good. Raft only
// knows voter ids; everything a client or a peer needs to reach a member
// travels in the log (a conf change's context, and 'member' commands that
// publish a member's name and client URLs), so every member applies the same
// facts in the same order and agrees on them. Included in snapshots.
// Pure: no I/O, no clock.

import type { ConfChange } from '../raft/types.js';
import type { MemberCommand } from './command-codec.js';
import type { MemberInfo } from './types.js';

export interface MembershipImage {
  members: MemberInfo[];
  /** Ids removed from the cluster; never accepted again (etcd: "permanently removed"). */
  removed: string[];
}

/** What a conf change adding a member carries about it (ConfChange.context, JSON). */
export interface MemberContext {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export function encodeMemberContext(m: MemberContext): string {
  return JSON.stringify({ name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs });
}

function decodeMemberContext(context: string | undefined): MemberContext {
  if (context === undefined) return { name: '', peerURLs: [], clientURLs: [] };
  const v = JSON.parse(context) as Partial<MemberContext>;
  return {
    name: typeof v.name === 'string' ? v.name : '',
    peerURLs: Array.isArray(v.peerURLs) ? v.peerURLs.filter((u): u is string => typeof u === 'string') : [],
    clientURLs: Array.isArray(v.clientURLs) ? v.clientURLs.filter((u): u is string => typeof u === 'string') : [],
  };
}

export class Membership {
  private readonly members = new Map<string, MemberInfo>();
  private readonly removed = new Set<string>();

  static fromImage(img: MembershipImage): Membership {
    const m = new Membership();
    for (const x of img.members) m.members.set(x.id, { id: x.id, name: x.name, peerURLs: [...x.peerURLs], clientURLs: [...x.clientURLs] });
    for (const id of img.removed) m.removed.add(id);
    return m;
  }

  image(): MembershipImage {
    return { members: this.list(), removed: [...this.removed].sort() };
  }

  /** Members sorted by id, as etcd lists them. */
  list(): MemberInfo[] {
    return [...this.members.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((m) => ({ id: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] }));
  }

  get(id: string): MemberInfo | undefined {
    return this.members.get(id);
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  isRemoved(id: string): boolean {
    return this.removed.has(id);
  }

  /** The member that already uses one of these peer URLs, if any. */
  peerUrlOwner(urls: readonly string[]): MemberInfo | undefined {
    for (const m of this.members.values()) if (m.peerURLs.some((u) => urls.includes(u))) return m;
    return undefined;
  }

  applyConfChange(cc: ConfChange): void {
    if (cc.type === 'removeNode') {
      this.members.delete(cc.id);
      this.removed.add(cc.id);
      return;
    }
    if (this.removed.has(cc.id)) return;
    const ctx = decodeMemberContext(cc.context);
    const prev = this.members.get(cc.id);
    this.members.set(cc.id, {
      id: cc.id,
      name: ctx.name !== '' ? ctx.name : (prev?.name ?? ''),
      peerURLs: ctx.peerURLs.length > 0 ? ctx.peerURLs : (prev?.peerURLs ?? []),
      clientURLs: ctx.clientURLs.length > 0 ? ctx.clientURLs : (prev?.clientURLs ?? []),
    });
  }

  /** A member publishing its name and client URLs, or an operator changing its peer URLs. */
  applyMemberCommand(c: MemberCommand): void {
    const m = this.members.get(c.id);
    if (m === undefined) return; // removed meanwhile: the fact no longer matters
    if (c.name !== undefined) m.name = c.name;
    if (c.clientURLs !== undefined) m.clientURLs = [...c.clientURLs];
    if (c.peerURLs !== undefined) m.peerURLs = [...c.peerURLs];
  }
}
