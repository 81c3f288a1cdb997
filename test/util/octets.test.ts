// copyShort moves runs of every length (words, then the tail) between unaligned offsets of ordinary and
// shared buffers exactly; SourceView keeps one DataView per ArrayBuffer; setUint53 writes 8 big-endian octets.

import { describe, expect, it } from 'vitest';
import { copyShort, setUint53, SourceView } from '../../src/util/octets.js';

describe('copyShort', () => {
  it('copies every length 0-40 between unaligned offsets, octet for octet, and writes nothing around the run', () => {
    const src = Buffer.from(new SharedArrayBuffer(128));
    for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 11) & 0xff;
    const sv = new DataView(src.buffer);
    for (let n = 0; n <= 40; n++) {
      for (const [s, d] of [[0, 0], [3, 5], [7, 1], [13, 30]] as const) {
        const dst = Buffer.alloc(96, 0xee);
        copyShort(sv, s, new DataView(dst.buffer, dst.byteOffset, dst.byteLength), d, n);
        expect(dst.subarray(d, d + n).equals(src.subarray(s, s + n)), `n=${n} s=${s} d=${d}`).toBe(true);
        expect(dst.subarray(0, d).every((x) => x === 0xee)).toBe(true);
        expect(dst.subarray(d + n).every((x) => x === 0xee)).toBe(true);
      }
    }
  });
});

describe('SourceView', () => {
  it('gives one view per ArrayBuffer: the same for two slices of one buffer, a new one for another buffer', () => {
    const views = new SourceView();
    const whole = Buffer.alloc(64);
    whole.writeUInt32BE(0xdeadbeef, 40);
    const a = whole.subarray(0, 16);
    const b = whole.subarray(32, 48);
    const va = views.of(a);
    expect(views.of(b)).toBe(va);
    // Offsets are the ArrayBuffer's: b.byteOffset + 8 is octet 40 of `whole`.
    expect(va.getUint32(b.byteOffset + 8)).toBe(0xdeadbeef);
    const other = Buffer.alloc(8);
    expect(views.of(other)).not.toBe(va);
    expect(views.of(other).byteLength).toBe(other.buffer.byteLength);
  });
});

describe('setUint53', () => {
  it('writes values below and above 2^32 as 8 big-endian octets', () => {
    const b = Buffer.alloc(11, 0xee);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (const v of [0, 1, 0xffffffff, 0x100000005, 2 ** 53 - 1]) {
      setUint53(dv, 3, v);
      expect(b.readBigUInt64BE(3)).toBe(BigInt(v));
      expect([b[0], b[1], b[2]]).toEqual([0xee, 0xee, 0xee]);
    }
  });
});
