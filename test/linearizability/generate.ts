// Linearizable histories by construction, for the checker's own tests.
//
// Simulated clients run one op at a time against Raftgate's pure v2 store
// (core-server/store: the real keyspace, one global etcd index). Each op
// moves through call -> effect -> return, and the simulation interleaves
// those moves at random: the effect happens at one instant inside the op's
// [call, return] interval, so the history is linearizable with that order as
// the witness. Some ops lose their answer (unknown), after taking effect or
// before. The checker's model is never used here: the reference is the
// store, so a model that disagrees with etcd's semantics fails these tests.

import { Mulberry32 } from '../../core-server/raft/rng.js';
import { createStore, V2Error } from '../../core-server/store/index.js';
import type { KeyStore, StoreEvent, WriteRequest } from '../../core-server/store/index.js';
import { req } from '../unit/store/helpers.js';
import type { OpRecord } from './history.js';
import { outputFromV2, v2 } from './ops.js';
import type { Input, Output } from './ops.js';

/** A uniform integer in [0, n), from a seeded source. */
export type Rand = (n: number) => number;

/** mulberry32: small, fast and seeded. */
export function seededRand(seed: number): Rand {
  const prng = new Mulberry32(seed);
  return (n) => Math.floor(prng.next() * n);
}

export interface SimOptions {
  clients: number;
  keys: number;
  /** Moves: each advances one client by one of call, effect, return. */
  moves: number;
  /** Chance in percent that an op's answer is lost (half before, half after its effect). */
  unknownPercent: number;
  /** Record no indexes at all (a client that keeps only values): the classic, harder, check. */
  valuesOnly?: boolean;
}

function valuesOnly(o: Output): Output {
  if (!o.ok) return { ok: false, errorCode: o.errorCode };
  const out: Output = { ok: true };
  if (o.value !== undefined) out.value = o.value;
  if (o.prevValue !== undefined) out.prevValue = o.prevValue;
  return out;
}

interface Client {
  phase: 'idle' | 'called' | 'applied';
  id: number;
  input: Input;
  call: number;
  output: Output | undefined;
}

const values = ['a', 'b', 'c'];

function randomInput(rand: Rand, store: KeyStore, keys: number, t: number): Input {
  const key = `/lin/k${rand(keys)}`;
  const value = rand(2) === 0 ? (values[rand(values.length)] as string) : `v${t}`;
  const current = store.get(key, { recursive: false, sorted: false }, 0);
  const liveIndex = current instanceof V2Error ? undefined : current.node.modifiedIndex;
  // Compares that often match: the current index (as a client that just read
  // it would send), or a value from the small pool.
  const compare = (): { prevValue: string } | { prevIndex: number } =>
    rand(2) === 0 || liveIndex === undefined
      ? { prevValue: values[rand(values.length)] as string }
      : { prevIndex: rand(3) === 0 ? 1 + rand(store.index + 1) : liveIndex };
  const kind = rand(10);
  if (kind < 3) return v2.get(key);
  if (kind < 5) return v2.set(key, value);
  if (kind < 6) return v2.create(key, value);
  if (kind < 8) return v2.cas(key, value, compare());
  if (kind < 9) return v2.delete(key);
  return v2.cad(key, compare());
}

function toRequest(input: Input): WriteRequest {
  switch (input.op) {
    case 'set':
      return req('PUT', input.key, { value: input.value });
    case 'create':
      return req('PUT', input.key, { value: input.value, prevExist: false });
    case 'cas':
      return req('PUT', input.key, { value: input.value, prevValue: input.prevValue ?? '', prevIndex: input.prevIndex ?? 0 });
    case 'delete':
      return req('DELETE', input.key);
    case 'cad':
      return req('DELETE', input.key, { prevValue: input.prevValue ?? '', prevIndex: input.prevIndex ?? 0 });
    case 'get':
      throw new Error('a get is not a write');
  }
}

/** What a client of the HTTP API would have recorded for this answer. */
function answer(r: StoreEvent | V2Error | null): Output {
  if (r === null) throw new Error('a write answered nothing');
  if (r instanceof V2Error) return outputFromV2(r.toJSON());
  return outputFromV2({ action: r.action, node: r.node, prevNode: r.prevNode }, r.etcdIndex);
}

export function apply(store: KeyStore, input: Input): Output {
  if (input.op === 'get') return answer(store.get(input.key, { recursive: false, sorted: false }, 0));
  return answer(store.apply({ op: 'write', req: toRequest(input) }));
}

export function simulate(rand: Rand, opts: SimOptions): OpRecord[] {
  const store = createStore();
  const clients: Client[] = Array.from({ length: opts.clients }, () => ({
    phase: 'idle',
    id: -1,
    input: v2.get('/'),
    call: 0,
    output: undefined,
  }));
  const records: OpRecord[] = [];
  let nextId = 0;
  let t = 0;
  const finish = (c: number, cl: Client, output: Output | undefined, ret: number): void => {
    records.push({ id: cl.id, client: c, input: cl.input, call: cl.call, output, return: ret });
    cl.phase = 'idle';
  };
  const lost = (): boolean => rand(200) < opts.unknownPercent;
  for (let m = 0; m < opts.moves; m++) {
    const c = rand(opts.clients);
    const cl = clients[c] as Client;
    t++;
    if (cl.phase === 'idle') {
      cl.id = nextId++;
      cl.input = randomInput(rand, store, opts.keys, t);
      cl.call = t;
      cl.phase = 'called';
    } else if (cl.phase === 'called') {
      if (lost()) finish(c, cl, undefined, Number.POSITIVE_INFINITY); // never took effect
      else {
        const output = apply(store, cl.input);
        cl.output = opts.valuesOnly === true ? valuesOnly(output) : output;
        cl.phase = 'applied';
      }
    } else if (lost()) finish(c, cl, undefined, Number.POSITIVE_INFINITY); // took effect, answer lost
    else finish(c, cl, cl.output, t);
  }
  // The end: ops in flight never got an answer.
  clients.forEach((cl, c) => {
    if (cl.phase !== 'idle') finish(c, cl, undefined, Number.POSITIVE_INFINITY);
  });
  return records.sort((a, b) => a.id - b.id);
}
