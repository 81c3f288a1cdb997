// Whole link-layer frames of a capture, for tests that decode packet headers the way an sFlow agent
// samples them (src/util/pcap.ts gives transport payloads instead). Classic pcap (both byte orders, µs
// or ns) and pcapng (Enhanced and Simple Packet Blocks); the frame bytes as captured.

import { readFileSync } from 'node:fs';

export interface RawFrame {
  /** 1-based frame number, as tshark counts. */
  number: number;
  linkType: number;
  data: Uint8Array;
}

export const LINKTYPE_ETHERNET = 1;

export function readFrames(path: string): RawFrame[] {
  const b = readFileSync(path);
  return b.readUInt32LE(0) === 0x0a0d0d0a ? pcapngFrames(b) : pcapFrames(b, path);
}

function pcapFrames(b: Buffer, path: string): RawFrame[] {
  const magic = b.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d) le = false;
  else throw new Error(`${path}: not a pcap or pcapng file`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const out: RawFrame[] = [];
  // Record header: ts_sec, ts_frac, incl_len, orig_len.
  for (let at = 24; at + 16 <= b.length; ) {
    const incl = u32(at + 8);
    if (at + 16 + incl > b.length) break;
    out.push({ number: out.length + 1, linkType, data: new Uint8Array(b.subarray(at + 16, at + 16 + incl)) });
    at += 16 + incl;
  }
  return out;
}

function pcapngFrames(b: Buffer): RawFrame[] {
  const out: RawFrame[] = [];
  const linkTypes: number[] = [];
  let le = true;
  for (let at = 0; at + 12 <= b.length; ) {
    if (b.readUInt32LE(at) === 0x0a0d0d0a) {
      // Section Header Block: the byte-order magic decides how the section reads.
      le = b.readUInt32LE(at + 8) === 0x1a2b3c4d;
      linkTypes.length = 0;
    }
    const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const type = u32(at);
    const length = u32(at + 4);
    if (length < 12 || at + length > b.length) break;
    if (type === 1) linkTypes.push(u16(at + 8)); // Interface Description Block
    else if (type === 6) {
      // Enhanced Packet Block: interface id, timestamp (2×4), captured length, original length, data.
      const captured = u32(at + 20);
      out.push({
        number: out.length + 1,
        linkType: linkTypes[u32(at + 8)] ?? -1,
        data: new Uint8Array(b.subarray(at + 28, at + 28 + captured)),
      });
    } else if (type === 3) {
      // Simple Packet Block: original length, data up to the block end.
      const captured = Math.min(u32(at + 8), length - 16);
      out.push({ number: out.length + 1, linkType: linkTypes[0] ?? -1, data: new Uint8Array(b.subarray(at + 12, at + 12 + captured)) });
    }
    at += length;
  }
  return out;
}
