import { describe, expect, it } from 'vitest';
import { ResponseReader } from '../../../bench/lib/http-response.js';

const feedAll = (r: ResponseReader, parts: string[]) => parts.map((p) => r.feed(Buffer.from(p, 'latin1')));

describe('ResponseReader', () => {
  it('reports the head before the body, then a chunked body split anywhere', () => {
    const r = new ResponseReader();
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Etcd-Index: 7\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(r.feed(Buffer.from(head.slice(0, 20)))).toBe('head');
    expect(r.feed(Buffer.from(head.slice(20)))).toBe('body');
    expect(r.status).toBe(200);
    expect(r.headers['x-etcd-index']).toBe('7');
    const body = '{"action":"set","node":{"value":"v"}}';
    const wire = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    // One byte at a time: every boundary falls somewhere awkward once.
    const phases = feedAll(r, wire.split(''));
    expect(phases.at(-1)).toBe('done');
    expect(phases.slice(0, -1).every((p) => p === 'body')).toBe(true);
    expect(r.body()).toBe(body);
  });

  it('joins several chunks and skips trailers and chunk extensions', () => {
    const r = new ResponseReader();
    feedAll(r, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n']);
    expect(r.phase).toBe('done');
    expect(r.body()).toBe('abcde');
  });

  it('reads a Content-Length body and stops at its end', () => {
    const r = new ResponseReader();
    expect(r.feed(Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nab'))).toBe('body');
    expect(r.feed(Buffer.from('cde'))).toBe('done');
    expect(r.status).toBe(404);
    expect(r.body()).toBe('abcde');
  });

  it('is done at once for an empty body, and at close for a close-delimited one', () => {
    const empty = new ResponseReader();
    expect(empty.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))).toBe('done');
    const closed = new ResponseReader();
    expect(closed.feed(Buffer.from('HTTP/1.0 200 OK\r\n\r\nhello'))).toBe('body');
    expect(closed.end()).toBe('done');
    expect(closed.body()).toBe('hello');
  });

  it('fails on a connection closed mid-response and on garbage', () => {
    const cut = new ResponseReader();
    cut.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'));
    expect(cut.end()).toBe('error');
    expect(cut.error).toMatch(/closed/);
    const bad = new ResponseReader();
    expect(bad.feed(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toBe('error');
    const badChunk = new ResponseReader();
    expect(badChunk.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).toBe('error');
  });
});
