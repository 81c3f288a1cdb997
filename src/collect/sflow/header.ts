// The sampled packet header of an sFlow raw packet header record (sFlow v5, flow record enterprise 0
// format 1), decoded into the flow view: Ethernet II / 802.3, 802.1Q and QinQ tags, MPLS label stacks
// (with EoMPLS pseudowires), IPv4 (options, fragments), IPv6 (extension headers), TCP, UDP, SCTP, ICMP,
// ICMPv6, and the tunnels GRE (RFC 2784/2890, and PPTP's enhanced GRE, RFC 2637), IP-in-IP (RFC 2003,
// RFC 4213, RFC 2473), VXLAN (RFC 7348) and GTP-U (3GPP TS 29.281).
//
// Agents snap the header (128 octets is the usual default), so truncation is normal: every layer is
// decoded only as far as its bytes are inside the record, and a group's bit is set only once all of its
// fields have been read. Layers are walked by one bounded loop (no recursion): each step decodes one
// layer and names the next one, so crafted nesting ends after MAX_LAYERS steps. The common frame
// (Ethernet, IPv4/IPv6 without options, TCP/UDP/ICMP: commonChain) is decoded in one pass before that.
//
// Tunnels: by default the exported flow is the innermost one whose IP header is complete; `view.tunnel`
// and the `tunnel` group then name the tunnel that directly carries it (the innermost tunnel). The tunnel
// description groups (greKey, vxlan, gtpu) are set for every such tunnel passed (the innermost wins).
// With keepOuter the walk stops at the first IP header and its transport header; a recognised tunnel
// there still sets its description group, but not `tunnel` (the exported flow is not an inner flow).
// Ethernet addresses, EtherType and VLAN tags always come from the outermost Ethernet header: that is
// the frame that was on the sampled wire. MPLS fields come from the outermost label stack.
//
// Runs once per flow sample: no allocation, no closures, no views over the input.

import { FlowView, Group, Tunnel, V } from './view.js';

/** sFlow header_protocol values this decoder understands. */
export const HeaderProtocol = { ethernet: 1, ipv4: 11, ipv6: 12 } as const;
export const HeaderOutcome = { ok: 0, unsupportedProtocol: 1, truncated: 2 } as const;

/** Layer steps at most (each Ethernet header, label stack, IP header with its transport is one). */
export const MAX_LAYERS = 12;
/** 802.1Q tags walked at most per Ethernet header, and MPLS label stack entries at most per stack. */
const MAX_TAGS = 8;
const MAX_LABELS = 32;
/** IPv6 extension headers walked at most per IPv6 header. */
const MAX_EXTENSIONS = 16;

// What the next step decodes.
const STOP = 0;
const ETHERNET = 1;
const MPLS = 2;
const IPV4 = 3;
const IPV6 = 4;

// EtherTypes (IEEE registry).
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100; // 802.1Q C-tag
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad S-tag
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_TEB = 0x6558; // transparent Ethernet bridging (GRE, RFC 1701)
const ETHERTYPE_PPP = 0x880b; // PPTP's enhanced GRE payload
/** 802.3: a value up to 1500 in the type position is a length, and an LLC header follows. */
const MAX_8023_LENGTH = 1500;

// IP protocol numbers (IANA).
const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPPROTO_ROUTING = 43;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_GRE = 47;
const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;

export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_GTPU = 2152;
const GTP_GPDU = 255;

// PPP protocol field values for IP (RFC 1332, RFC 5072).
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

/** IPFIX fragmentFlags (IE 197): bit 0 is the most significant; bit 1 DF, bit 2 MF — the IPv4 header's own
 *  flag positions, so the IPv4 flags octet masked with 0xe0 is the IE's value. */
const FRAGMENT_MF = 0x20;
/** layer2SegmentId (IE 351): the top octet names the segment type; 0x01 is a VXLAN VNI. */
const SEGMENT_TYPE_VXLAN = 0x01;

/** Groups that describe the exported IP packet; cleared when an IP header is taken. */
const PACKET_GROUPS =
  Group.ip | Group.ipv4 | Group.ipv6 | Group.fragment | Group.ports | Group.tcp | Group.icmpv4 | Group.icmpv6 | Group.ttl;

const O_SRC_MAC = V.sourceMac!;
const O_DST_MAC = V.destinationMac!;
const O_ETHERTYPE = V.etherType!;
const O_VLAN_ID = V.vlanId!;
const O_VLAN_PRIO = V.vlanPriority!;
const O_CVLAN_ID = V.customerVlanId!;
const O_CVLAN_PRIO = V.customerVlanPriority!;
const O_MPLS1 = V.mplsLabel1!;
const O_MPLS2 = V.mplsLabel2!;
const O_MPLS3 = V.mplsLabel3!;
const O_MPLS_TTL = V.mplsTopLabelTtl!;
const O_MPLS_DEPTH = V.mplsDepth!;
const O_IP_VERSION = V.ipVersion!;
const O_PROTOCOL = V.protocol!;
const O_TOS = V.classOfService!;
const O_TTL = V.ttl!;
const O_IP_LENGTH = V.ipLength!;
const O_SRC_V4 = V.sourceIPv4!;
const O_DST_V4 = V.destinationIPv4!;
const O_SRC_V6 = V.sourceIPv6!;
const O_DST_V6 = V.destinationIPv6!;
const O_FLOW_LABEL = V.flowLabel!;
const O_FRAG_ID = V.fragmentId!;
const O_FRAG_OFFSET = V.fragmentOffset!;
const O_FRAG_FLAGS = V.fragmentFlags!;
const O_SRC_PORT = V.sourcePort!;
const O_DST_PORT = V.destinationPort!;
const O_TCP_FLAGS = V.tcpFlags!;
const O_ICMP4 = V.icmpTypeCodeV4!;
const O_ICMP6 = V.icmpTypeCodeV6!;
const O_GRE_KEY = V.greKey!;
const O_VXLAN = V.vxlanSegment!;
const O_TEID = V.gtpuTeid!;

// Walk state shared by the layer steps of one call (module scope so the steps allocate nothing; one
// decodeHeader call runs to completion before the next starts).
/** What the next step decodes, and from where. */
let next = STOP;
/** The outermost Ethernet header / label stack has been recorded. */
let sawEthernet = false;
let sawMpls = false;
/** IP headers recorded so far, and the tunnel the next one would be the inner packet of. */
let ipHeaders = 0;
let pendingTunnel = 0;
let keepOuterFlow = false;

/** A DataView over the bytes being decoded: made again only when the caller passes other bytes (the sFlow
 *  decoder always passes its one datagram buffer), so a read is a single load. */
let bytes: Uint8Array | undefined;
let dv!: DataView;

/** Reads go to src from now on. */
function bind(src: Uint8Array): void {
  if (src !== bytes) {
    bytes = src;
    dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }
}

function u16(i: number): number {
  return dv.getUint16(i);
}

function u32(i: number): number {
  return dv.getUint32(i);
}

/** What follows an EtherType (after tags), for every Ethernet-like payload. */
function kindOfEtherType(t: number): number {
  if (t === ETHERTYPE_IPV4) return IPV4;
  if (t === ETHERTYPE_IPV6) return IPV6;
  if (t === ETHERTYPE_MPLS || t === ETHERTYPE_MPLS_MULTICAST) return MPLS;
  return STOP;
}

/** A payload without a type field (MPLS, GTP-U) is recognised by its IP version nibble. */
function kindOfVersionNibble(s: Uint8Array, at: number, end: number): number {
  if (at >= end) return STOP;
  const version = s[at]! >>> 4;
  if (version === 4) return IPV4;
  if (version === 6) return IPV6;
  return STOP;
}

function isVlanTpid(t: number): boolean {
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ || t === ETHERTYPE_QINQ_OLD;
}

/**
 * Ethernet II or 802.3 header with its 802.1Q tags. Only the outermost Ethernet header is recorded: outer
 * tag → vlan, second tag → customerVlan (further tags are walked, not kept), and the addresses with the
 * EtherType of the payload after the tags once that is known. Inner frames (EoMPLS, VXLAN, GRE bridging)
 * are only walked through.
 */
function ethernet(s: Uint8Array, at: number, end: number, view: FlowView): number {
  next = STOP;
  if (end - at < 14) return at;
  const record = !sawEthernet;
  sawEthernet = true;
  const header = at;
  let type = u16(at + 12);
  at += 14;
  // 802.1Q tag: TPID (already read as `type`), then TCI = PCP(3) DEI(1) VID(12), then the next type.
  for (let tags = 0; isVlanTpid(type) && tags < MAX_TAGS; tags++) {
    if (end - at < 4) return at;
    const tci = u16(at);
    type = u16(at + 2);
    if (record && tags === 0) {
      view.u16(O_VLAN_ID, tci & 0x0fff);
      view.u8(O_VLAN_PRIO, tci >>> 13);
      view.mask |= Group.vlan;
    } else if (record && tags === 1) {
      view.u16(O_CVLAN_ID, tci & 0x0fff);
      view.u8(O_CVLAN_PRIO, tci >>> 13);
      view.mask |= Group.customerVlan;
    }
    at += 4;
  }
  let snap = false;
  if (type <= MAX_8023_LENGTH) {
    // 802.3 length: an LLC header follows. Only SNAP (AA AA 03, OUI, EtherType) names a protocol; other
    // LLC frames have no EtherType (recorded as 0).
    if (end - at < 3) return at;
    snap = s[at] === 0xaa && s[at + 1] === 0xaa && s[at + 2] === 0x03;
    if (snap && end - at < 8) return at;
    type = snap ? u16(at + 6) : 0;
  }
  if (record) {
    view.mac(O_DST_MAC, dv, header);
    view.mac(O_SRC_MAC, dv, header + 6);
    view.u16(O_ETHERTYPE, type);
    view.mask |= Group.ethernet;
  }
  if (type === 0) return at;
  if (snap) at += 8;
  next = kindOfEtherType(type);
  return at;
}

/**
 * MPLS label stack (RFC 3032): 4-octet entries label(20) TC(3) S(1) TTL(8) down to the bottom of stack.
 * The outermost stack is recorded once it is complete: up to three entries as 3 octets (label<<4 | TC<<1
 * | S, as mplsTopLabelStackSection), the top entry's TTL and the depth. The payload has no type field: its
 * first nibble tells IPv4 (4), IPv6 (6), or a pseudowire control word (0, RFC 4385) before Ethernet.
 */
function mpls(s: Uint8Array, at: number, end: number, view: FlowView): number {
  next = STOP;
  const top = at;
  let depth = 0;
  for (;;) {
    if (end - at < 4 || depth >= MAX_LABELS) return at;
    const bottom = (s[at + 2]! & 0x01) !== 0;
    at += 4;
    depth++;
    if (bottom) break;
  }
  if (!sawMpls) {
    sawMpls = true;
    view.copy(O_MPLS1, dv, top, 3);
    if (depth > 1) view.copy(O_MPLS2, dv, top + 4, 3);
    else view.u24(O_MPLS2, 0);
    if (depth > 2) view.copy(O_MPLS3, dv, top + 8, 3);
    else view.u24(O_MPLS3, 0);
    view.u8(O_MPLS_TTL, s[top + 3]!);
    view.u8(O_MPLS_DEPTH, depth > 255 ? 255 : depth);
    view.mask |= Group.mpls;
  }
  if (at < end && s[at]! >>> 4 === 0) {
    // Pseudowire control word (4 octets), then the emulated Ethernet frame.
    if (end - at < 4) return at;
    next = ETHERNET;
    return at + 4;
  }
  next = kindOfVersionNibble(s, at, end);
  return at;
}

/**
 * True when this IP header is to be decoded: the first one always, inner ones unless keepOuter. The packet
 * facts are cleared first, so they all describe this one packet (not an outer one, nor what a sampled
 * IPv4/IPv6 record of the same sample said: a decoded header wins).
 */
function takeIpHeader(view: FlowView): boolean {
  if (ipHeaders > 0 && keepOuterFlow) return false;
  view.mask &= ~PACKET_GROUPS;
  ipHeaders++;
  if (pendingTunnel !== Tunnel.none) {
    view.tunnel = pendingTunnel;
    view.mask |= Group.tunnel;
  }
  return true;
}

/** IPv4 header (RFC 791), options skipped by IHL, then the transport of a first (or only) fragment. */
function ipv4(s: Uint8Array, at: number, end: number, view: FlowView): number {
  next = STOP;
  if (end - at < 20) return at;
  const ihl = (s[at]! & 0x0f) * 4;
  if (s[at]! >>> 4 !== 4 || ihl < 20) return at;
  if (!takeIpHeader(view)) return at;
  const protocol = s[at + 9]!;
  view.u8(O_IP_VERSION, 4);
  view.u8(O_PROTOCOL, protocol);
  view.u8(O_TOS, s[at + 1]!);
  view.u8(O_TTL, s[at + 8]!);
  view.u32(O_IP_LENGTH, u16(at + 2));
  view.ipv4(O_SRC_V4, dv, at + 12);
  view.ipv4(O_DST_V4, dv, at + 16);
  view.mask |= Group.ip | Group.ipv4 | Group.ttl;
  // Flags (reserved, DF, MF) and the fragment offset in 8-octet units, as fragmentFlags/fragmentOffset want.
  const flags = s[at + 6]! & 0xe0;
  const offset = u16(at + 6) & 0x1fff;
  if ((flags & FRAGMENT_MF) !== 0 || offset !== 0) {
    view.u32(O_FRAG_ID, u16(at + 4));
    view.u16(O_FRAG_OFFSET, offset);
    view.u8(O_FRAG_FLAGS, flags);
    view.mask |= Group.fragment;
  }
  if (end - at < ihl) return at;
  if (offset !== 0) return at + ihl; // a later fragment carries no transport header
  return transport(s, at + ihl, end, protocol, view);
}

/**
 * IPv6 header (RFC 8200) and its extension headers. `protocol` is the upper-layer protocol after the
 * extension headers (ESP and No Next Header end the chain). When the snapshot cuts the chain, the protocol
 * is unknown: the addresses, flow label and hop limit are kept, the `ip` group is not set.
 */
function ipv6(s: Uint8Array, at: number, end: number, view: FlowView): number {
  next = STOP;
  if (end - at < 40) return at;
  const first = u32(at);
  if (first >>> 28 !== 6) return at;
  if (!takeIpHeader(view)) return at;
  view.u8(O_IP_VERSION, 6);
  view.u8(O_TOS, (first >>> 20) & 0xff);
  view.u32(O_FLOW_LABEL, first & 0xfffff);
  view.u32(O_IP_LENGTH, u16(at + 4) + 40);
  view.u8(O_TTL, s[at + 7]!);
  view.ipv6(O_SRC_V6, dv, at + 8);
  view.ipv6(O_DST_V6, dv, at + 24);
  let header = s[at + 6]!;
  at += 40;
  let offset = 0;
  let complete = false;
  for (let n = 0; n < MAX_EXTENSIONS; n++) {
    if (header === IPPROTO_HOPOPTS || header === IPPROTO_ROUTING || header === IPPROTO_DSTOPTS) {
      // Next Header, Hdr Ext Len in 8-octet units not counting the first 8.
      if (end - at < 8) break;
      const length = (s[at + 1]! + 1) * 8;
      if (end - at < length) break;
      header = s[at]!;
      at += length;
    } else if (header === IPPROTO_AH) {
      // Authentication Header (RFC 4302): Payload Len in 4-octet units minus 2.
      if (end - at < 8) break;
      const length = (s[at + 1]! + 2) * 4;
      if (end - at < length) break;
      header = s[at]!;
      at += length;
    } else if (header === IPPROTO_FRAGMENT) {
      // Fragment header: Next Header, reserved, Fragment Offset(13) Res(2) M(1), Identification(32).
      if (end - at < 8) break;
      const word = u16(at + 2);
      offset = word >>> 3;
      view.u32(O_FRAG_ID, u32(at + 4));
      view.u16(O_FRAG_OFFSET, offset);
      view.u8(O_FRAG_FLAGS, (word & 1) !== 0 ? FRAGMENT_MF : 0);
      view.mask |= Group.fragment;
      header = s[at]!;
      at += 8;
    } else {
      // An upper-layer protocol, ESP (50: the rest is encrypted) or No Next Header (59).
      complete = true;
      break;
    }
  }
  view.mask |= Group.ipv6 | Group.ttl;
  // protocolIdentifier is the Next Header of the last extension header: unknown when the chain is cut.
  if (!complete) return at;
  view.u8(O_PROTOCOL, header);
  view.mask |= Group.ip;
  if (offset !== 0) return at;
  return transport(s, at, end, header, view);
}

/** The transport header after an IP header (of a first fragment): ports, flags, ICMP type and code,
 *  or a tunnel whose payload the next step decodes. */
function transport(s: Uint8Array, at: number, end: number, protocol: number, view: FlowView): number {
  const left = end - at;
  switch (protocol) {
    case IPPROTO_TCP:
      if (left < 4) return at;
      view.u16(O_SRC_PORT, u16(at));
      view.u16(O_DST_PORT, u16(at + 2));
      view.mask |= Group.ports;
      // Octets 12-13: data offset(4), then the 12 control bits (NS, CWR, ECE, URG ... FIN). tcpControlBits
      // (IE 6, RFC 7125) is those 16 bits with the data offset zeroed.
      if (left < 14) return at;
      view.u16(O_TCP_FLAGS, u16(at + 12) & 0x0fff);
      view.mask |= Group.tcp;
      return at;
    case IPPROTO_UDP: {
      if (left < 4) return at;
      const sport = u16(at);
      const dport = u16(at + 2);
      view.u16(O_SRC_PORT, sport);
      view.u16(O_DST_PORT, dport);
      view.mask |= Group.ports;
      if (left < 8) return at;
      if (dport === UDP_PORT_VXLAN) return vxlan(s, at + 8, end, view);
      if (dport === UDP_PORT_GTPU || sport === UDP_PORT_GTPU) return gtpu(s, at + 8, end, view);
      return at;
    }
    case IPPROTO_SCTP:
      if (left < 4) return at;
      view.u16(O_SRC_PORT, u16(at));
      view.u16(O_DST_PORT, u16(at + 2));
      view.mask |= Group.ports;
      return at;
    case IPPROTO_ICMP:
      if (left < 2) return at;
      view.u16(O_ICMP4, u16(at));
      view.mask |= Group.icmpv4;
      return at;
    case IPPROTO_ICMPV6:
      if (left < 2) return at;
      view.u16(O_ICMP6, u16(at));
      view.mask |= Group.icmpv6;
      return at;
    case IPPROTO_GRE:
      return gre(s, at, end, view);
    case IPPROTO_IPIP:
      return tunnelTo(IPV4, Tunnel.ipip, at);
    case IPPROTO_IPV6:
      return tunnelTo(IPV6, Tunnel.ipip, at);
    default:
      return at;
  }
}

/** Continue into a tunnel's payload, unless the outer flow is kept. */
function tunnelTo(kind: number, tunnel: number, at: number): number {
  if (keepOuterFlow || kind === STOP) return at;
  pendingTunnel = tunnel;
  next = kind;
  return at;
}

/**
 * GRE. Version 0 (RFC 2784, RFC 2890): C R K S flags, then checksum+reserved (if C or R), key (if K),
 * sequence number (if S); the payload's EtherType is the protocol type. Version 1 is PPTP's enhanced
 * GRE (RFC 2637): key field = payload length and call id (not a key), optional sequence and
 * acknowledgement numbers, and a PPP frame as payload.
 */
function gre(s: Uint8Array, at: number, end: number, view: FlowView): number {
  if (end - at < 4) return at;
  const flags = u16(at);
  const protocol = u16(at + 2);
  const version = flags & 0x0007;
  let p = at + 4;
  if (version === 0) {
    if ((flags & 0x4000) !== 0) return at; // source routing (RFC 1701, deprecated): entries not walked
    if ((flags & 0x8000) !== 0) p += 4;
    if ((flags & 0x2000) !== 0) {
      if (end - p < 4) return at;
      view.u32(O_GRE_KEY, u32(p));
      view.mask |= Group.greKey;
      p += 4;
    }
    if ((flags & 0x1000) !== 0) p += 4;
    if (p > end) return at;
    if (protocol === ETHERTYPE_TEB) return tunnelTo(ETHERNET, Tunnel.gre, p);
    return tunnelTo(kindOfEtherType(protocol), Tunnel.gre, p);
  }
  if (version === 1 && protocol === ETHERTYPE_PPP) {
    p += 4; // payload length, call id
    if ((flags & 0x1000) !== 0) p += 4; // sequence number
    if ((flags & 0x0080) !== 0) p += 4; // acknowledgement number
    // PPP (RFC 1661): address and control (FF 03) unless compressed away, then a 1- or 2-octet protocol
    // (a 1-octet one is odd, RFC 1661 §6.5).
    if (end - p >= 2 && s[p] === 0xff && s[p + 1] === 0x03) p += 2;
    if (end - p < 1) return at;
    let ppp = s[p]!;
    if ((ppp & 1) === 0) {
      if (end - p < 2) return at;
      ppp = u16(p);
      p += 2;
    } else p += 1;
    const kind = ppp === PPP_IPV4 ? IPV4 : ppp === PPP_IPV6 ? IPV6 : STOP;
    return tunnelTo(kind, Tunnel.gre, p);
  }
  return at;
}

/**
 * VXLAN (RFC 7348): flags (I = 0x08 says the VNI is valid), 24 reserved bits, VNI(24), 8 reserved bits,
 * then an Ethernet frame. The VNI is exported as layer2SegmentId (IE 351): segment type 0x01 (VXLAN) in
 * the top octet and the VNI in the low 56 bits.
 */
function vxlan(s: Uint8Array, at: number, end: number, view: FlowView): number {
  if (end - at < 8 || (s[at]! & 0x08) === 0) return at;
  view.u32(O_VXLAN, SEGMENT_TYPE_VXLAN << 24);
  view.u8(O_VXLAN + 4, 0);
  view.copy(O_VXLAN + 5, dv, at + 4, 3);
  view.mask |= Group.vxlan;
  return tunnelTo(ETHERNET, Tunnel.vxlan, at + 8);
}

/**
 * GTP-U (3GPP TS 29.281): flags version(3) PT(1) spare E S PN, message type, length, TEID; when any of E,
 * S, PN is set: sequence number(16), N-PDU number(8), next extension header type(8), and with E the
 * chain of extension headers (length in 4-octet units, content, next type) until type 0. A G-PDU (type
 * 255) carries a user IP packet.
 */
function gtpu(s: Uint8Array, at: number, end: number, view: FlowView): number {
  if (end - at < 8) return at;
  const flags = s[at]!;
  if (flags >>> 5 !== 1 || (flags & 0x10) === 0 || s[at + 1] !== GTP_GPDU) return at;
  view.u32(O_TEID, u32(at + 4));
  view.mask |= Group.gtpu;
  let p = at + 8;
  if ((flags & 0x07) !== 0) {
    if (end - p < 4) return at;
    let nextType = (flags & 0x04) !== 0 ? s[p + 3]! : 0;
    p += 4;
    // Each extension header is at least 4 octets, so the chain ends within the record.
    while (nextType !== 0) {
      if (end - p < 4) return at;
      const length = s[p]! * 4;
      if (length === 0 || end - p < length) return at;
      nextType = s[p + length - 1]!;
      p += length;
    }
  }
  return tunnelTo(kindOfVersionNibble(s, p, end), Tunnel.gtpu, p);
}

/** commonChain's codes: bit 0 an 802.1Q tag, bit 1 IPv6 (else IPv4), bits 2-4 the transport. */
export const Chain = { tagged: 1, ipv6: 2, tcp: 1 << 2, udp: 2 << 2, sctp: 3 << 2, icmp: 4 << 2, icmpv6: 5 << 2, transport: 7 << 2 } as const;
/** Where commonChain found the IP header [0] and the transport header [1]. */
export const chainAt = new Int32Array(2);

/**
 * The common frame: Ethernet II, at most one 802.1Q tag, then IPv4 without options that is not a
 * fragment, or IPv6 without extension headers, then TCP, UDP (not a tunnel port), SCTP, ICMP or ICMPv6,
 * every header whole inside src[at, end). Nearly every sampled frame is one of these. Returns its Chain
 * code (IP and transport offsets in chainAt), or -1 for any other frame (the general walk's). Reads only.
 */
export function commonChain(src: Uint8Array, at: number, end: number): number {
  bind(src);
  return chain(at, end);
}

function chain(at: number, end: number): number {
  if (end - at < 14) return -1;
  let type = u16(at + 12);
  let ip = at + 14;
  let code = 0;
  if (type === ETHERTYPE_VLAN) {
    if (end - ip < 4) return -1;
    type = u16(ip + 2);
    ip += 4;
    code = Chain.tagged;
  }
  let protocol: number;
  let l4: number;
  if (type === ETHERTYPE_IPV4) {
    // Version 4, IHL 5; neither MF nor a fragment offset.
    if (end - ip < 20 || dv.getUint8(ip) !== 0x45 || (u16(ip + 6) & 0x3fff) !== 0) return -1;
    protocol = dv.getUint8(ip + 9);
    l4 = ip + 20;
  } else if (type === ETHERTYPE_IPV6) {
    if (end - ip < 40 || dv.getUint8(ip) >>> 4 !== 6) return -1;
    protocol = dv.getUint8(ip + 6);
    l4 = ip + 40;
    code |= Chain.ipv6;
  } else return -1;
  const left = end - l4;
  if (protocol === IPPROTO_TCP) {
    if (left < 14) return -1;
    code |= Chain.tcp;
  } else if (protocol === IPPROTO_UDP) {
    if (left < 8) return -1;
    const sport = u16(l4);
    const dport = u16(l4 + 2);
    if (dport === UDP_PORT_VXLAN || dport === UDP_PORT_GTPU || sport === UDP_PORT_GTPU) return -1;
    code |= Chain.udp;
  } else if (protocol === IPPROTO_SCTP) {
    if (left < 4) return -1;
    code |= Chain.sctp;
  } else if (protocol === IPPROTO_ICMP) {
    if (left < 2) return -1;
    code |= Chain.icmp;
  } else if (protocol === IPPROTO_ICMPV6) {
    if (left < 2) return -1;
    code |= Chain.icmpv6;
  } else return -1;
  chainAt[0] = ip;
  chainAt[1] = l4;
  return code;
}

/**
 * A common frame (commonChain) decoded in one pass, without the walk's state: the general walk's
 * generality (layer loop, tag loop, tunnels) was half of the sFlow decoder's time per sample. False,
 * with the view untouched, for any other frame. It sets exactly the facts and groups the walk would
 * (header-common.test.ts compares the two on every corpus frame and 100,000 mutations of them).
 */
function commonFrame(at: number, end: number, view: FlowView): boolean {
  const code = chain(at, end);
  if (code < 0) return false;
  const ip = chainAt[0]!;
  const l4 = chainAt[1]!;
  const v6 = (code & Chain.ipv6) !== 0;
  const transport = code & Chain.transport;
  // The outermost (and only) Ethernet header.
  view.mac(O_DST_MAC, dv, at);
  view.mac(O_SRC_MAC, dv, at + 6);
  view.u16(O_ETHERTYPE, u16(ip - 2));
  let groups = Group.ethernet;
  if (code & Chain.tagged) {
    const tci = u16(at + 14);
    view.u16(O_VLAN_ID, tci & 0x0fff);
    view.u8(O_VLAN_PRIO, tci >>> 13);
    groups |= Group.vlan;
  }
  // The IP header: its facts replace any earlier packet's (as takeIpHeader).
  if (v6) {
    const first = u32(ip);
    view.u8(O_IP_VERSION, 6);
    view.u8(O_PROTOCOL, dv.getUint8(ip + 6));
    view.u8(O_TOS, (first >>> 20) & 0xff);
    view.u8(O_TTL, dv.getUint8(ip + 7));
    view.u32(O_FLOW_LABEL, first & 0xfffff);
    view.u32(O_IP_LENGTH, u16(ip + 4) + 40);
    view.ipv6(O_SRC_V6, dv, ip + 8);
    view.ipv6(O_DST_V6, dv, ip + 24);
    groups |= Group.ip | Group.ipv6 | Group.ttl;
  } else {
    view.u8(O_IP_VERSION, 4);
    view.u8(O_PROTOCOL, dv.getUint8(ip + 9));
    view.u8(O_TOS, dv.getUint8(ip + 1));
    view.u8(O_TTL, dv.getUint8(ip + 8));
    view.u32(O_IP_LENGTH, u16(ip + 2));
    view.ipv4(O_SRC_V4, dv, ip + 12);
    view.ipv4(O_DST_V4, dv, ip + 16);
    groups |= Group.ip | Group.ipv4 | Group.ttl;
  }
  if (transport === Chain.icmp) {
    view.u16(O_ICMP4, u16(l4));
    groups |= Group.icmpv4;
  } else if (transport === Chain.icmpv6) {
    view.u16(O_ICMP6, u16(l4));
    groups |= Group.icmpv6;
  } else {
    view.u16(O_SRC_PORT, u16(l4));
    view.u16(O_DST_PORT, u16(l4 + 2));
    groups |= Group.ports;
    if (transport === Chain.tcp) {
      // tcpControlBits: octets 12-13 with the data offset zeroed (as transport()).
      view.u16(O_TCP_FLAGS, u16(l4 + 12) & 0x0fff);
      groups |= Group.tcp;
    }
  }
  view.mask = (view.mask & ~PACKET_GROUPS) | groups;
  return true;
}

/**
 * Decodes the sampled header src[start,end) of sFlow header_protocol `protocol` into the view: sets
 * fields and group bits of everything it could read completely. keepOuter: export the outer (tunnel)
 * flow instead of the inner one. Returns a HeaderOutcome: truncated when not even the first layer (an
 * Ethernet header, or an IP header for protocols ipv4/ipv6) was complete and well-formed. Never throws,
 * never reads outside [start,end).
 */
export function decodeHeader(src: Uint8Array, start: number, end: number, protocol: number, view: FlowView, keepOuter: boolean): number {
  return decode(src, start, end, protocol, view, keepOuter, true);
}

/** decodeHeader by the general walk alone (the judge of commonFrame in the tests). */
export function walkHeader(src: Uint8Array, start: number, end: number, protocol: number, view: FlowView, keepOuter: boolean): number {
  return decode(src, start, end, protocol, view, keepOuter, false);
}

/** commonFrame on its own: true when the frame is one it decodes (for the test that holds it to the walk). */
export function decodeCommonFrame(src: Uint8Array, start: number, end: number, view: FlowView): boolean {
  if (end > src.length || start < 0 || start >= end) return false;
  bind(src);
  return commonFrame(start, end, view);
}

function decode(src: Uint8Array, start: number, end: number, protocol: number, view: FlowView, keepOuter: boolean, common: boolean): number {
  if (protocol === HeaderProtocol.ethernet) next = ETHERNET;
  else if (protocol === HeaderProtocol.ipv4) next = IPV4;
  else if (protocol === HeaderProtocol.ipv6) next = IPV6;
  else return HeaderOutcome.unsupportedProtocol;
  if (end > src.length) end = src.length;
  if (start < 0 || start >= end) return HeaderOutcome.truncated;
  bind(src);
  if (common && next === ETHERNET && commonFrame(start, end, view)) {
    next = STOP;
    return HeaderOutcome.ok;
  }
  sawEthernet = sawMpls = false;
  ipHeaders = 0;
  pendingTunnel = Tunnel.none;
  keepOuterFlow = keepOuter;
  let at = start;
  for (let layer = 0; layer < MAX_LAYERS && next !== STOP; layer++) {
    const kind = next;
    if (kind === ETHERNET) at = ethernet(src, at, end, view);
    else if (kind === MPLS) at = mpls(src, at, end, view);
    else if (kind === IPV4) at = ipv4(src, at, end, view);
    else at = ipv6(src, at, end, view);
    if (layer === 0 && !sawEthernet && ipHeaders === 0) {
      next = STOP;
      return HeaderOutcome.truncated;
    }
  }
  next = STOP;
  return HeaderOutcome.ok;
}
