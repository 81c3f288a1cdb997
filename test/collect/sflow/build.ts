// A small sFlow v5 datagram builder for tests, written from the sFlow v5 specification (sflow.org,
// "sFlow Version 5", July 2004). sFlow is XDR (RFC 4506): every integer is a 4-octet big-endian
// "unsigned int" (8 octets for "unsigned hyper"), fixed-length opaque data is padded with zeros to a
// multiple of 4 octets, and variable-length opaque data or arrays (`<>`) are preceded by a 4-octet count.
// Every structure the tests build is written out below as the specification declares it.
//
// The builder makes only well-formed structures; tests that need malformed ones patch the bytes it
// returns (the `at` helpers tell them where a field is).

/** XDR writer: collects 4-octet aligned pieces. */
export class Xdr {
  private readonly parts: Buffer[] = [];

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }

  /** unsigned hyper (8 octets). */
  u64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }

  /** opaque name[n]: n octets, zero-padded to a multiple of 4. */
  fixed(bytes: Uint8Array): this {
    const pad = (4 - (bytes.length % 4)) % 4;
    this.parts.push(Buffer.from(bytes), Buffer.alloc(pad));
    return this;
  }

  /** opaque name<>: a 4-octet length, the octets, zero padding to a multiple of 4. */
  opaque(bytes: Uint8Array): this {
    return this.u32(bytes.length).fixed(bytes);
  }

  /** Already-encoded XDR. */
  raw(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  /**
   * union address (address_type type) { case UNKNOWN (0): void; case IP_V4 (1): ip_v4 (opaque[4]);
   * case IP_V6 (2): ip_v6 (opaque[16]) }. The type is taken from the text form ("" for unknown).
   */
  address(ip: string): this {
    if (ip === '') return this.u32(0);
    if (ip.includes(':')) return this.u32(2).fixed(ipv6Bytes(ip));
    return this.u32(1).fixed(ipv4Bytes(ip));
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function ipv4Bytes(ip: string): Buffer {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`not an IPv4 address: ${ip}`);
  return Buffer.from(p);
}

export function ipv6Bytes(ip: string): Buffer {
  const [head, tail = ''] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${ip}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
}

/** data_format: enterprise (20 bits) << 12 | format (12 bits). Enterprise 0 is sFlow's own. */
export const dataFormat = (format: number, enterprise = 0): number => ((enterprise << 12) | format) >>> 0;

// ---- datagram ---------------------------------------------------------------------------------------

export interface DatagramSpec {
  /** agent_address: IPv4 or IPv6 text. */
  agent: string;
  subAgent?: number;
  sequence?: number;
  /** uptime in milliseconds. */
  uptime?: number;
  samples: Buffer[];
}

/**
 * struct sample_datagram_v5 { address agent_address; unsigned int sub_agent_id;
 *   unsigned int sequence_number; unsigned int uptime; sample_record samples<>; }
 * preceded by the datagram version (unsigned int, 5).
 */
export function datagram(d: DatagramSpec): Buffer {
  const x = new Xdr().u32(5).address(d.agent).u32(d.subAgent ?? 0).u32(d.sequence ?? 1).u32(d.uptime ?? 1000).u32(d.samples.length);
  for (const s of d.samples) x.raw(s);
  return x.build();
}

/** struct sample_record { data_format sample_type; opaque sample_data<>; } (also flow_record, counter_record). */
export function tlv(format: number, body: Uint8Array, enterprise = 0): Buffer {
  return new Xdr().u32(dataFormat(format, enterprise)).opaque(body).build();
}

// ---- flow samples -----------------------------------------------------------------------------------

/** An interface: its format (0 ifIndex, 1 discarded with reason, 2 several output interfaces) and value. */
export interface Iface {
  format: number;
  value: number;
}
export const ifIndex = (value: number): Iface => ({ format: 0, value });
/** ifIndex 0x3FFFFFFF: the packet came from / went to the agent itself. */
export const LOCAL = 0x3fffffff;

export interface FlowSampleSpec {
  sequence?: number;
  sourceType?: number;
  sourceIndex?: number;
  samplingRate?: number;
  samplePool?: number;
  drops?: number;
  input?: Iface;
  output?: Iface;
  records: Buffer[];
}

/**
 * Compact (enterprise 0, format 1):
 *   struct flow_sample { unsigned int sequence_number; sflow_data_source source_id;
 *     unsigned int sampling_rate; unsigned int sample_pool; unsigned int drops;
 *     interface input; interface output; flow_record flow_records<>; }
 *   sflow_data_source = type (top 8 bits) << 24 | index (24 bits);
 *   interface = format (top 2 bits) << 30 | value (30 bits).
 * Expanded (format 3):
 *   struct flow_sample_expanded { unsigned int sequence_number; sflow_data_source_expanded source_id
 *     (unsigned int source_id_type; unsigned int source_id_index); unsigned int sampling_rate;
 *     unsigned int sample_pool; unsigned int drops; interface_expanded input (unsigned int format;
 *     unsigned int value); interface_expanded output; flow_record flow_records<>; }
 */
export function flowSample(f: FlowSampleSpec, expanded = false): Buffer {
  const x = new Xdr().u32(f.sequence ?? 1);
  const type = f.sourceType ?? 0;
  const index = f.sourceIndex ?? 1;
  const input = f.input ?? ifIndex(1);
  const output = f.output ?? ifIndex(2);
  if (expanded) x.u32(type).u32(index);
  else x.u32(((type << 24) | (index & 0xffffff)) >>> 0);
  x.u32(f.samplingRate ?? 1).u32(f.samplePool ?? 1).u32(f.drops ?? 0);
  if (expanded) x.u32(input.format).u32(input.value).u32(output.format).u32(output.value);
  else x.u32(((input.format << 30) | input.value) >>> 0).u32(((output.format << 30) | output.value) >>> 0);
  x.u32(f.records.length);
  for (const r of f.records) x.raw(r);
  return tlv(expanded ? 3 : 1, x.build());
}

// ---- flow records -----------------------------------------------------------------------------------

/** header_protocol values (sFlow v5 §5.1): ETHERNET-ISO88023 1, IPv4 11, IPv6 12 (and others). */
export const HeaderProtocol = { ethernet: 1, ipv4: 11, ipv6: 12, ppp: 7 } as const;

/**
 * Raw packet header (format 1): struct sampled_header { header_protocol protocol;
 *   unsigned int frame_length; unsigned int stripped; opaque header<>; }
 */
export function rawHeader(h: { protocol?: number; frameLength: number; stripped?: number; header: Uint8Array }): Buffer {
  return tlv(1, new Xdr().u32(h.protocol ?? HeaderProtocol.ethernet).u32(h.frameLength).u32(h.stripped ?? 4).opaque(h.header).build());
}

/**
 * Sampled Ethernet frame (format 2): struct sampled_ethernet { unsigned int length;
 *   mac src_mac; mac dst_mac; unsigned int type; }  with mac = opaque[6] (8 octets with padding).
 */
export function sampledEthernet(e: { length: number; src: string; dst: string; type: number }): Buffer {
  return tlv(2, new Xdr().u32(e.length).fixed(macBytes(e.src)).fixed(macBytes(e.dst)).u32(e.type).build());
}

export interface SampledIpSpec {
  length: number;
  protocol: number;
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  /** IPv4: tos; IPv6: priority (traffic class). */
  tos?: number;
}

/**
 * Sampled IPv4 (format 3): struct sampled_ipv4 { unsigned int length; unsigned int protocol;
 *   ip_v4 src_ip; ip_v4 dst_ip; unsigned int src_port; unsigned int dst_port;
 *   unsigned int tcp_flags; unsigned int tos; }
 * Sampled IPv6 (format 4): the same with ip_v6 addresses and `priority` for tos.
 */
export function sampledIp(s: SampledIpSpec): Buffer {
  const v6 = s.src.includes(':');
  const addr = v6 ? ipv6Bytes : ipv4Bytes;
  const x = new Xdr().u32(s.length).u32(s.protocol).fixed(addr(s.src)).fixed(addr(s.dst));
  x.u32(s.srcPort ?? 0).u32(s.dstPort ?? 0).u32(s.tcpFlags ?? 0).u32(s.tos ?? 0);
  return tlv(v6 ? 4 : 3, x.build());
}

/**
 * Extended switch (format 1001): struct extended_switch { unsigned int src_vlan;
 *   unsigned int src_priority; unsigned int dst_vlan; unsigned int dst_priority; }
 */
export function extendedSwitch(s: { inVlan: number; inPriority: number; outVlan: number; outPriority: number }): Buffer {
  return tlv(1001, new Xdr().u32(s.inVlan).u32(s.inPriority).u32(s.outVlan).u32(s.outPriority).build());
}

/**
 * Extended router (format 1002): struct extended_router { next_hop nexthop (an address);
 *   unsigned int src_mask_len; unsigned int dst_mask_len; }
 */
export function extendedRouter(r: { nextHop: string; srcMask: number; dstMask: number }): Buffer {
  return tlv(1002, new Xdr().address(r.nextHop).u32(r.srcMask).u32(r.dstMask).build());
}

/** as_path_segment_type: AS_SET 1 (unordered), AS_SEQUENCE 2 (ordered). */
export const AsPathSegment = { set: 1, sequence: 2 } as const;

export interface GatewaySpec {
  nextHop: string;
  as: number;
  srcAs: number;
  srcPeerAs: number;
  /** dst_as_path: segments of (type, AS numbers). */
  path: { type: number; asns: number[] }[];
  communities: number[];
  localPref: number;
}

/**
 * Extended gateway (format 1003): struct extended_gateway { next_hop nexthop; unsigned int as;
 *   unsigned int src_as; unsigned int src_peer_as; as_path_type dst_as_path<>;
 *   unsigned int communities<>; unsigned int localpref; }
 *   union as_path_type (as_path_segment_type) { case AS_SET: unsigned int as_set<>;
 *     case AS_SEQUENCE: unsigned int as_sequence<>; }
 */
export function extendedGateway(g: GatewaySpec): Buffer {
  const x = new Xdr().address(g.nextHop).u32(g.as).u32(g.srcAs).u32(g.srcPeerAs).u32(g.path.length);
  for (const s of g.path) {
    x.u32(s.type).u32(s.asns.length);
    for (const a of s.asns) x.u32(a);
  }
  x.u32(g.communities.length);
  for (const c of g.communities) x.u32(c);
  return tlv(1003, x.u32(g.localPref).build());
}

// ---- counter samples --------------------------------------------------------------------------------

/**
 * Compact (format 2): struct counters_sample { unsigned int sequence_number;
 *   sflow_data_source source_id; counter_record counters<>; }
 * Expanded (format 4): struct counters_sample_expanded { unsigned int sequence_number;
 *   sflow_data_source_expanded source_id; counter_record counters<>; }
 */
export function counterSample(c: { sequence?: number; sourceType?: number; sourceIndex: number; records: Buffer[] }, expanded = false): Buffer {
  const x = new Xdr().u32(c.sequence ?? 1);
  if (expanded) x.u32(c.sourceType ?? 0).u32(c.sourceIndex);
  else x.u32((((c.sourceType ?? 0) << 24) | (c.sourceIndex & 0xffffff)) >>> 0);
  x.u32(c.records.length);
  for (const r of c.records) x.raw(r);
  return tlv(expanded ? 4 : 2, x.build());
}

export interface IfCounters {
  ifIndex: number;
  ifType: number;
  ifSpeed: bigint;
  ifDirection: number;
  ifStatus: number;
  ifInOctets: bigint;
  ifInUcastPkts: number;
  ifInMulticastPkts: number;
  ifInBroadcastPkts: number;
  ifInDiscards: number;
  ifInErrors: number;
  ifInUnknownProtos: number;
  ifOutOctets: bigint;
  ifOutUcastPkts: number;
  ifOutMulticastPkts: number;
  ifOutBroadcastPkts: number;
  ifOutDiscards: number;
  ifOutErrors: number;
  ifPromiscuousMode: number;
}

/**
 * Generic interface counters (counter format 1, 88 octets): struct if_counters { unsigned int ifIndex;
 *   unsigned int ifType; unsigned hyper ifSpeed; unsigned int ifDirection; unsigned int ifStatus;
 *   unsigned hyper ifInOctets; unsigned int ifInUcastPkts; unsigned int ifInMulticastPkts;
 *   unsigned int ifInBroadcastPkts; unsigned int ifInDiscards; unsigned int ifInErrors;
 *   unsigned int ifInUnknownProtos; unsigned hyper ifOutOctets; unsigned int ifOutUcastPkts;
 *   unsigned int ifOutMulticastPkts; unsigned int ifOutBroadcastPkts; unsigned int ifOutDiscards;
 *   unsigned int ifOutErrors; unsigned int ifPromiscuousMode; }
 */
export function genericInterfaceCounters(c: IfCounters): Buffer {
  const x = new Xdr().u32(c.ifIndex).u32(c.ifType).u64(c.ifSpeed).u32(c.ifDirection).u32(c.ifStatus).u64(c.ifInOctets);
  x.u32(c.ifInUcastPkts).u32(c.ifInMulticastPkts).u32(c.ifInBroadcastPkts).u32(c.ifInDiscards).u32(c.ifInErrors).u32(c.ifInUnknownProtos);
  x.u64(c.ifOutOctets).u32(c.ifOutUcastPkts).u32(c.ifOutMulticastPkts).u32(c.ifOutBroadcastPkts).u32(c.ifOutDiscards).u32(c.ifOutErrors);
  return tlv(1, x.u32(c.ifPromiscuousMode).build());
}

/** The 13 dot3Stats* counters of ethernet_counters, in structure order. */
export const ETHERNET_COUNTER_NAMES = [
  'dot3StatsAlignmentErrors',
  'dot3StatsFCSErrors',
  'dot3StatsSingleCollisionFrames',
  'dot3StatsMultipleCollisionFrames',
  'dot3StatsSQETestErrors',
  'dot3StatsDeferredTransmissions',
  'dot3StatsLateCollisions',
  'dot3StatsExcessiveCollisions',
  'dot3StatsInternalMacTransmitErrors',
  'dot3StatsCarrierSenseErrors',
  'dot3StatsFrameTooLongs',
  'dot3StatsInternalMacReceiveErrors',
  'dot3StatsSymbolErrors',
] as const;

/** Ethernet interface counters (counter format 2, 52 octets): struct ethernet_counters { 13 × unsigned int }. */
export function ethernetCounters(values: readonly number[]): Buffer {
  if (values.length !== 13) throw new Error('ethernet_counters has 13 counters');
  const x = new Xdr();
  for (const v of values) x.u32(v);
  return tlv(2, x.build());
}

// ---- sampled packet headers -------------------------------------------------------------------------
// Just enough of Ethernet II (IEEE 802.3), 802.1Q, IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293) and
// UDP (RFC 768) to give raw packet header records a real frame. Checksums are left 0 (no decoder checks).

export interface FrameSpec {
  srcMac: string;
  dstMac: string;
  /** 802.1Q tag: VLAN id and priority (PCP). */
  vlan?: { id: number; priority: number };
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;
  tos?: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP flags octet (with the NS bit: 9 bits). */
  tcpFlags?: number;
  /** Payload octets after the transport header (only counted in the IP length, not included). */
  payload?: number;
}

/** An Ethernet frame with an IPv4 or IPv6 packet and its TCP (20 octets) or UDP (8) header. */
export function frame(f: FrameSpec): { bytes: Buffer; ipLength: number; frameLength: number } {
  const v6 = f.src.includes(':');
  const transport = f.protocol === 6 ? Buffer.alloc(20) : f.protocol === 17 ? Buffer.alloc(8) : Buffer.alloc(0);
  if (transport.length > 0) {
    transport.writeUInt16BE(f.srcPort ?? 0, 0);
    transport.writeUInt16BE(f.dstPort ?? 0, 2);
  }
  if (f.protocol === 6) {
    transport[12] = (5 << 4) | (((f.tcpFlags ?? 0) >> 8) & 1); // data offset 5 words, NS
    transport[13] = (f.tcpFlags ?? 0) & 0xff;
  }
  const payload = f.payload ?? 0;
  if (f.protocol === 17) transport.writeUInt16BE(8 + payload, 4);
  let ip: Buffer;
  let ipLength: number;
  if (v6) {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(((6 << 28) | ((f.tos ?? 0) << 20)) >>> 0, 0);
    ip.writeUInt16BE(transport.length + payload, 4); // payload length
    ip[6] = f.protocol;
    ip[7] = f.ttl ?? 64;
    ipv6Bytes(f.src).copy(ip, 8);
    ipv6Bytes(f.dst).copy(ip, 24);
    ipLength = 40 + transport.length + payload;
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[1] = f.tos ?? 0;
    ipLength = 20 + transport.length + payload;
    ip.writeUInt16BE(ipLength, 2);
    ip[8] = f.ttl ?? 64;
    ip[9] = f.protocol;
    ipv4Bytes(f.src).copy(ip, 12);
    ipv4Bytes(f.dst).copy(ip, 16);
  }
  const eth = Buffer.alloc(f.vlan ? 18 : 14);
  macBytes(f.dstMac).copy(eth, 0);
  macBytes(f.srcMac).copy(eth, 6);
  const type = v6 ? 0x86dd : 0x0800;
  if (f.vlan) {
    eth.writeUInt16BE(0x8100, 12);
    eth.writeUInt16BE((f.vlan.priority << 13) | f.vlan.id, 14);
    eth.writeUInt16BE(type, 16);
  } else eth.writeUInt16BE(type, 12);
  const bytes = Buffer.concat([eth, ip, transport]);
  // frame_length as an agent reports it: the whole frame, with the 4-octet FCS.
  return { bytes, ipLength, frameLength: eth.length + ipLength + 4 };
}
