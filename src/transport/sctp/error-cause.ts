// Error causes carried by ABORT and ERROR chunks (RFC 9260 §3.3.10). Each is a TLV: cause code
// (16), cause length (16, without padding), cause-specific information, zero padding to 4 octets.

import { type Decoded, fail, pad4, put16, put32, u16, u32, zeroPad } from './wire.js';

export const CauseCode = {
  INVALID_STREAM_IDENTIFIER: 1,
  MISSING_MANDATORY_PARAMETER: 2,
  STALE_COOKIE: 3,
  OUT_OF_RESOURCE: 4,
  UNRESOLVABLE_ADDRESS: 5,
  UNRECOGNIZED_CHUNK_TYPE: 6,
  INVALID_MANDATORY_PARAMETER: 7,
  UNRECOGNIZED_PARAMETERS: 8,
  NO_USER_DATA: 9,
  COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: 10,
  RESTART_WITH_NEW_ADDRESSES: 11,
  USER_INITIATED_ABORT: 12,
  PROTOCOL_VIOLATION: 13,
} as const;

export type ErrorCause =
  | { code: typeof CauseCode.INVALID_STREAM_IDENTIFIER; streamId: number }
  | { code: typeof CauseCode.MISSING_MANDATORY_PARAMETER; missingParameterTypes: number[] }
  /** Measure of Staleness: microseconds past the cookie's lifetime. */
  | { code: typeof CauseCode.STALE_COOKIE; staleness: number }
  | { code: typeof CauseCode.OUT_OF_RESOURCE }
  /** The address parameter (TLV) that could not be resolved. */
  | { code: typeof CauseCode.UNRESOLVABLE_ADDRESS; address: Uint8Array }
  /** The whole unrecognized chunk (header included, as received). */
  | { code: typeof CauseCode.UNRECOGNIZED_CHUNK_TYPE; chunk: Uint8Array }
  | { code: typeof CauseCode.INVALID_MANDATORY_PARAMETER }
  /** The unrecognized parameter TLVs. */
  | { code: typeof CauseCode.UNRECOGNIZED_PARAMETERS; parameters: Uint8Array }
  /** TSN of the DATA chunk that carried no user data. */
  | { code: typeof CauseCode.NO_USER_DATA; tsn: number }
  | { code: typeof CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN }
  /** The new address parameters (TLVs) of the restarting peer. */
  | { code: typeof CauseCode.RESTART_WITH_NEW_ADDRESSES; addresses: Uint8Array }
  /** Upper Layer Abort Reason (opaque to SCTP). */
  | { code: typeof CauseCode.USER_INITIATED_ABORT; reason: Uint8Array }
  /** Additional Information (opaque; often readable text). */
  | { code: typeof CauseCode.PROTOCOL_VIOLATION; info: Uint8Array }
  | { code: 'unknown'; causeCode: number; info: Uint8Array };

/** Unpadded encoded length of one cause (header included). */
export function causeLength(c: ErrorCause): number {
  switch (c.code) {
    case CauseCode.INVALID_STREAM_IDENTIFIER:
      return 8;
    case CauseCode.MISSING_MANDATORY_PARAMETER:
      return 8 + 2 * c.missingParameterTypes.length;
    case CauseCode.STALE_COOKIE:
      return 8;
    case CauseCode.OUT_OF_RESOURCE:
    case CauseCode.INVALID_MANDATORY_PARAMETER:
    case CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN:
      return 4;
    case CauseCode.UNRESOLVABLE_ADDRESS:
      return 4 + c.address.length;
    case CauseCode.UNRECOGNIZED_CHUNK_TYPE:
      return 4 + c.chunk.length;
    case CauseCode.UNRECOGNIZED_PARAMETERS:
      return 4 + c.parameters.length;
    case CauseCode.NO_USER_DATA:
      return 8;
    case CauseCode.RESTART_WITH_NEW_ADDRESSES:
      return 4 + c.addresses.length;
    case CauseCode.USER_INITIATED_ABORT:
      return 4 + c.reason.length;
    case CauseCode.PROTOCOL_VIOLATION:
      return 4 + c.info.length;
    case 'unknown':
      return 4 + c.info.length;
  }
}

/** Octets a list of causes occupies in a chunk; the last one's padding is the chunk's padding. */
export function causesLength(causes: readonly ErrorCause[]): number {
  let n = 0;
  for (let i = 0; i < causes.length; i++) {
    const len = causeLength(causes[i]!);
    n += i === causes.length - 1 ? len : pad4(len);
  }
  return n;
}

/** Write one cause at `o`; returns its unpadded end (padding after it zeroed). */
export function writeCause(b: Uint8Array, o: number, c: ErrorCause): number {
  const len = causeLength(c);
  put16(b, o, c.code === 'unknown' ? c.causeCode : c.code);
  put16(b, o + 2, len);
  const v = o + 4;
  switch (c.code) {
    case CauseCode.INVALID_STREAM_IDENTIFIER:
      put16(b, v, c.streamId);
      put16(b, v + 2, 0); // reserved
      break;
    case CauseCode.MISSING_MANDATORY_PARAMETER:
      put32(b, v, c.missingParameterTypes.length);
      c.missingParameterTypes.forEach((t, i) => put16(b, v + 4 + 2 * i, t));
      break;
    case CauseCode.STALE_COOKIE:
      put32(b, v, c.staleness);
      break;
    case CauseCode.OUT_OF_RESOURCE:
    case CauseCode.INVALID_MANDATORY_PARAMETER:
    case CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN:
      break;
    case CauseCode.UNRESOLVABLE_ADDRESS:
      b.set(c.address, v);
      break;
    case CauseCode.UNRECOGNIZED_CHUNK_TYPE:
      b.set(c.chunk, v);
      break;
    case CauseCode.UNRECOGNIZED_PARAMETERS:
      b.set(c.parameters, v);
      break;
    case CauseCode.NO_USER_DATA:
      put32(b, v, c.tsn);
      break;
    case CauseCode.RESTART_WITH_NEW_ADDRESSES:
      b.set(c.addresses, v);
      break;
    case CauseCode.USER_INITIATED_ABORT:
      b.set(c.reason, v);
      break;
    case CauseCode.PROTOCOL_VIOLATION:
      b.set(c.info, v);
      break;
    case 'unknown':
      b.set(c.info, v);
      break;
  }
  zeroPad(b, o, o + len);
  return o + len;
}

/** Write a list of causes; returns the unpadded end of the last one. */
export function writeCauses(b: Uint8Array, o: number, causes: readonly ErrorCause[]): number {
  let end = o;
  for (const c of causes) {
    end = writeCause(b, o, c);
    o = o + pad4(end - o);
  }
  return end;
}

/** Decode the causes in [start, end); `base` and `chunkType` locate errors, as for parameters. */
export function decodeCauses(b: Uint8Array, start: number, end: number, base: number, chunkType: number): Decoded<ErrorCause[]> {
  const out: ErrorCause[] = [];
  let o = start;
  while (o < end) {
    if (end - o < 4) return fail('cause-too-short', o - base, chunkType, `${end - o} octet(s) left where an error cause header needs 4`);
    const code = u16(b, o);
    const len = u16(b, o + 2);
    if (len < 4) return fail('cause-too-short', o - base, chunkType, `error cause ${code} has length ${len}, below 4`);
    if (o + len > end) return fail('cause-past-end', o - base, chunkType, `error cause ${code} of length ${len} runs ${o + len - end} octet(s) past the chunk`);
    const r = decodeCause(b, o, code, len, base, chunkType);
    if (!r.ok) return r;
    out.push(r.value);
    o += pad4(len);
  }
  return { ok: true, value: out };
}

function decodeCause(b: Uint8Array, o: number, code: number, len: number, base: number, chunkType: number): Decoded<ErrorCause> {
  const v = o + 4;
  const info = () => b.subarray(v, o + len);
  const exact = (n: number): Decoded<never> | null =>
    len === n ? null : fail('bad-cause-length', o - base, chunkType, `error cause ${code} has length ${len}, expected ${n}`);
  switch (code) {
    case CauseCode.INVALID_STREAM_IDENTIFIER:
      return exact(8) ?? { ok: true, value: { code, streamId: u16(b, v) } };
    case CauseCode.MISSING_MANDATORY_PARAMETER: {
      if (len < 8) return fail('cause-too-short', o - base, chunkType, `Missing Mandatory Parameter of length ${len} has no count`);
      const n = u32(b, v);
      if (len !== 8 + 2 * n) return fail('bad-cause-length', o - base, chunkType, `Missing Mandatory Parameter lists ${n} type(s) in ${len} octets`);
      const missingParameterTypes: number[] = [];
      for (let i = 0; i < n; i++) missingParameterTypes.push(u16(b, v + 4 + 2 * i));
      return { ok: true, value: { code, missingParameterTypes } };
    }
    case CauseCode.STALE_COOKIE:
      return exact(8) ?? { ok: true, value: { code, staleness: u32(b, v) } };
    case CauseCode.OUT_OF_RESOURCE:
    case CauseCode.INVALID_MANDATORY_PARAMETER:
    case CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN:
      return exact(4) ?? { ok: true, value: { code } };
    case CauseCode.UNRESOLVABLE_ADDRESS:
      return { ok: true, value: { code, address: info() } };
    case CauseCode.UNRECOGNIZED_CHUNK_TYPE:
      return { ok: true, value: { code, chunk: info() } };
    case CauseCode.UNRECOGNIZED_PARAMETERS:
      return { ok: true, value: { code, parameters: info() } };
    case CauseCode.NO_USER_DATA:
      return exact(8) ?? { ok: true, value: { code, tsn: u32(b, v) } };
    case CauseCode.RESTART_WITH_NEW_ADDRESSES:
      return { ok: true, value: { code, addresses: info() } };
    case CauseCode.USER_INITIATED_ABORT:
      return { ok: true, value: { code, reason: info() } };
    case CauseCode.PROTOCOL_VIOLATION:
      return { ok: true, value: { code, info: info() } };
    default:
      return { ok: true, value: { code: 'unknown', causeCode: code, info: info() } };
  }
}
