// The one msgpack configuration of every Raftgate byte format: WAL entries,
// snapshots, the native protocol and peer messages. Plain maps (no msgpackr
// records), so any msgpack decoder reads them and the bytes depend only on
// the values — the same command encodes to the same bytes on every member;
// integers come back as numbers (never BigInt) and undefined fields are
// left out, as JSON would.

import { Packr, type Options } from 'msgpackr';

// skipValues (leave out fields whose value is undefined) is in msgpackr's
// code (pack.js writePlainObject) but not in its typings.
const packr = new Packr({ useRecords: false, variableMapSize: true, int64AsType: 'number', skipValues: [undefined] } as Options & { skipValues: unknown[] });

/** Encodes to a Buffer of its own (never a view of a reused buffer). */
export function pack(value: unknown): Buffer {
  return packr.pack(value);
}

export function unpack(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
