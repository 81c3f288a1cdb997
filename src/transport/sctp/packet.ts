// The SCTP packet (RFC 9260 §3.1): a 12-octet common header (source port, destination port,
// verification tag, CRC32c checksum) followed by one or more chunks, each padded to 4 octets.
//
// Receiving: PacketReader checks the checksum and the framing of every chunk once, allocating
// nothing, then walks the chunks; DATA chunks are read into a caller's scratch object, other chunks
// decoded into objects (they are rare). decodePacket does it all at once, for tests and tools.
// Sending: writeCommonHeader + writeChunk/writeDataChunk into the caller's buffer, then finishPacket.

import { type Chunk, type DataChunk, ChunkType, DATA_HEADER_LENGTH, DataFlags, decodeChunkAt, paddedChunkLength, writeChunk } from './chunk.js';
import { verifySctpChecksum, writeSctpChecksum, storedSctpChecksum } from './crc32c.js';
import { type DecodeError, type Decoded, pad4, put16, put32, u16, u32 } from './wire.js';

export const COMMON_HEADER_LENGTH = 12;

export interface CommonHeader {
  srcPort: number;
  dstPort: number;
  verificationTag: number;
}

export interface Packet extends CommonHeader {
  /** The checksum as stored (the CRC32c value; the field holds it least significant octet first). */
  checksum: number;
  chunks: Chunk[];
}

export interface DecodeOptions {
  /** Check the CRC32c (default true). Off only for tools that want to look at damaged packets. */
  verifyChecksum?: boolean;
}

const EMPTY = new Uint8Array(0);

function err(code: DecodeError['code'], offset: number, chunkType: number, message: string): DecodeError {
  return { code, offset, chunkType, message };
}

/** A fresh DataChunk to use as PacketReader.readData's scratch. */
export function newDataChunk(): DataChunk {
  return { type: ChunkType.DATA, unordered: false, beginning: false, ending: false, immediate: false, tsn: 0, streamId: 0, ssn: 0, ppid: 0, userData: EMPTY };
}

/**
 * Reads one packet at a time without allocating (except on errors). Usage:
 *
 *     const e = reader.open(buf, 0, n);      // header, checksum, framing of every chunk
 *     if (e) { count(e.code); return; }
 *     while (reader.next()) {
 *       if (reader.chunkType === ChunkType.DATA) reader.readData(scratch) ...
 *       else { const c = reader.decodeChunk(); ... }
 *     }
 */
export class PacketReader {
  buf: Uint8Array = EMPTY;
  /** Packet start and end in `buf`. */
  start = 0;
  end = 0;
  srcPort = 0;
  dstPort = 0;
  verificationTag = 0;
  checksum = 0;
  /** Number of chunks in the packet (known after open). */
  chunkCount = 0;
  /** The current chunk (after next()): its offset in `buf`, type, flags and Chunk Length. */
  chunkOffset = -1;
  chunkType = -1;
  chunkFlags = 0;
  chunkLength = 0;
  private cursor = 0;

  /** Take the packet at buf[offset, offset+length). Returns null when it is well framed (and its checksum good). */
  open(buf: Uint8Array, offset = 0, length = buf.length - offset, verifyChecksum = true): DecodeError | null {
    this.buf = buf;
    this.start = offset;
    this.end = offset + length;
    this.chunkCount = 0;
    this.chunkOffset = -1;
    this.chunkType = -1;
    this.cursor = this.end; // nothing to walk until the packet proves sound
    if (length < 0 || offset < 0 || this.end > buf.length) return err('packet-too-short', 0, -1, `packet [${offset}, ${offset + length}) lies outside a ${buf.length}-octet buffer`);
    if (length < COMMON_HEADER_LENGTH) return err('packet-too-short', 0, -1, `${length} octet(s), the common header alone is ${COMMON_HEADER_LENGTH}`);
    this.srcPort = u16(buf, offset);
    this.dstPort = u16(buf, offset + 2);
    this.verificationTag = u32(buf, offset + 4);
    this.checksum = storedSctpChecksum(buf, offset);
    if (length === COMMON_HEADER_LENGTH) return err('no-chunks', COMMON_HEADER_LENGTH, -1, 'a common header and no chunk');
    if (verifyChecksum && !verifySctpChecksum(buf, offset, length)) return err('bad-checksum', 8, -1, 'CRC32c does not match the packet');
    let o = offset + COMMON_HEADER_LENGTH;
    let n = 0;
    while (o < this.end) {
      const at = o - offset;
      if (this.end - o < 4) return err('chunk-too-short', at, -1, `${this.end - o} octet(s) left where a chunk header needs 4`);
      const type = buf[o]!;
      const len = u16(buf, o + 2);
      if (len < 4) return err('chunk-too-short', at, type, `Chunk Length ${len}, below 4`);
      if (o + len > this.end) return err('chunk-past-end', at, type, `Chunk Length ${len} runs ${o + len - this.end} octet(s) past the packet`);
      if (o + pad4(len) > this.end) return err('bad-padding', at, type, `chunk of length ${len} lacks its ${pad4(len) - len} octet(s) of padding`);
      o += pad4(len);
      n++;
    }
    this.chunkCount = n;
    this.cursor = offset + COMMON_HEADER_LENGTH;
    return null;
  }

  /** Move to the next chunk; false when there is none. */
  next(): boolean {
    const o = this.cursor;
    if (o >= this.end) return false;
    const b = this.buf;
    this.chunkOffset = o;
    this.chunkType = b[o]!;
    this.chunkFlags = b[o + 1]!;
    this.chunkLength = u16(b, o + 2);
    this.cursor = o + pad4(this.chunkLength);
    return true;
  }

  /** Decode the current chunk into an object (user data and other opaque values are views into the packet). */
  decodeChunk(): Decoded<Chunk> {
    return decodeChunkAt(this.buf, this.chunkOffset, this.start);
  }

  /** The current chunk's octets, header included, padding excluded (a view), e.g. for an Unrecognized Chunk Type cause. */
  chunkBytes(): Uint8Array {
    return this.buf.subarray(this.chunkOffset, this.chunkOffset + this.chunkLength);
  }

  /** Read the current chunk, which must be DATA, into `into` (no allocation but the user data view). */
  readData(into: DataChunk): DecodeError | null {
    const b = this.buf;
    const o = this.chunkOffset;
    if (this.chunkType !== ChunkType.DATA) return err('bad-chunk-length', o - this.start, this.chunkType, 'readData on a chunk that is not DATA');
    if (this.chunkLength < DATA_HEADER_LENGTH)
      return err('chunk-too-short', o - this.start, ChunkType.DATA, `DATA of length ${this.chunkLength}, below its fixed ${DATA_HEADER_LENGTH} octets`);
    const f = this.chunkFlags;
    into.unordered = (f & DataFlags.UNORDERED) !== 0;
    into.beginning = (f & DataFlags.BEGINNING) !== 0;
    into.ending = (f & DataFlags.ENDING) !== 0;
    into.immediate = (f & DataFlags.IMMEDIATE) !== 0;
    into.tsn = u32(b, o + 4);
    into.streamId = u16(b, o + 8);
    into.ssn = u16(b, o + 10);
    into.ppid = u32(b, o + 12);
    into.userData = b.subarray(o + DATA_HEADER_LENGTH, o + this.chunkLength);
    return null;
  }
}

/** Decode a whole packet into objects. Never throws; user data and other opaque values are views into `buf`. */
export function decodePacket(buf: Uint8Array, offset = 0, length = buf.length - offset, opts: DecodeOptions = {}): Decoded<Packet> {
  const r = new PacketReader();
  const e = r.open(buf, offset, length, opts.verifyChecksum ?? true);
  if (e) return { ok: false, error: e };
  const chunks: Chunk[] = [];
  while (r.next()) {
    const c = r.decodeChunk();
    if (!c.ok) return c;
    chunks.push(c.value);
  }
  return { ok: true, value: { srcPort: r.srcPort, dstPort: r.dstPort, verificationTag: r.verificationTag, checksum: r.checksum, chunks } };
}

/** Write the common header at `o` with a zero checksum; returns the offset of the first chunk. */
export function writeCommonHeader(b: Uint8Array, o: number, srcPort: number, dstPort: number, verificationTag: number): number {
  if (o + COMMON_HEADER_LENGTH > b.length) throw new RangeError(`no room for a common header at offset ${o} of a ${b.length}-octet buffer`);
  put16(b, o, srcPort);
  put16(b, o + 2, dstPort);
  put32(b, o + 4, verificationTag);
  put32(b, o + 8, 0);
  return o + COMMON_HEADER_LENGTH;
}

/** Fill in the checksum of the packet at b[o, o+length) once all its chunks are written. */
export function finishPacket(b: Uint8Array, o: number, length: number): void {
  writeSctpChecksum(b, o, length);
}

/** Octets a packet with these chunks takes. */
export function packetLength(chunks: readonly Chunk[]): number {
  let n = COMMON_HEADER_LENGTH;
  for (const c of chunks) n += paddedChunkLength(c);
  return n;
}

/** Encode a whole packet at `o` of `b` (checksum included); returns its length. Throws RangeError if it does not fit. */
export function encodePacket(b: Uint8Array, o: number, header: CommonHeader, chunks: readonly Chunk[]): number {
  let p = writeCommonHeader(b, o, header.srcPort, header.dstPort, header.verificationTag);
  for (const c of chunks) p = writeChunk(b, p, c);
  finishPacket(b, o, p - o);
  return p - o;
}
