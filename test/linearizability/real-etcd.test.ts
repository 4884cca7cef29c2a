// The checker against the reference: 20 concurrent clients record a history
// against a real etcd 3.4 (v2 API) through sendV2, some of their requests cut
// off after a millisecond or two so their outcome is unknown (some applied,
// some not). etcd is linearizable, so the checker must accept the history
// (a rejection is a bug in the model or in outputFromV2); corrupting one read
// in it must make the checker reject it. etcd also writes member attributes
// to its v2 store, so some indexes are taken by no recorded op: the checker
// must not assume indexes are dense.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd } from '../helpers/etcd.js';
import type { EtcdHandle } from '../helpers/etcd.js';
import { checkHistory } from './checker.js';
import { formatResult } from './format.js';
import { seededRand } from './generate.js';
import type { Rand } from './generate.js';
import { History } from './history.js';
import type { OpRecord } from './history.js';
import { v2 } from './ops.js';
import type { Input, Output } from './ops.js';
import { sendV2 } from './v2-client.js';

const clients = 20;
const opsPerClient = 40;
const keys = ['/lin/a', '/lin/b', '/lin/c'];
const seed = 20_250_601;

let etcd: EtcdHandle;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

/** What a client knows of a key from its own last answer, to build compares that often match. */
interface Seen {
  value?: string;
  index?: number;
}

function nextInput(rand: Rand, client: number, i: number, seen: Map<string, Seen>): Input {
  const key = keys[rand(keys.length)] as string;
  const known = seen.get(key) ?? {};
  const value = `c${client}-${i}`;
  switch (rand(8)) {
    case 0:
    case 1:
    case 2:
      return v2.get(key);
    case 3:
      return v2.set(key, value);
    case 4:
      return v2.create(key, value);
    case 5:
      return known.index !== undefined ? v2.cas(key, value, { prevIndex: known.index }) : v2.set(key, value);
    case 6:
      return known.value !== undefined ? v2.cas(key, value, { prevValue: known.value }) : v2.delete(key);
    default:
      return known.value !== undefined && rand(2) === 0 ? v2.cad(key, { prevValue: known.value }) : v2.delete(key);
  }
}

function remember(seen: Map<string, Seen>, input: Input, out: Output | undefined): void {
  if (out?.ok !== true) return;
  if (input.op === 'delete' || input.op === 'cad') seen.delete(input.key);
  else seen.set(input.key, { value: out.value ?? '', index: out.modifiedIndex ?? 0 });
}

describe('a history recorded against real etcd 3.4', () => {
  let records: OpRecord[] = [];

  beforeAll(async () => {
    const h = new History();
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const rand = seededRand(seed + client);
        const seen = new Map<string, Seen>();
        for (let i = 0; i < opsPerClient; i++) {
          const input = nextInput(rand, client, i, seen);
          // One request in 12 is cut off after 0-2 ms: applied or not, nobody knows.
          const signal = rand(12) === 0 ? AbortSignal.timeout(rand(3)) : undefined;
          remember(seen, input, await sendV2(h, client, etcd.clientUrl, input, signal === undefined ? {} : { signal }));
        }
      }),
    );
    records = h.records();
  });

  it('is linearizable', () => {
    const r = checkHistory(records);
    console.log(`seed ${seed}: ${formatResult(r)}`);
    expect(records.length).toBe(clients * opsPerClient);
    expect(r.verdict, formatResult(r)).toBe('linearizable');
  });

  it('is not, once one read is corrupted', () => {
    const reads = records.filter((r) => r.input.op === 'get' && r.output?.ok === true);
    expect(reads.length).toBeGreaterThan(0);
    const victim = reads[Math.floor(reads.length / 2)] as OpRecord;
    const r = checkHistory(records.map((x) => (x === victim ? { ...x, output: { ...x.output, ok: true as const, value: 'corrupt' } } : x)));
    expect(r.verdict, formatResult(r)).toBe('not-linearizable');
    expect(r.failures[0]).toMatchObject({ kind: 'key', key: victim.input.key, culprit: { id: victim.id } });
  });
});
