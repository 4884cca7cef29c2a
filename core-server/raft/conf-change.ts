// Encoding of a ConfChange into a 'confChange' entry's data. JSON keeps it
// readable in WAL dumps; it is tiny and rare, so size does not matter.

import { assert } from './assert.js';
import type { ConfChange, MemberId } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc.context === undefined ? { type: cc.type, id: cc.id } : { type: cc.type, id: cc.id, context: cc.context }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v: unknown = JSON.parse(decoder.decode(data));
  assert(typeof v === 'object' && v !== null, 'confChange: not an object');
  const o = v as { type?: unknown; id?: unknown; context?: unknown };
  assert(o.type === 'addNode' || o.type === 'removeNode', `confChange: bad type ${String(o.type)}`);
  assert(typeof o.id === 'string' && o.id !== '', 'confChange: bad id');
  if (o.context === undefined) return { type: o.type, id: o.id };
  assert(typeof o.context === 'string', 'confChange: bad context');
  return { type: o.type, id: o.id, context: o.context };
}

/** The voter set after applying cc; adding a present voter or removing an absent one changes nothing. */
export function applyToVoters(voters: readonly MemberId[], cc: ConfChange): MemberId[] {
  const set = new Set(voters);
  if (cc.type === 'addNode') set.add(cc.id);
  else set.delete(cc.id);
  return [...set].sort();
}
