// Deterministic sFlow v5 datagram generator for benchmarks, written from the sFlow version 5 specification
// (sflow.org, July 2004). Independent of the gateway's code, so the same traffic can drive peers (sfacctd)
// in the side-by-side benchmark.
//
// The traffic looks like what a campus/data-centre fleet sends: many agents (IPv4 and IPv6 agent
// addresses, some with several sub-agents), each with its own datagram sequence and uptime; flow samples
// whose raw packet header record holds the first 128 octets of the frame (Ethernet, an 802.1Q tag on some,
// IPv4 or IPv6, TCP/UDP/ICMP) with the usual extended switch record; routers add extended router and
// extended gateway records; one counter sample (generic + Ethernet interface counters) per ~20 flow
// samples. Samples are packed into a datagram until the next would pass `maxDatagram` octets, as agents
// fill one MTU-sized buffer, which gives ~7 samples per datagram.
//
//   import { sflowDatagrams, samplesIn } from './lib/sflow-gen.mjs';
//   const pool = sflowDatagrams(4000, { agents: 64, seed: 3 });

import { prng } from './netflow-gen.mjs';

// Sample formats (enterprise 0).
const FLOW_SAMPLE = 1;
const COUNTERS_SAMPLE = 2;
const FLOW_SAMPLE_EXPANDED = 3;
const COUNTERS_SAMPLE_EXPANDED = 4;
// Flow record formats.
const RAW_PACKET_HEADER = 1;
const EXTENDED_SWITCH = 1001;
const EXTENDED_ROUTER = 1002;
const EXTENDED_GATEWAY = 1003;
// Counter record formats.
const GENERIC_INTERFACE = 1;
const ETHERNET_INTERFACE = 2;
// header_protocol: ETHERNET-ISO88023.
const HEADER_ETHERNET = 1;
/** The default header snapshot of most agents. */
const SNAP = 128;
/** ifIndex "local" (the agent itself) in the 30-bit interface value. */
const IF_LOCAL = 0x3fffffff;

/** A growable big-endian XDR writer over one scratch buffer (generation time only, not benchmarked). */
class Xdr {
  constructor(size = 65536) {
    this.b = Buffer.alloc(size);
    this.o = 0;
  }
  u32(v) {
    this.b.writeUInt32BE(v >>> 0, this.o);
    this.o += 4;
    return this;
  }
  u64(v) {
    this.b.writeBigUInt64BE(BigInt(v), this.o);
    this.o += 8;
    return this;
  }
  bytes(src) {
    src.copy(this.b, this.o);
    this.o += src.length;
    return this;
  }
  /** XDR opaque<>: length, bytes, zero padding to 4. */
  opaque(src) {
    this.u32(src.length);
    this.bytes(src);
    while (this.o & 3) this.b[this.o++] = 0;
    return this;
  }
  /** sFlow address: type 1 IPv4 / 2 IPv6, then the address. */
  address(a) {
    this.u32(a.length === 4 ? 1 : 2);
    return this.bytes(a);
  }
  /** Starts a length-prefixed structure (format, length): returns where the length goes. */
  open(format) {
    this.u32(format);
    const at = this.o;
    this.u32(0);
    return at;
  }
  close(at) {
    this.b.writeUInt32BE(this.o - at - 4, at);
  }
  take() {
    return Buffer.from(this.b.subarray(0, this.o));
  }
}

const pick = (rnd, list) => list[Math.floor(rnd() * list.length)];

/** The Internet checksum (RFC 1071) of b[s, e). */
function checksum(b, s, e) {
  let sum = 0;
  for (let i = s; i < e; i += 2) sum += (b[i] << 8) | (i + 1 < e ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * The fleet: `agents` agents, 1 in 4 with an IPv6 agent address, 1 in 8 with two sub-agents (line cards),
 * 1 in 4 a router (extended router + gateway records), 1 in 8 sending expanded samples (large ifIndex).
 */
function makeFleet(rnd, agents) {
  const fleet = [];
  for (let a = 0; a < agents; a++) {
    const v6 = a % 4 === 3;
    const address = v6 ? Buffer.from(`20010db8000a${(a >> 8).toString(16).padStart(2, '0')}${(a & 0xff).toString(16).padStart(2, '0')}0000000000000001`, 'hex') : Buffer.from([10, 255, a >> 8, a & 0xff]);
    const subAgents = a % 8 === 5 ? 2 : 1;
    for (let s = 0; s < subAgents; s++) {
      fleet.push({
        address,
        subAgent: s,
        router: a % 4 === 1,
        expanded: a % 8 === 6,
        sequence: 0,
        uptime: 86_400_000 + Math.floor(rnd() * 1e9),
        samplingRate: pick(rnd, [512, 1024, 2048, 4096, 8192]),
        ports: 24 + 24 * Math.floor(rnd() * 2),
        mac: Buffer.from([0x00, 0x1c, 0x73, a & 0xff, s, 0]),
        flowSequence: new Map(),
        counterSequence: new Map(),
        pool: new Map(),
        counterPort: 0,
      });
    }
  }
  return fleet;
}

/**
 * The first min(frame, 128) octets of one sampled frame: Ethernet (an 802.1Q tag on 1 in 3), IPv4 or
 * IPv6 (1 in 4), TCP (70 %), UDP (25 %) or ICMP/ICMPv6 (5 %), payload bytes. Returns the header bytes and
 * the frame length (with its 4-octet FCS, which agents count and strip).
 */
function sampledFrame(rnd, agent) {
  const v6 = rnd() < 0.25;
  const tagged = rnd() < 0.33;
  const r = rnd();
  const proto = r < 0.7 ? 6 : r < 0.95 ? 17 : v6 ? 58 : 1;
  // Bimodal sizes: ACKs and small requests, full-size data segments, some in between.
  const s = rnd();
  const l2 = tagged ? 18 : 14;
  const ipHeader = v6 ? 40 : 20;
  const transportHeader = proto === 6 ? (rnd() < 0.8 ? 32 : 20) : 8;
  const minFrame = l2 + ipHeader + transportHeader + 4;
  let frame = s < 0.5 ? Math.max(64, minFrame) : s < 0.88 ? 1518 - (tagged ? 0 : 4) : minFrame + Math.floor(rnd() * 600);
  frame = Math.max(frame, 64, minFrame);
  const ipLength = frame - 4 - l2;
  const wire = Buffer.alloc(Math.min(frame - 4, SNAP));
  let o = 0;
  // Ethernet: destination, source (agent's neighbourhood MACs), optional 802.1Q tag, EtherType.
  wire.writeUInt32BE(0x00505600 | Math.floor(rnd() * 256), 0);
  wire.writeUInt16BE(Math.floor(rnd() * 65536), 4);
  agent.mac.copy(wire, 6, 0, 5);
  wire[11] = 1 + Math.floor(rnd() * agent.ports);
  o = 12;
  if (tagged) {
    wire.writeUInt16BE(0x8100, o);
    wire.writeUInt16BE((Math.floor(rnd() * 8) << 13) | (10 + Math.floor(rnd() * 200)), o + 2);
    o += 4;
  }
  wire.writeUInt16BE(v6 ? 0x86dd : 0x0800, o);
  o += 2;
  const ip = o;
  const dscp = pick(rnd, [0, 0, 0, 0, 0x28, 0xb8, 0x10]);
  if (v6) {
    wire.writeUInt32BE((6 << 28) | (dscp << 20) | Math.floor(rnd() * 0xfffff), o);
    wire.writeUInt16BE(ipLength - 40, o + 4);
    wire[o + 6] = proto;
    wire[o + 7] = pick(rnd, [64, 255, 57, 63]);
    wire.writeUInt32BE(0x20010db8, o + 8);
    wire.writeUInt32BE(Math.floor(rnd() * 0x10000), o + 12);
    wire.writeUInt32BE(0, o + 16);
    wire.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 20);
    wire.writeUInt32BE(0x2a001450, o + 24);
    wire.writeUInt32BE(Math.floor(rnd() * 0x10000), o + 28);
    wire.writeUInt32BE(0, o + 32);
    wire.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 36);
    o += 40;
  } else {
    wire[o] = 0x45;
    wire[o + 1] = dscp;
    wire.writeUInt16BE(ipLength, o + 2);
    wire.writeUInt16BE(Math.floor(rnd() * 65536), o + 4);
    wire.writeUInt16BE(0x4000, o + 6); // DF
    wire[o + 8] = pick(rnd, [64, 128, 255, 57, 119]);
    wire[o + 9] = proto;
    wire.writeUInt32BE((0x0a000000 | Math.floor(rnd() * 0xffffff)) >>> 0, o + 12);
    wire.writeUInt32BE((0xc0000000 | Math.floor(rnd() * 0x3fffffff)) >>> 0, o + 16);
    wire.writeUInt16BE(checksum(wire, o, o + 20), o + 10);
    o += 20;
  }
  const service = pick(rnd, [443, 443, 443, 80, 53, 22, 123, 8080, 3306]);
  const ephemeral = 32768 + Math.floor(rnd() * 28000);
  const toServer = rnd() < 0.5;
  if (proto === 6) {
    wire.writeUInt16BE(toServer ? ephemeral : service, o);
    wire.writeUInt16BE(toServer ? service : ephemeral, o + 2);
    wire.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 4);
    const ack = Math.floor(rnd() * 0xffffffff);
    const flags = frame <= 80 ? pick(rnd, [0x10, 0x10, 0x10, 0x02, 0x12, 0x11, 0x04]) : 0x18;
    wire.writeUInt32BE(flags & 0x10 ? ack : 0, o + 8); // the acknowledgment number only with ACK
    wire[o + 12] = (transportHeader / 4) << 4;
    wire[o + 13] = flags;
    wire.writeUInt16BE(pick(rnd, [502, 1024, 64240, 65535]), o + 14);
    if (transportHeader === 32 && o + 32 <= wire.length) {
      // NOP, NOP, timestamps (RFC 7323).
      wire.writeUInt32BE(0x0101080a, o + 20);
      wire.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 24);
      wire.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 28);
    }
  } else if (proto === 17) {
    wire.writeUInt16BE(toServer ? ephemeral : service, o);
    wire.writeUInt16BE(toServer ? service : ephemeral, o + 2);
    wire.writeUInt16BE(ipLength - ipHeader, o + 4);
  } else {
    // Echo request/reply (error messages would have to quote a real IP header).
    wire[o] = proto === 1 ? pick(rnd, [8, 0, 8, 0]) : pick(rnd, [128, 129, 128, 129]);
    wire[o + 1] = 0;
  }
  o += transportHeader;
  for (; o < wire.length; o++) wire[o] = Math.floor(rnd() * 256);
  void ip;
  return { header: wire, frame };
}

/** One flow sample (compact, or expanded for agents with large ifIndex values). */
function flowSample(w, rnd, agent) {
  const expanded = agent.expanded;
  const port = 1 + Math.floor(rnd() * agent.ports);
  const ifIndex = expanded ? 0x1000000 + port : port;
  const seq = (agent.flowSequence.get(port) ?? 0) + 1;
  agent.flowSequence.set(port, seq);
  const pool = (agent.pool.get(port) ?? 0) + agent.samplingRate + Math.floor(rnd() * agent.samplingRate);
  agent.pool.set(port, pool);
  // Output: another port mostly; the agent itself, a discard, or several ports (flooding) now and then.
  const r = rnd();
  let outFormat = 0;
  let outValue = 1 + Math.floor(rnd() * agent.ports);
  if (r < 0.01) outValue = IF_LOCAL;
  else if (r < 0.02) {
    outFormat = 1;
    outValue = pick(rnd, [258, 257, 256, 1]); // ACL, TTL exceeded, unknown, host unreachable (ICMP code)
  } else if (r < 0.04) {
    outFormat = 2;
    outValue = 0;
  }
  const outIf = expanded && outFormat === 0 && outValue !== IF_LOCAL ? 0x1000000 + outValue : outValue;

  const s = w.open(expanded ? FLOW_SAMPLE_EXPANDED : FLOW_SAMPLE);
  w.u32(seq);
  if (expanded) w.u32(0).u32(ifIndex);
  else w.u32(ifIndex); // source_id: type 0 (ifIndex) << 24 | index
  w.u32(agent.samplingRate).u32(pool).u32(rnd() < 0.02 ? Math.floor(rnd() * 10) : 0);
  if (expanded) w.u32(0).u32(ifIndex).u32(outFormat).u32(outIf);
  else w.u32(ifIndex).u32(((outFormat << 30) | outValue) >>> 0);
  const records = agent.router ? 4 : 2;
  w.u32(records);

  const { header, frame } = sampledFrame(rnd, agent);
  const raw = w.open(RAW_PACKET_HEADER);
  w.u32(HEADER_ETHERNET).u32(frame).u32(4).opaque(header);
  w.close(raw);

  const sw = w.open(EXTENDED_SWITCH);
  const vlan = 10 + Math.floor(rnd() * 200);
  w.u32(vlan).u32(Math.floor(rnd() * 8)).u32(vlan).u32(0);
  w.close(sw);

  if (agent.router) {
    const v6 = header.readUInt16BE(header.readUInt16BE(12) === 0x8100 ? 16 : 12) === 0x86dd;
    const rt = w.open(EXTENDED_ROUTER);
    w.address(v6 ? Buffer.from('fe800000000000000000000000000001', 'hex') : Buffer.from([10, 0, 0, 1]));
    w.u32(v6 ? 48 : 24).u32(v6 ? pick(rnd, [32, 48, 56]) : pick(rnd, [16, 22, 24]));
    w.close(rt);

    const gw = w.open(EXTENDED_GATEWAY);
    w.address(Buffer.from([192, 0, 2, 1 + Math.floor(rnd() * 8)]));
    w.u32(64512).u32(rnd() < 0.5 ? 0 : pick(rnd, [3356, 174, 2914])).u32(pick(rnd, [3356, 174, 2914]));
    // dst_as_path: one AS_SEQUENCE of 1..4 ASNs.
    const n = 1 + Math.floor(rnd() * 4);
    w.u32(1).u32(2).u32(n);
    for (let i = 0; i < n; i++) w.u32(pick(rnd, [3356, 1299, 6939, 13335, 15169, 16509, 32934]));
    const c = Math.floor(rnd() * 3);
    w.u32(c);
    for (let i = 0; i < c; i++) w.u32(((64512 << 16) | (100 + i)) >>> 0);
    w.u32(100);
    w.close(gw);
  }
  w.close(s);
}

/** One counter sample: generic interface + Ethernet interface counters of the agent's next port. */
function counterSample(w, rnd, agent) {
  const expanded = agent.expanded;
  agent.counterPort = (agent.counterPort % agent.ports) + 1;
  const port = agent.counterPort;
  const ifIndex = expanded ? 0x1000000 + port : port;
  const seq = (agent.counterSequence.get(port) ?? 0) + 1;
  agent.counterSequence.set(port, seq);
  const s = w.open(expanded ? COUNTERS_SAMPLE_EXPANDED : COUNTERS_SAMPLE);
  w.u32(seq);
  if (expanded) w.u32(0).u32(ifIndex);
  else w.u32(ifIndex);
  w.u32(2);
  const g = w.open(GENERIC_INTERFACE);
  const speed = port > 48 ? 10_000_000_000 : 1_000_000_000;
  const t = agent.uptime / 1000;
  w.u32(ifIndex).u32(6).u64(speed).u32(1).u32(3);
  w.u64(Math.floor(t * 1e6 * (1 + port))).u32(Math.floor(t * 900)).u32(Math.floor(t * 3)).u32(Math.floor(t * 2)).u32(0).u32(0).u32(0);
  w.u64(Math.floor(t * 2e6 * (1 + port))).u32(Math.floor(t * 1200)).u32(Math.floor(t * 4)).u32(Math.floor(t * 5)).u32(rnd() < 0.1 ? 3 : 0).u32(0).u32(2);
  w.close(g);
  const e = w.open(ETHERNET_INTERFACE);
  for (let i = 0; i < 13; i++) w.u32(i === 1 && rnd() < 0.05 ? 1 : 0);
  w.close(e);
  w.close(s);
}

/**
 * `count` sFlow v5 datagrams from a fleet of `agents` agents, interleaved as they would arrive at a
 * collector. Each datagram carries samples of one (agent, sub-agent) until the next sample would take it
 * past `maxDatagram` octets; about one sample in `counterEvery` + 1 is a counter sample.
 */
export function sflowDatagrams(count, { agents = 64, seed = 3, maxDatagram = 1400, counterEvery = 20 } = {}) {
  const rnd = prng(seed);
  const fleet = makeFleet(rnd, agents);
  const out = [];
  const w = new Xdr();
  const sample = new Xdr(4096);
  let pending = null; // a sample generated that did not fit the previous datagram
  for (let d = 0; d < count; d++) {
    const agent = fleet[Math.floor(rnd() * fleet.length)];
    agent.uptime += 100 + Math.floor(rnd() * 900);
    w.o = 0;
    w.u32(5).address(agent.address).u32(agent.subAgent).u32(++agent.sequence).u32(agent.uptime);
    const countAt = w.o;
    w.u32(0);
    let samples = 0;
    for (;;) {
      if (!pending || pending.agent !== agent) {
        sample.o = 0;
        if (rnd() * (counterEvery + 1) < 1) counterSample(sample, rnd, agent);
        else flowSample(sample, rnd, agent);
        pending = { agent, bytes: sample.take() };
      }
      if (w.o + pending.bytes.length > maxDatagram && samples > 0) break;
      w.bytes(pending.bytes);
      pending = null;
      samples++;
    }
    w.b.writeUInt32BE(samples, countAt);
    out.push(w.take());
  }
  return out;
}

/** Samples in a datagram (flow and counter samples alike: each becomes one IPFIX record). */
export function samplesIn(datagram) {
  const at = datagram.readUInt32BE(4) === 2 ? 36 : 24;
  return datagram.readUInt32BE(at);
}

/** Flow and counter samples in a datagram, by walking its sample headers. */
export function sampleKinds(datagram) {
  let o = (datagram.readUInt32BE(4) === 2 ? 36 : 24) + 4;
  let flow = 0;
  let counters = 0;
  for (let i = samplesIn(datagram); i > 0; i--) {
    const format = datagram.readUInt32BE(o);
    if (format === FLOW_SAMPLE || format === FLOW_SAMPLE_EXPANDED) flow++;
    else if (format === COUNTERS_SAMPLE || format === COUNTERS_SAMPLE_EXPANDED) counters++;
    o += 8 + datagram.readUInt32BE(o + 4);
  }
  return { flow, counters };
}

/** A summary of a pool of datagrams (for the benchmark's own report). */
export function describe(pool) {
  let samples = 0;
  let flow = 0;
  let octets = 0;
  const agents = new Set();
  for (const d of pool) {
    const k = sampleKinds(d);
    samples += k.flow + k.counters;
    flow += k.flow;
    octets += d.length;
    const v6 = d.readUInt32BE(4) === 2;
    agents.add(d.toString('hex', 8, v6 ? 24 : 12) + '/' + d.readUInt32BE(v6 ? 24 : 12));
  }
  return {
    datagrams: pool.length,
    samples,
    flowSamples: flow,
    counterSamples: samples - flow,
    samplesPerDatagram: +(samples / pool.length).toFixed(2),
    octetsPerDatagram: Math.round(octets / pool.length),
    exporters: agents.size,
  };
}
