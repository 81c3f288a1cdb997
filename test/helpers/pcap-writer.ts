// A minimal pcap writer, so judges that read captures (tshark) can read what the gateway wrote to
// a file or received over a socket: each IPFIX message becomes a UDP datagram (or a TCP segment
// stream) between two loopback addresses, in a classic little-endian pcap of raw IPv4 packets.

import { writeFileSync } from 'node:fs';

const PCAP_MAGIC = 0xa1b2c3d4; // microsecond timestamps
const LINKTYPE_RAW = 101; // packets start with the IP header
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const TCP_HEADER = 20;
/** Largest UDP payload an IPv4 datagram can carry. */
export const MAX_UDP_PAYLOAD = 65535 - IPV4_HEADER - UDP_HEADER;

export interface WrapOptions {
  src?: string; // default 127.0.0.2
  dst?: string; // default 127.0.0.1
  srcPort?: number; // default 40000
  /** Capture time of the first packet, seconds since the epoch; later packets 1 ms apart. */
  startTime?: number;
}

function ipv4Bytes(a: string): number[] {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`not an IPv4 address: ${a}`);
  return parts;
}

/** RFC 1071 Internet checksum over the given byte ranges. */
function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const b of parts) {
    for (let i = 0; i < b.length; i++) {
      if (odd === null) odd = b[i]!;
      else {
        sum += (odd << 8) | b[i]!;
        odd = null;
      }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Header(src: number[], dst: number[], protocol: number, payloadLength: number, id: number): Buffer {
  const h = Buffer.alloc(IPV4_HEADER);
  h[0] = 0x45;
  h.writeUInt16BE(IPV4_HEADER + payloadLength, 2);
  h.writeUInt16BE(id & 0xffff, 4);
  h.writeUInt16BE(0x4000, 6); // don't fragment
  h[8] = 64; // TTL
  h[9] = protocol;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

function pseudoHeader(src: number[], dst: number[], protocol: number, length: number): Buffer {
  const p = Buffer.alloc(12);
  Buffer.from(src).copy(p, 0);
  Buffer.from(dst).copy(p, 4);
  p[9] = protocol;
  p.writeUInt16BE(length, 10);
  return p;
}

function pcapFile(packets: Buffer[], startTime: number): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(PCAP_MAGIC, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(0x40000, 16); // snaplen 256 KiB, above any IP packet
  header.writeUInt32LE(LINKTYPE_RAW, 20);
  const chunks = [header];
  const startUs = Math.round(startTime * 1e6);
  packets.forEach((pkt, i) => {
    const us = startUs + i * 1000;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(pkt.length, 8);
    rec.writeUInt32LE(pkt.length, 12);
    chunks.push(rec, pkt);
  });
  return Buffer.concat(chunks);
}

/** The IPv4/UDP packets (checksums computed) carrying each datagram from src:srcPort to dst:dstPort. */
export function udpPackets(datagrams: readonly Buffer[], dstPort: number, opts: WrapOptions = {}): Buffer[] {
  const src = ipv4Bytes(opts.src ?? '127.0.0.2');
  const dst = ipv4Bytes(opts.dst ?? '127.0.0.1');
  const srcPort = opts.srcPort ?? 40000;
  return datagrams.map((d, i) => {
    if (d.length > MAX_UDP_PAYLOAD) throw new Error(`datagram ${i} is ${d.length} bytes, above the UDP maximum ${MAX_UDP_PAYLOAD}`);
    const udp = Buffer.alloc(UDP_HEADER);
    udp.writeUInt16BE(srcPort, 0);
    udp.writeUInt16BE(dstPort, 2);
    udp.writeUInt16BE(UDP_HEADER + d.length, 4);
    const sum = internetChecksum(pseudoHeader(src, dst, 17, UDP_HEADER + d.length), udp, d);
    udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
    return Buffer.concat([ipv4Header(src, dst, 17, UDP_HEADER + d.length, i + 1), udp, d]);
  });
}

/** Write a pcap with one UDP datagram per buffer (e.g. one IPFIX message each). */
export function writePcapOfUdp(datagrams: readonly Buffer[], path: string, dstPort: number, opts: WrapOptions = {}): void {
  writeFileSync(path, pcapFile(udpPackets(datagrams, dstPort, opts), opts.startTime ?? 1704067200));
}

/**
 * Write a pcap of one TCP connection (handshake, then the byte stream in segments of at most
 * `segment` octets) carrying `stream` to dst:dstPort. For IPFIX messages too big for a datagram:
 * tshark reassembles the stream and splits it into messages by their length fields.
 */
export function writePcapOfTcpStream(stream: Buffer, path: string, dstPort: number, opts: WrapOptions & { segment?: number } = {}): void {
  const src = ipv4Bytes(opts.src ?? '127.0.0.2');
  const dst = ipv4Bytes(opts.dst ?? '127.0.0.1');
  const srcPort = opts.srcPort ?? 40000;
  const segment = opts.segment ?? 16384;
  const isn = 1000;
  const peerIsn = 5000;
  const packets: Buffer[] = [];
  let id = 1;
  const tcp = (fromClient: boolean, flags: number, seq: number, ack: number, data: Buffer) => {
    const h = Buffer.alloc(TCP_HEADER);
    h.writeUInt16BE(fromClient ? srcPort : dstPort, 0);
    h.writeUInt16BE(fromClient ? dstPort : srcPort, 2);
    h.writeUInt32BE(seq >>> 0, 4);
    h.writeUInt32BE(ack >>> 0, 8);
    h[12] = (TCP_HEADER / 4) << 4;
    h[13] = flags;
    h.writeUInt16BE(65535, 14);
    const [s, d] = fromClient ? [src, dst] : [dst, src];
    h.writeUInt16BE(internetChecksum(pseudoHeader(s, d, 6, TCP_HEADER + data.length), h, data), 16);
    packets.push(Buffer.concat([ipv4Header(s, d, 6, TCP_HEADER + data.length, id++), h, data]));
  };
  const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;
  tcp(true, SYN, isn, 0, Buffer.alloc(0));
  tcp(false, SYN | ACK, peerIsn, isn + 1, Buffer.alloc(0));
  tcp(true, ACK, isn + 1, peerIsn + 1, Buffer.alloc(0));
  let seq = isn + 1;
  for (let off = 0; off < stream.length; off += segment) {
    const data = stream.subarray(off, Math.min(stream.length, off + segment));
    tcp(true, PSH | ACK, seq, peerIsn + 1, data);
    seq += data.length;
    tcp(false, ACK, peerIsn + 1, seq, Buffer.alloc(0));
  }
  tcp(true, FIN | ACK, seq, peerIsn + 1, Buffer.alloc(0));
  tcp(false, FIN | ACK, peerIsn + 1, seq + 1, Buffer.alloc(0));
  tcp(true, ACK, seq + 1, peerIsn + 2, Buffer.alloc(0));
  writeFileSync(path, pcapFile(packets, opts.startTime ?? 1704067200));
}
