// Variable-length parameters of INIT and INIT ACK (RFC 9260 §3.3.2.1, §3.3.3.1; RFC 3758 §3.1 for
// Forward-TSN-Supported; RFC 5061 §4.2.7 for Supported Extensions). Each is a TLV: type (16),
// length (16, without padding), value, zero padding to 4 octets. Values that are opaque octets
// (cookie, heartbeat info, unrecognized parameters) are views into the received packet.

import {
  type Decoded,
  type UnrecognizedAction,
  fail,
  formatIPv4,
  formatIPv6,
  pad4,
  parameterTypeAction,
  put16,
  put32,
  u16,
  u32,
  writeIPv4,
  writeIPv6,
  zeroPad,
} from './wire.js';

export const ParameterType = {
  HEARTBEAT_INFO: 1,
  IPV4_ADDRESS: 5,
  IPV6_ADDRESS: 6,
  STATE_COOKIE: 7,
  UNRECOGNIZED_PARAMETERS: 8,
  COOKIE_PRESERVATIVE: 9,
  HOST_NAME_ADDRESS: 11,
  SUPPORTED_ADDRESS_TYPES: 12,
  SUPPORTED_EXTENSIONS: 0x8008,
  FORWARD_TSN_SUPPORTED: 0xc000,
} as const;

export interface HeartbeatInfoParameter {
  type: typeof ParameterType.HEARTBEAT_INFO;
  /** Sender-specific information, echoed unchanged in the HEARTBEAT ACK. */
  info: Uint8Array;
}
export interface IPv4AddressParameter {
  type: typeof ParameterType.IPV4_ADDRESS;
  address: string;
}
export interface IPv6AddressParameter {
  type: typeof ParameterType.IPV6_ADDRESS;
  address: string;
}
export interface StateCookieParameter {
  type: typeof ParameterType.STATE_COOKIE;
  cookie: Uint8Array;
}
export interface UnrecognizedParametersParameter {
  type: typeof ParameterType.UNRECOGNIZED_PARAMETERS;
  /** The unrecognized parameter(s) of the INIT, as TLVs, returned in INIT ACK. */
  parameters: Uint8Array;
}
export interface CookiePreservativeParameter {
  type: typeof ParameterType.COOKIE_PRESERVATIVE;
  /** Suggested Cookie Life-Span Increment, milliseconds. */
  lifeSpanIncrement: number;
}
export interface SupportedAddressTypesParameter {
  type: typeof ParameterType.SUPPORTED_ADDRESS_TYPES;
  /** Parameter types of the address kinds the sender supports (5 IPv4, 6 IPv6, 11 host name). */
  addressTypes: number[];
}
export interface SupportedExtensionsParameter {
  type: typeof ParameterType.SUPPORTED_EXTENSIONS;
  /** Chunk types of the extensions the sender supports (e.g. 192 FORWARD TSN). */
  chunkTypes: number[];
}
export interface ForwardTsnSupportedParameter {
  type: typeof ParameterType.FORWARD_TSN_SUPPORTED;
}
/** A parameter this codec does not interpret, kept whole so it can be reported back. */
export interface UnknownParameter {
  type: 'unknown';
  parameterType: number;
  value: Uint8Array;
  /** From the top two bits of the type (RFC 9260 §3.2.1). Ignored when encoding. */
  action: UnrecognizedAction;
}

export type Parameter =
  | HeartbeatInfoParameter
  | IPv4AddressParameter
  | IPv6AddressParameter
  | StateCookieParameter
  | UnrecognizedParametersParameter
  | CookiePreservativeParameter
  | SupportedAddressTypesParameter
  | SupportedExtensionsParameter
  | ForwardTsnSupportedParameter
  | UnknownParameter;

/** Unpadded encoded length of one parameter (header included). */
export function parameterLength(p: Parameter): number {
  switch (p.type) {
    case ParameterType.HEARTBEAT_INFO:
      return 4 + p.info.length;
    case ParameterType.IPV4_ADDRESS:
      return 8;
    case ParameterType.IPV6_ADDRESS:
      return 20;
    case ParameterType.STATE_COOKIE:
      return 4 + p.cookie.length;
    case ParameterType.UNRECOGNIZED_PARAMETERS:
      return 4 + p.parameters.length;
    case ParameterType.COOKIE_PRESERVATIVE:
      return 8;
    case ParameterType.SUPPORTED_ADDRESS_TYPES:
      return 4 + 2 * p.addressTypes.length;
    case ParameterType.SUPPORTED_EXTENSIONS:
      return 4 + p.chunkTypes.length;
    case ParameterType.FORWARD_TSN_SUPPORTED:
      return 4;
    case 'unknown':
      return 4 + p.value.length;
  }
}

/**
 * Octets a list of parameters occupies in a chunk: every parameter padded except the last, whose
 * padding is the chunk's padding and not counted in Chunk Length (RFC 9260 §3.2).
 */
export function parametersLength(params: readonly Parameter[]): number {
  let n = 0;
  for (let i = 0; i < params.length; i++) {
    const len = parameterLength(params[i]!);
    n += i === params.length - 1 ? len : pad4(len);
  }
  return n;
}

/** Write one parameter at `o`; returns its unpadded end (the padding after it is zeroed). */
export function writeParameter(b: Uint8Array, o: number, p: Parameter): number {
  const len = parameterLength(p);
  put16(b, o, p.type === 'unknown' ? p.parameterType : p.type);
  put16(b, o + 2, len);
  const v = o + 4;
  switch (p.type) {
    case ParameterType.HEARTBEAT_INFO:
      b.set(p.info, v);
      break;
    case ParameterType.IPV4_ADDRESS:
      writeIPv4(b, v, p.address);
      break;
    case ParameterType.IPV6_ADDRESS:
      writeIPv6(b, v, p.address);
      break;
    case ParameterType.STATE_COOKIE:
      b.set(p.cookie, v);
      break;
    case ParameterType.UNRECOGNIZED_PARAMETERS:
      b.set(p.parameters, v);
      break;
    case ParameterType.COOKIE_PRESERVATIVE:
      put32(b, v, p.lifeSpanIncrement);
      break;
    case ParameterType.SUPPORTED_ADDRESS_TYPES:
      p.addressTypes.forEach((t, i) => put16(b, v + 2 * i, t));
      break;
    case ParameterType.SUPPORTED_EXTENSIONS:
      p.chunkTypes.forEach((t, i) => (b[v + i] = t));
      break;
    case ParameterType.FORWARD_TSN_SUPPORTED:
      break;
    case 'unknown':
      b.set(p.value, v);
      break;
  }
  zeroPad(b, o, o + len);
  return o + len;
}

/** Write a list of parameters; returns the unpadded end of the last one (its padding is zeroed). */
export function writeParameters(b: Uint8Array, o: number, params: readonly Parameter[]): number {
  let end = o;
  for (const p of params) {
    end = writeParameter(b, o, p);
    o = o + pad4(end - o);
  }
  return end;
}

/**
 * Decode the parameters in [start, end) of `b`. `base` is where offsets in errors count from (the
 * packet start); `chunkType` names the chunk in errors. The last parameter's padding may lie
 * inside or beyond `end`: RFC 9260 §3.2 asks receivers to accept both.
 */
export function decodeParameters(b: Uint8Array, start: number, end: number, base: number, chunkType: number): Decoded<Parameter[]> {
  const out: Parameter[] = [];
  let o = start;
  while (o < end) {
    if (end - o < 4) return fail('parameter-too-short', o - base, chunkType, `${end - o} octet(s) left where a parameter header needs 4`);
    const type = u16(b, o);
    const len = u16(b, o + 2);
    if (len < 4) return fail('parameter-too-short', o - base, chunkType, `parameter ${type} has length ${len}, below 4`);
    if (o + len > end) return fail('parameter-past-end', o - base, chunkType, `parameter ${type} of length ${len} runs ${o + len - end} octet(s) past the chunk`);
    const r = decodeParameter(b, o, type, len, base, chunkType);
    if (!r.ok) return r;
    out.push(r.value);
    o += pad4(len);
  }
  return { ok: true, value: out };
}

function decodeParameter(b: Uint8Array, o: number, type: number, len: number, base: number, chunkType: number): Decoded<Parameter> {
  const v = o + 4;
  const vlen = len - 4;
  const exact = (n: number): Decoded<never> | null =>
    len === n ? null : fail('bad-parameter-length', o - base, chunkType, `parameter ${type} has length ${len}, expected ${n}`);
  switch (type) {
    case ParameterType.HEARTBEAT_INFO:
      return { ok: true, value: { type, info: b.subarray(v, o + len) } };
    case ParameterType.IPV4_ADDRESS:
      return exact(8) ?? { ok: true, value: { type, address: formatIPv4(b, v) } };
    case ParameterType.IPV6_ADDRESS:
      return exact(20) ?? { ok: true, value: { type, address: formatIPv6(b, v) } };
    case ParameterType.STATE_COOKIE:
      return { ok: true, value: { type, cookie: b.subarray(v, o + len) } };
    case ParameterType.UNRECOGNIZED_PARAMETERS:
      return { ok: true, value: { type, parameters: b.subarray(v, o + len) } };
    case ParameterType.COOKIE_PRESERVATIVE:
      return exact(8) ?? { ok: true, value: { type, lifeSpanIncrement: u32(b, v) } };
    case ParameterType.SUPPORTED_ADDRESS_TYPES: {
      if (vlen % 2 !== 0) return fail('bad-parameter-length', o - base, chunkType, `Supported Address Types of length ${len} holds a half address type`);
      const addressTypes: number[] = [];
      for (let i = 0; i < vlen; i += 2) addressTypes.push(u16(b, v + i));
      return { ok: true, value: { type, addressTypes } };
    }
    case ParameterType.SUPPORTED_EXTENSIONS:
      return { ok: true, value: { type, chunkTypes: Array.from(b.subarray(v, o + len)) } };
    case ParameterType.FORWARD_TSN_SUPPORTED:
      return exact(4) ?? { ok: true, value: { type } };
    default:
      return { ok: true, value: { type: 'unknown', parameterType: type, value: b.subarray(v, o + len), action: parameterTypeAction(type) } };
  }
}
