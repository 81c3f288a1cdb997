// tshark as the judge of the packet header decoder: the facts tshark's dissection of a frame implies for
// the flow view (which flow is exported, its addresses, ports, flags, tags, labels, tunnel), in the same
// shape as factsOf(view), so a test compares the two objects whole. Built from `-T fields` with every
// occurrence of a field (`-E occurrence=a`), the frame's protocol chain telling which occurrence belongs
// to which layer.

import { formatIPv4, formatIPv6, formatMac } from '../../../src/util/address.js';
import { FlowView, Group, TUNNEL_NAMES, VIEW_FIELDS, type GroupName } from '../../../src/collect/sflow/view.js';
import { runOk, toolPath } from '../../helpers/tools.js';

export type Facts = Record<string, number | string>;

/** Groups the header decoder may set, and how each field prints. */
const HEADER_GROUPS: GroupName[] = [
  'ethernet', 'vlan', 'customerVlan', 'mpls', 'ip', 'ttl', 'ipv4', 'ipv6', 'fragment',
  'ports', 'tcp', 'icmpv4', 'icmpv6', 'tunnel', 'greKey', 'vxlan', 'gtpu',
];
/** Fields of those groups that the sample decoder fills, not the header decoder (octets = ipLength scaled). */
const NOT_FROM_HEADER = new Set(['octets']);
const MAC_FIELDS = new Set(['sourceMac', 'destinationMac']);
const IPV4_FIELDS = new Set(['sourceIPv4', 'destinationIPv4']);
const IPV6_FIELDS = new Set(['sourceIPv6', 'destinationIPv6']);

/** The view's header facts: every field of every set header group, plus the tunnel's name. */
export function factsOf(view: FlowView): Facts {
  const out: Facts = {};
  for (const f of VIEW_FIELDS.values()) {
    if (!HEADER_GROUPS.includes(f.group) || (view.mask & Group[f.group]) === 0 || NOT_FROM_HEADER.has(f.name)) continue;
    if (MAC_FIELDS.has(f.name)) out[f.name] = formatMac(view.b, f.offset);
    else if (IPV4_FIELDS.has(f.name)) out[f.name] = formatIPv4(view.b, f.offset);
    else if (IPV6_FIELDS.has(f.name)) out[f.name] = formatIPv6(view.b, f.offset);
    else if (f.length === 8) {
      let v = 0n;
      for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(view.b[f.offset + i]!);
      out[f.name] = '0x' + v.toString(16).padStart(16, '0');
    } else {
      let v = 0;
      for (let i = 0; i < f.length; i++) v = v * 256 + view.b[f.offset + i]!;
      out[f.name] = v;
    }
  }
  if ((view.mask & Group.tunnel) !== 0) out.tunnel = TUNNEL_NAMES[view.tunnel] ?? `?${view.tunnel}`;
  return out;
}

const FIELDS = [
  'frame.number', 'frame.protocols',
  'eth.src', 'eth.dst', 'eth.type', 'llc.type',
  'vlan.id', 'vlan.priority', 'vlan.etype', 'ieee8021ad.id', 'ieee8021ad.priority',
  'mpls.label', 'mpls.exp', 'mpls.bottom', 'mpls.ttl',
  'ip.src', 'ip.dst', 'ip.proto', 'ip.dsfield', 'ip.ttl', 'ip.len', 'ip.id', 'ip.flags.rb', 'ip.flags.df',
  'ip.flags.mf', 'ip.frag_offset',
  'ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'ipv6.tclass', 'ipv6.flow', 'ipv6.plen', 'ipv6.hlim',
  'ipv6.hopopts.nxt', 'ipv6.dstopts.nxt', 'ipv6.routing.nxt', 'ipv6.fraghdr.nxt', 'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more', 'ipv6.fraghdr.ident', 'ah.next_header',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'udp.srcport', 'udp.dstport', 'sctp.srcport', 'sctp.dstport',
  'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
  'gre.key', 'vxlan.vni', 'gtp.teid',
];

export type TsharkFrame = Record<string, string[]>;

/** Every frame of a capture as tshark dissects it (no IP reassembly: fragments stay fragments). */
export async function tsharkFrames(path: string, extraArgs: readonly string[] = []): Promise<TsharkFrame[]> {
  const bin = toolPath('tshark');
  if (!bin) throw new Error('tshark is not installed (Debian: tshark)');
  const args = ['-n', '-r', path, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields'];
  args.push(...extraArgs, '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=/t');
  for (const f of FIELDS) args.push('-e', f);
  const r = await runOk(bin, args, { timeoutMs: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cols = line.split('\t');
      const frame: TsharkFrame = {};
      FIELDS.forEach((f, i) => (frame[f] = cols[i] ? cols[i]!.split(/[|,]/) : []));
      return frame;
    });
}

const IP_LAYERS = new Set(['ip', 'ipv6']);
const IPV6_EXTENSIONS: Record<string, string> = {
  'ipv6.hopopts': 'ipv6.hopopts.nxt',
  'ipv6.dstopts': 'ipv6.dstopts.nxt',
  'ipv6.routing': 'ipv6.routing.nxt',
  'ipv6.fraghdr': 'ipv6.fraghdr.nxt',
  ah: 'ah.next_header',
};
const TUNNEL_LAYERS: Record<string, string> = { gre: 'GRE', vxlan: 'VXLAN', gtp: 'GTP-U' };

/** The facts tshark's dissection implies: innermost flow (or the outer one with keepOuter). */
export function expectedFacts(t: TsharkFrame, keepOuter: boolean): Facts {
  const chain = t['frame.protocols']![0]!.split(':');
  const num = (field: string, i: number): number => {
    const v = t[field]?.[i];
    if (v === undefined) throw new Error(`frame ${t['frame.number']}: no ${field}[${i}]`);
    return v === 'True' ? 1 : v === 'False' ? 0 : Number(v);
  };
  const str = (field: string, i: number): string => {
    const v = t[field]?.[i];
    if (v === undefined) throw new Error(`frame ${t['frame.number']}: no ${field}[${i}]`);
    return v;
  };
  /** How many layers named `name` precede position `pos` of the chain: the occurrence index of its fields. */
  const before = (name: string, pos: number) => chain.slice(0, pos).filter((l) => l === name).length;
  const out: Facts = {};

  // The outermost Ethernet header and its tags.
  if (chain[0] === 'eth') {
    out.destinationMac = str('eth.dst', 0);
    out.sourceMac = str('eth.src', 0);
    const tags: string[] = [];
    for (let j = 1; j < chain.length && ['ethertype', 'vlan', 'ieee8021ad'].includes(chain[j]!); j++) {
      if (chain[j] !== 'ethertype') tags.push(chain[j]!);
    }
    let vlans = 0;
    let sTags = 0;
    tags.forEach((tag, k) => {
      const id = tag === 'vlan' ? num('vlan.id', vlans) : num('ieee8021ad.id', sTags);
      const prio = tag === 'vlan' ? num('vlan.priority', vlans) : num('ieee8021ad.priority', sTags);
      if (tag === 'vlan') vlans++;
      else sTags++;
      if (k === 0) Object.assign(out, { vlanId: id, vlanPriority: prio });
      if (k === 1) Object.assign(out, { customerVlanId: id, customerVlanPriority: prio });
    });
    if (tags.length > 0 && tags[tags.length - 1] !== 'vlan') throw new Error('judge: last tag must be 802.1Q');
    out.etherType =
      tags.length > 0 ? num('vlan.etype', vlans - 1) : t['eth.type']!.length > 0 ? num('eth.type', 0) : t['llc.type']!.length > 0 ? num('llc.type', 0) : 0;
  }

  // The outermost MPLS label stack: entries up to the first bottom of stack.
  if (t['mpls.label']!.length > 0) {
    let depth = 0;
    while (depth < t['mpls.label']!.length && num('mpls.bottom', depth) === 0) depth++;
    depth++;
    for (let i = 0; i < 3; i++) {
      out[`mplsLabel${i + 1}`] = i < depth ? (num('mpls.label', i) << 4) | (num('mpls.exp', i) << 1) | num('mpls.bottom', i) : 0;
    }
    out.mplsTopLabelTtl = num('mpls.ttl', 0);
    out.mplsDepth = depth;
  }

  // Which IP header is exported: the first with keepOuter, else the innermost one before any ICMP
  // (an ICMP error quotes a packet, it does not tunnel one).
  let exported = -1;
  let tunnel = '';
  let pending = '';
  let previous = '';
  for (let pos = 0; pos < chain.length; pos++) {
    const layer = chain[pos]!;
    if (layer === 'icmp' || layer === 'icmpv6') break;
    if (TUNNEL_LAYERS[layer]) pending = TUNNEL_LAYERS[layer]!;
    if (IP_LAYERS.has(layer)) {
      if (exported >= 0 && (IP_LAYERS.has(previous) || IPV6_EXTENSIONS[previous])) pending = 'IPIP';
      tunnel = exported >= 0 ? pending : '';
      exported = pos;
      if (keepOuter) break;
    }
    if (layer !== 'ethertype') previous = layer;
  }
  if (exported < 0) return out;

  let pos = exported;
  const version = chain[pos] === 'ip' ? 4 : 6;
  let protocol: number;
  let laterFragment = false;
  if (version === 4) {
    const i = before('ip', pos);
    protocol = num('ip.proto', i);
    Object.assign(out, {
      ipVersion: 4, protocol, classOfService: num('ip.dsfield', i), ttl: num('ip.ttl', i), ipLength: num('ip.len', i),
      sourceIPv4: str('ip.src', i), destinationIPv4: str('ip.dst', i),
    });
    const mf = num('ip.flags.mf', i);
    const offset = num('ip.frag_offset', i);
    if (mf || offset) {
      const flags = (num('ip.flags.rb', i) << 7) | (num('ip.flags.df', i) << 6) | (mf << 5);
      Object.assign(out, { fragmentId: num('ip.id', i), fragmentOffset: offset, fragmentFlags: flags });
      laterFragment = offset !== 0;
    }
    pos++;
  } else {
    const i = before('ipv6', pos);
    protocol = num('ipv6.nxt', i);
    Object.assign(out, {
      ipVersion: 6, classOfService: num('ipv6.tclass', i), ttl: num('ipv6.hlim', i), ipLength: num('ipv6.plen', i) + 40,
      sourceIPv6: str('ipv6.src', i), destinationIPv6: str('ipv6.dst', i), flowLabel: num('ipv6.flow', i),
    });
    for (pos++; pos < chain.length && IPV6_EXTENSIONS[chain[pos]!]; pos++) {
      const ext = chain[pos]!;
      const k = before(ext, pos);
      protocol = num(IPV6_EXTENSIONS[ext]!, k);
      if (ext === 'ipv6.fraghdr') {
        const offset = num('ipv6.fraghdr.offset', k);
        Object.assign(out, {
          fragmentId: num('ipv6.fraghdr.ident', k), fragmentOffset: offset, fragmentFlags: num('ipv6.fraghdr.more', k) ? 0x20 : 0,
        });
        laterFragment = offset !== 0;
      }
    }
    out.protocol = protocol;
  }
  if (tunnel) out.tunnel = tunnel;

  // The transport header right after it, unless this is a later fragment.
  const transport = laterFragment ? '' : chain[pos] ?? '';
  const k = before(transport, pos);
  if (transport === 'tcp') {
    Object.assign(out, { sourcePort: num('tcp.srcport', k), destinationPort: num('tcp.dstport', k), tcpFlags: num('tcp.flags', k) });
  } else if (transport === 'udp' || transport === 'sctp') {
    Object.assign(out, { sourcePort: num(`${transport}.srcport`, k), destinationPort: num(`${transport}.dstport`, k) });
  } else if (transport === 'icmp') {
    out.icmpTypeCodeV4 = (num('icmp.type', k) << 8) | num('icmp.code', k);
  } else if (transport === 'icmpv6') {
    out.icmpTypeCodeV6 = (num('icmpv6.type', k) << 8) | num('icmpv6.code', k);
  }

  // Tunnel descriptions: every tunnel passed on the way in (the innermost wins); with keepOuter only a
  // tunnel whose header directly follows the exported packet's IP or UDP header.
  const described = keepOuter ? chain.slice(0, pos + 2) : chain.slice(0, exported);
  const last = (field: string) => t[field]![t[field]!.length - 1];
  if (described.includes('gre') && t['gre.key']!.length > 0) out.greKey = Number(keepOuter ? t['gre.key']![0] : last('gre.key'));
  if (described.includes('vxlan')) {
    const vni = BigInt(keepOuter ? t['vxlan.vni']![0]! : last('vxlan.vni')!);
    out.vxlanSegment = '0x' + ((1n << 56n) | vni).toString(16).padStart(16, '0');
  }
  if (described.includes('gtp')) out.gtpuTeid = Number(keepOuter ? t['gtp.teid']![0] : last('gtp.teid'));
  return out;
}
