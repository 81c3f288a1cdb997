// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8 and Appendix A; first specified for SCTP
// in RFC 3309). Reflected polynomial 0x82F63B78 (0x1EDC6F41 bit-reversed), initial value all ones,
// final value inverted. Table-driven, slice-by-8: eight table lookups consume eight octets per step.
//
// Byte order on the wire: the 32-bit CRC is placed in the Checksum field least significant octet
// first (RFC 9260 Appendix A: the CRC's bit 0 goes to the most significant bit of the first octet
// of the field, which for a reflected CRC is the same as storing the value little-endian). So the
// CRC of 32 zero octets, 0x8A9136AA, travels as aa 36 91 8a (the iSCSI vector, RFC 3720 B.4).

const POLY = 0x82f63b78;

/** T[k*256 + b]: the CRC contribution of octet b followed by k zero octets. */
const T = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[b] = c;
}
for (let b = 0; b < 256; b++) {
  let c = T[b]!;
  for (let k = 1; k < 8; k++) {
    c = (c >>> 8) ^ T[c & 0xff]!;
    T[k * 256 + b] = c;
  }
}

/** Words can be read straight from memory only where they are stored least significant octet first. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// A word view of the last buffer seen, so a packet buffer reused for every send costs no allocation.
let wordsOf: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * Feed octets [start, end) of `buf` into a running CRC register. The register is the raw
 * (non-inverted) state: start with 0xFFFFFFFF (or `~0`), finish with `~register >>> 0`.
 */
export function crc32cUpdate(register: number, buf: Uint8Array, start: number, end: number): number {
  let c = register | 0;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 64) {
    // octet by octet up to a 4-aligned address, then 8 octets per step read as two words
    while (((buf.byteOffset + i) & 3) !== 0) c = (c >>> 8) ^ T[(c ^ buf[i++]!) & 0xff]!;
    if (wordsOf !== buf.buffer) {
      wordsOf = buf.buffer;
      words = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    }
    const w = words;
    let k = (buf.byteOffset + i) >>> 2;
    const steps = (end - i) >>> 3;
    for (let n = 0; n < steps; n++, k += 2) {
      const lo = c ^ w[k]!;
      const hi = w[k + 1]!;
      c =
        T[7 * 256 + (lo & 0xff)]! ^
        T[6 * 256 + ((lo >>> 8) & 0xff)]! ^
        T[5 * 256 + ((lo >>> 16) & 0xff)]! ^
        T[4 * 256 + (lo >>> 24)]! ^
        T[3 * 256 + (hi & 0xff)]! ^
        T[2 * 256 + ((hi >>> 8) & 0xff)]! ^
        T[256 + ((hi >>> 16) & 0xff)]! ^
        T[hi >>> 24]!;
    }
    i += steps * 8;
  } else {
    const stop8 = end - 8;
    while (i <= stop8) {
      const lo = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
      c =
        T[7 * 256 + (lo & 0xff)]! ^
        T[6 * 256 + ((lo >>> 8) & 0xff)]! ^
        T[5 * 256 + ((lo >>> 16) & 0xff)]! ^
        T[4 * 256 + (lo >>> 24)]! ^
        T[3 * 256 + buf[i + 4]!]! ^
        T[2 * 256 + buf[i + 5]!]! ^
        T[256 + buf[i + 6]!]! ^
        T[buf[i + 7]!]!;
      i += 8;
    }
  }
  while (i < end) c = (c >>> 8) ^ T[(c ^ buf[i++]!) & 0xff]!;
  return c;
}

/** CRC32c of octets [start, end) of `buf` as an unsigned 32-bit number (check value of "123456789": 0xE3069283). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return ~crc32cUpdate(-1, buf, start, end) >>> 0;
}

/** Offset of the Checksum field in the SCTP common header. */
export const CHECKSUM_OFFSET = 8;

/**
 * The SCTP checksum of the packet at [offset, offset+length): the CRC32c computed as if the
 * Checksum field held zeros (RFC 9260 §6.8), without touching the buffer. Returns the CRC value;
 * the field holds it little-endian.
 */
export function sctpChecksum(buf: Uint8Array, offset: number, length: number): number {
  let c = crc32cUpdate(-1, buf, offset, offset + CHECKSUM_OFFSET);
  // four zero octets in place of the Checksum field
  c = (c >>> 8) ^ T[c & 0xff]!;
  c = (c >>> 8) ^ T[c & 0xff]!;
  c = (c >>> 8) ^ T[c & 0xff]!;
  c = (c >>> 8) ^ T[c & 0xff]!;
  c = crc32cUpdate(c, buf, offset + CHECKSUM_OFFSET + 4, offset + length);
  return ~c >>> 0;
}

/** Compute the checksum of a finished packet and store it in its Checksum field. */
export function writeSctpChecksum(buf: Uint8Array, offset: number, length: number): void {
  const crc = sctpChecksum(buf, offset, length);
  const o = offset + CHECKSUM_OFFSET;
  buf[o] = crc;
  buf[o + 1] = crc >>> 8;
  buf[o + 2] = crc >>> 16;
  buf[o + 3] = crc >>> 24;
}

/** The value stored in a packet's Checksum field (read little-endian, as written). */
export function storedSctpChecksum(buf: Uint8Array, offset: number): number {
  const o = offset + CHECKSUM_OFFSET;
  return (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0;
}

/** Does the packet's Checksum field match its contents? */
export function verifySctpChecksum(buf: Uint8Array, offset: number, length: number): boolean {
  return storedSctpChecksum(buf, offset) === sctpChecksum(buf, offset, length);
}
