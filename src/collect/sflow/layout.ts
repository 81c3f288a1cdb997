// Sample layouts. Most flow samples of an agent come in a handful of layouts: the same sample format, the
// same flow records, the same kind of sampled frame (commonChain: Ethernet, one tag at most, IPv4 or IPv6
// without options, TCP/UDP/SCTP/ICMP). For such a layout every fact sits at a fixed distance from a few
// positions, which layoutOf() finds, after checking everything a plan relies on (sample-plan.ts): every
// length, the frame's chain, the values that decide the shape (the output interface format, which switch
// facts are valid, the next-hop types). It returns the layout's key and reads only. layout-wasm.ts is the
// same function in WebAssembly.

import { Gateway, GATEWAY_SLOTS, walkGateway } from './gateway.js';
import { chainAt, commonChain } from './header.js';
import {
  addressLength,
  EXTENDED_GATEWAY,
  EXTENDED_ROUTER,
  EXTENDED_SWITCH,
  IF_MULTIPLE,
  MAX_PRIORITY,
  MAX_VLAN,
  RAW_PACKET_HEADER,
  SAMPLED_ETHERNET,
  SAMPLED_IPV4,
  SAMPLED_IPV6,
} from './formats.js';
import { MAX_SLOTS } from './plan-memory.js';
import { VariableFact } from './view.js';

/** Where layoutOf found the parts of the sample, by slot of `at` (offsets in the datagram). */
export const SAMPLE = 0;
/** After the source ID: sampling rate, pool, drops, interfaces. */
export const Q = 1;
/** The raw packet header record's body, its IP header and its transport header. */
export const RAW = 2;
export const IP = 3;
export const L4 = 4;
/** The extended switch record's body. */
export const SWITCH = 5;
/** The extended router record's body and its prefix lengths (after the next hop). */
export const ROUTER = 6;
export const PREFIXES = 7;
/** The extended gateway record's body, then what walkGateway found in it (gateway.ts Gateway). */
export const GATEWAY = 8;
export const GATEWAY_PARTS = 9;
export const AS_NUMBERS = GATEWAY_PARTS + Gateway.asNumbers;
export const PATH = GATEWAY_PARTS + Gateway.path;
export const FIRST_AS = GATEWAY_PARTS + Gateway.firstAs;
export const LAST_AS = GATEWAY_PARTS + Gateway.lastAs;
export const COMMUNITIES = GATEWAY_PARTS + Gateway.communities;
export const LOCAL_PREF = GATEWAY_PARTS + Gateway.localPref;
export const SEGMENTS = GATEWAY_PARTS + Gateway.segments;
export const PATH_LENGTH = GATEWAY_PARTS + Gateway.pathLength;
const LAYOUT_SLOTS = GATEWAY_PARTS + GATEWAY_SLOTS;
if (LAYOUT_SLOTS > MAX_SLOTS) throw new Error('the plan memory has too few slots for a layout');

// A layout key. Each flow record kind appears at most once in a planned sample, and no fact of one
// depends on another or on their order, so the key says which are there and their variant:
// bit 0 the expanded sample format; bit 1 a raw header, bits 2-6 its Chain code; bit 7 an extended switch
// record, bits 8-11 which of its facts are valid; bit 12 an extended router record, bits 13-14 its
// next-hop type; bit 15 an extended gateway record, bits 16-17 its next-hop type; bits 18-19 the output
// interface format (0 an ifIndex or "local", 1 a discard, 2 multiple interfaces).
const K_EXPANDED = 1;
export const K_RAW = 1 << 1;
export const K_CHAIN = 2;
export const K_SWITCH = 1 << 7;
export const K_SWITCH_FACTS = 8;
export const K_ROUTER = 1 << 12;
export const K_ROUTER_HOP = 13;
export const K_GATEWAY = 1 << 15;
export const K_GATEWAY_HOP = 16;
export const K_OUTPUT = 18;
/** Flow records a planned sample has at most (one of each kind, and sampled Ethernet/IP records). */
export const MAX_RECORDS = 8;

export const HEADER_ETHERNET = 1;
// Switch record fact bits: which of its facts fit their field (an agent sends 0xFFFFFFFF for unknown).
const IN_VLAN = 1;
const IN_PRIORITY = 2;
const OUT_VLAN = 4;
const OUT_PRIORITY = 8;

/**
 * The layout key of the flow sample at [s, end) of `dg` (read through `dv`), or -1 when no plan can
 * decode it: every check the general decoder makes on these records, made here first. Fills `at`
 * (LAYOUT_SLOTS) with where its parts are. Reads only.
 */
export function layoutOf(dg: Uint8Array, dv: DataView, s: number, end: number, expanded: boolean, at: Int32Array): number {
  if (end - s < (expanded ? 44 : 32)) return -1;
  const q = expanded ? s + 12 : s + 8;
  const output = expanded ? dv.getUint32(q + 20) : dv.getUint32(q + 16) >>> 30;
  if (output > IF_MULTIPLE) return -1;
  let r = expanded ? q + 28 : q + 20;
  const count = dv.getUint32(r);
  if (count === 0 || count > MAX_RECORDS) return -1;
  r += 4;
  let key = (expanded ? K_EXPANDED : 0) | (output << K_OUTPUT);
  let sampled = false;
  for (let j = 0; j < count; j++) {
    if (end - r < 8) return -1;
    const format = dv.getUint32(r);
    const length = dv.getUint32(r + 4);
    const b = r + 8;
    if (length > end - b) return -1;
    r = b + length;
    if (format === RAW_PACKET_HEADER) {
      if (key & K_RAW || length < 16 || dv.getUint32(b) !== HEADER_ETHERNET) return -1;
      const headerLength = dv.getUint32(b + 12);
      if (headerLength > length - 16) return -1;
      const chain = commonChain(dg, b + 16, b + 16 + headerLength);
      if (chain < 0) return -1;
      key |= K_RAW | (chain << K_CHAIN);
      at[RAW] = b;
      at[IP] = chainAt[0]!;
      at[L4] = chainAt[1]!;
    } else if (format === EXTENDED_SWITCH) {
      if (key & K_SWITCH || length < 16) return -1;
      const facts =
        (dv.getUint32(b) <= MAX_VLAN ? IN_VLAN : 0) |
        (dv.getUint32(b + 4) <= MAX_PRIORITY ? IN_PRIORITY : 0) |
        (dv.getUint32(b + 8) <= MAX_VLAN ? OUT_VLAN : 0) |
        (dv.getUint32(b + 12) <= MAX_PRIORITY ? OUT_PRIORITY : 0);
      key |= K_SWITCH | (facts << K_SWITCH_FACTS);
      at[SWITCH] = b;
    } else if (format === EXTENDED_ROUTER) {
      // Next hop, then source and destination prefix lengths.
      if (key & K_ROUTER || length < 4) return -1;
      const type = dv.getUint32(b);
      const hop = addressLength(type);
      if (hop < 0 || length < 4 + hop + 8) return -1;
      key |= K_ROUTER | (type << K_ROUTER_HOP);
      at[ROUTER] = b;
      at[PREFIXES] = b + 4 + hop;
    } else if (format === EXTENDED_GATEWAY) {
      if (key & K_GATEWAY || walkGateway(dv, b, r, at, GATEWAY_PARTS) !== 0) return -1;
      key |= K_GATEWAY | (dv.getUint32(b) << K_GATEWAY_HOP);
      at[GATEWAY] = b;
    } else if (format === SAMPLED_ETHERNET || format === SAMPLED_IPV4 || format === SAMPLED_IPV6) {
      // Beside a decoded header they add nothing (its Ethernet and IP facts win, decode.ts flowRecords);
      // they are only checked, as there.
      if (length < (format === SAMPLED_ETHERNET ? 24 : format === SAMPLED_IPV4 ? 32 : 56)) return -1;
      sampled = true;
    } else return -1;
  }
  // Without a decoded header they are the sample's facts: the general path's.
  if (sampled && (key & K_RAW) === 0) return -1;
  at[SAMPLE] = s;
  at[Q] = q;
  return key;
}

/** Octets the variable-length fields of a planned record need at most, counting 3 for each prefix as
 *  decode.ts emitFlow does (so both place a record in the same staging area and hand on alike). */
export function variableOctets(at: Int32Array, dv: DataView, facts: Int32Array): number {
  let n = 0;
  for (let i = 0; i < facts.length; i++) n += 3 + (facts[i] === VariableFact.communities ? 5 + 4 * dv.getUint32(at[COMMUNITIES]!) : 4 * at[PATH_LENGTH]!);
  return n;
}

/** The layout a key stands for. */
export interface Layout {
  expanded: boolean;
  /** The output interface format. */
  output: number;
  /** Chain code of the raw header, -1 without one. */
  chain: number;
}

export function layoutOfKey(key: number): Layout {
  return { expanded: (key & K_EXPANDED) !== 0, output: (key >>> K_OUTPUT) & 3, chain: key & K_RAW ? (key >>> K_CHAIN) & 0x1f : -1 };
}
