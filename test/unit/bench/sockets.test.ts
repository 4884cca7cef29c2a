import { describe, expect, it } from 'vitest';
import { parseOpenFilesLimit, parseProcNetTcp } from '../../../bench/lib/sockets.js';
import { spreadSourceAddress } from '../../../bench/lib/watchers.js';

describe('/proc parsing', () => {
  it('reads addresses, ports, states and inodes from /proc/net/tcp', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:0953 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:0953 0200007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 123457 1 0000000000000000 20 4 30 10 -1',
      '',
    ].join('\n');
    const e = parseProcNetTcp(text);
    expect(e).toHaveLength(2);
    expect(e[0]).toEqual({ localAddress: '127.0.0.1', localPort: 2387, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', inode: 123456 });
    expect(e[1]).toMatchObject({ remoteAddress: '127.0.0.2', remotePort: 50000, state: 'ESTABLISHED', inode: 123457 });
  });

  it('reads the open-files limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(parseOpenFilesLimit(text)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseOpenFilesLimit('Max open files            unlimited            unlimited            files')).toEqual({ soft: Infinity, hard: Infinity });
    expect(parseOpenFilesLimit('nothing here').soft).toBeNaN();
  });
});

describe('spreadSourceAddress', () => {
  it('gives each block of watchers its own loopback address, never 127.0.0.1', () => {
    expect(spreadSourceAddress(0, 200)).toBe('127.0.0.2');
    expect(spreadSourceAddress(199, 200)).toBe('127.0.0.2');
    expect(spreadSourceAddress(200, 200)).toBe('127.0.0.3');
    expect(spreadSourceAddress(4999, 200)).toBe('127.0.0.26');
    expect(() => spreadSourceAddress(253 * 200, 200)).toThrow(RangeError);
    expect(() => spreadSourceAddress(-1)).toThrow(RangeError);
  });
});
