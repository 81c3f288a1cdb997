// Field-by-field comparison of tshark's decode of sFlow input with tshark's decode of the gateway's IPFIX
// output. The rules (docs/testing.md, mappings/sflow.yaml):
//  - input side: tshark's sflow dissector (sample fields, flow records, and the sampled header dissected as
//    eth/vlan/ip/ipv6/tcp/udp/icmp/icmpv6), turned into the cflow field names tshark gives the IPFIX
//    elements mappings/sflow.yaml maps each fact to, with the value the element must carry;
//  - output side: tshark's cflow decode of the IPFIX; elements under the sFlow PEN (tshark names none of
//    them) are read from the IPFIX bytes by this file's own small reader, by (PEN, id), and zipped with
//    tshark's records (both walk the data records in file order);
//  - a flow sample's record is found by its agent (the exporter the original-exporter options record names
//    for the record's ODID), data source and sample sequence number; its ODID's records keep the order of
//    the agent's samples;
//  - numbers compare by value (hex or decimal), everything else as tshark prints it;
//  - the exported flow is the innermost one (tunnels), Ethernet and VLAN facts come from the outermost
//    Ethernet header (src/collect/sflow/header.ts); counts are not scaled (mapping.sflow.scaleCounts off).

import { run, toolPath } from './tools.js';
import type { TsharkRecord } from './tshark.js';

/** Canonical key of an element under the sFlow PEN: "@e" + id (mappings/sflow-elements.yaml). */
export const e = (id: number) => `@e${id}`;

export type Fields = Map<string, string>;

export interface SflowSample {
  /** Frame of the input capture (1-based). */
  frame: number;
  agent: string;
  subAgent: number;
  /** Data source and sample sequence: with the agent, the key of the output record. */
  sourceIdType: number;
  sourceIdIndex: number;
  sequence: number;
  kind: 'flow' | 'counters';
  /** Expected output fields (tshark cflow names or "@e<id>"), canonical values. */
  expect: Fields;
  /** The flow sample carries a sampled IPv4 or IPv6 record (sfacctd then counts its length as the bytes). */
  sampledIp?: boolean;
  /** That record's IP length. */
  sampledIpLength?: number;
  /** Counter sample carries generic or Ethernet interface counters (those become IPFIX records). */
  interfaceCounters?: boolean;
  /** Header facts tshark could not dissect unambiguously and are not compared (for the report). */
  notes: string[];
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const TSHARK_ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

/** Numbers by value; MACs and other text as printed (lower case). */
export function canon(v: string): string {
  if (/^0x[0-9a-f]+$/i.test(v)) return BigInt(v).toString();
  if (/^-?\d+$/.test(v)) return BigInt(v).toString();
  return v.toLowerCase();
}

function isObj(v: Json | undefined): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Every value of a key (tshark's --no-duplicate-keys turns repeats into arrays). */
function all(o: Obj | undefined, key: string): Json[] {
  if (!o) return [];
  const v = o[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
function str(o: Obj | undefined, key: string): string | undefined {
  const v = all(o, key)[0];
  return typeof v === 'string' ? v : undefined;
}
function objs(o: Obj | undefined, key: string): Obj[] {
  return all(o, key).filter(isObj);
}
/** First string value of `key` anywhere under o (depth first). */
function deep(o: Obj, key: string): string | undefined {
  const direct = str(o, key);
  if (direct !== undefined) return direct;
  for (const v of Object.values(o)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (isObj(x)) {
        const hit = deep(x, key);
        if (hit !== undefined) return hit;
      }
    }
  }
  return undefined;
}
/** Every string value of `key` under o, in document order. */
function deepAll(o: Obj, key: string, out: string[] = []): string[] {
  for (const [k, v] of Object.entries(o)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (k === key && typeof x === 'string') out.push(x);
      else if (isObj(x)) deepAll(x, key, out);
    }
  }
  return out;
}

const int = (s: string | undefined) => (s === undefined ? undefined : Number(BigInt(s)));

/** Expected value meaning "the output record must not carry this field". */
export const ABSENT = '<absent>';

/** sFlow output format 0 value "local" (the packet went to the agent itself). */
const IF_LOCAL = 0x3fffffff;

/** Sample keys of tshark's sflow tree. */
const SAMPLE_KEY = /^(Expanded )?(flow|counters) sample, seq \d+/i;

/**
 * tshark's decode of every flow and counter sample of an sFlow capture, each turned into the IPFIX fields
 * the gateway must produce for it.
 */
export async function tsharkSflowSamples(pcap: string, udpPorts: readonly number[] = [6343], timeoutMs = 120_000): Promise<SflowSample[]> {
  const bin = toolPath('tshark');
  if (!bin) throw new Error('tshark is not installed (Debian: tshark)');
  const args = ['-r', pcap, '-T', 'json', '--no-duplicate-keys', '-Y', 'sflow'];
  for (const p of udpPorts) if (p !== 6343) args.push('-d', `udp.port==${p},sflow`);
  // tunnels the gateway looks into on their IANA ports, which tshark leaves undissected inside a sampled header
  args.push('-d', 'udp.port==4789,vxlan', '-d', 'udp.port==2152,gtp');
  const r = await run(bin, args, { timeoutMs, env: TSHARK_ENV });
  if (r.timedOut || r.code !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${r.stderr}`);
  const packets = JSON.parse(r.stdout || '[]') as { _source: { layers: Obj } }[];
  const out: SflowSample[] = [];
  for (const p of packets) {
    const layers = p._source.layers;
    const frame = Number(str(layers['frame'] as Obj, 'frame.number'));
    const continuation = tunnelContinuation(layers);
    for (const sflow of objs(layers, 'sflow')) {
      const agent = str(sflow, 'sflow_245.agent') ?? str(sflow, 'sflow_245.agent.v6') ?? '';
      const subAgent = Number(str(sflow, 'sflow_245.sub_agent_id') ?? 0);
      const flowCount = Object.entries(sflow).reduce((n, [k, v]) => n + (/^(Expanded )?flow sample/i.test(k) ? (Array.isArray(v) ? v.length : 1) : 0), 0);
      for (const [key, v] of Object.entries(sflow)) {
        const m = key.match(SAMPLE_KEY);
        if (!m) continue;
        for (const s of (Array.isArray(v) ? v : [v]).filter(isObj)) {
          out.push(m[2]!.toLowerCase() === 'flow' ? flowSample(s, frame, agent, subAgent, !!m[1], continuation, flowCount) : counterSample(s, frame, agent, subAgent));
        }
      }
    }
  }
  return out;
}

/**
 * tshark quirk: a tunnel's payload inside a sampled header (VXLAN, decoded by -d) is not put under the
 * header's tree but appended to the frame's top-level layers after "sflow". Those layers (minus the sFlow
 * datagram's own Ethernet/IPv4/UDP, the first of each) continue the header of a datagram's only flow sample.
 */
function tunnelContinuation(layers: Obj): Obj | undefined {
  const keys = Object.keys(layers);
  const after = keys.slice(keys.indexOf('sflow') + 1);
  if (!after.length) return undefined;
  const c: Obj = {};
  for (const k of after) c[k] = layers[k]!;
  for (const k of ['eth', 'ip', 'udp']) {
    const extra = all(layers, k).slice(1);
    if (extra.length) c[k] = extra;
  }
  return c;
}

function withContinuation(tree: Obj, c: Obj | undefined, sampleCount: number, notes: string[]): Obj {
  const udp = objs(tree, 'udp').pop();
  const port = udp && str(udp, 'udp.dstport');
  if (port !== '4789' || objs(tree, 'vxlan').length) return tree;
  if (!c || sampleCount !== 1) {
    notes.push('VXLAN payload tshark left undissected: inner flow not compared');
    return tree;
  }
  const merged: Obj = { ...tree };
  for (const [k, v] of Object.entries(c)) merged[k] = [...all(tree, k), ...(Array.isArray(v) ? v : [v])];
  return merged;
}

function flowSample(s: Obj, frame: number, agent: string, subAgent: number, expanded: boolean, continuation: Obj | undefined, flowSamplesInDatagram = 1): SflowSample {
  const x: Fields = new Map();
  const notes: string[] = [];
  const set = (k: string, v: string | number | bigint | undefined) => {
    if (v !== undefined) x.set(k, canon(String(v)));
  };
  const sequence = Number(str(s, 'sflow.flow_sample.sequence_number'));
  let sourceIdType: number, sourceIdIndex: number, inFormat: number, inValue: number, outFormat: number, outValue: number;
  if (expanded) {
    sourceIdType = Number(str(s, 'sflow.flow_sample.source_id_type'));
    sourceIdIndex = Number(str(s, 'sflow.flow_sample.source_id_index'));
    inFormat = Number(str(s, 'sflow.flow_sample.input_interface_format'));
    inValue = Number(str(s, 'sflow.flow_sample.input_interface_value'));
    outFormat = Number(str(s, 'sflow.flow_sample.output_interface.format') ?? str(s, 'sflow.flow_sample.output_interface_format'));
    outValue = Number(str(s, 'sflow.flow_sample.output_interface_value'));
  } else {
    sourceIdType = Number(str(s, 'sflow.flow_sample.source_id_class'));
    sourceIdIndex = Number(str(s, 'sflow.flow_sample.index'));
    // compact: 2 format bits above a 30-bit value (tshark prints the input as one number)
    const i = int(str(s, 'sflow.flow_sample.input_interface'))!;
    inFormat = i >>> 30;
    inValue = i & IF_LOCAL;
    const o = int(str(s, 'sflow.flow_sample.output_interface'))!;
    outFormat = o >>> 30;
    outValue = o & IF_LOCAL;
  }
  set(e(1), sourceIdType);
  set(e(2), sourceIdIndex);
  set(e(3), sequence);
  set('cflow.sampling_packet_interval', str(s, 'sflow.flow_sample.sampling_rate'));
  set('cflow.sampling_population', str(s, 'sflow.flow_sample.sample_pool'));
  set('cflow.drop_packets', str(s, 'sflow.flow_sample.dropped_packets'));
  set('cflow.inputint', inFormat === 0 && inValue !== IF_LOCAL ? inValue : 0);
  // forwardingStatus (RFC 7270): tshark shows the 2 status bits; 1 forwarded, 2 dropped, 3 consumed
  if (outFormat === 0) {
    set('cflow.outputint', outValue === IF_LOCAL ? 0 : outValue);
    set('cflow.forwarding_status', outValue === IF_LOCAL ? 3 : 1);
  } else if (outFormat === 1) {
    set('cflow.outputint', 0);
    set('cflow.forwarding_status', 2);
    set(e(5), outValue);
  } else if (outFormat === 2) {
    set('cflow.outputint', 0);
    set('cflow.forwarding_status', 1);
    set(e(6), outValue);
  }
  set('cflow.packets', 1);

  const raw = objs(s, 'Raw packet header')[0];
  let headerIp = false;
  if (raw) {
    set(e(12), str(raw, 'sflow_245.header_protocol'));
    set(e(13), str(raw, 'sflow_245.header.payload_stripped'));
    set('cflow.layer2_octet_delta_count', str(raw, 'sflow_245.header.frame_length'));
    const tree = objs(raw, 'sflow_245.header_tree')[0];
    if (tree) headerIp = headerFacts(withContinuation(tree, continuation, flowSamplesInDatagram, notes), set, notes);
  }
  const ethRec = objs(s, 'Ethernet frame data')[0];
  if (ethRec) {
    if (!x.has('cflow.layer2_octet_delta_count')) set('cflow.layer2_octet_delta_count', str(ethRec, 'sflow_245.ethernet.length'));
    if (!x.has('cflow.srcmac')) {
      set('cflow.srcmac', str(ethRec, 'sflow_245.ethernet.source_mac_address'));
      set('cflow.dstmac', str(ethRec, 'sflow_245.ethernet.destination_mac_address'));
      set('cflow.ethernet_type', str(ethRec, 'sflow_245.ethernet.packet_type'));
    }
  }
  // sampled IPv4 / IPv6 records: only when the header gave no IP
  const ipRec = objs(s, 'IPv4 data')[0] ?? objs(s, 'IPv6 data')[0];
  if (ipRec && !headerIp) {
    const v6 = str(ipRec, 'sflow_245.ipv6_src') !== undefined;
    const proto = Number(str(ipRec, 'sflow.ip_protocol'));
    set('cflow.ip_version', v6 ? 6 : 4);
    set(v6 ? 'cflow.srcaddrv6' : 'cflow.srcaddr', str(ipRec, v6 ? 'sflow_245.ipv6_src' : 'sflow_245.ipv4_src'));
    set(v6 ? 'cflow.dstaddrv6' : 'cflow.dstaddr', str(ipRec, v6 ? 'sflow_245.ipv6_dst' : 'sflow_245.ipv4_dst'));
    set('cflow.protocol', proto);
    set('cflow.ip_total_length', str(ipRec, 'sflow_245.ip.length'));
    set('cflow.octets', str(ipRec, 'sflow_245.ip.length'));
    if (proto === 6 || proto === 17 || proto === 132) {
      set('cflow.srcport', str(ipRec, 'sflow_245.ip.source_port'));
      set('cflow.dstport', str(ipRec, 'sflow.ip.destination_port'));
    }
    if (proto === 6) {
      const bits = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];
      let flags = 0;
      bits.forEach((b, i) => (flags |= Number(str(ipRec, `sflow_245.ip.tcp_flag.${b}`) ?? 0) ? 1 << i : 0));
      set('cflow.tcpflags', flags);
    }
    if (v6) set('cflow.tos', str(ipRec, 'sflow_245.ipv6_priority'));
    else {
      // tshark splits the ToS octet: precedence(3) delay throughput reliability cost(1) (RFC 1349)
      const n = (k: string) => Number(str(ipRec, k) ?? 0);
      set('cflow.tos', (n('sflow_245.ipv4_precedence_type') << 5) | (n('sflow_245.ipv4_delay') << 4) | (n('sflow_245.ipv4_throughput') << 3) | (n('sflow_245.ipv4_reliability') << 2) | (n('sflow_245.ipv4_cost') << 1));
    }
  }
  const sw = objs(s, 'Extended switch data')[0];
  if (sw) {
    // A VLAN id is 12 bits and an 802.1p priority 3: sFlow's 32-bit fields may hold more (agents send
    // 0xFFFFFFFF for "unknown"); such a value has no IPFIX form and must not come out as a cut-down number.
    const fit = (v: string | undefined, max: number) => (v !== undefined && Number(v) > max ? ABSENT : v);
    set('cflow.vlanid', fit(str(sw, 'sflow_245.vlan.in'), 4095));
    set('cflow.post_vlanid', fit(str(sw, 'sflow_245.vlan.out'), 4095));
    set(e(7), fit(str(sw, 'sflow_245.pri.in'), 7));
    set(e(8), fit(str(sw, 'sflow_245.pri.out'), 7));
  }
  const router = objs(s, 'Extended router data')[0];
  if (router) {
    const nh = str(router, 'sflow_245.nexthop') ?? str(router, 'sflow_245.nexthop.v6') ?? str(router, 'sflow_245.nexthop_v6');
    if (nh !== undefined) set(nh.includes(':') ? 'cflow.nexthopv6' : 'cflow.nexthop', nh);
    // prefix lengths are those of the flow's address family
    const v6 = x.get('cflow.ip_version') === '6';
    if (x.has('cflow.ip_version')) {
      set(v6 ? 'cflow.srcmaskv6' : 'cflow.srcmask', str(router, 'sflow_245.nexthop.src_mask'));
      set(v6 ? 'cflow.dstmaskv6' : 'cflow.dstmask', str(router, 'sflow_245.nexthop.dst_mask'));
    }
  }
  const gw = objs(s, 'Extended gateway data')[0];
  if (gw) {
    const nh = str(gw, 'sflow_245.nexthop') ?? str(gw, 'sflow_245.nexthop.v6') ?? str(gw, 'sflow_245.nexthop_v6');
    if (nh !== undefined) set(nh.includes(':') ? 'cflow.bgpnexthopv6' : 'cflow.bgpnexthop', nh);
    set(e(9), str(gw, 'sflow_245.as'));
    set('cflow.srcas', str(gw, 'sflow_245.srcAS'));
    set('cflow.peer_srcas', str(gw, 'sflow_245.peerAS'));
    set(e(10), str(gw, 'sflow_245.localpref'));
    // destination AS path: tshark lists the ASNs of every segment under sflow.as_type_tree
    const path = objs(gw, 'sflow.as_type_tree').flatMap((t) => all(t, 'sflow_245.dstAS').filter((a): a is string => typeof a === 'string'));
    set('cflow.peer_dstas', path.length ? path[0] : 0);
    set('cflow.dstas', path.length ? path[path.length - 1] : 0);
    set(e(11), path.map((a) => (Number(a) >>> 0).toString(16).padStart(8, '0')).join(''));
    const communities = objs(gw, 'sflow_245.communityEntries_tree').flatMap((t) => all(t, 'sflow_245.dstAS').filter((a): a is string => typeof a === 'string'));
    // bgpDestinationCommunityList: basicList (semantic allOf 0x03, bgpCommunity 483, 4 octets each)
    if (communities.length) set('cflow.bgp_destination_community', `03:01:e3:00:04:${communities.map((c) => hexBytes(Number(c), 4)).join(':')}`);
    else set('cflow.bgp_destination_community', '03:01:e3:00:04');
  }
  return { frame, agent, subAgent, sourceIdType, sourceIdIndex, sequence, kind: 'flow', expect: x, notes, sampledIp: !!ipRec, sampledIpLength: ipRec ? Number(str(ipRec, 'sflow_245.ip.length')) : undefined };
}

function hexBytes(n: number, len: number): string {
  return (n >>> 0).toString(16).padStart(len * 2, '0').match(/../g)!.join(':');
}

/**
 * The sampled header as tshark dissected it → the fields the gateway derives from it. Returns whether it
 * gave an IP header (then the sampled IPv4/IPv6 records are not used).
 */
function headerFacts(tree: Obj, set: (k: string, v: string | number | undefined) => void, notes: string[]): boolean {
  const eths = objs(tree, 'eth');
  const vlans = objs(tree, 'vlan');
  if (eths.length) {
    const outer = eths[0]!;
    set('cflow.srcmac', str(outer, 'eth.src'));
    set('cflow.dstmac', str(outer, 'eth.dst'));
    // EtherType after the outer frame's tags. tshark lists every vlan layer of the header together, so
    // with an inner Ethernet frame (VXLAN, GRE bridging, EoMPLS) the tags cannot be told apart: not compared
    const single = eths.length === 1;
    const type = !single ? undefined : vlans.length ? str(vlans[vlans.length - 1], 'vlan.etype') : str(outer, 'eth.type');
    if (type !== undefined) set('cflow.ethernet_type', type);
    if (single && vlans[0]) {
      set('cflow.dot1q_vlan_id', str(vlans[0], 'vlan.id'));
      set('cflow.dot1q_priority', str(vlans[0], 'vlan.priority'));
    }
    if (single && vlans[1]) {
      set('cflow.dot1q_customer_vlan_id', str(vlans[1], 'vlan.id'));
      set('cflow.dot1q_customer_priority', str(vlans[1], 'vlan.priority'));
    }
    if (!single) notes.push('inner Ethernet frame: EtherType and VLAN tags not compared');
  }
  // The exported IP header is the innermost one. tshark's JSON keeps order within a layer name only, so
  // with both IPv4 and IPv6 headers the innermost is named by the tunnel that carries it.
  const v4 = objs(tree, 'ip');
  const v6 = objs(tree, 'ipv6');
  const vxlan = objs(tree, 'vxlan').pop();
  const gre = objs(tree, 'gre').pop();
  let family: 4 | 6 | 0 = 0;
  if (v4.length && !v6.length) family = 4;
  else if (v6.length && !v4.length) family = 6;
  else if (v4.length && v6.length) {
    const greProto = gre && str(gre, 'gre.proto');
    const lastProto4 = str(v4[v4.length - 1], 'ip.proto');
    const innerEthType = vxlan && eths.length > 1 ? (vlans.length ? str(vlans[vlans.length - 1], 'vlan.etype') : str(eths[eths.length - 1], 'eth.type')) : undefined;
    if (greProto === '0x0800' || innerEthType === '0x0800') family = 4;
    else if (greProto === '0x86dd' || innerEthType === '0x86dd') family = 6;
    else if (lastProto4 === '41') family = 6; // IPv6 in IPv4
    else notes.push('IPv4 and IPv6 headers in one sample, innermost unknown: IP fields not compared');
  }
  if (family === 0) return false;
  const ip = family === 4 ? v4[v4.length - 1]! : v6[v6.length - 1]!;
  // the tunnel that carries the exported (inner) flow, and its identifiers
  if (vxlan) {
    set('cflow.tunnel_technology', 'VXLAN');
    // layer2SegmentId: segment type 0x01 (VXLAN) in the top octet, the VNI in the low 24 bits
    set('cflow.layer2_segment_id', String((1n << 56n) + BigInt(str(vxlan, 'vxlan.vni') ?? 0)));
  } else if (gre && v4.length + v6.length > 1) set('cflow.tunnel_technology', 'GRE');
  else if (v4.length + v6.length > 1 && ['4', '41'].includes(str(v4[0], 'ip.proto') ?? '')) set('cflow.tunnel_technology', 'IPIP');
  let proto: number;
  let totalLength: number;
  if (family === 4) {
    set('cflow.ip_version', 4);
    set('cflow.srcaddr', str(ip, 'ip.src'));
    set('cflow.dstaddr', str(ip, 'ip.dst'));
    proto = Number(str(ip, 'ip.proto'));
    set('cflow.tos', str(ip, 'ip.dsfield'));
    set('cflow.ip_ttl', str(ip, 'ip.ttl'));
    totalLength = Number(str(ip, 'ip.len'));
    const mf = deep(ip, 'ip.flags.mf') === '1';
    const offset = Number(str(ip, 'ip.frag_offset') ?? 0);
    if (mf || offset > 0) {
      set('cflow.fragment_identification', str(ip, 'ip.id'));
      set('cflow.fragment_offset', offset / 8);
      notes.push('fragment');
    }
  } else {
    set('cflow.ip_version', 6);
    set('cflow.srcaddrv6', str(ip, 'ipv6.src'));
    set('cflow.dstaddrv6', str(ip, 'ipv6.dst'));
    set('cflow.tos', str(ip, 'ipv6.tclass'));
    set('cflow.ip_ttl', str(ip, 'ipv6.hlim'));
    set('cflow.ipv6flowlabel', str(ip, 'ipv6.flow'));
    totalLength = Number(str(ip, 'ipv6.plen')) + 40;
    // the upper-layer protocol: the last Next Header of the extension header chain
    const nxt = deepAll(ip, 'ipv6.nxt');
    proto = Number(nxt[nxt.length - 1]);
    if (nxt.length > 1) notes.push('IPv6 extension headers');
  }
  set('cflow.protocol', proto);
  set('cflow.ip_total_length', totalLength);
  set('cflow.octets', totalLength);
  if (proto === 6) {
    const tcp = objs(tree, 'tcp').pop();
    if (tcp) {
      set('cflow.srcport', str(tcp, 'tcp.srcport'));
      set('cflow.dstport', str(tcp, 'tcp.dstport'));
      set('cflow.tcpflags', str(tcp, 'tcp.flags'));
    }
  } else if (proto === 17) {
    const udp = objs(tree, 'udp').pop();
    if (udp) {
      set('cflow.srcport', str(udp, 'udp.srcport'));
      set('cflow.dstport', str(udp, 'udp.dstport'));
    }
  } else if (proto === 1 && family === 4) {
    const icmp = objs(tree, 'icmp').pop();
    if (icmp && str(icmp, 'icmp.type') !== undefined) set('cflow.icmp_type_code_ipv4', (Number(str(icmp, 'icmp.type')) << 8) | Number(str(icmp, 'icmp.code') ?? 0));
  } else if (proto === 58 && family === 6) {
    const icmp = objs(tree, 'icmpv6').pop();
    if (icmp) {
      set('cflow.icmp_ipv6_type', str(icmp, 'icmpv6.type'));
      set('cflow.icmp_ipv6_code', str(icmp, 'icmpv6.code'));
    }
  }
  return true;
}

/** Generic interface counters (tshark name → output field) and Ethernet counters (→ PEN id). */
const GENERIC: ReadonlyArray<[string, string]> = [
  ['sflow_245.iftype', 'cflow.ingress_interface_type'],
  ['sflow_245.ifspeed', e(100)],
  ['sflow_245.ifdirection', e(101)],
  ['sflow_245.ifinoct', 'cflow.permanent_octets'],
  ['sflow_245.ifinpkt', 'cflow.ingress_unicast_packet_total_count'],
  ['sflow_245.ifinmcast', 'cflow.ingress_multicast_packet_total_count'],
  ['sflow_245.ifinbcast', 'cflow.ingress_broadcast_packet_total_count'],
  ['sflow_245.ifindisc', e(103)],
  ['sflow_245.ifinerr', e(104)],
  ['sflow_245.ifinunk', e(105)],
  ['sflow_245.ifoutoct', e(106)],
  ['sflow_245.ifoutpkt', 'cflow.egress_unicast_packet_total_count'],
  ['sflow_245.ifoutmcast', e(107)],
  ['sflow_245.ifoutbcast', 'cflow.egress_broadcast_packet_total_count'],
  ['sflow_245.ifoutdisc', e(108)],
  ['sflow_245.ifouterr', e(109)],
  ['sflow_245.ifpromisc', e(110)],
];
const ETHERNET = [
  'AlignmentErrors',
  'FCSErrors',
  'SingleCollisionFrames',
  'MultipleCollisionFrames',
  'SQETestErrors',
  'DeferredTransmissions',
  'LateCollisions',
  'ExcessiveCollisions',
  'InternalMacTransmitErrors',
  'CarrierSenseErrors',
  'FrameTooLongs',
  'InternalMacReceiveErrors',
  'SymbolErrors',
];

function counterSample(s: Obj, frame: number, agent: string, subAgent: number): SflowSample {
  const x: Fields = new Map();
  const set = (k: string, v: string | number | undefined) => {
    if (v !== undefined) x.set(k, canon(String(v)));
  };
  const sequence = Number(str(s, 'sflow.counters_sample.sequence_number'));
  const sourceIdType = Number(str(s, 'sflow.counters_sample.source_id_type') ?? str(s, 'sflow.counters_sample.expanded_source_id_type'));
  const sourceIdIndex = Number(str(s, 'sflow.counters_sample.source_id_index') ?? str(s, 'sflow.counters_sample.expanded_source_id_index'));
  set('cflow.inputint', sourceIdIndex);
  set(e(1), sourceIdType);
  set(e(3), sequence);
  const generic = objs(s, 'Generic interface counters')[0];
  const ether = objs(s, 'Ethernet interface counters')[0];
  if (generic) {
    for (const [from, to] of GENERIC) set(to, str(generic, from));
    // ifStatus: bit 0 admin up, bit 1 operational up
    set(e(102), Number(str(generic, 'sflow_245.ifadmin_status') ?? 0) | (Number(str(generic, 'sflow_245.ifoper_status') ?? 0) << 1));
  }
  if (ether) ETHERNET.forEach((n, i) => set(e(120 + i), str(ether, `sflow_245.dot3Stats${n}`)));
  return { frame, agent, subAgent, sourceIdType, sourceIdIndex, sequence, kind: 'counters', expect: x, interfaceCounters: !!(generic || ether), notes: [] };
}

// ---------------------------------------------------------------------------------------------------
// Output side

/** One IPFIX data record of the output: tshark's fields plus the sFlow-PEN elements from the bytes. */
export interface OutRecord {
  /** Index among the output's data records (file order). */
  index: number;
  odid: number;
  templateId: number;
  fields: Fields;
  tshark: TsharkRecord;
}

interface PrivateRecord {
  odid: number;
  templateId: number;
  /** (PEN, id) → value bytes, for the enterprise-specific fields. */
  values: { pen: number; id: number; bytes: Buffer }[];
}

/**
 * A minimal IPFIX reader (RFC 7011 §3): templates per (ODID, template id), every data record's
 * enterprise-specific fields by PEN and id. Written here, not taken from src/, so the gateway's writer is
 * not judged by its own reader.
 */
export function privateFieldsOfMessages(messages: readonly Buffer[]): PrivateRecord[] {
  type Field = { id: number; pen: number; len: number };
  const templates = new Map<string, Field[]>();
  const out: PrivateRecord[] = [];
  for (const m of messages) {
    const odid = m.readUInt32BE(12);
    let p = 16;
    const end = m.readUInt16BE(2);
    while (p + 4 <= end) {
      const setId = m.readUInt16BE(p);
      const setEnd = p + m.readUInt16BE(p + 2);
      let q = p + 4;
      if (setId === 2 || setId === 3) {
        while (setEnd - q >= 4) {
          const tid = m.readUInt16BE(q);
          const count = m.readUInt16BE(q + 2);
          q += setId === 3 ? 6 : 4;
          if (count === 0) {
            templates.delete(`${odid}/${tid}`);
            continue;
          }
          const fields: Field[] = [];
          for (let i = 0; i < count; i++) {
            const raw = m.readUInt16BE(q);
            const len = m.readUInt16BE(q + 2);
            q += 4;
            let pen = 0;
            if (raw & 0x8000) {
              pen = m.readUInt32BE(q);
              q += 4;
            }
            fields.push({ id: raw & 0x7fff, pen, len });
          }
          templates.set(`${odid}/${tid}`, fields);
        }
      } else if (setId >= 256) {
        const fields = templates.get(`${odid}/${setId}`);
        if (!fields) throw new Error(`data set ${setId} (ODID ${odid}) before its template`);
        const min = fields.reduce((n, f) => n + (f.len === 0xffff ? 1 : f.len), 0);
        while (setEnd - q >= min && min > 0) {
          const values: PrivateRecord['values'] = [];
          for (const f of fields) {
            let len = f.len;
            if (len === 0xffff) {
              len = m[q]!;
              q++;
              if (len === 255) {
                len = m.readUInt16BE(q);
                q += 2;
              }
            }
            if (f.pen !== 0) values.push({ pen: f.pen, id: f.id, bytes: m.subarray(q, q + len) });
            q += len;
          }
          out.push({ odid, templateId: setId, values });
        }
      }
      p = setEnd;
    }
  }
  return out;
}

/** An enterprise field's canonical value: an unsigned number up to 8 octets, else hex without separators. */
function privateValue(b: Buffer): string {
  if (b.length === 0) return '';
  if (b.length <= 8) return BigInt('0x' + b.toString('hex')).toString();
  return b.toString('hex');
}

/** Canonical fields of tshark's record, ignoring tshark's per-bit expansions and annotations. */
const IGNORED = [/^cflow\.tcpflags\./, /^cflow\.forwarding_status_/, /^cflow\.string_len/, /^cflow\.enterprise_private_entry/, /^cflow\.padding$/, /^_ws\./];

/**
 * Zip tshark's decode of the output with the enterprise fields read from the same messages. Both must
 * see the same data records in the same order (the test asserts the counts).
 */
export function outputRecords(records: readonly TsharkRecord[], messages: readonly Buffer[], pen: number): OutRecord[] {
  const priv = privateFieldsOfMessages(messages);
  if (priv.length !== records.length) throw new Error(`tshark decoded ${records.length} data records, the IPFIX holds ${priv.length}`);
  return records.map((r, index) => {
    const p = priv[index]!;
    if (p.odid !== r.domain || p.templateId !== r.setId) throw new Error(`data record ${index}: tshark says ODID ${r.domain} template ${r.setId}, the bytes ${p.odid}/${p.templateId}`);
    const fields: Fields = new Map();
    for (const [k, raw] of Object.entries(r.fields)) {
      if (IGNORED.some((re) => re.test(k))) continue;
      const vals = (Array.isArray(raw) ? raw : [raw]).map(canon);
      fields.set(k, vals.join('|'));
    }
    for (const v of p.values) if (v.pen === pen) fields.set(e(v.id), privateValue(v.bytes));
    return { index, odid: p.odid, templateId: p.templateId, fields, tshark: r };
  });
}

/** Outgoing ODID → "agent/subAgent", from the original-exporter options records (RFC 7119). */
export function agentsByOdid(out: readonly OutRecord[]): Map<number, string> {
  const m = new Map<number, string>();
  for (const r of out) {
    const addr = r.fields.get('cflow.original_exporter_ipv4_address') ?? r.fields.get('cflow.original_exporter_ipv6_address');
    const odid = r.fields.get('cflow.original_observation_domain_id');
    if (addr !== undefined && odid !== undefined) m.set(r.odid, `${addr}/${odid}`);
  }
  return m;
}

export interface SampleMismatch {
  frame: number;
  key: string;
  /** key → [expected from the input, what the output holds]; "missing record" when none matched. */
  diff: Record<string, [string, string | undefined]>;
}

export interface SflowComparison {
  flowSamples: number;
  counterSamples: number;
  matched: number;
  /** Fields compared in all. */
  fieldsCompared: number;
  mismatches: SampleMismatch[];
  /** Output records of a sample kind that no input sample claimed. */
  surplus: number;
  /** Agents whose records came out in another order than their samples. */
  orderBreaks: string[];
  notes: Map<string, number>;
  /** Every sample with the output record found for it. */
  pairs: [SflowSample, OutRecord][];
}

const sampleKey = (agent: string, kind: string, type: number, index: number, seq: number) => `${agent} ${kind} ${type}:${index} #${seq}`;

/**
 * Find every sample's record (same agent, data source and sequence number, taken in order) and compare
 * every expected field. Counter samples without interface counters are expected to produce nothing.
 */
export function compareSflow(samples: readonly SflowSample[], out: readonly OutRecord[]): SflowComparison {
  const agents = agentsByOdid(out);
  const queues = new Map<string, OutRecord[]>();
  let candidates = 0;
  for (const r of out) {
    const agent = agents.get(r.odid);
    const seq = r.fields.get(e(3));
    if (agent === undefined || seq === undefined) continue;
    const kind = r.tshark.options ? 'counters' : 'flow';
    const type = Number(r.fields.get(e(1)) ?? -1);
    const index = Number(kind === 'counters' ? r.fields.get('cflow.inputint') : r.fields.get(e(2)));
    const k = sampleKey(agent, kind, type, index, Number(seq));
    if (!queues.has(k)) queues.set(k, []);
    queues.get(k)!.push(r);
    candidates++;
  }
  const res: SflowComparison = { flowSamples: 0, counterSamples: 0, matched: 0, fieldsCompared: 0, mismatches: [], surplus: 0, orderBreaks: [], notes: new Map(), pairs: [] };
  const lastIndex = new Map<string, { frame: number; before: number; max: number }>();
  let used = 0;
  for (const s of samples) {
    if (s.kind === 'flow') res.flowSamples++;
    else if (s.interfaceCounters) res.counterSamples++;
    else continue;
    for (const n of s.notes) res.notes.set(n, (res.notes.get(n) ?? 0) + 1);
    const agent = `${s.agent}/${s.subAgent}`;
    const k = sampleKey(agent, s.kind, s.sourceIdType, s.sourceIdIndex, s.sequence);
    const r = queues.get(k)?.shift();
    if (!r) {
      res.mismatches.push({ frame: s.frame, key: k, diff: { record: ['present', undefined] } });
      continue;
    }
    used++;
    res.pairs.push([s, r]);
    const order = `${agent} ${s.kind}`;
    // tshark's JSON groups repeated keys, so the order of samples inside one datagram is not reliable
    // here: order is checked datagram by datagram (every record of a later datagram after all of an earlier one's).
    let o = lastIndex.get(order);
    if (!o) lastIndex.set(order, (o = { frame: s.frame, before: -1, max: -1 }));
    if (o.frame !== s.frame) {
      o.before = o.max;
      o.frame = s.frame;
    }
    if (r.index < o.before && !res.orderBreaks.includes(order)) res.orderBreaks.push(order);
    if (r.index > o.max) o.max = r.index;
    const diff: Record<string, [string, string | undefined]> = {};
    for (const [f, want] of s.expect) {
      res.fieldsCompared++;
      const have = r.fields.get(f);
      if (want === ABSENT ? have !== undefined : have !== want) diff[f] = [want, have];
    }
    if (Object.keys(diff).length) res.mismatches.push({ frame: s.frame, key: k, diff });
    else res.matched++;
  }
  res.surplus = candidates - used;
  return res;
}

/** The first few mismatches, readable. */
export function describeSflowMismatches(c: SflowComparison, limit = 8): string {
  return c.mismatches
    .slice(0, limit)
    .map((m) => `input frame ${m.frame} (${m.key}): ${JSON.stringify(m.diff)}`)
    .join('\n');
}
