// The sFlow raw packet header decoder on frames written here octet by octet: QinQ, VXLAN, GTP-U with
// extension headers, IPv6 fragments, IPv4 options and fragments, the header protocols IPv4/IPv6, both
// tunnel choices, every truncation point, and crafted nesting that must end.

import { describe, expect, it } from 'vitest';
import { decodeHeader, HeaderOutcome, HeaderProtocol, MAX_LAYERS } from '../../../src/collect/sflow/header.js';
import { FlowView, Group, type GroupName } from '../../../src/collect/sflow/view.js';
import { factsOf, type Facts } from './header-judge.js';

/** Octets from hex strings (spaces ignored), one string per documented field. */
function hex(...parts: string[]): Uint8Array {
  const h = parts.join('').replace(/\s+/g, '');
  if (h.length % 2 !== 0) throw new Error('odd hex');
  return Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

const ETH_IPV4 = ['02 00 00 00 00 02', '02 00 00 00 00 01', '08 00']; // dst, src, EtherType IPv4
const ETH_IPV6 = ['02 00 00 00 00 02', '02 00 00 00 00 01', '86 dd'];

/** 802.1ad S-tag, 802.1Q C-tag, a third tag (walked, not kept), IPv4, UDP 1024 → 53. */
const QINQ = hex(
  '02 00 00 00 00 02', '02 00 00 00 00 01', // destination, source MAC
  '88 a8', 'a0 64', // S-tag: TPID 0x88a8, TCI = PCP 5, DEI 0, VID 100
  '81 00', '20 c8', // C-tag: TPID 0x8100, TCI = PCP 1, VID 200
  '81 00', '00 05', // third tag, VID 5
  '08 00', // EtherType of the payload: IPv4
  '45 00 00 1c', // version 4, IHL 5, TOS 0, total length 28
  '00 01 00 00', // identification 1, no flags, offset 0
  '40 11 00 00', // TTL 64, protocol UDP, checksum (not checked)
  '0a 00 00 01', '0a 00 00 02', // 10.0.0.1 → 10.0.0.2
  '04 00 00 35 00 08 00 00', // UDP 1024 → 53, length 8, checksum
);

/** VXLAN: outer IPv4/UDP to 4789, VNI 12345, inner Ethernet/IPv4/TCP SYN-ACK 80 → 50000. */
const VXLAN = hex(
  ...ETH_IPV4,
  '45 00 00 5a', '00 00 40 00', '40 11 00 00', // total length 90, DF, TTL 64, UDP
  'c0 00 02 01', 'c0 00 02 02', // 192.0.2.1 → 192.0.2.2
  'c0 00 12 b5 00 46 00 00', // UDP 49152 → 4789, length 70
  '08 00 00 00', // VXLAN flags: I (VNI valid), reserved
  '00 30 39 00', // VNI 0x003039 = 12345, reserved
  '02 aa 00 00 00 02', '02 aa 00 00 00 01', '08 00', // inner Ethernet
  '45 10 00 28', '00 00 00 00', '05 06 00 00', // total length 40, TOS 0x10, TTL 5, TCP
  '0a 01 00 01', '0a 02 00 01', // 10.1.0.1 → 10.2.0.1
  '00 50 c3 50', // TCP 80 → 50000
  '00 00 00 04', '00 00 00 08', // sequence, acknowledgement
  '50 12 20 00', // data offset 5, flags SYN+ACK, window
  '00 00 00 00', // checksum, urgent pointer
);

/** GTP-U G-PDU with sequence number and two extension headers, inner IPv6/UDP 53 → 53. */
const GTPU = hex(
  ...ETH_IPV4,
  '45 00 00 60', '00 00 00 00', '40 11 00 00', // total length 96, UDP
  '0a 00 00 01', '0a 00 00 02',
  '08 68 08 68 00 4c 00 00', // UDP 2152 → 2152, length 76
  '36', // GTP flags: version 1, PT 1 (GTP), E 1, S 1, PN 0
  'ff', // message type 255: G-PDU
  '00 3c', // length 60 (after the 8 mandatory octets)
  '00 00 ab cd', // TEID
  '00 07', '00', '85', // sequence 7, N-PDU number, next extension: PDU session container
  '01', '00 09', '40', // extension: length 1 (4 octets), content (DL PDU, QFI 9), next: UDP port
  '01', '08 68', '00', // extension: length 1, port 2152, next: none
  '60 00 00 00', // IPv6: version 6, traffic class 0, flow label 0
  '00 08 11 40', // payload length 8, next header UDP, hop limit 64
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01', // 2001:db8::1
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02', // 2001:db8::2
  '00 35 00 35 00 08 00 00', // UDP 53 → 53
);

/** IPv6 first fragment (offset 0, M) of a UDP datagram 12345 → 53. */
const IPV6_FIRST_FRAGMENT = hex(
  ...ETH_IPV6,
  '6b 80 00 01', // version 6, traffic class 0xb8, flow label 1
  '00 18 2c 08', // payload length 24, next header 44 (Fragment), hop limit 8
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 0a', // 2001:db8::a
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 0b', // 2001:db8::b
  '11 00', // Fragment: next header UDP, reserved
  '00 01', // fragment offset 0, M = 1
  '12 34 56 78', // identification
  '30 39 00 35 04 08 00 00', // UDP 12345 → 53, length 1032
  '00 00 00 00 00 00 00 00', // data
);

/** A later IPv6 fragment: offset 185 (1480 octets), last one; what follows is data, not ports. */
const IPV6_LATER_FRAGMENT = hex(
  ...ETH_IPV6,
  '60 00 00 00', '00 10 2c 08',
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 0a',
  '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 0b',
  '11 00', '05 c8', // next header UDP; offset 185 << 3 = 0x5c8, M = 0
  '12 34 56 78',
  'de ad be ef 00 00 00 00', // data
);

/** IPv4 with 8 octets of options (IHL 7) and TCP 443 → 1025 with ECE|CWR|NS|ACK. */
const IPV4_OPTIONS = hex(
  ...ETH_IPV4,
  '47 b8 00 30', // version 4, IHL 7, TOS 0xb8, total length 48
  'ab cd 40 00', // identification, DF, offset 0
  '3f 06 00 00', // TTL 63, TCP
  'c6 33 64 01', 'c6 33 64 02', // 198.51.100.1 → 198.51.100.2
  '94 04 00 00', // option: router alert
  '01 01 01 00', // NOP, NOP, NOP, end of options
  '01 bb 04 01', // TCP 443 → 1025
  '00 00 00 01', '00 00 00 02',
  '51 d0 ff ff', // data offset 5, NS (low bit of the first octet); CWR ECE ACK (0xd0)
  '00 00 00 00',
);

/** A later IPv4 fragment: MF, offset 0x00b9 (185); the data that follows must not be read as ports. */
const IPV4_LATER_FRAGMENT = hex(
  ...ETH_IPV4,
  '45 00 05 dc', // total length 1500
  '77 77 20 b9', // identification 0x7777, MF, offset 185
  '40 11 00 00', '0a 00 00 01', '0a 00 00 02',
  'de ad be ef 00 00 00 00',
);

/** IPv4 / GRE with key / IPv4 / UDP 5353 → 5353. */
const GRE_KEY = hex(
  ...ETH_IPV4,
  '45 00 00 38', '00 00 00 00', '40 2f 00 00', // total length 56, GRE
  'cb 00 71 01', 'cb 00 71 02', // 203.0.113.1 → 203.0.113.2
  '20 00 08 00', // GRE: K, version 0; protocol type IPv4
  '00 00 ab cd', // key
  '45 00 00 1c', '00 00 00 00', '20 11 00 00', '0a 00 00 01', '0a 00 00 02', // inner: TTL 32, UDP
  '14 e9 14 e9 00 08 00 00', // UDP 5353 → 5353
);

function decode(frame: Uint8Array, keepOuter = false, protocol: number = HeaderProtocol.ethernet, start = 0, end = frame.length) {
  const view = new FlowView();
  const outcome = decodeHeader(frame, start, end, protocol, view, keepOuter);
  return { outcome, facts: factsOf(view), view };
}

const MACS = { destinationMac: '02:00:00:00:00:02', sourceMac: '02:00:00:00:00:01' };

describe('decodeHeader on hand-built frames', () => {
  it('QinQ: outer tag → vlan, inner → customerVlan, third tag skipped, EtherType after the tags', () => {
    const { outcome, facts } = decode(QINQ);
    expect(outcome).toBe(HeaderOutcome.ok);
    expect(facts).toEqual({
      ...MACS, etherType: 0x0800,
      vlanId: 100, vlanPriority: 5, customerVlanId: 200, customerVlanPriority: 1,
      ipVersion: 4, protocol: 17, classOfService: 0, ttl: 64, ipLength: 28,
      sourceIPv4: '10.0.0.1', destinationIPv4: '10.0.0.2', sourcePort: 1024, destinationPort: 53,
    });
  });

  it('VXLAN: inner flow with the VNI as layer2SegmentId (type 0x01), or the outer flow with keepOuter', () => {
    expect(decode(VXLAN).facts).toEqual({
      ...MACS, etherType: 0x0800,
      ipVersion: 4, protocol: 6, classOfService: 0x10, ttl: 5, ipLength: 40,
      sourceIPv4: '10.1.0.1', destinationIPv4: '10.2.0.1', sourcePort: 80, destinationPort: 50000, tcpFlags: 0x12,
      tunnel: 'VXLAN', vxlanSegment: '0x0100000000003039',
    });
    expect(decode(VXLAN, true).facts).toEqual({
      ...MACS, etherType: 0x0800,
      ipVersion: 4, protocol: 17, classOfService: 0, ttl: 64, ipLength: 90,
      sourceIPv4: '192.0.2.1', destinationIPv4: '192.0.2.2', sourcePort: 49152, destinationPort: 4789,
      vxlanSegment: '0x0100000000003039',
    });
  });

  it('GTP-U: sequence number and an extension header chain walked to the inner IPv6 packet', () => {
    const { facts, view } = decode(GTPU);
    expect(facts).toEqual({
      ...MACS, etherType: 0x0800,
      ipVersion: 6, protocol: 17, classOfService: 0, ttl: 64, ipLength: 48, flowLabel: 0,
      sourceIPv6: '2001:db8::1', destinationIPv6: '2001:db8::2', sourcePort: 53, destinationPort: 53,
      tunnel: 'GTP-U', gtpuTeid: 0xabcd,
    });
    expect(view.mask & Group.ipv4).toBe(0); // the outer IPv4 addresses are not left behind
    expect(decode(GTPU, true).facts).toMatchObject({ sourceIPv4: '10.0.0.1', sourcePort: 2152, gtpuTeid: 0xabcd });
    expect(decode(GTPU, true).facts).not.toHaveProperty('tunnel');
  });

  it('GRE with a key: inner flow, key described both ways', () => {
    expect(decode(GRE_KEY).facts).toMatchObject({ tunnel: 'GRE', greKey: 0xabcd, ttl: 32, sourcePort: 5353 });
    const outer = decode(GRE_KEY, true).facts;
    expect(outer).toMatchObject({ greKey: 0xabcd, ttl: 64, protocol: 47, ipLength: 56, sourceIPv4: '203.0.113.1' });
    expect(outer).not.toHaveProperty('sourcePort');
  });

  it('IPv6 Fragment header: first fragment has ports, a later one none; flags MF as fragmentFlags bit 2', () => {
    expect(decode(IPV6_FIRST_FRAGMENT).facts).toEqual({
      ...MACS, etherType: 0x86dd,
      ipVersion: 6, protocol: 17, classOfService: 0xb8, ttl: 8, ipLength: 64, flowLabel: 1,
      sourceIPv6: '2001:db8::a', destinationIPv6: '2001:db8::b',
      fragmentId: 0x12345678, fragmentOffset: 0, fragmentFlags: 0x20, sourcePort: 12345, destinationPort: 53,
    });
    const later = decode(IPV6_LATER_FRAGMENT).facts;
    expect(later).toMatchObject({ protocol: 17, fragmentId: 0x12345678, fragmentOffset: 185, fragmentFlags: 0 });
    expect(later).not.toHaveProperty('sourcePort');
  });

  it('IPv4 options are skipped by IHL; TCP flags include NS, CWR and ECE; DF alone is not a fragment', () => {
    expect(decode(IPV4_OPTIONS).facts).toEqual({
      ...MACS, etherType: 0x0800,
      ipVersion: 4, protocol: 6, classOfService: 0xb8, ttl: 63, ipLength: 48,
      sourceIPv4: '198.51.100.1', destinationIPv4: '198.51.100.2', sourcePort: 443, destinationPort: 1025,
      tcpFlags: 0x1d0,
    });
    const later = decode(IPV4_LATER_FRAGMENT).facts;
    expect(later).toMatchObject({ fragmentId: 0x7777, fragmentOffset: 185, fragmentFlags: 0x20, ipLength: 1500 });
    expect(later).not.toHaveProperty('sourcePort');
  });

  it('header protocols IPv4 and IPv6 start at the IP header (no Ethernet facts); others are refused', () => {
    const ip = decode(QINQ, false, HeaderProtocol.ipv4, 26);
    expect(ip.outcome).toBe(HeaderOutcome.ok);
    expect(ip.facts).toEqual({
      ipVersion: 4, protocol: 17, classOfService: 0, ttl: 64, ipLength: 28,
      sourceIPv4: '10.0.0.1', destinationIPv4: '10.0.0.2', sourcePort: 1024, destinationPort: 53,
    });
    const ip6 = decode(GTPU, false, HeaderProtocol.ipv6, 14 + 20 + 8 + 20);
    expect(ip6.facts).toMatchObject({ sourceIPv6: '2001:db8::1', sourcePort: 53 });
    expect(ip6.facts).not.toHaveProperty('tunnel');
    // The wrong version for the header protocol is not a header of it.
    expect(decode(GTPU, false, HeaderProtocol.ipv4, 14 + 20 + 8 + 20).outcome).toBe(HeaderOutcome.truncated);
    for (const p of [2, 3, 7, 13, 14, 0, 0xffffffff]) {
      const r = decode(QINQ, false, p);
      expect(r.outcome).toBe(HeaderOutcome.unsupportedProtocol);
      expect(r.view.mask).toBe(0);
    }
  });

  it('outcome truncated only when the first layer is incomplete; groups set before the call are kept', () => {
    expect(decode(QINQ, false, HeaderProtocol.ethernet, 0, 13).outcome).toBe(HeaderOutcome.truncated);
    expect(decode(QINQ, false, HeaderProtocol.ethernet, 5, 5).outcome).toBe(HeaderOutcome.truncated);
    expect(decode(QINQ, false, HeaderProtocol.ethernet, 0, 14).outcome).toBe(HeaderOutcome.ok);
    expect(decode(QINQ, false, HeaderProtocol.ipv4, 26, 45).outcome).toBe(HeaderOutcome.truncated);
    expect(decode(QINQ, false, HeaderProtocol.ethernet, 0, 1000).facts).toEqual(decode(QINQ).facts); // end clamped
    const view = new FlowView();
    view.mask = Group.sample | Group.frame;
    decodeHeader(GTPU, 0, GTPU.length, HeaderProtocol.ethernet, view, false);
    expect(view.mask & (Group.sample | Group.frame)).toBe(Group.sample | Group.frame);
  });

  it('802.3 frames: LLC without SNAP has only addresses (EtherType 0); SNAP names the payload', () => {
    const llc = hex('01 80 c2 00 00 00', '02 00 00 00 00 01', '00 26', '42 42 03', '00 00 00 00'); // STP BPDU
    expect(decode(llc).facts).toEqual({ destinationMac: '01:80:c2:00:00:00', sourceMac: '02:00:00:00:00:01', etherType: 0 });
    const snap = hex('02 00 00 00 00 02', '02 00 00 00 00 01', '00 24', 'aa aa 03 00 00 00 08 00', ...QINQ_IP());
    expect(decode(snap).facts).toMatchObject({ etherType: 0x0800, sourceIPv4: '10.0.0.1', destinationPort: 53 });
    // A SNAP header cut short: the EtherType is unknown, so no Ethernet facts at all.
    expect(decode(snap, false, HeaderProtocol.ethernet, 0, 20).facts).toEqual({});
  });
});

/** The IPv4/UDP part of QINQ, as hex. */
function QINQ_IP(): string[] {
  return [Buffer.from(QINQ.subarray(26)).toString('hex')];
}

/** The first cut length at which a group appears (and stays) in the decode of frame[0, cut). */
function firstCut(frame: Uint8Array, group: GroupName, keepOuter: boolean): number {
  let first = -1;
  for (let cut = 0; cut <= frame.length; cut++) {
    const { view } = decode(frame, keepOuter, HeaderProtocol.ethernet, 0, cut);
    if ((view.mask & Group[group]) !== 0) {
      if (first < 0) first = cut;
    } else first = -1;
  }
  return first;
}

describe('decodeHeader on truncated headers', () => {
  const FRAMES: Record<string, Uint8Array> = {
    QINQ, VXLAN, GTPU, IPV6_FIRST_FRAGMENT, IPV6_LATER_FRAGMENT, IPV4_OPTIONS, IPV4_LATER_FRAGMENT, GRE_KEY,
  };

  it('every cut: no throw, nothing read outside [start,end), every fact one the whole frame also states', () => {
    for (const [name, frame] of Object.entries(FRAMES)) {
      // The frame inside a larger buffer: junk before start, the rest of the frame after end. Reading
      // either would change the facts compared with a copy that holds exactly the cut.
      const big = new Uint8Array(37 + frame.length + 64).fill(0xff);
      big.set(frame, 37);
      for (const keepOuter of [false, true]) {
        const whole = decode(frame, keepOuter).facts;
        const outer = decode(frame, true).facts;
        for (let cut = 0; cut <= frame.length; cut++) {
          const exact = frame.slice(0, cut);
          const a = decode(exact, keepOuter);
          const b = decode(big, keepOuter, HeaderProtocol.ethernet, 37, 37 + cut);
          expect(b.facts, `${name} cut ${cut}`).toEqual(a.facts);
          expect(a.outcome, `${name} cut ${cut}`).toBe(cut < 14 ? HeaderOutcome.truncated : HeaderOutcome.ok);
          // A truncated tunnel leaves the outer packet's facts; otherwise facts agree with the whole frame.
          for (const [k, v] of Object.entries(a.facts)) {
            if (whole[k] !== v) expect(outer[k], `${name} cut ${cut} ${k}`).toBe(v);
          }
        }
      }
    }
  });

  it('a group appears exactly when its last field is inside the cut', () => {
    // IPV4_OPTIONS: Ethernet 14, IPv4 20 + 8 options, TCP ports at 42..45, flags at 54..55.
    expect(firstCut(IPV4_OPTIONS, 'ethernet', false)).toBe(14);
    expect(firstCut(IPV4_OPTIONS, 'ip', false)).toBe(34);
    expect(firstCut(IPV4_OPTIONS, 'ports', false)).toBe(46);
    expect(firstCut(IPV4_OPTIONS, 'tcp', false)).toBe(56);
    // QINQ: two tags are kept as soon as each is complete; the Ethernet facts wait for the third tag's type.
    expect(firstCut(QINQ, 'vlan', false)).toBe(18);
    expect(firstCut(QINQ, 'customerVlan', false)).toBe(22);
    expect(firstCut(QINQ, 'ethernet', false)).toBe(26);
    // VXLAN: header complete at 14+20+8+8 = 50; the inner IPv4 header at 50+14+20 = 84.
    expect(firstCut(VXLAN, 'vxlan', false)).toBe(50);
    expect(firstCut(VXLAN, 'tunnel', false)).toBe(84);
    expect(firstCut(VXLAN, 'tcp', false)).toBe(98);
    expect(firstCut(VXLAN, 'tunnel', true)).toBe(-1);
    // GTP-U: TEID at 42+8 = 50; the inner IPv6 header after 12 octets of options and extensions: 62+40.
    expect(firstCut(GTPU, 'gtpu', false)).toBe(50);
    expect(firstCut(GTPU, 'ipv6', false)).toBe(102);
    // GRE: key complete at 34+8 = 42.
    expect(firstCut(GRE_KEY, 'greKey', false)).toBe(42);
    expect(firstCut(GRE_KEY, 'tunnel', false)).toBe(62);
    // IPv6 fragment: addresses at 54; the Fragment header at 54+8 = 62 tells the protocol; UDP ports at 66.
    expect(firstCut(IPV6_FIRST_FRAGMENT, 'ipv6', false)).toBe(54);
    expect(firstCut(IPV6_FIRST_FRAGMENT, 'fragment', false)).toBe(62);
    expect(firstCut(IPV6_FIRST_FRAGMENT, 'ip', false)).toBe(62);
    expect(firstCut(IPV6_FIRST_FRAGMENT, 'ports', false)).toBe(66);
  });

  it('a cut inside the inner packet exports the outer one, with the tunnel described but not claimed', () => {
    const { facts } = decode(VXLAN, false, HeaderProtocol.ethernet, 0, 70);
    expect(facts).toMatchObject({ sourceIPv4: '192.0.2.1', destinationPort: 4789, vxlanSegment: '0x0100000000003039' });
    expect(facts).not.toHaveProperty('tunnel');
  });
});

describe('decodeHeader on crafted nesting', () => {
  it('50 nested IP-in-IP headers: stops after MAX_LAYERS steps', () => {
    const layers: string[] = [];
    for (let i = 0; i < 50; i++) layers.push('45 00 00 14 00 00 00 00', `${(i + 1).toString(16).padStart(2, '0')} 04 00 00`, '0a 00 00 01 0a 00 00 02');
    const frame = hex(...ETH_IPV4, ...layers);
    const { outcome, facts } = decode(frame);
    expect(outcome).toBe(HeaderOutcome.ok);
    // Ethernet is step 1, so the last IP header decoded is the (MAX_LAYERS - 1)th: its TTL says which.
    expect(facts).toMatchObject({ tunnel: 'IPIP', protocol: 4, ttl: MAX_LAYERS - 1 });
    expect(decode(frame, true).facts).toMatchObject({ ttl: 1 });
  });

  it('endless label stacks, tag stacks, extension header chains and GTP extension chains end with the data', () => {
    const labels = hex(...ETH_IPV4.slice(0, 2), '88 47', '00 01 00 40'.repeat(2000)); // no bottom of stack
    expect(decode(labels).facts).not.toHaveProperty('mplsDepth');
    const tags = hex(...ETH_IPV4.slice(0, 2), '81 00 00 01'.repeat(2000), '08 00');
    expect(decode(tags).facts).toMatchObject({ vlanId: 1, customerVlanId: 1, etherType: 0x8100 });
    const hbh = hex(...ETH_IPV6, '60 00 00 00 3e 80 00 40', '00'.repeat(32), '00 00 00 00 00 00 00 00'.repeat(2000));
    // The chain outlasts the walk: the upper-layer protocol is unknown, so only the ipv6 facts are set.
    expect(decode(hbh).facts).toMatchObject({ sourceIPv6: '::', ttl: 0x40 });
    expect(decode(hbh).facts).not.toHaveProperty('protocol');
    const gtp = hex(...ETH_IPV4, '45 00 00 00 00 00 00 00 40 11 00 00 0a 00 00 01 0a 00 00 02', '08 68 08 68 00 00 00 00',
      '34 ff 00 00 00 00 00 01', '00 00 00 85', '01 00 00 85'.repeat(2000));
    expect(decode(gtp).facts).toMatchObject({ gtpuTeid: 1, sourcePort: 2152 });
    expect(decode(gtp).facts).not.toHaveProperty('tunnel');
    // GRE inside GRE inside GRE ... with keys: bounded, and the innermost key decoded wins.
    const greLayers: string[] = [];
    for (let i = 0; i < 40; i++) greLayers.push('45 00 00 00 00 00 00 00 40 2f 00 00 0a 00 00 01 0a 00 00 02', `20 00 08 00 00 00 00 ${(i + 1).toString(16).padStart(2, '0')}`);
    const gre = decode(hex(...ETH_IPV4, ...greLayers)).facts;
    expect(gre).toMatchObject({ tunnel: 'GRE', protocol: 47, greKey: MAX_LAYERS - 1 });
  });
});
