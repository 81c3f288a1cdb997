// The flow view: what one sFlow flow sample says about its sampled packet, gathered from the sample's
// fields, its flow records and the decoded packet header into one fixed scratch record. Every fact has a
// fixed offset and belongs to a group; a group's bit is set in `mask` when the sample carried that fact.
// mappings/sflow.yaml maps view fields (by name) to Information Elements, and the decoder compiles one
// plan per group mask, so a record never carries a zero that stands for "not in the sample".
//
// Variable-length facts (the sampled header itself, BGP communities, the AS path, the tunnel technology)
// are not in the fixed record: they are kept as offsets into the datagram and appended after the fixed
// fields of the output record.

import { copyShort, setUint53 } from '../../util/octets.js';

/** Fact groups. A template's fields are the mapped fields whose group bit is set in the sample's mask. */
export const Group = {
  /** The flow sample itself: sampling rate, pool, drops, interfaces, forwarding status, time, counts. */
  sample: 1 << 0,
  /** A raw packet header record was present (frame length as sent, stripped octets). */
  frame: 1 << 1,
  /** Ethernet addresses and EtherType (from the header or a sampled Ethernet record). */
  ethernet: 1 << 2,
  /** One 802.1Q tag in the header (or the outer, service tag of a QinQ pair). */
  vlan: 1 << 3,
  /** The inner (customer) tag of a QinQ pair. */
  customerVlan: 1 << 4,
  /** An MPLS label stack in the header (up to three labels kept). */
  mpls: 1 << 5,
  /** Fields common to IPv4 and IPv6: version, protocol, class of service, layer-3 length and octets. */
  ip: 1 << 6,
  ipv4: 1 << 7,
  ipv6: 1 << 8,
  /** The packet is a fragment (IPv4 MF/offset, IPv6 Fragment header). */
  fragment: 1 << 9,
  /** TCP, UDP or SCTP ports. */
  ports: 1 << 10,
  tcp: 1 << 11,
  icmpv4: 1 << 12,
  icmpv6: 1 << 13,
  /** The exported flow is the inner flow of a tunnel (tunnelTechnology names it). */
  tunnel: 1 << 14,
  /** A GRE key. */
  greKey: 1 << 15,
  /** A VXLAN network identifier (layer2SegmentId). */
  vxlan: 1 << 16,
  /** A GTP-U tunnel endpoint identifier. */
  gtpu: 1 << 17,
  /** Extended switch record: the incoming VLAN (each switch fact is its own group: agents send 0xFFFFFFFF
   *  for "unknown", which no VLAN id or priority can hold, so such a fact is left out). */
  switchInVlan: 1 << 18,
  /** Extended router record: next hop (IPv4) ... */
  routerNextHopIPv4: 1 << 19,
  /** ... or next hop (IPv6). */
  routerNextHopIPv6: 1 << 20,
  /** Extended router prefix lengths (of an IPv4 or an IPv6 flow: the fields also need ipv4 or ipv6). */
  prefix: 1 << 21,
  /** Extended switch record: the outgoing VLAN. */
  switchOutVlan: 1 << 22,
  /** Extended gateway record: AS numbers (communities and AS path are variable-length, see below). */
  gateway: 1 << 23,
  gatewayNextHopIPv4: 1 << 24,
  gatewayNextHopIPv6: 1 << 25,
  /** The packet was discarded (input/output format 1): sFlow's reason code. */
  discard: 1 << 26,
  /** Sent to several output interfaces (output format 2): their number (0 = unknown). */
  multipleOutputs: 1 << 27,
  /** TTL / hop limit: known from a decoded header, not from sampled IPv4/IPv6 records (the decoder sets it
   *  whenever the header decoder set `ip`). */
  ttl: 1 << 28,
  /** Layer-2 octets of the sampled frame as the agent reports them (raw header frame_length, or sampled
   *  Ethernet length). */
  layer2: 1 << 29,
  /** Extended switch record: incoming and outgoing 802.1p priorities. */
  switchInPriority: 1 << 30,
  switchOutPriority: 1 << 31,
} as const;

export type GroupName = keyof typeof Group;

/** Fixed-length fields of the view: name, octets, group (and a second group the field also needs). */
const FIXED: ReadonlyArray<readonly [string, number, GroupName, GroupName?]> = [
  // sample
  ['sampleSequence', 4, 'sample'],
  ['sourceIdType', 1, 'sample'],
  ['sourceIdIndex', 4, 'sample'],
  ['samplingRate', 4, 'sample'],
  ['samplePool', 4, 'sample'],
  ['drops', 4, 'sample'],
  ['inputInterface', 4, 'sample'],
  ['outputInterface', 4, 'sample'],
  ['forwardingStatus', 1, 'sample'],
  ['packets', 8, 'sample'],
  ['observationTimeMs', 8, 'sample'],
  ['agentUptimeMs', 4, 'sample'],
  // frame
  ['frameLength', 4, 'frame'],
  /** frameLength (or the sampled Ethernet length), times the sampling rate when counts are scaled. */
  ['layer2Octets', 8, 'layer2'],
  ['strippedOctets', 4, 'frame'],
  ['headerProtocol', 4, 'frame'],
  // ethernet
  ['sourceMac', 6, 'ethernet'],
  ['destinationMac', 6, 'ethernet'],
  ['etherType', 2, 'ethernet'],
  // 802.1Q
  ['vlanId', 2, 'vlan'],
  ['vlanPriority', 1, 'vlan'],
  ['customerVlanId', 2, 'customerVlan'],
  ['customerVlanPriority', 1, 'customerVlan'],
  // MPLS: label stack entries as 3 octets (label 20 bits, TC 3, S 1), as RFC 7012 mplsTopLabelStackSection
  ['mplsLabel1', 3, 'mpls'],
  ['mplsLabel2', 3, 'mpls'],
  ['mplsLabel3', 3, 'mpls'],
  ['mplsTopLabelTtl', 1, 'mpls'],
  ['mplsDepth', 1, 'mpls'],
  // IP
  ['ipVersion', 1, 'ip'],
  ['protocol', 1, 'ip'],
  ['classOfService', 1, 'ip'],
  ['ttl', 1, 'ttl'],
  ['ipLength', 4, 'ip'],
  /** ipLength, times the sampling rate when counts are scaled. */
  ['octets', 8, 'ip'],
  ['sourceIPv4', 4, 'ipv4'],
  ['destinationIPv4', 4, 'ipv4'],
  ['sourceIPv6', 16, 'ipv6'],
  ['destinationIPv6', 16, 'ipv6'],
  /** Only a decoded IPv6 header has it (a sampled IPv6 record does not): it also needs `ttl`, the group
   *  of the facts only a decoded header gives, or the record would carry a stale value. */
  ['flowLabel', 4, 'ipv6', 'ttl'],
  ['fragmentId', 4, 'fragment'],
  ['fragmentOffset', 2, 'fragment'],
  ['fragmentFlags', 1, 'fragment'],
  // transport
  ['sourcePort', 2, 'ports'],
  ['destinationPort', 2, 'ports'],
  ['tcpFlags', 2, 'tcp'],
  ['icmpTypeCodeV4', 2, 'icmpv4'],
  ['icmpTypeCodeV6', 2, 'icmpv6'],
  // tunnels
  ['greKey', 4, 'greKey'],
  ['vxlanSegment', 8, 'vxlan'],
  ['gtpuTeid', 4, 'gtpu'],
  // extended switch
  ['switchInVlan', 2, 'switchInVlan'],
  ['switchInPriority', 1, 'switchInPriority'],
  ['switchOutVlan', 2, 'switchOutVlan'],
  ['switchOutPriority', 1, 'switchOutPriority'],
  // extended router
  ['routerNextHopIPv4', 4, 'routerNextHopIPv4'],
  ['routerNextHopIPv6', 16, 'routerNextHopIPv6'],
  ['sourcePrefixV4', 1, 'prefix', 'ipv4'],
  ['destinationPrefixV4', 1, 'prefix', 'ipv4'],
  ['sourcePrefixV6', 1, 'prefix', 'ipv6'],
  ['destinationPrefixV6', 1, 'prefix', 'ipv6'],
  // extended gateway
  ['routerAs', 4, 'gateway'],
  ['sourceAs', 4, 'gateway'],
  ['sourcePeerAs', 4, 'gateway'],
  ['destinationAs', 4, 'gateway'],
  ['destinationPeerAs', 4, 'gateway'],
  ['localPref', 4, 'gateway'],
  ['gatewayNextHopIPv4', 4, 'gatewayNextHopIPv4'],
  ['gatewayNextHopIPv6', 16, 'gatewayNextHopIPv6'],
  // discards, multiple outputs
  ['discardReason', 4, 'discard'],
  ['outputInterfaceCount', 4, 'multipleOutputs'],
];

/** Variable-length fields: appended after the fixed fields of a record, in mapping-table order. */
export const VARIABLE: ReadonlyArray<readonly [string, GroupName]> = [
  /** The sampled header as received (RFC 7133 dataLinkFrameSection); only when the config asks for it. */
  ['headerBytes', 'frame'],
  /** Extended gateway communities as a basicList of bgpCommunity (RFC 8549). */
  ['communities', 'gateway'],
  /** Extended gateway destination AS path, every AS number as 4 octets in path order. */
  ['asPath', 'gateway'],
  /** Name of the tunnel the exported inner flow was found in ("GRE", "IPIP", "VXLAN", "GTP-U"). */
  ['tunnelTechnology', 'tunnel'],
];

/** Indexes of VARIABLE, for the decoder's switch. */
export const VariableFact = { headerBytes: 0, communities: 1, asPath: 2, tunnelTechnology: 3 } as const;

export interface ViewField {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly group: GroupName;
  /** Group bits that must all be set for the field to be in a record. */
  readonly bits: number;
}

export const VIEW_FIELDS: ReadonlyMap<string, ViewField> = (() => {
  const m = new Map<string, ViewField>();
  let at = 0;
  for (const [name, length, group, also] of FIXED) {
    m.set(name, Object.freeze({ name, offset: at, length, group, bits: Group[group] | (also ? Group[also] : 0) }));
    at += length;
  }
  return m;
})();

export const VIEW_LENGTH = [...VIEW_FIELDS.values()].reduce((n, f) => n + f.length, 0);

function off(name: string): number {
  const f = VIEW_FIELDS.get(name);
  if (!f) throw new Error(`no view field ${name}`);
  return f.offset;
}

/** Offsets of the view fields, for the code that fills them (named like the fields). */
export const V = Object.freeze(Object.fromEntries([...VIEW_FIELDS.keys()].map((k) => [k, off(k)]))) as Readonly<Record<string, number>>;

/** Tunnel technologies, as the tunnelTechnology strings the output carries. */
export const TUNNEL_NAMES = ['', 'GRE', 'IPIP', 'VXLAN', 'GTP-U'] as const;
export const Tunnel = { none: 0, gre: 1, ipip: 2, vxlan: 3, gtpu: 4 } as const;

/**
 * One flow sample's facts. Reused for every sample (reset() clears only the mask and the variable-length
 * references; fixed fields are overwritten by whoever sets a group's bit, so stale bytes are never read).
 */
export class FlowView {
  readonly b = new Uint8Array(VIEW_LENGTH);
  private readonly dv = new DataView(this.b.buffer);
  mask = 0;
  /** The raw header record's bytes in the datagram: [headerStart, headerEnd). */
  headerStart = 0;
  headerEnd = 0;
  /** Communities: `communityCount` 4-octet values from `communityStart` in the datagram. */
  communityStart = 0;
  communityCount = 0;
  /** AS path segments from `asPathStart` in the datagram (XDR: type, count, ASNs), and how many ASNs in all. */
  asPathStart = 0;
  asPathSegments = 0;
  asPathLength = 0;
  /** Which tunnel the inner flow came from (Tunnel.*). */
  tunnel = 0;

  reset(): void {
    this.mask = 0;
    this.headerStart = this.headerEnd = 0;
    this.communityCount = 0;
    this.asPathSegments = this.asPathLength = 0;
    this.tunnel = 0;
  }

  u8(at: number, v: number): void {
    this.b[at] = v;
  }

  u16(at: number, v: number): void {
    this.dv.setUint16(at, v);
  }

  u24(at: number, v: number): void {
    this.b[at] = v >>> 16;
    this.b[at + 1] = v >>> 8;
    this.b[at + 2] = v;
  }

  u32(at: number, v: number): void {
    this.dv.setUint32(at, v);
  }

  /** A non-negative integer below 2^53 in 8 octets. */
  u64(at: number, v: number): void {
    setUint53(this.dv, at, v);
  }

  /** The 32-bit field at `at`, as written. */
  get32(at: number): number {
    return this.dv.getUint32(at);
  }

  /** A 6-octet MAC address from `src` at s (two moves, not an octet loop). */
  mac(at: number, src: DataView, s: number): void {
    this.dv.setUint32(at, src.getUint32(s));
    this.dv.setUint16(at + 4, src.getUint16(s + 4));
  }

  /** A 4-octet IPv4 address from `src` at s. */
  ipv4(at: number, src: DataView, s: number): void {
    this.dv.setUint32(at, src.getUint32(s));
  }

  /** A 16-octet IPv6 address from `src` at s. */
  ipv6(at: number, src: DataView, s: number): void {
    const d = this.dv;
    d.setUint32(at, src.getUint32(s));
    d.setUint32(at + 4, src.getUint32(s + 4));
    d.setUint32(at + 8, src.getUint32(s + 8));
    d.setUint32(at + 12, src.getUint32(s + 12));
  }

  /** Copies `n` octets from `src` at s. */
  copy(at: number, src: DataView, s: number, n: number): void {
    copyShort(src, s, this.dv, at, n);
  }
}
