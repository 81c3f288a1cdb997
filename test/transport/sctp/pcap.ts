// A pcap of SCTP packets as they would travel: raw over IPv4 (protocol 132, RFC 9260) or inside UDP
// (RFC 6951, port 9899). Classic little-endian pcap, LINKTYPE_RAW (frames start with the IP header),
// so tshark can judge what the codec wrote.

import { writeFileSync } from 'node:fs';

export interface SctpFrame {
  packet: Uint8Array;
  /** Carry it in UDP between these ports (RFC 6951); raw IP protocol 132 when absent. */
  udp?: { srcPort: number; dstPort: number };
  /** Direction: from 127.0.0.2 to 127.0.0.1 (default) or back. */
  reverse?: boolean;
}

const IPPROTO_UDP = 17;
const IPPROTO_SCTP = 132;

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function frame(f: SctpFrame, id: number): Buffer {
  const udpLen = f.udp ? 8 : 0;
  const total = 20 + udpLen + f.packet.length;
  const b = Buffer.alloc(total);
  b[0] = 0x45;
  b.writeUInt16BE(total, 2);
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(0x4000, 6); // don't fragment
  b[8] = 64;
  b[9] = f.udp ? IPPROTO_UDP : IPPROTO_SCTP;
  const [src, dst] = f.reverse ? [[127, 0, 0, 1], [127, 0, 0, 2]] : [[127, 0, 0, 2], [127, 0, 0, 1]];
  b.set(src!, 12);
  b.set(dst!, 16);
  b.writeUInt16BE(ipv4Checksum(b.subarray(0, 20)), 10);
  if (f.udp) {
    b.writeUInt16BE(f.udp.srcPort, 20);
    b.writeUInt16BE(f.udp.dstPort, 22);
    b.writeUInt16BE(8 + f.packet.length, 24);
    // UDP checksum 0: "not computed", allowed over IPv4
  }
  b.set(f.packet, 20 + udpLen);
  return b;
}

export function writeSctpPcap(path: string, frames: readonly SctpFrame[]): void {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(0x40000, 16);
  head.writeUInt32LE(101, 20); // LINKTYPE_RAW
  parts.push(head);
  frames.forEach((f, i) => {
    const data = frame(f, i + 1);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1704067200 + i, 0);
    rec.writeUInt32LE(0, 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(data.length, 12);
    parts.push(rec, data);
  });
  writeFileSync(path, Buffer.concat(parts));
}
