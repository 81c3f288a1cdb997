import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate, sctpChecksum, storedSctpChecksum, verifySctpChecksum, writeSctpChecksum } from '../../../src/transport/sctp/crc32c.js';

const bytes = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

/** The same CRC one bit at a time, straight from the definition (reflected 0x1EDC6F41). */
function bitwise(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('CRC32c', () => {
  it('matches the published vectors', () => {
    // the CRC catalogue check value for CRC-32C
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    // RFC 3720 (iSCSI) Appendix B.4: 32 octets of zeros, of ones, incrementing, decrementing
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(bytes(32, (i) => i))).toBe(0x46dd794e);
    expect(crc32c(bytes(32, (i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise definition for every length and alignment up to 100 octets', () => {
    const data = bytes(140, (i) => (i * 197 + 13) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let len = 0; len <= 100; len++) {
        expect(crc32c(data, start, start + len)).toBe(bitwise(data.subarray(start, start + len)));
      }
    }
  });

  it('gives the same answer whichever buffer, offset and alignment the octets sit at', () => {
    const src = bytes(3000, (i) => (i * 89 + 7) & 0xff);
    const want = bitwise(src.subarray(0, 1428));
    for (let shift = 0; shift < 8; shift++) {
      // a fresh ArrayBuffer each time, and one Node Buffer from the shared slab
      const copy = new Uint8Array(1428 + 16);
      copy.set(src.subarray(0, 1428), shift);
      expect(crc32c(copy, shift, shift + 1428)).toBe(want);
      expect(crc32c(copy.subarray(shift, shift + 1428))).toBe(want);
      const slab = Buffer.from(src.subarray(0, 1428));
      expect(crc32c(slab)).toBe(want);
    }
  });

  it('can be computed incrementally', () => {
    const data = bytes(1000, (i) => (i * 31) & 0xff);
    let r = -1;
    for (let o = 0; o < 1000; o += 77) r = crc32cUpdate(r, data, o, Math.min(1000, o + 77));
    expect(~r >>> 0).toBe(crc32c(data));
  });

  it('SCTP checksum: field zero while computing, stored least significant octet first', () => {
    // a 16-octet SCTP packet: ports 5000 -> 9 (discard), tag 0, checksum, COOKIE ACK (type 11, len 4)
    const pkt = Uint8Array.from([0x13, 0x88, 0x00, 0x09, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 11, 0, 0, 4]);
    const zeroed = pkt.slice();
    zeroed.fill(0, 8, 12);
    const expected = bitwise(zeroed);
    expect(sctpChecksum(pkt, 0, 16)).toBe(expected); // the garbage in the field was ignored
    expect(verifySctpChecksum(pkt, 0, 16)).toBe(false);
    writeSctpChecksum(pkt, 0, 16);
    expect([...pkt.subarray(8, 12)]).toEqual([expected & 0xff, (expected >>> 8) & 0xff, (expected >>> 16) & 0xff, expected >>> 24]);
    expect(storedSctpChecksum(pkt, 0)).toBe(expected);
    expect(verifySctpChecksum(pkt, 0, 16)).toBe(true);
    pkt[13] ^= 0x01;
    expect(verifySctpChecksum(pkt, 0, 16)).toBe(false);
  });

  it('works on a packet at an offset inside a larger buffer', () => {
    const buf = new Uint8Array(64).fill(0x55);
    const pkt = Uint8Array.from([0, 1, 0, 2, 1, 2, 3, 4, 0, 0, 0, 0, 14, 1, 0, 4]);
    buf.set(pkt, 20);
    writeSctpChecksum(buf, 20, 16);
    writeSctpChecksum(pkt, 0, 16);
    expect([...buf.subarray(20, 36)]).toEqual([...pkt]);
    expect(verifySctpChecksum(buf, 20, 16)).toBe(true);
  });
});
