import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatByteSize, parseByteSize } from '../../../config/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function bytes(text: string): number | string {
  const r = parseByteSize(text);
  return r.ok ? r.bytes : `error: ${r.reason}`;
}

describe('parseByteSize', () => {
  it.each([
    ['4096', 4096],
    ['0', 0],
    ['512KiB', 512 * KiB],
    ['1.5MiB', 1.5 * MiB],
    ['64MiB', 64 * MiB],
    ['1GiB', GiB],
    ['64mib', 64 * MiB],
    ['64Mi', 64 * MiB], // Kubernetes spelling, so Helm values paste in
    ['2 GiB', 2 * GiB],
    ['10B', 10],
  ])('reads %j as %j bytes', (text, n) => {
    expect(bytes(text)).toBe(n);
  });

  it('refuses decimal units as ambiguous and says what to write instead', () => {
    expect(bytes('64MB')).toBe('error: "MB" is ambiguous; write 64MiB (binary) or a plain number of bytes');
    expect(bytes('1k')).toContain('write 1KiB');
  });

  it.each(['', 'MiB', '1.3B', '-1', '12XB', '1e6', '1,024', '0x10'])('refuses %j', (text) => {
    expect(parseByteSize(text).ok).toBe(false);
  });

  it('round-trips every byte count through formatByteSize', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.nat(1 << 20).map((n) => n * KiB), fc.nat(4096).map((n) => n * (MiB / 2))), (n) => {
        expect(bytes(formatByteSize(n))).toBe(n);
      }),
    );
  });

  it('multiplies every binary unit exactly, fractions included', () => {
    const units = [
      ['KiB', KiB],
      ['MiB', MiB],
      ['GiB', GiB],
    ] as const;
    fc.assert(
      fc.property(fc.nat(4096), fc.constantFrom(...units), fc.constantFrom(0, 25, 5, 75), (whole, [unit, scale], hundredths) => {
        const text = hundredths === 0 ? `${whole}${unit}` : `${whole}.${hundredths}${unit}`;
        const want = whole * scale + (hundredths === 0 ? 0 : (scale * (hundredths < 10 ? hundredths * 10 : hundredths)) / 100);
        expect(bytes(text)).toBe(want);
      }),
    );
  });
});

describe('formatByteSize', () => {
  it.each([
    [1.5 * MiB, '1.5MiB'],
    [64 * MiB, '64MiB'],
    [GiB, '1GiB'],
    [1000, '1000'],
    [0, '0'],
  ])('prints %j as %j', (n, text) => {
    expect(formatByteSize(n)).toBe(text);
  });
});
