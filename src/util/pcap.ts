// Offline capture reading for replay, inspect and tests: pcap (both byte orders, µs and ns) and pcapng,
// link types Ethernet (with 802.1Q/QinQ tags), Linux cooked (SLL, SLL2), raw IP, BSD loopback.
// Gives the transport payload of every UDP, TCP and SCTP packet, with IPv4 fragments reassembled.

import { readFileSync } from 'node:fs';
import { formatIPv4, formatIPv6 } from './address.js';

export type CapturedTransport = 'udp' | 'tcp' | 'sctp';

export interface CapturedPacket {
  /** Capture time in seconds since the epoch (fractional). */
  ts: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  transport: CapturedTransport;
  /** Transport payload (for SCTP: the whole SCTP packet, common header included). */
  payload: Buffer;
}

const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW_OPENBSD = 12;
const LINKTYPE_RAW_14 = 14;
const LINKTYPE_RAW = 101;
const LINKTYPE_LOOP = 108;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

interface Frame {
  ts: number;
  linkType: number;
  data: Buffer;
}

/** Every UDP/TCP/SCTP packet of a pcap or pcapng file, in capture order. */
export function readPcap(path: string): CapturedPacket[] {
  const file = readFileSync(path);
  const frames = isPcapng(file) ? pcapngFrames(file) : pcapFrames(file, path);
  const out: CapturedPacket[] = [];
  const reassembly = new Map<string, Fragments>();
  for (const f of frames) {
    const ip = linkPayload(f.linkType, f.data);
    if (ip) ipPacket(ip.buf, ip.off, f.ts, out, reassembly);
  }
  return out;
}

/** Only the UDP packets of a capture. */
export function udpPayloads(path: string): CapturedPacket[] {
  return readPcap(path).filter((p) => p.transport === 'udp');
}

function isPcapng(b: Buffer): boolean {
  return b.length >= 12 && b.readUInt32LE(0) === 0x0a0d0d0a;
}

function pcapFrames(b: Buffer, path: string): Frame[] {
  if (b.length < 24) throw new Error(`${path}: too short for a pcap header`);
  const magicLE = b.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = b.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) throw new Error(`${path}: not a pcap or pcapng file`);
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const frames: Frame[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    off += 16;
    // A file cut mid-frame: keep what is there; the transport layer notices the short payload.
    const end = Math.min(off + caplen, b.length);
    frames.push({ ts: sec + frac / (nano ? 1e9 : 1e6), linkType, data: b.subarray(off, end) });
    off += caplen;
  }
  return frames;
}

function pcapngFrames(b: Buffer): Frame[] {
  const frames: Frame[] = [];
  let le = true;
  let interfaces: { linkType: number; tsPerSecond: number }[] = [];
  let off = 0;
  while (off + 12 <= b.length) {
    const type = b.readUInt32LE(off);
    if (type === 0x0a0d0d0a) {
      // Section Header Block: its byte-order magic decides the order of everything in the section.
      le = b.readUInt32LE(off + 8) === 0x1a2b3c4d;
      interfaces = [];
    }
    const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const blockType = u32(off);
    const len = u32(off + 4);
    if (len < 12 || off + len > b.length) break;
    if (blockType === 1) {
      interfaces.push({ linkType: u16(off + 8), tsPerSecond: ifTsResolution(b, off + 16, off + len - 4, u16) });
    } else if (blockType === 6) {
      const ifc = interfaces[u32(off + 8)];
      const caplen = u32(off + 20);
      if (ifc) {
        const ticks = u32(off + 12) * 4294967296 + u32(off + 16);
        const start = off + 28;
        frames.push({ ts: ticks / ifc.tsPerSecond, linkType: ifc.linkType, data: b.subarray(start, Math.min(start + caplen, off + len - 4)) });
      }
    } else if (blockType === 3) {
      const ifc = interfaces[0];
      if (ifc) frames.push({ ts: 0, linkType: ifc.linkType, data: b.subarray(off + 12, off + len - 4) });
    }
    off += len;
  }
  return frames;
}

/** if_tsresol (option 9) of an Interface Description Block; default microseconds. */
function ifTsResolution(b: Buffer, off: number, end: number, u16: (o: number) => number): number {
  while (off + 4 <= end) {
    const code = u16(off);
    const len = u16(off + 2);
    if (code === 0) break;
    if (code === 9 && len >= 1) {
      const v = b[off + 4]!;
      return v & 0x80 ? 2 ** (v & 0x7f) : 10 ** (v & 0x7f);
    }
    off += 4 + ((len + 3) & ~3);
  }
  return 1e6;
}

/** Locates the IP header inside a link-layer frame. */
function linkPayload(linkType: number, d: Buffer): { buf: Buffer; off: number } | undefined {
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      let off = 12;
      while (off + 2 <= d.length) {
        const et = d.readUInt16BE(off);
        if (VLAN_TAGS.has(et)) {
          off += 4;
          continue;
        }
        return et === ETHERTYPE_IPV4 || et === ETHERTYPE_IPV6 ? { buf: d, off: off + 2 } : undefined;
      }
      return undefined;
    }
    case LINKTYPE_LINUX_SLL:
      return d.length > 16 && isIpEthertype(d.readUInt16BE(14)) ? { buf: d, off: 16 } : undefined;
    case LINKTYPE_LINUX_SLL2:
      return d.length > 20 && isIpEthertype(d.readUInt16BE(0)) ? { buf: d, off: 20 } : undefined;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return d.length > 4 ? { buf: d, off: 4 } : undefined;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_OPENBSD:
    case LINKTYPE_RAW_14:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return { buf: d, off: 0 };
    default:
      return undefined;
  }
}

function isIpEthertype(et: number): boolean {
  return et === ETHERTYPE_IPV4 || et === ETHERTYPE_IPV6;
}

interface Fragments {
  parts: { offset: number; data: Buffer }[];
  total: number; // payload length once the last fragment is seen, else -1
  src: string;
  dst: string;
  protocol: number;
}

function ipPacket(b: Buffer, off: number, ts: number, out: CapturedPacket[], reassembly: Map<string, Fragments>): void {
  if (off >= b.length) return;
  const version = b[off]! >> 4;
  if (version === 4) {
    if (off + 20 > b.length) return;
    const ihl = (b[off]! & 0x0f) * 4;
    const totalLength = b.readUInt16BE(off + 2);
    const end = Math.min(off + totalLength, b.length);
    const flagsFrag = b.readUInt16BE(off + 6);
    const moreFragments = (flagsFrag & 0x2000) !== 0;
    const fragOffset = (flagsFrag & 0x1fff) * 8;
    const protocol = b[off + 9]!;
    const src = formatIPv4(b, off + 12);
    const dst = formatIPv4(b, off + 16);
    const payload = b.subarray(off + ihl, end);
    if (moreFragments || fragOffset > 0) {
      const whole = reassemble(reassembly, `${src}|${dst}|${b.readUInt16BE(off + 4)}|${protocol}`, src, dst, protocol, fragOffset, payload, !moreFragments);
      if (whole) transportPacket(protocol, whole, src, dst, ts, out);
      return;
    }
    transportPacket(protocol, payload, src, dst, ts, out);
  } else if (version === 6) {
    if (off + 40 > b.length) return;
    const payloadLength = b.readUInt16BE(off + 4);
    let next = b[off + 6]!;
    const src = formatIPv6(b, off + 8);
    const dst = formatIPv6(b, off + 24);
    const end = Math.min(off + 40 + payloadLength, b.length);
    let p = off + 40;
    // Walk extension headers: hop-by-hop, routing, fragment, destination options, authentication.
    for (;;) {
      if (next === 0 || next === 43 || next === 60) {
        if (p + 2 > end) return;
        const n = b[p]!;
        p += (b[p + 1]! + 1) * 8;
        next = n;
      } else if (next === 51) {
        if (p + 2 > end) return;
        const n = b[p]!;
        p += (b[p + 1]! + 2) * 4;
        next = n;
      } else if (next === 44) {
        if (p + 8 > end) return;
        const n = b[p]!;
        const fo = b.readUInt16BE(p + 2);
        const id = b.readUInt32BE(p + 4);
        p += 8;
        const whole = reassemble(reassembly, `${src}|${dst}|${id}|6`, src, dst, n, fo & 0xfff8, b.subarray(p, end), (fo & 1) === 0);
        if (whole) transportPacket(n, whole, src, dst, ts, out);
        return;
      } else break;
    }
    if (p <= end) transportPacket(next, b.subarray(p, end), src, dst, ts, out);
  }
}

function reassemble(
  table: Map<string, Fragments>,
  key: string,
  src: string,
  dst: string,
  protocol: number,
  offset: number,
  data: Buffer,
  last: boolean,
): Buffer | undefined {
  let f = table.get(key);
  if (!f) {
    f = { parts: [], total: -1, src, dst, protocol };
    table.set(key, f);
  }
  f.parts.push({ offset, data });
  if (last) f.total = offset + data.length;
  if (f.total < 0) return undefined;
  f.parts.sort((a, b) => a.offset - b.offset);
  let have = 0;
  for (const p of f.parts) {
    if (p.offset > have) return undefined;
    have = Math.max(have, p.offset + p.data.length);
  }
  if (have < f.total) return undefined;
  table.delete(key);
  const whole = Buffer.alloc(f.total);
  for (const p of f.parts) p.data.copy(whole, p.offset);
  return whole;
}

function transportPacket(protocol: number, p: Buffer, src: string, dst: string, ts: number, out: CapturedPacket[]): void {
  if (protocol === 17) {
    if (p.length < 8) return;
    const udpLength = p.readUInt16BE(4);
    const end = udpLength >= 8 ? Math.min(udpLength, p.length) : p.length;
    out.push({ ts, src, dst, srcPort: p.readUInt16BE(0), dstPort: p.readUInt16BE(2), transport: 'udp', payload: p.subarray(8, end) });
  } else if (protocol === 6) {
    if (p.length < 20) return;
    const dataOffset = (p[12]! >> 4) * 4;
    out.push({ ts, src, dst, srcPort: p.readUInt16BE(0), dstPort: p.readUInt16BE(2), transport: 'tcp', payload: p.subarray(Math.min(dataOffset, p.length)) });
  } else if (protocol === 132) {
    if (p.length < 12) return;
    out.push({ ts, src, dst, srcPort: p.readUInt16BE(0), dstPort: p.readUInt16BE(2), transport: 'sctp', payload: p });
  }
}
