import { describe, expect, it } from 'vitest';
import { type Chunk, ChunkType, DataFlags, decodeChunk, paddedChunkLength, writeChunk, writeDataChunk } from '../../../src/transport/sctp/chunk.js';
import { writeSctpChecksum } from '../../../src/transport/sctp/crc32c.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import {
  COMMON_HEADER_LENGTH,
  PacketReader,
  decodePacket,
  encodePacket,
  finishPacket,
  newDataChunk,
  packetLength,
  writeCommonHeader,
} from '../../../src/transport/sctp/packet.js';
import { formatIPv6, writeIPv6 } from '../../../src/transport/sctp/wire.js';
import * as S from './samples.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * INIT, hand-built (checksum computed by an independent bitwise CRC32c in Python):
 *   13 88 00 09   source port 5000, destination port 9
 *   00 00 00 00   verification tag 0 (INIT)
 *   db 90 d0 9e   checksum 0x9ED090DB, least significant octet first
 *   01 00 00 2e   INIT, flags 0, Chunk Length 46 (the last parameter's 2 padding octets not counted)
 *   01 02 03 04   initiate tag
 *   00 01 00 00   a_rwnd 65536
 *   00 0a ff ff   10 outbound streams, 65535 inbound
 *   0a 0b 0c 0d   initial TSN
 *   00 05 00 08 7f 00 00 01     IPv4 Address 127.0.0.1
 *   c0 00 00 04                 Forward-TSN-Supported
 *   80 08 00 05 c0 00 00 00     Supported Extensions: [192], length 5, 3 octets of padding
 *   00 0c 00 06 00 05 00 00     Supported Address Types: [5], length 6, 2 octets of padding (the chunk's)
 */
const INIT_VECTOR = hex(`
  13880009 00000000 db90d09e
  0100002e 01020304 00010000 000affff 0a0b0c0d
  000500087f000001 c0000004 80080005c0000000 000c000600050000`);
const INIT_OBJECT: Chunk = {
  type: ChunkType.INIT,
  initiateTag: 0x01020304,
  aRwnd: 65536,
  outboundStreams: 10,
  inboundStreams: 65535,
  initialTsn: 0x0a0b0c0d,
  params: [
    { type: ParameterType.IPV4_ADDRESS, address: '127.0.0.1' },
    { type: ParameterType.FORWARD_TSN_SUPPORTED },
    { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [192] },
    { type: ParameterType.SUPPORTED_ADDRESS_TYPES, addressTypes: [5] },
  ],
};

/**
 * DATA and SACK bundled (checksum from the same independent CRC):
 *   c3 50 13 88 0b ad ca fe 7a b7 25 76     50000 -> 5000, tag 0x0BADCAFE, checksum 0x7625B77A
 *   00 03 00 15   DATA, flags B|E, Chunk Length 21
 *   11 22 33 44   TSN
 *   00 01 00 02   stream 1, SSN 2
 *   00 00 00 00   PPID 0
 *   61 62 63 64 65 00 00 00   "abcde" + 3 octets of padding
 *   03 00 00 18   SACK, Chunk Length 24
 *   11 22 33 40   cumulative TSN ack
 *   00 01 00 00   a_rwnd 65536
 *   00 01 00 01   1 gap block, 1 duplicate
 *   00 02 00 03   gap block: TSNs cum+2 .. cum+3
 *   11 22 33 3f   duplicate TSN
 */
const BUNDLE_VECTOR = hex(`
  c3501388 0badcafe 7ab72576
  00030015 11223344 00010002 00000000 6162636465000000
  03000018 11223340 00010000 00010001 00020003 1122333f`);

/** Wrap chunk octets (already padded as the test wants) in a common header with a correct checksum. */
function packetOf(chunkBytes: Uint8Array): Uint8Array {
  const p = new Uint8Array(COMMON_HEADER_LENGTH + chunkBytes.length);
  writeCommonHeader(p, 0, 1111, 2222, 0x01020304);
  p.set(chunkBytes, COMMON_HEADER_LENGTH);
  writeSctpChecksum(p, 0, p.length);
  return p;
}

function expectError(pkt: Uint8Array, code: string, offset?: number) {
  const r = decodePacket(pkt);
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.error.code).toBe(code);
    if (offset !== undefined) expect(r.error.offset).toBe(offset);
  }
}

describe('SCTP codec: hand-built vectors', () => {
  it('decodes the INIT vector field by field', () => {
    const r = decodePacket(INIT_VECTOR);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.srcPort).toBe(5000);
    expect(r.value.dstPort).toBe(9);
    expect(r.value.verificationTag).toBe(0);
    expect(r.value.checksum).toBe(0x9ed090db);
    expect(r.value.chunks).toEqual([INIT_OBJECT]);
  });

  it('encodes the INIT object to exactly the vector', () => {
    const buf = new Uint8Array(100).fill(0xee); // stale bytes: padding must be written as zeros
    const n = encodePacket(buf, 0, { srcPort: 5000, dstPort: 9, verificationTag: 0 }, [INIT_OBJECT]);
    expect(n).toBe(60);
    expect(Buffer.from(buf.subarray(0, n)).toString('hex')).toBe(Buffer.from(INIT_VECTOR).toString('hex'));
  });

  it('decodes and re-encodes the DATA + SACK bundle', () => {
    const r = decodePacket(BUNDLE_VECTOR);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [d, s] = r.value.chunks;
    expect(d).toEqual({
      type: 0, unordered: false, beginning: true, ending: true, immediate: false,
      tsn: 0x11223344, streamId: 1, ssn: 2, ppid: 0, userData: S.text('abcde'),
    });
    expect(s).toEqual({ type: 3, cumulativeTsnAck: 0x11223340, aRwnd: 65536, gapAckBlocks: [{ start: 2, end: 3 }], duplicateTsns: [0x1122333f] });
    // the user data is a view into the packet, not a copy
    const userData = (d as { userData: Uint8Array }).userData;
    expect(userData.buffer).toBe(BUNDLE_VECTOR.buffer);
    expect(userData.byteOffset).toBe(BUNDLE_VECTOR.byteOffset + 28);
    const out = new Uint8Array(60);
    encodePacket(out, 0, { srcPort: 50000, dstPort: 5000, verificationTag: 0x0badcafe }, r.value.chunks);
    expect(out).toEqual(BUNDLE_VECTOR);
  });

  it('accepts a last parameter whose padding is counted in Chunk Length (RFC 9260 §3.2 robustness)', () => {
    const v = INIT_VECTOR.slice();
    v[15] = 0x30; // Chunk Length 48 instead of 46
    writeSctpChecksum(v, 0, v.length);
    const r = decodePacket(v);
    expect(r.ok && r.value.chunks).toEqual([INIT_OBJECT]);
  });
});

describe('SCTP codec: every chunk type round trips', () => {
  for (const c of S.everyChunk) {
    const name = c.type === 'unknown' ? `unknown type ${c.chunkType}` : `type ${c.type}${c.type === 1 && c === S.initUnknownParams ? ' (unknown parameters)' : ''}`;
    it(name, () => {
      const buf = new Uint8Array(packetLength([c]) + 8);
      const n = encodePacket(buf, 4, { srcPort: 4739, dstPort: 4740, verificationTag: 0xcafebabe }, [c]);
      expect(n % 4).toBe(0);
      const r = decodePacket(buf, 4, n);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.srcPort).toBe(4739);
      expect(r.value.dstPort).toBe(4740);
      expect(r.value.verificationTag).toBe(0xcafebabe);
      expect(r.value.chunks).toEqual([c]);
    });
  }

  it('bundles all of them in one packet', () => {
    const buf = new Uint8Array(packetLength(S.everyChunk));
    const n = encodePacket(buf, 0, { srcPort: 1, dstPort: 2, verificationTag: 3 }, S.everyChunk);
    expect(n).toBe(buf.length);
    const r = decodePacket(buf);
    expect(r.ok && r.value.chunks).toEqual(S.everyChunk);
  });

  it('exposes the unrecognized-type action from the top two bits', () => {
    expect(S.unknownStop.type === 'unknown' && S.unknownStop.action).toBe('stop');
    const r = decodePacket(packetOf(hex('40000004 80000004 c1000004 7f000004')));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.chunks.map((c) => c.type === 'unknown' && [c.chunkType, c.action])).toEqual([
      [0x40, 'stop-and-report'],
      [0x80, 'skip'],
      [0xc1, 'skip-and-report'],
      [0x7f, 'stop-and-report'],
    ]);
    const init = decodePacket(packetOf(hex('01000025 00000001 00000002 00030004 00000005 80000004 c0060008 00000009 40010005 ee000000')));
    expect(init.ok).toBe(true);
    if (init.ok && init.value.chunks[0]!.type === ChunkType.INIT) {
      expect(init.value.chunks[0]!.params.map((p) => p.type === 'unknown' && [p.parameterType, p.action])).toEqual([
        [0x8000, 'skip'],
        [0xc006, 'skip-and-report'],
        [0x4001, 'stop-and-report'],
      ]);
    }
  });
});

describe('SCTP codec: send and receive paths without objects', () => {
  it('writeDataChunk + PacketReader.readData carry a payload sub-range', () => {
    const payload = S.seq(1400, 3);
    const buf = new Uint8Array(2000);
    let p = writeCommonHeader(buf, 0, 10, 20, 30);
    p = writeDataChunk(buf, p, DataFlags.BEGINNING, 100, 1, 5, 0, payload, 0, 700);
    p = writeDataChunk(buf, p, DataFlags.ENDING | DataFlags.UNORDERED, 101, 1, 5, 0, payload, 700, 1400);
    finishPacket(buf, 0, p);
    const reader = new PacketReader();
    expect(reader.open(buf, 0, p)).toBeNull();
    expect(reader.chunkCount).toBe(2);
    const d = newDataChunk();
    const got: Array<[number, boolean, boolean, boolean, number]> = [];
    const parts: Uint8Array[] = [];
    while (reader.next()) {
      expect(reader.readData(d)).toBeNull();
      got.push([d.tsn, d.beginning, d.ending, d.unordered, d.userData.length]);
      parts.push(d.userData);
    }
    expect(got).toEqual([
      [100, true, false, false, 700],
      [101, false, true, true, 700],
    ]);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(payload));
  });

  it('writeChunk refuses a buffer that is too small instead of writing a truncated chunk', () => {
    expect(() => writeChunk(new Uint8Array(paddedChunkLength(S.sack) - 1), 0, S.sack)).toThrow(RangeError);
    expect(() => writeDataChunk(new Uint8Array(20), 0, 3, 1, 0, 0, 0, S.seq(5))).toThrow(RangeError);
    expect(() => writeDataChunk(new Uint8Array(70000), 0, 3, 1, 0, 0, 0, new Uint8Array(65520))).toThrow(/fragment/);
  });

  it('decodeChunk reads a chunk standing alone (the content of an Unrecognized Chunk Type cause)', () => {
    const r = decodeChunk(Uint8Array.from([0x7f, 0x00, 0x00, 0x08, 1, 2, 3, 4]));
    expect(r.ok && r.value).toEqual({ type: 'unknown', chunkType: 0x7f, flags: 0, value: Uint8Array.from([1, 2, 3, 4]), action: 'stop-and-report' });
  });

  it('formats and parses IPv6 addresses as RFC 5952 text', () => {
    const b = new Uint8Array(16);
    for (const [input, canonical] of [
      ['::1', '::1'],
      ['::', '::'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['fe80::1:2', 'fe80::1:2'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
      ['::ffff:10.1.2.3', '::ffff:a01:203'],
    ] as const) {
      writeIPv6(b, 0, input);
      expect(formatIPv6(b, 0)).toBe(canonical);
    }
    expect(() => writeIPv6(b, 0, '1::2::3')).toThrow();
    expect(() => writeIPv6(b, 0, '1:2:3')).toThrow();
  });
});

describe('SCTP codec: malformed input gives typed errors', () => {
  it('packet framing', () => {
    expectError(new Uint8Array(11), 'packet-too-short');
    expectError(packetOf(new Uint8Array(0)), 'no-chunks');
    const bad = BUNDLE_VECTOR.slice();
    bad[40] ^= 0x80; // one bit of the user data
    expectError(bad, 'bad-checksum', 8);
    expectError(packetOf(hex('0b000003')), 'chunk-too-short', 12); // COOKIE ACK with Chunk Length 3
    expectError(packetOf(hex('0b000000')), 'chunk-too-short', 12); // Chunk Length 0 (would loop forever if accepted)
    expectError(packetOf(hex('0b000004 0a00000c 01020304')), 'chunk-past-end', 16); // COOKIE ECHO of 12 in 8 octets
    expectError(packetOf(hex('0b000004 0a000005 01')), 'bad-padding', 16); // last chunk not padded
    expectError(packetOf(hex('0b000004 0000')), 'chunk-too-short', 16); // 2 stray octets after a chunk
  });

  it('checksum can be skipped on request only', () => {
    const bad = BUNDLE_VECTOR.slice();
    bad[40] ^= 0x80;
    const r = decodePacket(bad, 0, bad.length, { verifyChecksum: false });
    expect(r.ok).toBe(true);
  });

  it('chunk contents', () => {
    expectError(packetOf(hex('0003000f 00000001 00010002 000000 00')), 'chunk-too-short', 12); // DATA of 15
    expectError(packetOf(hex('01000010 00000001 00000002 00030004')), 'chunk-too-short', 12); // INIT of 16
    // SACK announcing 2 gap blocks but carrying 1
    expectError(packetOf(hex('03000014 00000001 00010000 00020000 00020003')), 'bad-chunk-length', 12);
    expectError(packetOf(hex('0300000c 00000001 00010000')), 'chunk-too-short', 12);
    expectError(packetOf(hex('c000000a 00000001 0001 0000')), 'bad-chunk-length', 12); // FORWARD TSN with half a pair
    expectError(packetOf(hex('0700000c 00000001 00000000')), 'bad-chunk-length', 12); // SHUTDOWN of 12
    expectError(packetOf(hex('08000008 00000000')), 'bad-chunk-length', 12); // SHUTDOWN ACK of 8
    expectError(packetOf(hex('0e000008 00000000')), 'bad-chunk-length', 12); // SHUTDOWN COMPLETE of 8
    expectError(packetOf(hex('04000004')), 'missing-parameter', 12); // HEARTBEAT without Heartbeat Info
    expectError(packetOf(hex('0400000c 00070008 01020304')), 'missing-parameter', 12); // a cookie is no heartbeat info
  });

  it('parameters', () => {
    const initHead = '00000001 00000002 00030004 00000005';
    expectError(packetOf(hex(`01000018 ${initHead} 00050003`)), 'parameter-too-short', 32); // Parameter Length 3
    expectError(packetOf(hex(`0100001c ${initHead} 0005000c 7f000001`)), 'parameter-past-end', 32); // IPv4 of 12 in 8
    expectError(packetOf(hex(`0100001b ${initHead} 00050007 7f0000 00`)), 'bad-parameter-length', 32); // IPv4 of 7
    expectError(packetOf(hex(`0100001e ${initHead} 0009000a 00000001 0000 0000`)), 'bad-parameter-length', 32); // cookie preservative of 10
    expectError(packetOf(hex(`01000016 ${initHead} 000c 0000`)), 'parameter-too-short', 32); // 2 octets of a parameter header
    expectError(packetOf(hex(`01000019 ${initHead} 000c0005 00000000`)), 'bad-parameter-length', 32); // half an address type
    expectError(packetOf(hex(`01000018 ${initHead} c0000008`)), 'parameter-past-end', 32);
    expectError(packetOf(hex(`0100001c ${initHead} c0000008 00000000`)), 'bad-parameter-length', 32); // Forward-TSN-Supported of 8
  });

  it('error causes', () => {
    expectError(packetOf(hex('06000006 0001 0000')), 'cause-too-short', 16); // 2 octets of a cause header
    expectError(packetOf(hex('06000008 00010002')), 'cause-too-short', 16); // Cause Length 2
    expectError(packetOf(hex('09000008 00010008')), 'cause-past-end', 16);
    expectError(packetOf(hex('0900000c 00010006 00010000')), 'bad-cause-length', 16); // Invalid Stream Identifier of 6
    expectError(packetOf(hex('09000010 0002000c 00000003 00070000')), 'bad-cause-length', 16); // says 3 missing, lists 2
    expectError(packetOf(hex('09000008 00020004')), 'cause-too-short', 16);
    expectError(packetOf(hex('09000008 00030004')), 'bad-cause-length', 16); // Stale Cookie without its measure
  });

  it('never throws and never reads past the packet: truncations and mutations of valid packets', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const full = new Uint8Array(packetLength(S.everyChunk));
    encodePacket(full, 0, { srcPort: 1, dstPort: 2, verificationTag: 3 }, S.everyChunk);
    const codes = new Set<string>();
    let ok = 0;
    for (let i = 0; i < 4000; i++) {
      const len = i % 3 === 0 ? Math.floor(rnd() * full.length) : full.length;
      // the packet sits in a larger buffer whose following octets are noise: a decoder that reads
      // past `length` would decode differently from the exact-size copy
      const big = new Uint8Array(len + 64);
      for (let k = 0; k < big.length; k++) big[k] = (rnd() * 256) | 0;
      big.set(full.subarray(0, len));
      const flips = i % 3 === 0 ? 0 : 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) big[Math.floor(rnd() * len)] = (rnd() * 256) | 0;
      if (len >= 12) writeSctpChecksum(big, 0, len); // let the framing code, not the CRC, meet the damage
      const exact = big.slice(0, len);
      const a = decodePacket(big, 0, len);
      const b = decodePacket(exact);
      expect(JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v))).toBe(
        JSON.stringify(b, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)),
      );
      if (a.ok) ok++;
      else codes.add(a.error.code);
    }
    // the mutations reached many different checks, and some survived as valid packets
    expect(ok).toBeGreaterThan(100);
    expect(codes.size).toBeGreaterThanOrEqual(6);
  });
});
