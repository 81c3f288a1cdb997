// SCTP chunks (RFC 9260 §3.2, §3.3; FORWARD TSN from RFC 3758 §3.2): one interface per chunk type,
// a decoder from the received octets and an encoder into a caller's buffer. Every chunk is a TLV:
// type (8), flags (8), length (16, header included, padding excluded), value, zero padding to 4.
// Opaque values (user data, cookies, heartbeat info) are views into the packet buffer, not copies.

import { type ErrorCause, causesLength, decodeCauses, writeCauses } from './error-cause.js';
import { type Parameter, ParameterType, decodeParameters, parametersLength, writeParameters } from './parameter.js';
import { type Decoded, type UnrecognizedAction, chunkTypeAction, fail, pad4, put16, put32, u16, u32, zeroPad } from './wire.js';

export const ChunkType = {
  DATA: 0,
  INIT: 1,
  INIT_ACK: 2,
  SACK: 3,
  HEARTBEAT: 4,
  HEARTBEAT_ACK: 5,
  ABORT: 6,
  SHUTDOWN: 7,
  SHUTDOWN_ACK: 8,
  ERROR: 9,
  COOKIE_ECHO: 10,
  COOKIE_ACK: 11,
  SHUTDOWN_COMPLETE: 14,
  FORWARD_TSN: 192,
} as const;

/** DATA chunk flag bits (RFC 9260 §3.3.1). */
export const DataFlags = {
  /** E: last fragment of a user message. */
  ENDING: 0x01,
  /** B: first fragment of a user message. */
  BEGINNING: 0x02,
  /** U: unordered; the Stream Sequence Number is to be ignored. */
  UNORDERED: 0x04,
  /** I: the sender asks for a SACK without delay (RFC 9260, from RFC 7053). */
  IMMEDIATE: 0x08,
} as const;

/** The T bit of ABORT and SHUTDOWN COMPLETE: the sender filled in the receiver's tag, not its own (RFC 9260 §8.5.1). */
export const T_BIT = 0x01;

/** Octets before the user data in a DATA chunk: header (4), TSN, stream id, SSN, PPID. */
export const DATA_HEADER_LENGTH = 16;

export interface DataChunk {
  type: typeof ChunkType.DATA;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  immediate: boolean;
  tsn: number;
  streamId: number;
  /** Stream Sequence Number. */
  ssn: number;
  /** Payload Protocol Identifier: opaque to SCTP, for the application (0: unspecified). */
  ppid: number;
  /** The user data: a view into the packet buffer. */
  userData: Uint8Array;
}

interface InitCommon {
  initiateTag: number;
  /** Advertised Receiver Window Credit. */
  aRwnd: number;
  outboundStreams: number;
  inboundStreams: number;
  initialTsn: number;
  params: Parameter[];
}
export interface InitChunk extends InitCommon {
  type: typeof ChunkType.INIT;
}
export interface InitAckChunk extends InitCommon {
  type: typeof ChunkType.INIT_ACK;
}

/** TSN offsets from the Cumulative TSN Ack, both ends included (RFC 9260 §3.3.4). */
export interface GapAckBlock {
  start: number;
  end: number;
}
export interface SackChunk {
  type: typeof ChunkType.SACK;
  cumulativeTsnAck: number;
  aRwnd: number;
  gapAckBlocks: GapAckBlock[];
  duplicateTsns: number[];
}
export interface HeartbeatChunk {
  type: typeof ChunkType.HEARTBEAT;
  /** The value of the Heartbeat Info parameter. */
  info: Uint8Array;
}
export interface HeartbeatAckChunk {
  type: typeof ChunkType.HEARTBEAT_ACK;
  info: Uint8Array;
}
export interface AbortChunk {
  type: typeof ChunkType.ABORT;
  tBit: boolean;
  causes: ErrorCause[];
}
export interface ShutdownChunk {
  type: typeof ChunkType.SHUTDOWN;
  cumulativeTsnAck: number;
}
export interface ShutdownAckChunk {
  type: typeof ChunkType.SHUTDOWN_ACK;
}
export interface ErrorChunk {
  type: typeof ChunkType.ERROR;
  causes: ErrorCause[];
}
export interface CookieEchoChunk {
  type: typeof ChunkType.COOKIE_ECHO;
  cookie: Uint8Array;
}
export interface CookieAckChunk {
  type: typeof ChunkType.COOKIE_ACK;
}
export interface ShutdownCompleteChunk {
  type: typeof ChunkType.SHUTDOWN_COMPLETE;
  tBit: boolean;
}
export interface ForwardTsnStream {
  streamId: number;
  ssn: number;
}
export interface ForwardTsnChunk {
  type: typeof ChunkType.FORWARD_TSN;
  newCumulativeTsn: number;
  streams: ForwardTsnStream[];
}
/** A chunk type this codec does not interpret, kept whole (ECNE, AUTH, I-DATA, ASCONF, ...). */
export interface UnknownChunk {
  type: 'unknown';
  chunkType: number;
  flags: number;
  value: Uint8Array;
  /** From the top two bits of the chunk type (RFC 9260 §3.2). Ignored when encoding. */
  action: UnrecognizedAction;
}

export type Chunk =
  | DataChunk
  | InitChunk
  | InitAckChunk
  | SackChunk
  | HeartbeatChunk
  | HeartbeatAckChunk
  | AbortChunk
  | ShutdownChunk
  | ShutdownAckChunk
  | ErrorChunk
  | CookieEchoChunk
  | CookieAckChunk
  | ShutdownCompleteChunk
  | ForwardTsnChunk
  | UnknownChunk;

/** Chunk Length of a chunk (header included, trailing padding excluded). */
export function chunkLength(c: Chunk): number {
  switch (c.type) {
    case ChunkType.DATA:
      return DATA_HEADER_LENGTH + c.userData.length;
    case ChunkType.INIT:
    case ChunkType.INIT_ACK:
      return 20 + parametersLength(c.params);
    case ChunkType.SACK:
      return 16 + 4 * c.gapAckBlocks.length + 4 * c.duplicateTsns.length;
    case ChunkType.HEARTBEAT:
    case ChunkType.HEARTBEAT_ACK:
      return 8 + c.info.length;
    case ChunkType.ABORT:
    case ChunkType.ERROR:
      return 4 + causesLength(c.causes);
    case ChunkType.SHUTDOWN:
      return 8;
    case ChunkType.SHUTDOWN_ACK:
    case ChunkType.COOKIE_ACK:
    case ChunkType.SHUTDOWN_COMPLETE:
      return 4;
    case ChunkType.COOKIE_ECHO:
      return 4 + c.cookie.length;
    case ChunkType.FORWARD_TSN:
      return 8 + 4 * c.streams.length;
    case 'unknown':
      return 4 + c.value.length;
  }
}

/** Octets the chunk takes in a packet, padding included. */
export function paddedChunkLength(c: Chunk): number {
  return pad4(chunkLength(c));
}

function chunkFlags(c: Chunk): number {
  switch (c.type) {
    case ChunkType.DATA:
      return (
        (c.ending ? DataFlags.ENDING : 0) |
        (c.beginning ? DataFlags.BEGINNING : 0) |
        (c.unordered ? DataFlags.UNORDERED : 0) |
        (c.immediate ? DataFlags.IMMEDIATE : 0)
      );
    case ChunkType.ABORT:
    case ChunkType.SHUTDOWN_COMPLETE:
      return c.tBit ? T_BIT : 0;
    case 'unknown':
      return c.flags;
    default:
      return 0;
  }
}

/**
 * The send path's DATA encoder: no chunk object, user data copied straight from `payload[start, end)`.
 * Returns the offset after the chunk's padding. The caller has made room (DATA_HEADER_LENGTH +
 * pad4(end - start) octets).
 */
export function writeDataChunk(
  b: Uint8Array,
  o: number,
  flags: number,
  tsn: number,
  streamId: number,
  ssn: number,
  ppid: number,
  payload: Uint8Array,
  start = 0,
  end = payload.length,
): number {
  const len = DATA_HEADER_LENGTH + end - start;
  if (len > 0xffff) throw new RangeError(`DATA chunk of ${len} octets is above the 65535 a Chunk Length can say: fragment the message`);
  if (o + pad4(len) > b.length) throw new RangeError(`DATA chunk of ${len} octets does not fit at offset ${o} of a ${b.length}-octet buffer`);
  b[o] = ChunkType.DATA;
  b[o + 1] = flags;
  put16(b, o + 2, len);
  put32(b, o + 4, tsn);
  put16(b, o + 8, streamId);
  put16(b, o + 10, ssn);
  put32(b, o + 12, ppid);
  b.set(start === 0 && end === payload.length ? payload : payload.subarray(start, end), o + DATA_HEADER_LENGTH);
  return zeroPad(b, o, o + len);
}

/**
 * Encode a chunk at offset `o` of `b`; returns the offset after its padding. Throws RangeError when
 * the buffer is too small (sizing it is the caller's job: paddedChunkLength).
 */
export function writeChunk(b: Uint8Array, o: number, c: Chunk): number {
  if (c.type === ChunkType.DATA) {
    return writeDataChunk(b, o, chunkFlags(c), c.tsn, c.streamId, c.ssn, c.ppid, c.userData);
  }
  const len = chunkLength(c);
  if (len > 0xffff) throw new RangeError(`chunk of type ${c.type} would be ${len} octets, above the 65535 a Chunk Length can say`);
  if (o + pad4(len) > b.length) throw new RangeError(`chunk of ${len} octets does not fit at offset ${o} of a ${b.length}-octet buffer`);
  b[o] = c.type === 'unknown' ? c.chunkType : c.type;
  b[o + 1] = chunkFlags(c);
  put16(b, o + 2, len);
  const v = o + 4;
  switch (c.type) {
    case ChunkType.INIT:
    case ChunkType.INIT_ACK:
      put32(b, v, c.initiateTag);
      put32(b, v + 4, c.aRwnd);
      put16(b, v + 8, c.outboundStreams);
      put16(b, v + 10, c.inboundStreams);
      put32(b, v + 12, c.initialTsn);
      writeParameters(b, v + 16, c.params);
      break;
    case ChunkType.SACK: {
      put32(b, v, c.cumulativeTsnAck);
      put32(b, v + 4, c.aRwnd);
      put16(b, v + 8, c.gapAckBlocks.length);
      put16(b, v + 10, c.duplicateTsns.length);
      let p = v + 12;
      for (const g of c.gapAckBlocks) {
        put16(b, p, g.start);
        put16(b, p + 2, g.end);
        p += 4;
      }
      for (const t of c.duplicateTsns) {
        put32(b, p, t);
        p += 4;
      }
      break;
    }
    case ChunkType.HEARTBEAT:
    case ChunkType.HEARTBEAT_ACK:
      put16(b, v, ParameterType.HEARTBEAT_INFO);
      put16(b, v + 2, 4 + c.info.length);
      b.set(c.info, v + 4);
      break;
    case ChunkType.ABORT:
    case ChunkType.ERROR:
      writeCauses(b, v, c.causes);
      break;
    case ChunkType.SHUTDOWN:
      put32(b, v, c.cumulativeTsnAck);
      break;
    case ChunkType.SHUTDOWN_ACK:
    case ChunkType.COOKIE_ACK:
    case ChunkType.SHUTDOWN_COMPLETE:
      break;
    case ChunkType.COOKIE_ECHO:
      b.set(c.cookie, v);
      break;
    case ChunkType.FORWARD_TSN: {
      put32(b, v, c.newCumulativeTsn);
      let p = v + 4;
      for (const s of c.streams) {
        put16(b, p, s.streamId);
        put16(b, p + 2, s.ssn);
        p += 4;
      }
      break;
    }
    case 'unknown':
      b.set(c.value, v);
      break;
  }
  return zeroPad(b, o, o + len);
}

/**
 * Decode the chunk at [o, o + Chunk Length) of `b`, whose framing (length ≥ 4, inside the packet)
 * the caller has checked. `base` is where error offsets count from (the packet start).
 */
export function decodeChunkAt(b: Uint8Array, o: number, base = o): Decoded<Chunk> {
  const type = b[o]!;
  const flags = b[o + 1]!;
  const len = u16(b, o + 2);
  const end = o + len;
  const v = o + 4;
  const at = o - base;
  const tooShort = (min: number, what: string) => fail('chunk-too-short', at, type, `${what} of length ${len}, below its fixed ${min} octets`);
  const exact = (n: number, what: string): Decoded<never> | null =>
    len === n ? null : fail('bad-chunk-length', at, type, `${what} of length ${len}, expected ${n}`);
  switch (type) {
    case ChunkType.DATA:
      if (len < DATA_HEADER_LENGTH) return tooShort(DATA_HEADER_LENGTH, 'DATA');
      return {
        ok: true,
        value: {
          type,
          unordered: (flags & DataFlags.UNORDERED) !== 0,
          beginning: (flags & DataFlags.BEGINNING) !== 0,
          ending: (flags & DataFlags.ENDING) !== 0,
          immediate: (flags & DataFlags.IMMEDIATE) !== 0,
          tsn: u32(b, v),
          streamId: u16(b, v + 4),
          ssn: u16(b, v + 6),
          ppid: u32(b, v + 8),
          userData: b.subarray(o + DATA_HEADER_LENGTH, end),
        },
      };
    case ChunkType.INIT:
    case ChunkType.INIT_ACK: {
      if (len < 20) return tooShort(20, type === ChunkType.INIT ? 'INIT' : 'INIT ACK');
      const params = decodeParameters(b, v + 16, end, base, type);
      if (!params.ok) return params;
      return {
        ok: true,
        value: {
          type,
          initiateTag: u32(b, v),
          aRwnd: u32(b, v + 4),
          outboundStreams: u16(b, v + 8),
          inboundStreams: u16(b, v + 10),
          initialTsn: u32(b, v + 12),
          params: params.value,
        },
      };
    }
    case ChunkType.SACK: {
      if (len < 16) return tooShort(16, 'SACK');
      const gaps = u16(b, v + 8);
      const dups = u16(b, v + 10);
      if (len !== 16 + 4 * gaps + 4 * dups)
        return fail('bad-chunk-length', at, type, `SACK with ${gaps} gap block(s) and ${dups} duplicate(s) needs ${16 + 4 * gaps + 4 * dups} octets, has ${len}`);
      const gapAckBlocks: GapAckBlock[] = [];
      const duplicateTsns: number[] = [];
      let p = v + 12;
      for (let i = 0; i < gaps; i++, p += 4) gapAckBlocks.push({ start: u16(b, p), end: u16(b, p + 2) });
      for (let i = 0; i < dups; i++, p += 4) duplicateTsns.push(u32(b, p));
      return { ok: true, value: { type, cumulativeTsnAck: u32(b, v), aRwnd: u32(b, v + 4), gapAckBlocks, duplicateTsns } };
    }
    case ChunkType.HEARTBEAT:
    case ChunkType.HEARTBEAT_ACK: {
      const params = decodeParameters(b, v, end, base, type);
      if (!params.ok) return params;
      const hb = params.value.find((p) => p.type === ParameterType.HEARTBEAT_INFO);
      if (!hb) return fail('missing-parameter', at, type, `${type === ChunkType.HEARTBEAT ? 'HEARTBEAT' : 'HEARTBEAT ACK'} without a Heartbeat Info parameter`);
      return { ok: true, value: { type, info: hb.info } };
    }
    case ChunkType.ABORT:
    case ChunkType.ERROR: {
      const causes = decodeCauses(b, v, end, base, type);
      if (!causes.ok) return causes;
      return type === ChunkType.ABORT
        ? { ok: true, value: { type, tBit: (flags & T_BIT) !== 0, causes: causes.value } }
        : { ok: true, value: { type, causes: causes.value } };
    }
    case ChunkType.SHUTDOWN:
      return exact(8, 'SHUTDOWN') ?? { ok: true, value: { type, cumulativeTsnAck: u32(b, v) } };
    case ChunkType.SHUTDOWN_ACK:
      return exact(4, 'SHUTDOWN ACK') ?? { ok: true, value: { type } };
    case ChunkType.COOKIE_ACK:
      return exact(4, 'COOKIE ACK') ?? { ok: true, value: { type } };
    case ChunkType.SHUTDOWN_COMPLETE:
      return exact(4, 'SHUTDOWN COMPLETE') ?? { ok: true, value: { type, tBit: (flags & T_BIT) !== 0 } };
    case ChunkType.COOKIE_ECHO:
      return { ok: true, value: { type, cookie: b.subarray(v, end) } };
    case ChunkType.FORWARD_TSN: {
      if (len < 8) return tooShort(8, 'FORWARD TSN');
      if ((len - 8) % 4 !== 0) return fail('bad-chunk-length', at, type, `FORWARD TSN of length ${len} holds a partial stream/SSN pair`);
      const streams: ForwardTsnStream[] = [];
      for (let p = v + 4; p < end; p += 4) streams.push({ streamId: u16(b, p), ssn: u16(b, p + 2) });
      return { ok: true, value: { type, newCumulativeTsn: u32(b, v), streams } };
    }
    default:
      return { ok: true, value: { type: 'unknown', chunkType: type, flags, value: b.subarray(v, end), action: chunkTypeAction(type) } };
  }
}

/**
 * Decode one chunk standing alone in `b[start, end)` (e.g. the chunk inside an Unrecognized Chunk
 * Type cause), checking its framing first. Error offsets count from `start`.
 */
export function decodeChunk(b: Uint8Array, start = 0, end = b.length): Decoded<Chunk> {
  if (end - start < 4) return fail('chunk-too-short', 0, -1, `${end - start} octet(s), a chunk header needs 4`);
  const len = u16(b, start + 2);
  if (len < 4) return fail('chunk-too-short', 0, b[start]!, `Chunk Length ${len}, below 4`);
  if (start + len > end) return fail('chunk-past-end', 0, b[start]!, `Chunk Length ${len} runs ${start + len - end} octet(s) past the end`);
  return decodeChunkAt(b, start, start);
}
