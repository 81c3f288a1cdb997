// Sample chunks of every type the codec knows, with values chosen so that every field is non-zero
// and distinct (a swapped or dropped field shows), shared by the codec and tshark tests.

import { type Chunk, ChunkType } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { chunkTypeAction, parameterTypeAction } from '../../../src/transport/sctp/wire.js';

export const text = (s: string) => new TextEncoder().encode(s);
export const seq = (n: number, from = 1) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

export const data: Chunk = {
  type: ChunkType.DATA,
  unordered: true,
  beginning: true,
  ending: false,
  immediate: true,
  tsn: 0xfedcba98,
  streamId: 7,
  ssn: 0x1234,
  ppid: 0x0a0b0c0d,
  userData: seq(37),
};
export const init: Chunk = {
  type: ChunkType.INIT,
  initiateTag: 0x11223344,
  aRwnd: 1 << 20,
  outboundStreams: 10,
  inboundStreams: 2048,
  initialTsn: 0xfffffff0,
  params: [
    { type: ParameterType.IPV4_ADDRESS, address: '127.0.0.1' },
    { type: ParameterType.IPV6_ADDRESS, address: '2001:db8::1:0:0:2' },
    { type: ParameterType.COOKIE_PRESERVATIVE, lifeSpanIncrement: 30000 },
    { type: ParameterType.SUPPORTED_ADDRESS_TYPES, addressTypes: [5, 6] },
    { type: ParameterType.FORWARD_TSN_SUPPORTED },
    { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [192, 130, 193] },
  ],
};
export const initAck: Chunk = {
  type: ChunkType.INIT_ACK,
  initiateTag: 0x55667788,
  aRwnd: 65535,
  outboundStreams: 2048,
  inboundStreams: 10,
  initialTsn: 42,
  params: [
    { type: ParameterType.STATE_COOKIE, cookie: seq(53, 100) },
    { type: ParameterType.IPV4_ADDRESS, address: '127.0.0.2' },
    // the INIT's unknown parameter returned: ECN Capable (0x8000), length 4
    { type: ParameterType.UNRECOGNIZED_PARAMETERS, parameters: Uint8Array.from([0x80, 0x00, 0x00, 0x04]) },
    { type: ParameterType.FORWARD_TSN_SUPPORTED },
    { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [192] },
  ],
};
export const sack: Chunk = {
  type: ChunkType.SACK,
  cumulativeTsnAck: 0x10000000,
  aRwnd: 123456,
  gapAckBlocks: [
    { start: 2, end: 3 },
    { start: 5, end: 9 },
    { start: 12, end: 12 },
  ],
  duplicateTsns: [0x0ffffffe, 0x0fffffff],
};
export const heartbeat: Chunk = { type: ChunkType.HEARTBEAT, info: seq(21, 200) };
export const heartbeatAck: Chunk = { type: ChunkType.HEARTBEAT_ACK, info: seq(21, 200) };
export const abort: Chunk = {
  type: ChunkType.ABORT,
  tBit: true,
  causes: [
    { code: CauseCode.USER_INITIATED_ABORT, reason: text('shutting down now') },
    { code: CauseCode.PROTOCOL_VIOLATION, info: text('bad TSN') },
  ],
};
export const shutdown: Chunk = { type: ChunkType.SHUTDOWN, cumulativeTsnAck: 0x7fffffff };
export const shutdownAck: Chunk = { type: ChunkType.SHUTDOWN_ACK };
export const error: Chunk = {
  type: ChunkType.ERROR,
  causes: [
    { code: CauseCode.INVALID_STREAM_IDENTIFIER, streamId: 999 },
    { code: CauseCode.MISSING_MANDATORY_PARAMETER, missingParameterTypes: [7, 5, 6] },
    { code: CauseCode.STALE_COOKIE, staleness: 1500000 },
    { code: CauseCode.OUT_OF_RESOURCE },
    // an unknown chunk type 0x7f, flags 0, length 8, value 01 02 03 04, reported back whole
    { code: CauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk: Uint8Array.from([0x7f, 0x00, 0x00, 0x08, 1, 2, 3, 4]) },
    { code: CauseCode.INVALID_MANDATORY_PARAMETER },
    { code: CauseCode.UNRECOGNIZED_PARAMETERS, parameters: Uint8Array.from([0x40, 0x01, 0x00, 0x08, 0xab, 0xcd, 0xef, 0x01]) },
    { code: CauseCode.NO_USER_DATA, tsn: 77 },
    { code: CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN },
    { code: CauseCode.UNRESOLVABLE_ADDRESS, address: Uint8Array.from([0x00, 0x0b, 0x00, 0x08, 0x61, 0x62, 0x63, 0x00]) },
    { code: CauseCode.RESTART_WITH_NEW_ADDRESSES, addresses: Uint8Array.from([0x00, 0x05, 0x00, 0x08, 10, 0, 0, 9]) },
    { code: CauseCode.USER_INITIATED_ABORT, reason: text('x') },
    { code: CauseCode.PROTOCOL_VIOLATION, info: text('protocol!') },
    { code: 'unknown', causeCode: 0x1234, info: seq(3) },
  ],
};
export const cookieEcho: Chunk = { type: ChunkType.COOKIE_ECHO, cookie: seq(53, 100) };
export const cookieAck: Chunk = { type: ChunkType.COOKIE_ACK };
export const shutdownComplete: Chunk = { type: ChunkType.SHUTDOWN_COMPLETE, tBit: true };
export const forwardTsn: Chunk = {
  type: ChunkType.FORWARD_TSN,
  newCumulativeTsn: 0x80000001,
  streams: [
    { streamId: 1, ssn: 10 },
    { streamId: 3, ssn: 65535 },
  ],
};
/** ECNE (12) is not interpreted by this codec: kept whole, top bits 00 = stop. */
export const unknownStop: Chunk = { type: 'unknown', chunkType: 12, flags: 0, value: Uint8Array.from([0, 0, 0, 5]), action: chunkTypeAction(12) };
/** An unassigned 0xFE (11 = skip and report) with flags and an odd length. */
export const unknownSkipReport: Chunk = { type: 'unknown', chunkType: 0xfe, flags: 0xa5, value: seq(5), action: chunkTypeAction(0xfe) };
/** INIT carrying parameters it does not know: 0x8000 ECN (skip), 0xc006 Adaptation Layer Indication (skip and report), 0x4001 (stop and report). */
export const initUnknownParams: Chunk = {
  type: ChunkType.INIT,
  initiateTag: 1,
  aRwnd: 2,
  outboundStreams: 3,
  inboundStreams: 4,
  initialTsn: 5,
  params: [
    { type: 'unknown', parameterType: 0x8000, value: new Uint8Array(0), action: parameterTypeAction(0x8000) },
    { type: 'unknown', parameterType: 0xc006, value: Uint8Array.from([0, 0, 0, 9]), action: parameterTypeAction(0xc006) },
    { type: 'unknown', parameterType: 0x4001, value: Uint8Array.from([0xee]), action: parameterTypeAction(0x4001) },
  ],
};

/** One of each chunk type (and the unknown kinds), in an order that may be bundled for tests. */
export const everyChunk: Chunk[] = [
  data,
  init,
  initAck,
  sack,
  heartbeat,
  heartbeatAck,
  abort,
  shutdown,
  shutdownAck,
  error,
  cookieEcho,
  cookieAck,
  shutdownComplete,
  forwardTsn,
  unknownStop,
  unknownSkipReport,
  initUnknownParams,
];
