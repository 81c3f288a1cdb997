// sFlow v5 golden tests over every sFlow capture of the shared corpus: as many flow and counter records as
// tshark counts flow and counter samples, nothing dropped, and for every sample of every file the values
// our IPFIX records carry compared with tshark's decode of the same sample (sample fields, interfaces,
// the sampled header's Ethernet/VLAN/IP/transport facts, sampled Ethernet/IPv4 records, extended switch,
// router and gateway records, interface counters).

import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { buildSflowDecoder } from '../../../src/collect/sflow/decode.js';
import { forwardingStatusOfDiscard } from '../../../src/collect/sflow/forwarding-status.js';
import { udpPayloads } from '../../../src/util/pcap.js';
import { corpus, mappingConfig, RecordingContext, rows, testRegistry, type Row } from '../../mapping/harness.js';
import { run, toolPath } from '../../helpers/tools.js';
import { headerLayers, requireOrSkip, tsharkSflow, type JObject, type TsharkDatagram, type TsharkSample } from './tshark-sflow.js';

const reg = testRegistry();

interface Out {
  ctx: RecordingContext;
  /** Every record in emission order, with its kind, session and template. */
  records: (Row & { $counter: boolean; $odid: number; $agent: string })[];
}

function decodeCapture(file: string): Out {
  const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig });
  const ctx = new RecordingContext();
  for (const p of udpPayloads(resolve(corpus, file))) decode(ctx, p.payload, p.src, p.srcPort);
  const records: Out['records'] = [];
  for (const c of ctx.records) {
    for (const r of rows(reg, c)) records.push({ ...r, $counter: c.template.scopeCount > 0, $odid: c.session.observationDomainId, $agent: c.session.address });
  }
  return { ctx, records };
}

// file, datagrams, flow samples, counter samples (as tshark counts them; the README says "None records")
const CAPTURES: [string, number, number, number][] = [
  ['sflow/akvorado__data-1140.pcap', 1, 5, 0],
  ['sflow/akvorado__data-discard-interface.pcap', 1, 1, 0],
  ['sflow/akvorado__data-encap-vxlan.pcap', 1, 1, 0],
  ['sflow/akvorado__data-icmpv4.pcap', 1, 1, 0],
  ['sflow/akvorado__data-icmpv6.pcap', 1, 1, 0],
  ['sflow/akvorado__data-local-interface.pcap', 1, 1, 0],
  ['sflow/akvorado__data-multiple-interfaces.pcap', 1, 1, 0],
  ['sflow/akvorado__data-qinq.pcap', 1, 1, 0],
  ['sflow/akvorado__data-sflow-expanded-sample.pcap', 1, 1, 0],
  ['sflow/akvorado__data-sflow-ipv4-data.pcap', 1, 1, 0],
  ['sflow/akvorado__data-sflow-raw-ipv4.pcap', 1, 2, 0],
  ['sflow/overflowd__sflow.pcap', 1000, 5855, 502],
  ['sflow/oxyflow__sflow.pcap', 1503, 6146, 30],
];

describe('sFlow decoder over the corpus: one record per flow sample and per counter sample, nothing dropped', () => {
  it.each(CAPTURES)('%s: %i datagrams, %i flow records, %i counter records', (file, datagrams, flows, counters) => {
    const { ctx, records } = decodeCapture(file);
    expect(udpPayloads(resolve(corpus, file))).toHaveLength(datagrams);
    expect(records.filter((r) => !r.$counter)).toHaveLength(flows);
    expect(records.filter((r) => r.$counter)).toHaveLength(counters);
    expect(ctx.counts.get('sflow')).toBe(flows + counters);
    expect(ctx.drops).toEqual([]);
  });

  it('oxyflow: one session per (agent, sub-agent), 27 agents, ODID = sub-agent id', () => {
    const { ctx } = decodeCapture('sflow/oxyflow__sflow.pcap');
    const agents = new Set(ctx.allSessions().map((s) => s.session.address));
    expect(agents.size).toBe(27);
    expect(ctx.allSessions().every((s) => s.session.port === 0 && s.session.protocol === 'sflow')).toBe(true);
  });
});

// ---- tshark's decode → the values our records must carry --------------------------------------------

const LOCAL = 0x3fffffff;
/** undefined: the element must be absent from our record. */
type Expect = Record<string, number | string | undefined>;

/** Interface (format, value) of a sample as tshark shows it, compact or expanded. */
function interfaces(t: TsharkSample): { inF: number; inV: number; outF: number; outV: number } {
  const s = t.sample;
  if (t.type === 3) {
    return {
      inF: s.n('sflow.flow_sample.input_interface_format')!,
      inV: s.n('sflow.flow_sample.input_interface_value')!,
      outF: s.n('sflow.flow_sample.output_interface.format')!,
      outV: s.n('sflow.flow_sample.output_interface_value')!,
    };
  }
  const raw = s.n('sflow.flow_sample.input_interface')!;
  const out = s.o('sflow.flow_sample.output_interface_tree')!;
  return { inF: raw >>> 30, inV: raw & LOCAL, outF: out.n('sflow.flow_sample.output_interface_format')!, outV: out.n('sflow.flow_sample.output_interface_value')! };
}

/** IPv6 text as tshark prints it is RFC 5952 already; IPv4 as is. */
function flowExpect(t: TsharkSample): Expect {
  const s = t.sample;
  const expanded = t.type === 3;
  const e: Expect = {
    sflowSampleSequence: s.n('sflow.flow_sample.sequence_number')!,
    sflowSourceIdType: s.n(expanded ? 'sflow.flow_sample.source_id_type' : 'sflow.flow_sample.source_id_class')!,
    sflowSourceIdIndex: s.n(expanded ? 'sflow.flow_sample.source_id_index' : 'sflow.flow_sample.index')!,
    samplingPacketInterval: s.n('sflow.flow_sample.sampling_rate')!,
    samplingPopulation: s.n('sflow.flow_sample.sample_pool')!,
    droppedPacketDeltaCount: s.n('sflow.flow_sample.dropped_packets')!,
    packetDeltaCount: 1,
  };
  const i = interfaces(t);
  e.ingressInterface = i.inF === 0 && i.inV !== LOCAL ? i.inV : 0;
  e.egressInterface = i.outF === 0 && i.outV !== LOCAL ? i.outV : 0;
  if (i.outF === 0) e.forwardingStatus = i.outV === LOCAL ? 0xc3 : 0x40;
  else if (i.outF === 1) {
    e.forwardingStatus = forwardingStatusOfDiscard(i.outV);
    e.sflowDiscardReason = i.outV;
  } else if (i.outF === 2) {
    e.forwardingStatus = 0x40;
    e.sflowOutputInterfaceCount = i.outV;
  }

  let headerIp = false;
  let headerEth = false;
  let layer2: number | undefined;
  for (const [name, r] of t.records) {
    if (name === 'Raw packet header') {
      e.sflowHeaderProtocol = r.n('sflow_245.header_protocol')!;
      e.sflowStrippedOctets = r.n('sflow_245.header.payload_stripped')!;
      layer2 = r.n('sflow_245.header.frame_length')!;
      const h = headerFacts([...headerLayers(r), ...t.tunnelLayers]);
      Object.assign(e, h);
      headerIp ||= 'protocolIdentifier' in h;
      headerEth ||= 'sourceMacAddress' in h;
    }
  }
  for (const [name, r] of t.records) {
    switch (name) {
      case 'Ethernet frame data':
        layer2 ??= r.n('sflow_245.ethernet.length')!;
        if (!headerEth) {
          e.sourceMacAddress = r.s('sflow_245.ethernet.source_mac_address')!;
          e.destinationMacAddress = r.s('sflow_245.ethernet.destination_mac_address')!;
          e.ethernetType = r.n('sflow_245.ethernet.packet_type')!;
          headerEth = true;
        }
        break;
      case 'IPv4 data':
        if (!headerIp) {
          const protocol = r.n('sflow.ip_protocol')!;
          Object.assign(e, {
            ipVersion: 4,
            sourceIPv4Address: r.s('sflow_245.ipv4_src')!,
            destinationIPv4Address: r.s('sflow_245.ipv4_dst')!,
            protocolIdentifier: protocol,
            ipTotalLength: r.n('sflow_245.ip.length')!,
            octetDeltaCount: r.n('sflow_245.ip.length')!,
          });
          if (protocol === 6 || protocol === 17 || protocol === 132) {
            e.sourceTransportPort = r.n('sflow_245.ip.source_port')!;
            e.destinationTransportPort = r.n('sflow.ip.destination_port')!;
          }
          headerIp = true;
        }
        break;
      case 'Extended switch data':
        {
          // An agent's 0xffffffff ("unknown": data-1140's VLANs, overflowd's priorities) fits no VLAN id
          // (12 bits) or 802.1p priority (3 bits): that element is left out of the record.
          const fit = (k: string, v: number, max: number) => {
            e[k] = v <= max ? v : undefined;
          };
          fit('vlanId', r.n('sflow_245.vlan.in')!, 4095);
          fit('postVlanId', r.n('sflow_245.vlan.out')!, 4095);
          fit('sflowSourcePriority', r.n('sflow_245.pri.in')!, 7);
          fit('sflowDestinationPriority', r.n('sflow_245.pri.out')!, 7);
        }
        break;
      case 'Extended router data':
        e.ipNextHopIPv4Address = r.s('sflow_245.nexthop')!;
        if ('sourceIPv6Address' in e) {
          e.sourceIPv6PrefixLength = r.n('sflow_245.nexthop.src_mask')!;
          e.destinationIPv6PrefixLength = r.n('sflow_245.nexthop.dst_mask')!;
        } else if ('sourceIPv4Address' in e) {
          e.sourceIPv4PrefixLength = r.n('sflow_245.nexthop.src_mask')!;
          e.destinationIPv4PrefixLength = r.n('sflow_245.nexthop.dst_mask')!;
        }
        break;
      case 'Extended gateway data':
        Object.assign(e, {
          bgpNextHopIPv4Address: r.s('sflow_245.nexthop')!,
          sflowRouterAsNumber: r.n('sflow_245.as')!,
          bgpSourceAsNumber: r.n('sflow_245.srcAS')!,
          bgpPrevAdjacentAsNumber: r.n('sflow_245.peerAS')!,
          sflowLocalPreference: r.n('sflow_245.localpref')!,
        });
        break;
    }
  }
  if (layer2 !== undefined) e.layer2OctetDeltaCount = layer2;
  return e;
}

/** Facts of the sampled header: outermost Ethernet and VLAN tags, innermost IP header and its transport. */
function headerFacts(layers: [string, JObject][]): Expect {
  const e: Expect = {};
  const eth = layers.find(([n]) => n === 'eth')?.[1];
  if (eth?.s('eth.src')) {
    e.sourceMacAddress = eth.s('eth.src')!;
    e.destinationMacAddress = eth.s('eth.dst')!;
  }
  // tags of the outer Ethernet header: those before the first non-tag layer after it
  const firstEth = layers.findIndex(([n]) => n === 'eth');
  const tags: JObject[] = [];
  for (let k = firstEth + 1; firstEth >= 0 && k < layers.length && layers[k]![0] === 'vlan'; k++) tags.push(layers[k]![1]);
  if (tags[0]) e.dot1qVlanId = tags[0].n('vlan.id')!;
  if (tags[1]) e.dot1qCustomerVlanId = tags[1].n('vlan.id')!;
  let ipAt = -1;
  layers.forEach(([n], k) => {
    if (n === 'ip' || n === 'ipv6') ipAt = k;
  });
  if (ipAt < 0) return e;
  const [kind, ip] = layers[ipAt]!;
  const next = layers[ipAt + 1];
  if (kind === 'ip') {
    if (!ip.s('ip.dst')) return e;
    Object.assign(e, { ipVersion: 4, sourceIPv4Address: ip.s('ip.src')!, destinationIPv4Address: ip.s('ip.dst')!, protocolIdentifier: ip.n('ip.proto')!, ipTTL: ip.n('ip.ttl')!, ipTotalLength: ip.n('ip.len')!, octetDeltaCount: ip.n('ip.len')! });
  } else {
    if (!ip.s('ipv6.dst')) return e;
    const total = ip.n('ipv6.plen')! + 40;
    Object.assign(e, { ipVersion: 6, sourceIPv6Address: ip.s('ipv6.src')!, destinationIPv6Address: ip.s('ipv6.dst')!, ipTTL: ip.n('ipv6.hlim')!, ipTotalLength: total, octetDeltaCount: total });
    if (next && ['tcp', 'udp', 'icmpv6', 'sctp'].includes(next[0])) e.protocolIdentifier = ip.n('ipv6.nxt')!;
  }
  if (!next) return e;
  const [t, tl] = next;
  if (t === 'tcp' && tl.s('tcp.flags')) Object.assign(e, { sourceTransportPort: tl.n('tcp.srcport')!, destinationTransportPort: tl.n('tcp.dstport')!, tcpControlBits: Number(tl.s('tcp.flags')) });
  if (t === 'udp') Object.assign(e, { sourceTransportPort: tl.n('udp.srcport')!, destinationTransportPort: tl.n('udp.dstport')! });
  if (t === 'icmp') e.icmpTypeCodeIPv4 = (tl.n('icmp.type')! << 8) | tl.n('icmp.code')!;
  if (t === 'icmpv6') e.icmpTypeCodeIPv6 = (tl.n('icmpv6.type')! << 8) | tl.n('icmpv6.code')!;
  return e;
}

function counterExpect(t: TsharkSample): Expect {
  const s = t.sample;
  const expanded = t.type === 4;
  const e: Expect = {
    ingressInterface: s.n(expanded ? 'sflow.counters_sample.source_id_index' : 'sflow.counters_sample.source_id_index')!,
    sflowSampleSequence: s.n('sflow.counters_sample.sequence_number')!,
    sflowSourceIdType: s.n('sflow.counters_sample.source_id_type')!,
  };
  for (const [name, r] of t.records) {
    if (name === 'Generic interface counters') {
      Object.assign(e, {
        ingressInterfaceType: r.n('sflow_245.iftype')!,
        sflowIfSpeed: r.n('sflow_245.ifspeed')!,
        sflowIfDirection: r.n('sflow_245.ifdirection')!,
        // ifStatus: bit 0 admin up, bit 1 operational up
        sflowIfStatus: r.n('sflow_245.ifadmin_status')! | (r.n('sflow_245.ifoper_status')! << 1),
        octetTotalCount: r.n('sflow_245.ifinoct')!,
        ingressUnicastPacketTotalCount: r.n('sflow_245.ifinpkt')!,
        ingressMulticastPacketTotalCount: r.n('sflow_245.ifinmcast')!,
        ingressBroadcastPacketTotalCount: r.n('sflow_245.ifinbcast')!,
        sflowIfInDiscards: r.n('sflow_245.ifindisc')!,
        sflowIfInErrors: r.n('sflow_245.ifinerr')!,
        sflowIfInUnknownProtos: r.n('sflow_245.ifinunk')!,
        sflowIfOutOctets: r.n('sflow_245.ifoutoct')!,
        egressUnicastPacketTotalCount: r.n('sflow_245.ifoutpkt')!,
        sflowIfOutMulticastPkts: r.n('sflow_245.ifoutmcast')!,
        egressBroadcastPacketTotalCount: r.n('sflow_245.ifoutbcast')!,
        sflowIfOutDiscards: r.n('sflow_245.ifoutdisc')!,
        sflowIfOutErrors: r.n('sflow_245.ifouterr')!,
        sflowIfPromiscuousMode: r.n('sflow_245.ifpromisc')!,
      });
    } else if (name === 'Ethernet interface counters') {
      for (const [k, v] of r.entries) if (k.startsWith('sflow_245.dot3Stats') && typeof v === 'string') e[`sflow${k.slice('sflow_245.'.length).replace(/^d/, 'D')}`] = Number(v);
    }
  }
  return e;
}

/** Differences between what tshark says and our record, as readable lines. */
function diff(where: string, want: Expect, got: Row): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want)) if (got[k] !== v) out.push(`${where} ${k}: tshark ${v ?? '(absent)'}, ours ${String(got[k])}`);
  return out;
}

describe.skipIf(!requireOrSkip('tshark'))('sFlow decoder against tshark, every sample of every capture', () => {
  const decoded = new Map<string, { tshark: TsharkDatagram[]; ours: Out }>();
  beforeAll(async () => {
    for (const [file] of CAPTURES) decoded.set(file, { tshark: await tsharkSflow(resolve(corpus, file)), ours: decodeCapture(file) });
  }, 120_000);

  it.each(CAPTURES)('%s: tshark counts %i datagrams, %i flow samples, %i counter samples; every value it decodes is in our record', (file, datagrams, flows, counters) => {
    const { tshark, ours } = decoded.get(file)!;
    expect(tshark).toHaveLength(datagrams);
    const samples = tshark.flatMap((d) => d.samples);
    // tshark dissected every sample each datagram header announces
    expect(tshark.filter((d) => d.samples.length !== d.numSamples).map((d) => d.frame)).toEqual([]);
    expect(samples.filter((s) => s.type === 1 || s.type === 3)).toHaveLength(flows);
    expect(samples.filter((s) => s.type === 2 || s.type === 4)).toHaveLength(counters);
    expect(samples.filter((s) => s.type < 1 || s.type > 4)).toEqual([]);
    // one record per sample; within a datagram the records of one template keep their samples' order
    // (the decoder hands a datagram's records on template by template), so each sample's record is found
    // by its session, kind, data source and sequence number, in order
    expect(ours.records).toHaveLength(samples.length);
    const key = (agent: string, odid: number, counter: boolean, type: unknown, index: unknown, seq: unknown) => `${agent}/${odid} ${counter ? 'c' : 'f'} ${String(type)}:${String(index)} #${String(seq)}`;
    const queues = new Map<string, (typeof ours.records)[number][]>();
    for (const r of ours.records) {
      const k = key(r.$agent, r.$odid, r.$counter, r.sflowSourceIdType, r.$counter ? r.ingressInterface : r.sflowSourceIdIndex, r.sflowSampleSequence);
      if (!queues.has(k)) queues.set(k, []);
      queues.get(k)!.push(r);
    }
    const problems: string[] = [];
    for (const s of samples) {
      const counter = s.type === 2 || s.type === 4;
      const want = counter ? counterExpect(s) : flowExpect(s);
      const k = key(s.agent, s.subAgent, counter, want.sflowSourceIdType, counter ? want.ingressInterface : want.sflowSourceIdIndex, want.sflowSampleSequence);
      const r = queues.get(k)?.shift();
      const where = `frame ${s.frame} ${k}`;
      if (!r) problems.push(`${where}: no record`);
      else problems.push(...diff(where, want, r));
    }
    expect(problems.slice(0, 30)).toEqual([]);
  });

  it('the corpus flow samples exercise what the comparison checks', () => {
    const all = [...decoded.values()].flatMap((d) => d.ours.records.filter((r) => !r.$counter));
    const has = (k: string) => all.filter((r) => k in r).length;
    // headers with IPv4 and IPv6, ports, TCP flags, VLANs from headers and switch records, discards, locals
    for (const k of ['sourceIPv4Address', 'sourceIPv6Address', 'sourceTransportPort', 'tcpControlBits', 'icmpTypeCodeIPv4', 'icmpTypeCodeIPv6', 'dot1qVlanId', 'dot1qCustomerVlanId', 'vlanId', 'sourceMacAddress', 'layer2OctetDeltaCount', 'sflowDiscardReason', 'sflowOutputInterfaceCount', 'bgpSourceAsNumber', 'sourceIPv4PrefixLength']) {
      expect(has(k), k).toBeGreaterThan(0);
    }
    expect(all.filter((r) => r.forwardingStatus === 0xc3).length).toBeGreaterThan(0);
  });

  it('oxyflow frame 1372, the one tshark marks malformed: the mark is its RTCP heuristic inside a sampled UDP payload (port 3478), not sFlow; all 4 samples decode', async () => {
    const file = resolve(corpus, 'sflow/oxyflow__sflow.pcap');
    const r = await run(toolPath('tshark')!, ['-r', file, '-Y', '_ws.malformed', '-T', 'fields', '-e', 'frame.number', '-e', 'rtcp.length_check.bad', '-e', 'sflow_245.numsamples'], { timeoutMs: 60_000 });
    expect(r.stdout.trim().split('\n')).toEqual(['1372\t1\t4']);
    const { tshark, ours } = decoded.get('sflow/oxyflow__sflow.pcap')!;
    const index = tshark.findIndex((d) => d.frame === 1372);
    const before = tshark.slice(0, index).reduce((n, d) => n + d.samples.length, 0);
    const mine = ours.records.slice(before, before + 4);
    expect(mine.map((x) => x.sflowSampleSequence)).toEqual([25954, 23569, 23570, 23571]);
    expect(mine[0]).toMatchObject({ protocolIdentifier: 17, sourceTransportPort: 20733, destinationTransportPort: 3478, sourceIPv4Address: '136.226.253.30' });
  });
});
