// sFlow v5 → IPFIX from datagrams built in the test (build.ts, from the sFlow v5 specification): every
// value asserted is read back from the IPFIX records the decoder hands to its sink. Then malformed
// datagrams: every length the decoder trusts, broken one at a time, drops only what it must.

import { describe, expect, it } from 'vitest';
import { buildSflowDecoder } from '../../../src/collect/sflow/decode.js';
import type { SflowMappingConfig } from '../../../src/config/types.js';
import { DropReason, registry as metrics } from '../../../src/observe/metrics.js';
import { allRows, mappingConfig, RecordingContext, rows, testRegistry, type Row } from '../../mapping/harness.js';
import {
  AsPathSegment,
  counterSample,
  datagram,
  ETHERNET_COUNTER_NAMES,
  ethernetCounters,
  extendedGateway,
  extendedRouter,
  extendedSwitch,
  flowSample,
  frame,
  genericInterfaceCounters,
  HeaderProtocol,
  ifIndex,
  LOCAL,
  rawHeader,
  sampledEthernet,
  sampledIp,
  tlv,
  type IfCounters,
} from './build.js';

const reg = testRegistry();
const PEN = 4294967293;

function decoder(sflow: Partial<SflowMappingConfig> = {}) {
  return buildSflowDecoder({ registry: reg, mapping: { ...mappingConfig, sflow: { ...mappingConfig.sflow, ...sflow } } });
}

/** Decodes datagrams (from 192.0.2.99:50000 unless said) with one decoder; returns the context and every row. */
function run(dgs: Buffer[], sflow: Partial<SflowMappingConfig> = {}, from: [string, number] = ['192.0.2.99', 50000]) {
  const decode = decoder(sflow);
  const ctx = new RecordingContext();
  for (const d of dgs) decode(ctx, d, from[0], from[1]);
  return { ctx, rows: allRows(reg, ctx), decode };
}

/** One flow sample in one datagram: its one record. */
function one(sample: Buffer, sflow: Partial<SflowMappingConfig> = {}): Row {
  const { ctx, rows } = run([datagram({ agent: '192.0.2.1', samples: [sample] })], sflow);
  expect(ctx.drops).toEqual([]);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** A counter's value (summed over label sets matching `labels`), read the way a scrape reads it. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  let n = 0;
  for (const v of m?.values ?? []) if (Object.entries(labels).every(([k, x]) => v.labels[k] === x)) n += v.value;
  return n;
}
const skipped = (what: string) => metric('ipfix_mediator_sflow_skipped_total', { input: 'test', what });

const tcpFrame = frame({
  srcMac: '02:00:00:00:00:01',
  dstMac: '02:00:00:00:00:02',
  vlan: { id: 100, priority: 5 },
  src: '198.51.100.1',
  dst: '203.0.113.7',
  protocol: 6,
  ttl: 57,
  tos: 0xb8,
  srcPort: 443,
  dstPort: 51000,
  tcpFlags: 0x18,
  payload: 1000,
});

const counters: IfCounters = {
  ifIndex: 17,
  ifType: 6,
  ifSpeed: 10_000_000_000n,
  ifDirection: 1,
  ifStatus: 3,
  ifInOctets: 0x1_0000_0005n,
  ifInUcastPkts: 1001,
  ifInMulticastPkts: 1002,
  ifInBroadcastPkts: 1003,
  ifInDiscards: 1004,
  ifInErrors: 1005,
  ifInUnknownProtos: 1006,
  ifOutOctets: 123456789012n,
  ifOutUcastPkts: 2001,
  ifOutMulticastPkts: 2002,
  ifOutBroadcastPkts: 2003,
  ifOutDiscards: 2004,
  ifOutErrors: 2005,
  ifPromiscuousMode: 1,
};
const dot3 = ETHERNET_COUNTER_NAMES.map((_, i) => 300 + i);

describe('sFlow datagram header: the agent is the exporter', () => {
  it('an IPv4 agent and sub-agent make the session: address from the datagram, ODID = sub-agent, UDP source port ignored', () => {
    const s = flowSample({ records: [] });
    const { ctx, rows } = run([datagram({ agent: '10.1.2.3', subAgent: 7, sequence: 1, samples: [s] })]);
    // the same agent relayed from elsewhere, another source port: still the same session
    const decode = decoder();
    decode(ctx, datagram({ agent: '10.1.2.3', subAgent: 7, sequence: 2, samples: [s] }), '192.0.2.200', 6343);
    const sessions = ctx.allSessions();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.session).toMatchObject({ protocol: 'sflow', address: '10.1.2.3', port: 0, observationDomainId: 7 });
    expect(rows).toHaveLength(1);
    expect(ctx.records.every((c) => c.session === sessions[0]!.session)).toBe(true);
  });

  it('an IPv6 agent address is the exporter address (RFC 5952 text)', () => {
    const { ctx } = run([datagram({ agent: '2001:db8:0:0:0:0:0:1', subAgent: 0, samples: [flowSample({ records: [] })] })]);
    expect(ctx.allSessions().map((s) => s.session.address)).toEqual(['2001:db8::1']);
    expect(ctx.records).toHaveLength(1);
  });

  it('one session per (agent, sub-agent): two sub-agents of one agent and the same sub-agent of another agent', () => {
    const s = flowSample({ records: [] });
    const { ctx, rows } = run([
      datagram({ agent: '10.0.0.1', subAgent: 1, samples: [s] }),
      datagram({ agent: '10.0.0.1', subAgent: 2, samples: [s, s] }),
      datagram({ agent: '10.0.0.2', subAgent: 1, samples: [s] }),
      datagram({ agent: '10.0.0.1', subAgent: 1, sequence: 2, samples: [s] }),
    ]);
    expect(ctx.allSessions().map((x) => `${x.session.address}/${x.session.observationDomainId}`)).toEqual(['10.0.0.1/1', '10.0.0.1/2', '10.0.0.2/1']);
    expect(rows.map((r) => r.$odid)).toEqual([1, 2, 2, 1, 1]);
    // each session announces the one template it uses itself
    expect(ctx.events.filter((e) => e.kind === 'defined')).toHaveLength(3);
  });

  it('datagrams missing from an agent’s sequence are counted lost (per session; a restart is not a loss)', async () => {
    const before = await metric('ipfix_mediator_sflow_datagrams_lost_total', { input: 'test' });
    const s = flowSample({ records: [] });
    run([
      datagram({ agent: '10.9.0.1', sequence: 10, samples: [s] }),
      datagram({ agent: '10.9.0.1', sequence: 11, samples: [s] }),
      datagram({ agent: '10.9.0.1', sequence: 15, samples: [s] }), // 12, 13, 14 lost
      datagram({ agent: '10.9.0.1', subAgent: 1, sequence: 100, samples: [s] }), // another session: no gap
      datagram({ agent: '10.9.0.1', sequence: 1, samples: [s] }), // agent restarted
      datagram({ agent: '10.9.0.1', sequence: 2, samples: [s] }),
      datagram({ agent: '10.9.0.1', sequence: 4, samples: [s] }), // 3 lost
    ]);
    expect((await metric('ipfix_mediator_sflow_datagrams_lost_total', { input: 'test' })) - before).toBe(4);
  });
});

describe('flow samples', () => {
  it('compact: sequence, data source, sampling rate and pool, drops, interfaces, forwarded status, one packet, arrival time', () => {
    const t0 = Date.now();
    const r = one(flowSample({ sequence: 4242, sourceType: 0, sourceIndex: 0xabcdef, samplingRate: 2048, samplePool: 123456789, drops: 17, input: ifIndex(0x3ffffffe), output: ifIndex(9), records: [] }));
    const t1 = Date.now();
    expect(r).toMatchObject({
      sflowSampleSequence: 4242,
      sflowSourceIdType: 0,
      sflowSourceIdIndex: 0xabcdef,
      samplingPacketInterval: 2048,
      samplingPopulation: 123456789,
      droppedPacketDeltaCount: 17,
      ingressInterface: 0x3ffffffe,
      egressInterface: 9,
      forwardingStatus: 0x40, // Forwarded, reason unknown (RFC 7270)
      packetDeltaCount: 1,
    });
    expect(r.observationTimeMilliseconds).toBeGreaterThanOrEqual(t0);
    expect(r.observationTimeMilliseconds).toBeLessThanOrEqual(t1);
    // nothing the sample did not say: no addresses, no octets
    expect(Object.keys(r).filter((k) => !k.startsWith('$')).sort()).toEqual(
      ['droppedPacketDeltaCount', 'egressInterface', 'forwardingStatus', 'ingressInterface', 'observationTimeMilliseconds', 'packetDeltaCount', 'samplingPacketInterval', 'samplingPopulation', 'sflowSampleSequence', 'sflowSourceIdIndex', 'sflowSourceIdType'].sort(),
    );
  });

  it('expanded: 32-bit source index and interface values, source type', () => {
    const r = one(flowSample({ sequence: 1, sourceType: 2, sourceIndex: 0x12345678, samplingRate: 1, input: ifIndex(0x40000001), output: ifIndex(0x7fffffff), records: [] }, true));
    expect(r).toMatchObject({ sflowSourceIdType: 2, sflowSourceIdIndex: 0x12345678, ingressInterface: 0x40000001, egressInterface: 0x7fffffff, forwardingStatus: 0x40 });
  });

  it.each([false, true])('ifIndex "local" 0x3FFFFFFF (expanded %s): ingress 0; egress 0 with forwardingStatus Consumed/for us (195)', (expanded) => {
    const r = one(flowSample({ input: ifIndex(LOCAL), output: ifIndex(LOCAL), records: [] }, expanded));
    expect(r).toMatchObject({ ingressInterface: 0, egressInterface: 0, forwardingStatus: 195 });
    const inOnly = one(flowSample({ input: ifIndex(LOCAL), output: ifIndex(4), records: [] }, expanded));
    expect(inOnly).toMatchObject({ ingressInterface: 0, egressInterface: 4, forwardingStatus: 0x40 });
  });

  // RFC 7270 forwardingStatus: Dropped is 0b10 in the top two bits; reasons 0x81 ACL deny, 0x82 ACL drop,
  // 0x83 unroutable, 0x85 fragmentation and DF set, 0x89 bad TTL, 0x8a policer, 0x80 unknown.
  it.each([
    [258, 0x82], // sFlow ACL
    [9, 0x81], // ICMP "destination network administratively prohibited"
    [0, 0x83], // ICMP "net unreachable"
    [4, 0x85], // ICMP "fragmentation needed and DF set"
    [257, 0x89], // TTL exceeded
    [261, 0x8a], // rate limit
    [999, 0x80], // a code the mapping does not know
  ])('discarded with reason %i (output format 1): forwardingStatus %i, sflowDiscardReason keeps the code, no egress', (code, status) => {
    for (const expanded of [false, true]) {
      const r = one(flowSample({ input: ifIndex(3), output: { format: 1, value: code }, records: [] }, expanded));
      expect(r).toMatchObject({ ingressInterface: 3, egressInterface: 0, forwardingStatus: status, sflowDiscardReason: code });
    }
  });

  it('several output interfaces (output format 2): sflowOutputInterfaceCount, egress 0, forwarded; count 0 = unknown', () => {
    for (const expanded of [false, true]) {
      expect(one(flowSample({ output: { format: 2, value: 5 }, records: [] }, expanded))).toMatchObject({ egressInterface: 0, forwardingStatus: 0x40, sflowOutputInterfaceCount: 5 });
      expect(one(flowSample({ output: { format: 2, value: 0 }, records: [] }, expanded))).toMatchObject({ sflowOutputInterfaceCount: 0 });
    }
    expect(one(flowSample({ records: [] }))).not.toHaveProperty('sflowOutputInterfaceCount');
  });
});

describe('flow records', () => {
  it('sampled Ethernet: MACs, EtherType, layer-2 octets', () => {
    const r = one(flowSample({ records: [sampledEthernet({ length: 1518, src: '00:11:22:33:44:55', dst: 'ff:ee:dd:cc:bb:aa', type: 0x86dd })] }));
    expect(r).toMatchObject({ sourceMacAddress: '00:11:22:33:44:55', destinationMacAddress: 'ff:ee:dd:cc:bb:aa', ethernetType: 0x86dd, layer2OctetDeltaCount: 1518 });
    expect(r).not.toHaveProperty('octetDeltaCount');
  });

  it('sampled IPv4, TCP: addresses, protocol, ports, TCP flags, ToS, IP length as octets; no TTL (the record has none)', () => {
    const r = one(flowSample({ records: [sampledIp({ length: 1500, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1234, dstPort: 80, tcpFlags: 0x12, tos: 0x28 })] }));
    expect(r).toMatchObject({
      ipVersion: 4,
      sourceIPv4Address: '10.0.0.1',
      destinationIPv4Address: '10.0.0.2',
      protocolIdentifier: 6,
      sourceTransportPort: 1234,
      destinationTransportPort: 80,
      tcpControlBits: 0x12,
      ipClassOfService: 0x28,
      ipTotalLength: 1500,
      octetDeltaCount: 1500,
    });
    expect(r).not.toHaveProperty('ipTTL');
    expect(r).not.toHaveProperty('sourceIPv6Address');
  });

  it('sampled IPv4: ports only for TCP, UDP and SCTP; TCP flags only for TCP', () => {
    const ip = (protocol: number) => one(flowSample({ records: [sampledIp({ length: 84, protocol, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 7, dstPort: 9, tcpFlags: 0x02 })] }));
    const udp = ip(17);
    expect(udp).toMatchObject({ sourceTransportPort: 7, destinationTransportPort: 9 });
    expect(udp).not.toHaveProperty('tcpControlBits');
    expect(ip(132)).toMatchObject({ sourceTransportPort: 7, destinationTransportPort: 9 });
    expect(ip(132)).not.toHaveProperty('tcpControlBits');
    for (const other of [1, 47, 50]) {
      const r = ip(other);
      expect(r.protocolIdentifier).toBe(other);
      expect(r).not.toHaveProperty('sourceTransportPort');
      expect(r).not.toHaveProperty('tcpControlBits');
    }
  });

  it('sampled IPv6, UDP: addresses, ports, priority as class of service', () => {
    const r = one(flowSample({ records: [sampledIp({ length: 1280, protocol: 17, src: '2001:db8::1', dst: 'fe80::2', srcPort: 53, dstPort: 40000, tcpFlags: 0xff, tos: 0x10 })] }));
    expect(r).toMatchObject({ ipVersion: 6, sourceIPv6Address: '2001:db8::1', destinationIPv6Address: 'fe80::2', protocolIdentifier: 17, sourceTransportPort: 53, destinationTransportPort: 40000, ipClassOfService: 0x10, octetDeltaCount: 1280 });
    expect(r).not.toHaveProperty('tcpControlBits');
    expect(r).not.toHaveProperty('sourceIPv4Address');
    // The record has no flow label: only a decoded IPv6 header carries one.
    expect(r).not.toHaveProperty('flowLabelIPv6');
  });

  it('sampled IPv6 after a decoded IPv6 header: no flow label left over from the earlier sample', () => {
    const f = frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '2001:db8::1', dst: '2001:db8::2', protocol: 17, srcPort: 1, dstPort: 2 });
    f.bytes.writeUInt32BE((6 << 28) | 0xabcde, 14); // version 6, flow label 0xabcde
    const header = flowSample({ records: [rawHeader({ frameLength: f.frameLength, header: f.bytes })] });
    const sampled = flowSample({ records: [sampledIp({ length: 80, protocol: 17, src: '2001:db8::3', dst: '2001:db8::4' })] });
    const { ctx, rows } = run([datagram({ agent: '192.0.2.1', samples: [header, sampled] })]);
    expect(ctx.drops).toEqual([]);
    expect(rows.map((r) => r.flowLabelIPv6)).toEqual([0xabcde, undefined]);
  });

  it('extended switch: VLANs and priorities in and out', () => {
    const r = one(flowSample({ records: [extendedSwitch({ inVlan: 10, inPriority: 3, outVlan: 4094, outPriority: 7 })] }));
    expect(r).toMatchObject({ vlanId: 10, postVlanId: 4094, sflowSourcePriority: 3, sflowDestinationPriority: 7 });
  });

  it('extended router: IPv4 next hop, prefix lengths of an IPv4 flow', () => {
    const r = one(flowSample({ records: [sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' }), extendedRouter({ nextHop: '192.0.2.254', srcMask: 24, dstMask: 16 })] }));
    expect(r).toMatchObject({ ipNextHopIPv4Address: '192.0.2.254', sourceIPv4PrefixLength: 24, destinationIPv4PrefixLength: 16 });
    expect(r).not.toHaveProperty('sourceIPv6PrefixLength');
    expect(r).not.toHaveProperty('ipNextHopIPv6Address');
  });

  it('extended router: IPv6 next hop, prefix lengths of an IPv6 flow (whatever the record order)', () => {
    const flow = sampledIp({ length: 60, protocol: 17, src: '2001:db8::1', dst: '2001:db8:1::2' });
    const router = extendedRouter({ nextHop: '2001:db8::fe', srcMask: 48, dstMask: 64 });
    for (const records of [[flow, router], [router, flow]]) {
      const r = one(flowSample({ records }));
      expect(r).toMatchObject({ ipNextHopIPv6Address: '2001:db8::fe', sourceIPv6PrefixLength: 48, destinationIPv6PrefixLength: 64 });
      expect(r).not.toHaveProperty('sourceIPv4PrefixLength');
    }
  });

  it('extended router without an IP flow: the next hop, no prefix lengths', () => {
    const r = one(flowSample({ records: [extendedRouter({ nextHop: '192.0.2.1', srcMask: 8, dstMask: 8 })] }));
    expect(r.ipNextHopIPv4Address).toBe('192.0.2.1');
    expect(Object.keys(r).some((k) => k.includes('PrefixLength'))).toBe(false);
  });

  it('extended gateway: AS numbers, first and last AS of a several-segment path, the path itself, communities as a basicList of bgpCommunity (allOf), local preference', () => {
    const r = one(
      flowSample({
        records: [
          extendedGateway({
            nextHop: '198.51.100.9',
            as: 64500,
            srcAs: 64501,
            srcPeerAs: 64502,
            path: [
              { type: AsPathSegment.sequence, asns: [65001, 65002] },
              { type: AsPathSegment.set, asns: [] },
              { type: AsPathSegment.set, asns: [4200000000, 65003] },
            ],
            communities: [0xfde80001, 0xffffff01],
            localPref: 250,
          }),
        ],
      }),
    );
    expect(r).toMatchObject({
      bgpNextHopIPv4Address: '198.51.100.9',
      sflowRouterAsNumber: 64500,
      bgpSourceAsNumber: 64501,
      bgpPrevAdjacentAsNumber: 64502,
      bgpNextAdjacentAsNumber: 65001,
      bgpDestinationAsNumber: 65003,
      sflowLocalPreference: 250,
      // every AS in path order, 4 octets each
      sflowDestinationAsPath: [65001, 65002, 4200000000, 65003].map((a) => a.toString(16).padStart(8, '0')).join(''),
      // basicList (RFC 6313): semantic allOf (3), element bgpCommunity (483), length 4, then the values
      bgpDestinationCommunityList: '03' + '01e3' + '0004' + 'fde80001' + 'ffffff01',
    });
  });

  it('extended gateway: IPv6 next hop, no path and no communities', () => {
    const r = one(flowSample({ records: [extendedGateway({ nextHop: '2001:db8::1', as: 1, srcAs: 2, srcPeerAs: 3, path: [], communities: [], localPref: 0 })] }));
    expect(r).toMatchObject({ bgpNextHopIPv6Address: '2001:db8::1', bgpNextAdjacentAsNumber: 0, bgpDestinationAsNumber: 0, sflowDestinationAsPath: '', bgpDestinationCommunityList: '0301e30004' });
    expect(r).not.toHaveProperty('bgpNextHopIPv4Address');
  });

  it('raw packet header (Ethernet, 802.1Q, IPv4, TCP): decoded facts, TTL, frame length as layer-2 octets, header protocol and stripped octets', () => {
    const r = one(flowSample({ records: [rawHeader({ frameLength: tcpFrame.frameLength, stripped: 4, header: tcpFrame.bytes })] }));
    expect(r).toMatchObject({
      sflowHeaderProtocol: 1,
      sflowStrippedOctets: 4,
      layer2OctetDeltaCount: tcpFrame.frameLength,
      sourceMacAddress: '02:00:00:00:00:01',
      destinationMacAddress: '02:00:00:00:00:02',
      dot1qVlanId: 100,
      dot1qPriority: 5,
      sourceIPv4Address: '198.51.100.1',
      destinationIPv4Address: '203.0.113.7',
      protocolIdentifier: 6,
      ipTTL: 57,
      ipClassOfService: 0xb8,
      sourceTransportPort: 443,
      destinationTransportPort: 51000,
      tcpControlBits: 0x18,
      ipTotalLength: tcpFrame.ipLength,
      octetDeltaCount: tcpFrame.ipLength,
    });
  });

  it('a raw header’s IP facts win over a sampled IPv4 record in the same sample, in either order', () => {
    const header = rawHeader({ frameLength: tcpFrame.frameLength, header: tcpFrame.bytes });
    const other = sampledIp({ length: 99, protocol: 17, src: '10.7.7.7', dst: '10.8.8.8', srcPort: 1, dstPort: 2, tos: 0 });
    for (const records of [[header, other], [other, header]]) {
      const r = one(flowSample({ records }));
      expect(r).toMatchObject({ sourceIPv4Address: '198.51.100.1', destinationIPv4Address: '203.0.113.7', protocolIdentifier: 6, sourceTransportPort: 443, tcpControlBits: 0x18, ipTTL: 57, ipTotalLength: tcpFrame.ipLength });
    }
  });

  it('a raw IPv6 header wins over a sampled IPv4 record that came first: one address family in the record', () => {
    const v6 = frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '2001:db8::5', dst: '2001:db8::6', protocol: 17, srcPort: 5, dstPort: 6, ttl: 9 });
    const r = one(flowSample({ records: [sampledIp({ length: 99, protocol: 6, src: '10.7.7.7', dst: '10.8.8.8', tcpFlags: 2 }), rawHeader({ frameLength: v6.frameLength, header: v6.bytes })] }));
    expect(r).toMatchObject({ ipVersion: 6, sourceIPv6Address: '2001:db8::5', protocolIdentifier: 17, sourceTransportPort: 5, ipTTL: 9 });
    expect(r).not.toHaveProperty('sourceIPv4Address');
    expect(r).not.toHaveProperty('tcpControlBits');
  });

  it('a sampled IPv4 record fills in when the raw header gave no IP (header protocol not decodable)', async () => {
    const before = await skipped('unsupported_header_protocol');
    const r = one(flowSample({ records: [rawHeader({ protocol: HeaderProtocol.ppp, frameLength: 64, header: Buffer.alloc(60) }), sampledIp({ length: 60, protocol: 6, src: '10.7.7.7', dst: '10.8.8.8', srcPort: 1, dstPort: 2 })] }));
    expect(r).toMatchObject({ sflowHeaderProtocol: 7, layer2OctetDeltaCount: 64, sourceIPv4Address: '10.7.7.7', sourceTransportPort: 1 });
    expect(r).not.toHaveProperty('ipTTL');
    expect((await skipped('unsupported_header_protocol')) - before).toBe(1);
  });

  it('headerSection: dataLinkFrameSection carries the sampled header octets as received; off by default', () => {
    const sample = flowSample({ records: [rawHeader({ frameLength: tcpFrame.frameLength, header: tcpFrame.bytes })] });
    expect(one(sample, { headerSection: true }).dataLinkFrameSection).toBe(tcpFrame.bytes.toString('hex'));
    expect(one(sample)).not.toHaveProperty('dataLinkFrameSection');
    // a header of 255 octets or more needs the 3-octet varlen prefix
    const big = Buffer.concat([tcpFrame.bytes, Buffer.alloc(300, 0xab)]);
    expect(one(flowSample({ records: [rawHeader({ frameLength: 2000, header: big })] }), { headerSection: true }).dataLinkFrameSection).toBe(big.toString('hex'));
  });

  it('scaleCounts: packets, layer-3 and layer-2 octets times the sampling rate; off: as sampled', () => {
    const sample = flowSample({ samplingRate: 1000, records: [rawHeader({ frameLength: tcpFrame.frameLength, header: tcpFrame.bytes })] });
    expect(one(sample)).toMatchObject({ packetDeltaCount: 1, octetDeltaCount: tcpFrame.ipLength, layer2OctetDeltaCount: tcpFrame.frameLength });
    expect(one(sample, { scaleCounts: true })).toMatchObject({ packetDeltaCount: 1000, octetDeltaCount: 1000 * tcpFrame.ipLength, layer2OctetDeltaCount: 1000 * tcpFrame.frameLength });
    // 2^32-1 × 65535 does not fit 32 bits: the 8-octet counts keep it exact
    const huge = flowSample({ samplingRate: 0xffffffff, records: [sampledIp({ length: 65535, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2' })] });
    expect(one(huge, { scaleCounts: true })).toMatchObject({ packetDeltaCount: 0xffffffff, octetDeltaCount: 0xffffffff * 65535 });
    // a sampling rate of 0 (agent bug) is not a multiplier
    expect(one(flowSample({ samplingRate: 0, records: [] }), { scaleCounts: true }).packetDeltaCount).toBe(1);
  });

  it('mapping.sflow.enterprise is the PEN of every sflow* element; IANA elements stay at 0', () => {
    const sample = flowSample({ output: { format: 1, value: 258 }, records: [extendedSwitch({ inVlan: 1, inPriority: 1, outVlan: 2, outPriority: 2 })] });
    const { ctx } = run([datagram({ agent: '192.0.2.1', samples: [sample] })], { enterprise: 12345 });
    const t = ctx.records[0]!.template;
    const sflowIds = new Set([...reg.all()].filter((e) => e.enterprise === PEN).map((e) => e.id));
    const ent = t.fields.filter((f) => f.enterprise !== 0);
    expect(ent.length).toBeGreaterThanOrEqual(6); // source type/index, sequence, discard reason, two priorities
    expect(ent.every((f) => f.enterprise === 12345 && sflowIds.has(f.id))).toBe(true);
    expect(ent.map((f) => f.id)).toEqual(expect.arrayContaining([1, 2, 3, 5, 7, 8]));
    // default: the PEN sflow-elements.yaml declares
    const def = run([datagram({ agent: '192.0.2.1', samples: [sample] })]).ctx.records[0]!.template;
    expect(def.fields.filter((f) => f.enterprise !== 0).every((f) => f.enterprise === PEN)).toBe(true);
  });
});

describe('templates: one per combination of facts', () => {
  it('samples with the same facts share one template (defined once, records batched); different facts get another', () => {
    const a = flowSample({ sequence: 1, records: [sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' })] });
    const b = flowSample({ sequence: 2, records: [sampledIp({ length: 40, protocol: 6, src: '10.0.0.3', dst: '10.0.0.4' })] });
    const c = flowSample({ sequence: 3, records: [sampledIp({ length: 40, protocol: 1, src: '10.0.0.5', dst: '10.0.0.6' })] });
    const { ctx, rows } = run([datagram({ agent: '192.0.2.1', samples: [a, b, c] }), datagram({ agent: '192.0.2.1', sequence: 2, samples: [b] })]);
    const defined = ctx.events.filter((e) => e.kind === 'defined');
    expect(defined).toHaveLength(2);
    const [tcp, icmp] = defined.map((e) => (e as { template: { id: number; fields: readonly { id: number }[] } }).template);
    expect(tcp!.id).not.toBe(icmp!.id);
    // the ICMP template lacks ports and TCP flags (7, 11, 6)
    expect(tcp!.fields.map((f) => f.id)).toEqual(expect.arrayContaining([7, 11, 6]));
    expect(icmp!.fields.map((f) => f.id)).not.toEqual(expect.arrayContaining([7]));
    expect(ctx.records.map((c) => [c.template.id, c.count])).toEqual([
      [tcp!.id, 2],
      [icmp!.id, 1],
      [tcp!.id, 1],
    ]);
    expect(rows.map((r) => r.sflowSampleSequence)).toEqual([1, 2, 3, 2]);
  });

  it('a record larger than a shape’s staging area (a 9000-octet header sent as dataLinkFrameSection) goes out alone, in sample order', () => {
    const sample = (sequence: number, header: Buffer) => flowSample({ sequence, records: [rawHeader({ frameLength: 9018, header })] });
    const jumbo = Buffer.concat([tcpFrame.bytes, Buffer.alloc(9000, 0x5a)]);
    const { ctx, rows } = run([datagram({ agent: '192.0.2.1', samples: [sample(1, tcpFrame.bytes), sample(2, jumbo), sample(3, tcpFrame.bytes), sample(4, tcpFrame.bytes)] })], { headerSection: true });
    expect(ctx.drops).toEqual([]);
    // one template: the record before the jumbo one is handed on first, then the jumbo one, then the rest
    expect(new Set(ctx.records.map((c) => c.template.id)).size).toBe(1);
    expect(ctx.records.map((c) => c.count)).toEqual([1, 1, 2]);
    expect(rows.map((r) => r.sflowSampleSequence)).toEqual([1, 2, 3, 4]);
    expect(rows.map((r) => (r.dataLinkFrameSection as string).length / 2)).toEqual([tcpFrame.bytes.length, jumbo.length, tcpFrame.bytes.length, tcpFrame.bytes.length]);
    expect(rows[1]!.dataLinkFrameSection).toBe(jumbo.toString('hex'));
    expect(rows.every((r) => r.sourceIPv4Address === '198.51.100.1' && r.sourceTransportPort === 443)).toBe(true);
  });
});

describe('counter samples', () => {
  const generic = genericInterfaceCounters(counters);
  const ether = ethernetCounters(dot3);
  const decodeCounters = (records: Buffer[], expanded = false) =>
    run([datagram({ agent: '192.0.2.1', samples: [counterSample({ sequence: 77, sourceType: 0, sourceIndex: 21, records }, expanded)] })]);

  it('generic interface counters: an options record scoped by the data source index', () => {
    const { ctx, rows: r } = decodeCounters([generic]);
    expect(ctx.drops).toEqual([]);
    const t = ctx.records[0]!.template;
    expect(t.scopeCount).toBe(1);
    expect(t.fields[0]).toMatchObject({ id: 10, enterprise: 0 }); // ingressInterface
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({
      ingressInterface: 21, // the data source, not the structure's ifIndex (17)
      sflowSourceIdType: 0,
      sflowSampleSequence: 77,
      ingressInterfaceType: 6,
      sflowIfSpeed: 10_000_000_000,
      sflowIfDirection: 1,
      sflowIfStatus: 3,
      octetTotalCount: 0x1_0000_0005,
      ingressUnicastPacketTotalCount: 1001,
      ingressMulticastPacketTotalCount: 1002,
      ingressBroadcastPacketTotalCount: 1003,
      sflowIfInDiscards: 1004,
      sflowIfInErrors: 1005,
      sflowIfInUnknownProtos: 1006,
      sflowIfOutOctets: 123456789012,
      egressUnicastPacketTotalCount: 2001,
      sflowIfOutMulticastPkts: 2002,
      egressBroadcastPacketTotalCount: 2003,
      sflowIfOutDiscards: 2004,
      sflowIfOutErrors: 2005,
      sflowIfPromiscuousMode: 1,
    });
    expect(r[0]).not.toHaveProperty('sflowDot3StatsFCSErrors');
  });

  it('Ethernet counters only, and both structures (expanded sample)', () => {
    const e = decodeCounters([ether]);
    expect(e.rows[0]).toMatchObject(Object.fromEntries(ETHERNET_COUNTER_NAMES.map((n, i) => [`sflow${n[0]!.toUpperCase()}${n.slice(1)}`, 300 + i])));
    expect(e.rows[0]).toMatchObject({ ingressInterface: 21 });
    expect(e.rows[0]).not.toHaveProperty('octetTotalCount');
    const both = decodeCounters([ether, generic], true);
    expect(both.rows[0]).toMatchObject({ ingressInterface: 21, octetTotalCount: 0x1_0000_0005, sflowDot3StatsSymbolErrors: 312 });
    expect(both.ctx.records[0]!.template.scopeCount).toBe(1);
    // three combinations in one session: three options templates; a datagram's records are handed on
    // template by template (samples 1 and 4 in one call, in their order)
    const all = run([datagram({ agent: '192.0.2.1', samples: [counterSample({ sourceIndex: 1, records: [ether] }), counterSample({ sourceIndex: 2, records: [generic, ether] }), counterSample({ sourceIndex: 3, records: [generic] }), counterSample({ sourceIndex: 4, records: [ether] })] })]);
    expect(all.rows.map((r) => [r.ingressInterface, r.$template])).toEqual([
      [1, 256],
      [4, 256],
      [2, 257],
      [3, 258],
    ]);
    expect(all.ctx.records.map((c) => c.count)).toEqual([2, 1, 1]);
    expect(all.ctx.events.filter((x) => x.kind === 'defined')).toHaveLength(3);
  });

  it('expanded counter sample: 32-bit data source index in the scope', () => {
    const { rows: r } = run([datagram({ agent: '192.0.2.1', samples: [counterSample({ sourceType: 0, sourceIndex: 0x01020304, records: [generic] }, true)] })]);
    expect(r[0]!.ingressInterface).toBe(0x01020304);
  });

  it('neither structure (only other counter records, or none): no record, counted; other records counted as skipped', async () => {
    const empty0 = await skipped('counter_sample_without_interface_counters');
    const unknown0 = await skipped('unknown_counter_record');
    const processor = tlv(1001, Buffer.alloc(28)); // processor information: not converted
    const { ctx } = decodeCounters([processor]);
    const none = decodeCounters([]);
    expect(ctx.records).toEqual([]);
    expect(none.ctx.records).toEqual([]);
    expect(ctx.drops).toEqual([]);
    expect((await skipped('counter_sample_without_interface_counters')) - empty0).toBe(2);
    expect((await skipped('unknown_counter_record')) - unknown0).toBe(1);
    // beside interface counters an unknown record is skipped and the rest converted
    const mixed = decodeCounters([processor, generic, tlv(7, Buffer.alloc(8), 9999)]);
    expect(mixed.rows).toHaveLength(1);
    expect((await skipped('unknown_counter_record')) - unknown0).toBe(3);
  });
});

describe('unknown formats are skipped by their length and counted', () => {
  it('an unknown sample format (standard or enterprise) between known samples', async () => {
    const before = await skipped('unknown_sample_format');
    const s = flowSample({ records: [] });
    const { ctx, rows: r } = run([datagram({ agent: '192.0.2.1', samples: [s, tlv(5, Buffer.alloc(12, 0xee)), tlv(1, Buffer.alloc(32, 1), 4413), s] })]);
    expect(r).toHaveLength(2);
    expect(ctx.drops).toEqual([]);
    expect((await skipped('unknown_sample_format')) - before).toBe(2);
  });

  it('an unknown flow record (standard or enterprise) is skipped, the sample still converted with the rest', async () => {
    const before = await skipped('unknown_flow_record');
    const r = one(flowSample({ records: [tlv(1010, Buffer.alloc(20)), sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' }), tlv(1, Buffer.alloc(8), 8800)] }));
    expect(r.sourceIPv4Address).toBe('10.0.0.1');
    expect((await skipped('unknown_flow_record')) - before).toBe(2);
  });
});

describe('malformed datagrams', () => {
  const good = (sequence: number) => flowSample({ sequence, records: [sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' })] });
  /** Decodes [good 1, bad, good 3]: the bad one is dropped with `reason`, the good ones come out. */
  function dropsAlone(bad: Buffer, reason: string) {
    const { ctx, rows: r } = run([datagram({ agent: '192.0.2.1', samples: [good(1), bad, good(3)] })]);
    expect(r.map((x) => x.sflowSampleSequence)).toEqual([1, 3]);
    expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual([[reason, 1]]);
    return ctx.drops[0]!.message;
  }
  /** A flow sample whose last flow record is `record` with its length field set to `length`. */
  function withRecordLength(record: Buffer, length: number) {
    const r = Buffer.from(record);
    r.writeUInt32BE(length, 4);
    return flowSample({ sequence: 2, records: [r] });
  }

  it('a flow record longer than its sample: truncated, that sample only', () => {
    const rec = sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' });
    expect(dropsAlone(withRecordLength(rec, 33), DropReason.truncated)).toMatch(/runs past its sample/);
    expect(dropsAlone(withRecordLength(rec, 0xffffffff), DropReason.truncated)).toMatch(/runs past its sample/);
  });

  it('a flow record count larger than the records present: truncated', () => {
    const s = flowSample({ sequence: 2, records: [sampledIp({ length: 40, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' })] });
    s.writeUInt32BE(2, 8 + 28); // flow_records<> count of a compact sample
    expect(dropsAlone(s, DropReason.truncated)).toMatch(/flow record 2 of 2/);
  });

  it('a raw header whose header_length exceeds its record: malformed', () => {
    const rec = rawHeader({ frameLength: tcpFrame.frameLength, header: tcpFrame.bytes });
    rec.writeUInt32BE(tcpFrame.bytes.length + 4, 8 + 12);
    expect(dropsAlone(flowSample({ sequence: 2, records: [rec] }), DropReason.malformed)).toMatch(/header_length/);
    // shorter than its own fixed fields
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(1, Buffer.alloc(12))] }), DropReason.malformed)).toMatch(/raw packet header record of 12/);
  });

  it('records shorter than their structure: sampled Ethernet, IPv4, IPv6, extended switch', () => {
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(2, Buffer.alloc(20))] }), DropReason.malformed)).toMatch(/sampled Ethernet/);
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(3, Buffer.alloc(28))] }), DropReason.malformed)).toMatch(/sampled IPv4/);
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(4, Buffer.alloc(52))] }), DropReason.malformed)).toMatch(/sampled IPv6/);
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(1001, Buffer.alloc(12))] }), DropReason.malformed)).toMatch(/extended switch/);
  });

  it('extended router: a next-hop address type that is not 0/1/2, or a record too short for its address', () => {
    const rec = extendedRouter({ nextHop: '192.0.2.1', srcMask: 24, dstMask: 24 });
    rec.writeUInt32BE(3, 8);
    expect(dropsAlone(flowSample({ sequence: 2, records: [rec] }), DropReason.malformed)).toMatch(/extended router/);
    const v6 = extendedRouter({ nextHop: '2001:db8::1', srcMask: 24, dstMask: 24 });
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(1002, v6.subarray(8, 8 + 20))] }), DropReason.malformed)).toMatch(/extended router/);
  });

  it('extended gateway: an AS path segment, the communities or the local preference past the record', () => {
    const g = { nextHop: '192.0.2.1', as: 1, srcAs: 2, srcPeerAs: 3, path: [{ type: 2, asns: [10, 20, 30] }], communities: [1, 2], localPref: 100 };
    const rec = extendedGateway(g);
    // body: address 8, as/src/peer 12, segments 4, then segment type at 24, its count at 28
    const longPath = Buffer.from(rec);
    longPath.writeUInt32BE(1000, 8 + 28);
    expect(dropsAlone(flowSample({ sequence: 2, records: [longPath] }), DropReason.malformed)).toMatch(/AS path segment runs past/);
    const manySegments = Buffer.from(rec);
    manySegments.writeUInt32BE(5, 8 + 20);
    expect(dropsAlone(flowSample({ sequence: 2, records: [manySegments] }), DropReason.malformed)).toMatch(/extended gateway/);
    const manyCommunities = Buffer.from(rec);
    manyCommunities.writeUInt32BE(3, 8 + 44); // communities count after the 3-AS segment
    expect(dropsAlone(flowSample({ sequence: 2, records: [manyCommunities] }), DropReason.malformed)).toMatch(/communities/);
    // no room for the local preference
    const body = rec.subarray(8, rec.length - 4);
    expect(dropsAlone(flowSample({ sequence: 2, records: [tlv(1003, body)] }), DropReason.malformed)).toMatch(/communities/);
    const badType = Buffer.from(rec);
    badType.writeUInt32BE(7, 8);
    expect(dropsAlone(flowSample({ sequence: 2, records: [badType] }), DropReason.malformed)).toMatch(/next-hop/);
  });

  it('a flow sample shorter than its fixed fields, compact and expanded: malformed', () => {
    expect(dropsAlone(tlv(1, Buffer.alloc(28)), DropReason.malformed)).toMatch(/flow sample of 28/);
    expect(dropsAlone(tlv(3, Buffer.alloc(40)), DropReason.malformed)).toMatch(/expanded flow sample of 40/);
  });

  it('counter samples: short structures, a record past the sample, too short for the sample fields', () => {
    expect(dropsAlone(counterSample({ sourceIndex: 1, records: [tlv(1, Buffer.alloc(80))] }), DropReason.malformed)).toMatch(/generic interface counters of 80/);
    expect(dropsAlone(counterSample({ sourceIndex: 1, records: [tlv(2, Buffer.alloc(48))] }), DropReason.malformed)).toMatch(/Ethernet interface counters of 48/);
    const past = counterSample({ sourceIndex: 1, records: [genericInterfaceCounters(counters)] });
    past.writeUInt32BE(92, 8 + 12 + 4);
    expect(dropsAlone(past, DropReason.truncated)).toMatch(/runs past its sample/);
    const count = counterSample({ sourceIndex: 1, records: [] });
    count.writeUInt32BE(1, 8 + 8);
    expect(dropsAlone(count, DropReason.truncated)).toMatch(/counter record 1 of 1/);
    expect(dropsAlone(tlv(4, Buffer.alloc(12)), DropReason.malformed)).toMatch(/expanded counter sample of 12/);
  });

  it('a sample longer than the datagram: the samples before it come out, it and the rest are dropped as truncated', () => {
    const dg = datagram({ agent: '192.0.2.1', samples: [good(1), good(2), good(3)] });
    const second = 28 + good(1).length;
    dg.writeUInt32BE(dg.length, second + 4);
    const { ctx, rows: r } = run([dg]);
    expect(r.map((x) => x.sflowSampleSequence)).toEqual([1]);
    expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual([[DropReason.truncated, 2]]);
  });

  it('fewer samples than the count says: the ones present come out, the missing counted', () => {
    const dg = datagram({ agent: '192.0.2.1', samples: [good(1), good(2)] });
    dg.writeUInt32BE(5, 24);
    const { ctx, rows: r } = run([dg]);
    expect(r).toHaveLength(2);
    expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual([[DropReason.truncated, 3]]);
  });

  it('datagram header: too short, wrong version, unknown agent address type, IPv6 header cut: the datagram is dropped', () => {
    const dg = datagram({ agent: '192.0.2.1', samples: [good(1)] });
    const cases: [Buffer, string][] = [
      [dg.subarray(0, 27), DropReason.truncated],
      [Buffer.alloc(0), DropReason.truncated],
      [(() => { const b = Buffer.from(dg); b.writeUInt32BE(4, 0); return b; })(), DropReason.badVersion],
      [(() => { const b = Buffer.from(dg); b.writeUInt32BE(3, 4); return b; })(), DropReason.malformed],
      [(() => { const b = Buffer.from(dg); b.writeUInt32BE(0, 4); return b; })(), DropReason.malformed],
      [datagram({ agent: '2001:db8::1', samples: [] }).subarray(0, 39), DropReason.truncated],
    ];
    for (const [bytes, reason] of cases) {
      const { ctx } = run([bytes]);
      expect(ctx.records).toEqual([]);
      expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual([[reason, 0]]);
    }
    // the same agent's next datagram decodes
    const { ctx, rows: r } = run([cases[2]![0], dg]);
    expect(r).toHaveLength(1);
    expect(ctx.drops).toHaveLength(1);
  });

  it('an empty datagram (no samples) and trailing octets after the last sample are not drops', () => {
    const { ctx } = run([datagram({ agent: '192.0.2.1', samples: [] }), Buffer.concat([datagram({ agent: '192.0.2.1', sequence: 2, samples: [good(1)] }), Buffer.alloc(8)])]);
    expect(ctx.drops).toEqual([]);
    expect(ctx.records.map((c) => c.count)).toEqual([1]);
  });
});

describe('rows() decodes the whole of every sink call', () => {
  it('fixed and variable-length records batched together read back exactly', () => {
    const g = extendedGateway({ nextHop: '192.0.2.1', as: 1, srcAs: 2, srcPeerAs: 3, path: [{ type: 2, asns: [1, 2, 3] }], communities: [5], localPref: 1 });
    const { ctx } = run([datagram({ agent: '192.0.2.1', samples: [flowSample({ records: [g] }), flowSample({ records: [g] })] })]);
    expect(ctx.records).toHaveLength(1);
    expect(rows(reg, ctx.records[0]!)).toHaveLength(2);
  });
});
