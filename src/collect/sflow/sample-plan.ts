// Compiled flow-sample plans. Most flow samples of an agent come in a handful of layouts: the same sample
// format, the same flow records, the same kind of sampled frame (commonChain: Ethernet, one tag at most,
// IPv4 or IPv6 without options, TCP/UDP/SCTP/ICMP). For such a layout every fact sits at
// a fixed distance from a few positions, and the record shape (the template) is fixed too, so one
// straight-line function per layout can read each fact from the datagram and write it at its place in the
// record: no view, no copy out of it, no branch per record or per field. The general decoder
// (decode.ts: view, header walk, shape copy) decodes the first sample of each layout, which names the
// shape, and every sample whose layout is not one of these; sample-plan.test.ts holds the plans to it,
// record for record, octet for octet.
//
// layoutOf() checks everything a plan relies on (every length, the frame's chain, the values that decide
// the shape: the output interface format, which switch facts are valid, the next-hop types) and returns
// the layout's key; it reads only. The plan then only writes. Generated text holds numbers only.

import { setUint53 } from '../../util/octets.js';
import { Gateway, GATEWAY_SLOTS, walkGateway, writeAsPath, writeCommunities } from './gateway.js';
import { Chain, chainAt, commonChain } from './header.js';
import { CONSUMED_FOR_US, FORWARDED, forwardingStatusOfDiscard } from './forwarding-status.js';
import {
  addressLength,
  EXTENDED_GATEWAY,
  EXTENDED_ROUTER,
  EXTENDED_SWITCH,
  IF_DISCARD,
  IF_INDEX,
  IF_LOCAL,
  IF_MULTIPLE,
  MAX_PRIORITY,
  MAX_VLAN,
  RAW_PACKET_HEADER,
  SAMPLED_ETHERNET,
  SAMPLED_IPV4,
  SAMPLED_IPV6,
} from './formats.js';
import type { Shape } from './shapes.js';
import { V, VariableFact } from './view.js';

/** Where layoutOf found the parts of the sample, by slot of `at` (offsets in the datagram). */
const SAMPLE = 0;
/** After the source ID: sampling rate, pool, drops, interfaces. */
const Q = 1;
/** The raw packet header record's body, its IP header and its transport header. */
const RAW = 2;
const IP = 3;
const L4 = 4;
/** The extended switch record's body. */
const SWITCH = 5;
/** The extended router record's body and its prefix lengths (after the next hop). */
const ROUTER = 6;
const PREFIXES = 7;
/** The extended gateway record's body, then what walkGateway found in it (gateway.ts Gateway). */
const GATEWAY = 8;
const GATEWAY_PARTS = 9;
const AS_NUMBERS = GATEWAY_PARTS + Gateway.asNumbers;
const PATH = GATEWAY_PARTS + Gateway.path;
const FIRST_AS = GATEWAY_PARTS + Gateway.firstAs;
const LAST_AS = GATEWAY_PARTS + Gateway.lastAs;
const COMMUNITIES = GATEWAY_PARTS + Gateway.communities;
const LOCAL_PREF = GATEWAY_PARTS + Gateway.localPref;
const SEGMENTS = GATEWAY_PARTS + Gateway.segments;
const PATH_LENGTH = GATEWAY_PARTS + Gateway.pathLength;
export const LAYOUT_SLOTS = GATEWAY_PARTS + GATEWAY_SLOTS;

// A layout key. Each flow record kind appears at most once in a planned sample, and no fact of one
// depends on another or on their order, so the key says which are there and their variant:
// bit 0 the expanded sample format; bit 1 a raw header, bits 2-6 its Chain code; bit 7 an extended switch
// record, bits 8-11 which of its facts are valid; bit 12 an extended router record, bits 13-14 its
// next-hop type; bit 15 an extended gateway record, bits 16-17 its next-hop type; bits 18-19 the output
// interface format (0 an ifIndex or "local", 1 a discard, 2 multiple interfaces).
const K_EXPANDED = 1;
const K_RAW = 1 << 1;
const K_CHAIN = 2;
const K_SWITCH = 1 << 7;
const K_SWITCH_FACTS = 8;
const K_ROUTER = 1 << 12;
const K_ROUTER_HOP = 13;
const K_GATEWAY = 1 << 15;
const K_GATEWAY_HOP = 16;
const K_OUTPUT = 18;
/** Flow records a planned sample has at most (one of each kind, and sampled Ethernet/IP records). */
const MAX_RECORDS = 8;

const HEADER_ETHERNET = 1;
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

/** Writes one record of the plan's shape at d of dv; returns where it ends. */
export type PlanWrite = (dv: DataView, d: number) => number;

export interface SamplePlan {
  readonly shape: Shape;
  readonly write: PlanWrite;
}

/** The layout a key stands for. */
interface Layout {
  expanded: boolean;
  /** The output interface format. */
  output: number;
  /** Chain code of the raw header, -1 without one. */
  chain: number;
}

function layoutOfKey(key: number): Layout {
  return { expanded: (key & K_EXPANDED) !== 0, output: (key >>> K_OUTPUT) & 3, chain: key & K_RAW ? (key >>> K_CHAIN) & 0x1f : -1 };
}

/**
 * The source expression of each view field a layout can give, as [octets it writes, expression]: a number
 * for the field, or an octet copy (`copy:` and the source offset) for addresses. Undefined: the layout does
 * not give it, and no plan is made (the general decoder then decodes every such sample).
 */
function expression(field: string, l: Layout): string | undefined {
  const v6 = l.chain >= 0 && (l.chain & Chain.ipv6) !== 0;
  const raw = l.chain >= 0;
  const ipLength = v6 ? 'S.getUint16(ip + 4) + 40' : 'S.getUint16(ip + 2)';
  switch (field) {
    case 'sampleSequence': return 'S.getUint32(s)';
    case 'sourceIdType': return l.expanded ? 'S.getUint32(s + 4)' : 'S.getUint8(s + 4)';
    case 'sourceIdIndex': return l.expanded ? 'S.getUint32(s + 8)' : 'S.getUint32(s + 4) & 0xffffff';
    case 'samplingRate': return 'rate';
    case 'samplePool': return 'S.getUint32(q + 4)';
    case 'drops': return 'S.getUint32(q + 8)';
    // Input: an ifIndex, 0 when unknown or "local" (decode.ts flowSample).
    // `input` is the compact word (format in its top 2 bits), or the expanded value after its format.
    case 'inputInterface': return l.expanded ? `(S.getUint32(q + 12) === 0 && input !== ${IF_LOCAL} ? input : 0)` : `(input >>> 30 === 0 && input !== ${IF_LOCAL} ? input : 0)`;
    // Output (`output` is the interface value): an ifIndex, 0 for "local", a discard or several interfaces.
    case 'outputInterface': return l.output === IF_INDEX ? `(output === ${IF_LOCAL} ? 0 : output)` : '0';
    case 'forwardingStatus':
      if (l.output === IF_DISCARD) return 'forwardingStatusOfDiscard(output)';
      return l.output === IF_INDEX ? `(output === ${IF_LOCAL} ? ${CONSUMED_FOR_US} : ${FORWARDED})` : `${FORWARDED}`;
    case 'discardReason': return l.output === IF_DISCARD ? 'output' : undefined;
    case 'outputInterfaceCount': return l.output === IF_MULTIPLE ? 'output' : undefined;
    case 'packets': return 'mult';
    case 'observationTimeMs': return `copy-view:${V.observationTimeMs}`;
    case 'agentUptimeMs': return `copy-view:${V.agentUptimeMs}`;
  }
  if (raw) {
    switch (field) {
      case 'headerProtocol': return 'S.getUint32(raw)';
      case 'frameLength': return 'S.getUint32(raw + 4)';
      case 'strippedOctets': return 'S.getUint32(raw + 8)';
      case 'layer2Octets': return 'mult * S.getUint32(raw + 4)';
      case 'destinationMac': return 'copy:raw + 16';
      case 'sourceMac': return 'copy:raw + 22';
      case 'etherType': return 'S.getUint16(ip - 2)';
      case 'vlanId': return 'S.getUint16(raw + 30) & 0x0fff';
      case 'vlanPriority': return 'S.getUint16(raw + 30) >>> 13';
      case 'ipVersion': return v6 ? '6' : '4';
      case 'protocol': return v6 ? 'S.getUint8(ip + 6)' : 'S.getUint8(ip + 9)';
      case 'classOfService': return v6 ? '(S.getUint32(ip) >>> 20) & 0xff' : 'S.getUint8(ip + 1)';
      case 'ttl': return v6 ? 'S.getUint8(ip + 7)' : 'S.getUint8(ip + 8)';
      case 'ipLength': return ipLength;
      case 'octets': return `mult * (${ipLength})`;
      case 'sourceIPv4': return v6 ? undefined : 'copy:ip + 12';
      case 'destinationIPv4': return v6 ? undefined : 'copy:ip + 16';
      case 'sourceIPv6': return v6 ? 'copy:ip + 8' : undefined;
      case 'destinationIPv6': return v6 ? 'copy:ip + 24' : undefined;
      case 'flowLabel': return v6 ? 'S.getUint32(ip) & 0xfffff' : undefined;
      case 'sourcePort': return 'S.getUint16(l4)';
      case 'destinationPort': return 'S.getUint16(l4 + 2)';
      case 'tcpFlags': return 'S.getUint16(l4 + 12) & 0x0fff';
      case 'icmpTypeCodeV4':
      case 'icmpTypeCodeV6': return 'S.getUint16(l4)';
    }
  }
  switch (field) {
    case 'switchInVlan': return 'S.getUint32(sw)';
    case 'switchInPriority': return 'S.getUint32(sw + 4)';
    case 'switchOutVlan': return 'S.getUint32(sw + 8)';
    case 'switchOutPriority': return 'S.getUint32(sw + 12)';
    case 'routerNextHopIPv4':
    case 'routerNextHopIPv6': return 'copy:router + 4';
    case 'sourcePrefixV4':
    case 'sourcePrefixV6': return 'S.getUint32(prefixes)';
    case 'destinationPrefixV4':
    case 'destinationPrefixV6': return 'S.getUint32(prefixes + 4)';
    case 'gatewayNextHopIPv4':
    case 'gatewayNextHopIPv6': return 'copy:gateway + 4';
    case 'routerAs': return 'S.getUint32(asNumbers)';
    case 'sourceAs': return 'S.getUint32(asNumbers + 4)';
    case 'sourcePeerAs': return 'S.getUint32(asNumbers + 8)';
    // The path leads from the next AS (the destination peer) to the origin AS (the destination).
    case 'destinationPeerAs': return `(at[${FIRST_AS}] < 0 ? 0 : S.getUint32(at[${FIRST_AS}]))`;
    case 'destinationAs': return `(at[${LAST_AS}] < 0 ? 0 : S.getUint32(at[${LAST_AS}]))`;
    case 'localPref': return `S.getUint32(at[${LOCAL_PREF}])`;
  }
  return undefined;
}

/** Source text of a plan: one write per column of the shape, in its order, then its variable-length
 *  fields. Undefined when a column has no expression. */
export function planSource(key: number, shape: Shape, scale: boolean): string | undefined {
  const l = layoutOfKey(key);
  const lines = [
    '"use strict";',
    'return function write(dv, d) {',
    `const s = at[${SAMPLE}], q = at[${Q}], raw = at[${RAW}], ip = at[${IP}], l4 = at[${L4}], sw = at[${SWITCH}], router = at[${ROUTER}], prefixes = at[${PREFIXES}], gateway = at[${GATEWAY}], asNumbers = at[${AS_NUMBERS}];`,
    'const rate = S.getUint32(q);',
    // Counts: one sampled packet, or scaled by the sampling rate (decode.ts flowSample).
    scale ? 'const mult = rate > 0 ? rate : 1;' : 'const mult = 1;',
    l.expanded ? 'const input = S.getUint32(q + 16);' : 'const input = S.getUint32(q + 12);',
    l.expanded ? 'const output = S.getUint32(q + 24);' : 'const output = S.getUint32(q + 16) & 0x3fffffff;',
  ];
  let to = 0;
  for (const c of shape.columns) {
    const e = expression(c.field, l);
    if (e === undefined) return undefined;
    if (e.startsWith('copy')) {
      const [source, from] = e.startsWith('copy-view:') ? ['W', e.slice(10)] : ['S', e.slice(5)];
      let k = 0;
      for (; c.length - k >= 4; k += 4) lines.push(`dv.setUint32(d + ${to + k}, ${source}.getUint32(${from} + ${k}));`);
      if (c.length - k >= 2) {
        lines.push(`dv.setUint16(d + ${to + k}, ${source}.getUint16(${from} + ${k}));`);
        k += 2;
      }
      if (c.length - k === 1) lines.push(`dv.setUint8(d + ${to + k}, ${source}.getUint8(${from} + ${k}));`);
    } else if (c.length === 8) {
      // Unscaled, every 8-octet fact (a count of one, a length) is below 2^32.
      if (scale) lines.push(`u64(dv, d + ${to}, ${e});`);
      else lines.push(`dv.setUint32(d + ${to}, 0);`, `dv.setUint32(d + ${to + 4}, ${e});`);
    } else if (c.length === 4) lines.push(`dv.setUint32(d + ${to}, ${e});`);
    else if (c.length === 2) lines.push(`dv.setUint16(d + ${to}, ${e});`);
    else if (c.length === 1) lines.push(`dv.setUint8(d + ${to}, ${e});`);
    else return undefined;
    to += c.length;
  }
  lines.push(`d += ${to};`);
  for (const fact of shape.variableFacts) {
    if (fact === VariableFact.communities) lines.push(`d = writeCommunities(S, at[${COMMUNITIES}], dv, d);`);
    else if (fact === VariableFact.asPath) lines.push(`d = writeAsPath(S, at[${PATH}], at[${SEGMENTS}], at[${PATH_LENGTH}], dv, d);`);
    else return undefined; // the sampled header itself, a tunnel name: not in a planned layout
  }
  lines.push('return d;', '};');
  return lines.join('\n');
}

/**
 * The plan of layout `key` for `shape`, or null when none can be made (a column or variable-length field
 * the layout does not give). `datagram`: the decoder's datagram; `view`: its flow view (the datagram's
 * time and uptime are copied from it); `at`: what layoutOf filled.
 */
export function compilePlan(key: number, shape: Shape, scale: boolean, datagram: DataView, view: DataView, at: Int32Array): SamplePlan | null {
  const text = planSource(key, shape, scale);
  if (text === undefined) return null;
  const make = new Function('S', 'W', 'at', 'u64', 'writeCommunities', 'writeAsPath', 'forwardingStatusOfDiscard', text) as (...a: unknown[]) => PlanWrite;
  return { shape, write: make(datagram, view, at, setUint53, writeCommunities, writeAsPath, forwardingStatusOfDiscard) };
}
