// The normaliser must equalise only what it documents (indexes relative to the
// scenario's base, expiration timestamps, ttl ±1, random ids and ports, child
// order without sorted=true) and must still report every other difference.
import { describe, expect, it } from 'vitest';
import { diffObservations, normalise, type NormaliseContext } from './normalise.js';
import { parseJson, type HttpResponse } from '../helpers/http.js';

const nowMs = Date.now();

function ctx(over: Partial<NormaliseContext> = {}): NormaliseContext {
  return {
    base: 100,
    templated: new Map(),
    scenarioStartMs: nowMs - 1_000,
    stepStartMs: nowMs - 10,
    stepEndMs: nowMs,
    clientUrl: 'http://127.0.0.1:1111',
    peerUrl: 'http://127.0.0.1:2222',
    statsBase: undefined,
    prevIndex: undefined,
    shape: false,
    stream: false,
    unordered: false,
    ...over,
  };
}

function res(text: string, status = 200, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, text, json: parseJson(text) };
}

const node = (i: number, extra = ''): string =>
  `{"action":"set","node":{"key":"/a","value":"v"${extra},"modifiedIndex":${i},"createdIndex":${i}}}\n`;

function differs(a: HttpResponse, b: HttpResponse, ca = ctx(), cb = ctx({ base: 7 })): string[] {
  return diffObservations(normalise(a, ca), normalise(b, cb)).map((d) => d.field);
}

describe('normalise + diffObservations', () => {
  it('equalises absolute indexes that are equal relative to each base', () => {
    expect(differs(res(node(103), 200, { 'x-etcd-index': '103' }), res(node(10), 200, { 'x-etcd-index': '10' }))).toEqual([]);
  });

  it('reports an index off by one relative to the base', () => {
    expect(differs(res(node(103)), res(node(11)))).toEqual(['json.node.modifiedIndex', 'json.node.createdIndex']);
    expect(differs(res('', 200, { 'x-etcd-index': '103' }), res('', 200, { 'x-etcd-index': '11' }))).toEqual(['header.x-etcd-index']);
  });

  it('keeps a literal 0 index distinct from the base', () => {
    const err = (i: number): string => `{"errorCode":209,"message":"Invalid field","cause":"c","index":${i}}\n`;
    expect(differs(res(err(0), 400), res(err(7), 400))).toEqual(['json.index']);
  });

  it('reports status, content type, header presence and the trailing newline', () => {
    expect(differs(res(node(101), 200), res(node(8), 201))).toEqual(['status']);
    expect(differs(res(node(101)), res(node(8), 200, { 'content-type': 'application/json; charset=utf-8' }))).toEqual(['header.content-type']);
    expect(differs(res(node(101), 200, { 'x-raft-term': '2' }), res(node(8)))).toEqual(['header.x-raft-term']);
    expect(differs(res(node(101)), res(node(8).trimEnd()))).toEqual(['body text']);
  });

  it('reports key order and Go-style escaping in the raw body', () => {
    const reordered = '{"action":"set","node":{"value":"v","key":"/a","modifiedIndex":8,"createdIndex":8}}\n';
    expect(differs(res(node(101)), res(reordered))).toEqual(['body text']);
    const goEsc = '{"action":"get","node":{"key":"/a","value":"\\u003cb\\u003e","modifiedIndex":101,"createdIndex":101}}\n';
    const jsEsc = '{"action":"get","node":{"key":"/a","value":"<b>","modifiedIndex":8,"createdIndex":8}}\n';
    expect(differs(res(goEsc), res(jsEsc))).toEqual(['body text']);
  });

  it('tolerates ttl ±1 and different expiration instants, but not ttl ±2 or a bad expiration', () => {
    const exp = (msAhead: number): string => new Date(nowMs + msAhead).toISOString();
    const withTtl = (i: number, ttl: number, e: string): HttpResponse => res(node(i, `,"expiration":"${e}","ttl":${ttl}`));
    expect(differs(withTtl(101, 100, exp(100_000)), withTtl(8, 99, exp(99_400)))).toEqual([]);
    expect(differs(withTtl(101, 100, exp(100_000)), withTtl(8, 98, exp(98_000)))).toEqual(['json.node.ttl']);
    expect(differs(withTtl(101, 100, exp(100_000)), withTtl(8, 100, exp(500_000)))).toEqual(['json.node.expiration']);
    expect(differs(withTtl(101, 100, exp(100_000)), withTtl(8, 100, '2020-01-01 00:00:00'))).toEqual(['json.node.expiration']);
  });

  it('renders in-order keys and compare-failed causes relative to the base', () => {
    const inorder = (i: number): string => `{"action":"create","node":{"key":"/q/${String(i).padStart(20, '0')}","value":"","modifiedIndex":${i},"createdIndex":${i}}}\n`;
    const a = normalise(res(inorder(105), 201), ctx());
    expect(a.json).toMatchObject({ node: { key: '/q/<in-order @+5>' } });
    expect(differs(res(inorder(105), 201), res(inorder(12), 201))).toEqual([]);
    expect(differs(res(inorder(105), 201), res(inorder(13), 201))).not.toEqual([]);
    const cause = (want: number, have: number): HttpResponse =>
      res(`{"errorCode":101,"message":"Compare failed","cause":"[x != 1] [${want} != ${have}]","index":${have}}\n`, 412);
    const ca = ctx({ prevIndex: '103', templated: new Map([['103', '@+3']]) });
    const cb = ctx({ base: 7, prevIndex: '10', templated: new Map([['10', '@+3']]) });
    expect(differs(cause(103, 101), cause(10, 8), ca, cb)).toEqual([]);
    expect(differs(cause(103, 101), cause(10, 9), ca, cb)).toEqual(['json.cause', 'json.index']);
  });

  it('ignores child order only when sorted=true was not asked for', () => {
    const dir = (first: string, second: string): HttpResponse =>
      res(`{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/${first}","value":"1","modifiedIndex":5,"createdIndex":5},{"key":"/d/${second}","value":"1","modifiedIndex":5,"createdIndex":5}],"modifiedIndex":5,"createdIndex":5}}\n`);
    const same = ctx({ base: 1 });
    expect(differs(dir('a', 'b'), dir('b', 'a'), ctx({ base: 1, unordered: true }), ctx({ base: 1, unordered: true }))).toEqual([]);
    expect(differs(dir('a', 'b'), dir('b', 'a'), same, same)).not.toEqual([]);
  });

  it('replaces member ids and own URLs but keeps foreign URLs', () => {
    const members = (id: string, url: string): HttpResponse => res(`{"members":[{"id":"${id}","name":"rg","peerURLs":["http://127.0.0.1:2222"],"clientURLs":["${url}"]}]}\n`);
    expect(differs(members('bdae9bbc11dd390d', 'http://127.0.0.1:1111'), members('0123', 'http://127.0.0.1:1111'), ctx(), ctx())).toEqual([]);
    expect(differs(members('bdae9bbc11dd390d', 'http://127.0.0.1:1111'), members('0123', 'http://localhost:1111'), ctx(), ctx())).toEqual([
      'json.members[0].clientURLs[0]',
    ]);
  });
});
