// The optional shared L2 cache (--l2-redis-url): a fleet of proxies in
// front of one cluster share GET answers through Redis, so a key one proxy
// read is a hit for the others.
//
// An answer from Redis is another proxy's, stamped with the index J it
// reflects. It is trusted for key k only if THIS proxy's event ring covers
// every index after J and shows no event that could change k (an event at
// k, inside it, or at an ancestor): then k read at this proxy's view index
// gives the same answer, and it is re-stamped at that index. Otherwise
// (the ring does not reach back, or k changed) it is ignored and the read
// goes to a member. An answer stamped after the view is a member's answer
// at J, as good as a read-through. Nothing in Redis is ever a source of
// truth: entries expire after `ttlSeconds`, Redis failing or slow (every
// command is bounded by the client's commandTimeout) only costs hits, and
// the cluster id is part of every key so two clusters never share.

import type { Logger } from 'pino';
import type { NodeJSON, StoreEvent } from '../../core-server/store/types.js';
import { V2Error } from '../../core-server/store/v2-error.js';
import type { EcodeNumber } from '../../core-server/store/v2-error.js';
import type { UpstreamView } from '../watch/upstream-view.js';
import type { GetAnswer, LoadedAnswer } from './read-cache.js';

/** The two Redis commands used (ioredis and ioredis-mock both provide them). */
export interface RedisLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ex: 'EX', seconds: number): Promise<unknown>;
}

export interface L2Options {
  redis: RedisLike;
  /** Cluster id (keys of different clusters never mix). */
  clusterId: () => string | null;
  logger: Logger;
  /** How long an answer lives in Redis. */
  ttlSeconds?: number;
  /** Largest answer written to Redis. */
  valueBytesMax?: number;
}

export interface L2Stats {
  hits: number;
  misses: number;
  /** Found but not usable: the key changed after J, or the ring does not reach J. */
  rejected: number;
  writes: number;
  errors: number;
}

interface Stored {
  /** The index the answer reflects. */
  j: number;
  e?: { action: string; node: NodeJSON };
  err?: { errorCode: number; cause: string };
}

export class L2Cache {
  private readonly o: Required<L2Options>;
  private counts: L2Stats = { hits: 0, misses: 0, rejected: 0, writes: 0, errors: 0 };

  constructor(o: L2Options) {
    this.o = { ttlSeconds: 60, valueBytesMax: 256 << 10, ...o };
  }

  private redisKey(cacheKey: string): string | null {
    const c = this.o.clusterId();
    return c === null ? null : `raftgate:l2:${c}:${cacheKey}`;
  }

  /**
   * A usable answer for `path` from Redis, re-stamped at the view's index
   * and current as of the view's last known-current time; null otherwise.
   */
  async get(cacheKey: string, path: string, view: UpstreamView): Promise<LoadedAnswer | null> {
    const key = this.redisKey(cacheKey);
    if (key === null) return null;
    let text: string | null;
    try {
      text = await this.o.redis.get(key);
    } catch (err) {
      this.error(err);
      return null;
    }
    if (text === null) {
      this.counts.misses++;
      return null;
    }
    let s: Stored;
    try {
      s = JSON.parse(text) as Stored;
    } catch {
      this.counts.rejected++;
      return null;
    }
    if (!Number.isSafeInteger(s.j) || s.j < 0) {
      this.counts.rejected++;
      return null;
    }
    const vi = view.index;
    const index = Math.max(vi, s.j);
    if (s.j < vi && view.touchedSince(path, s.j) !== false) {
      this.counts.rejected++;
      return null;
    }
    let answer: GetAnswer;
    if (s.err !== undefined) answer = new V2Error(s.err.errorCode as EcodeNumber, s.err.cause, index);
    else if (s.e !== undefined) answer = { action: 'get', node: s.e.node, etcdIndex: index } satisfies StoreEvent;
    else {
      this.counts.rejected++;
      return null;
    }
    this.counts.hits++;
    // Known true at the view's index, which was current at lastCurrentAtMs.
    return { answer, currentAtMs: s.j > vi ? Number.POSITIVE_INFINITY : view.lastCurrentAtMs };
  }

  /** Share an answer a member gave (fire and forget: Redis never slows a read). */
  put(cacheKey: string, answer: GetAnswer): void {
    const key = this.redisKey(cacheKey);
    if (key === null) return;
    let s: Stored;
    if (answer instanceof V2Error) {
      if (answer.errorCode !== 100 && answer.errorCode !== 104) return;
      s = { j: answer.index, err: { errorCode: answer.errorCode, cause: answer.cause } };
    } else {
      if (answer.action !== 'get') return;
      s = { j: answer.etcdIndex, e: { action: 'get', node: answer.node } };
    }
    const text = JSON.stringify(s);
    if (text.length > this.o.valueBytesMax) return;
    this.o.redis.set(key, text, 'EX', this.o.ttlSeconds).then(
      () => {
        this.counts.writes++;
      },
      (err: unknown) => this.error(err),
    );
  }

  stats(): L2Stats {
    return { ...this.counts };
  }

  private error(err: unknown): void {
    if (this.counts.errors++ % 1000 === 0) this.o.logger.warn({ err: (err as Error).message }, 'L2 cache (redis) failed; reading from members');
  }
}
