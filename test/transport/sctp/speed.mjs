// Codec speed, not a test: `npm run build && node test/transport/sctp/speed.mjs [distDir]`.
// Measures CRC32c throughput and the send/receive cost of a packet with one 1,400-octet DATA chunk.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.argv[2] ?? resolve(import.meta.dirname, '../../../dist'));
const S = await import(pathToFileURL(resolve(dist, 'transport/sctp/index.js')).href);

function time(label, n, f) {
  for (let i = 0; i < Math.min(n, 20000); i++) f(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label, perSecond: n / s, nsEach: (s * 1e9) / n };
}

// CRC32c
const big = new Uint8Array(1 << 20).map((_, i) => (i * 131) & 0xff);
let sink = 0;
const crc = time('crc32c 1 MiB', 500, () => (sink ^= S.crc32c(big)));
console.log(`CRC32c: ${((crc.perSecond * big.length) / 1e9).toFixed(2)} GB/s`);
const small = big.subarray(0, 1428);
const crcSmall = time('crc32c 1428 B', 500000, () => (sink ^= S.crc32c(small)));
console.log(`CRC32c over a 1,428-octet packet: ${(crcSmall.nsEach / 1000).toFixed(2)} µs (${((crcSmall.perSecond * small.length) / 1e9).toFixed(2)} GB/s)`);

// Encode: common header + one DATA chunk with a 1,400-octet message + checksum, into a reused buffer
const payload = new Uint8Array(1400).map((_, i) => i & 0xff);
const buf = new Uint8Array(1500);
let len = 0;
const enc = time('encode', 300000, (i) => {
  let o = S.writeCommonHeader(buf, 0, 4739, 4739, 0x12345678);
  o = S.writeDataChunk(buf, o, S.DataFlags.BEGINNING | S.DataFlags.ENDING, i, 1, i & 0xffff, 0, payload);
  S.finishPacket(buf, 0, o);
  len = o;
});
console.log(`encode (header + DATA 1,400 + CRC32c), ${len} octets: ${Math.round(enc.perSecond).toLocaleString()} packets/s, ${(enc.nsEach / 1000).toFixed(2)} µs each`);

// Decode: PacketReader (checksum, framing) + readData into a scratch chunk
const reader = new S.PacketReader();
const scratch = S.newDataChunk();
const dec = time('decode', 300000, () => {
  if (reader.open(buf, 0, len)) throw new Error('decode failed');
  while (reader.next()) reader.readData(scratch);
  sink ^= scratch.tsn;
});
console.log(`decode (CRC32c check + framing + DATA): ${Math.round(dec.perSecond).toLocaleString()} packets/s, ${(dec.nsEach / 1000).toFixed(2)} µs each`);
const decNoCrc = time('decode no crc', 1000000, () => {
  reader.open(buf, 0, len, false);
  while (reader.next()) reader.readData(scratch);
  sink ^= scratch.tsn;
});
console.log(`decode without the CRC32c: ${Math.round(decNoCrc.perSecond).toLocaleString()} packets/s`);

// Control chunks through objects: a SACK with 4 gap blocks
const sack = { type: S.ChunkType.SACK, cumulativeTsnAck: 1000, aRwnd: 1 << 20, gapAckBlocks: [{ start: 2, end: 3 }, { start: 5, end: 6 }, { start: 8, end: 9 }, { start: 11, end: 12 }], duplicateTsns: [] };
const sbuf = new Uint8Array(100);
let slen = 0;
const sackEnc = time('sack encode', 500000, () => (slen = S.encodePacket(sbuf, 0, { srcPort: 1, dstPort: 2, verificationTag: 3 }, [sack])));
const sackDec = time('sack decode', 500000, () => (sink ^= S.decodePacket(sbuf, 0, slen).ok ? 1 : 0));
console.log(`SACK (4 gap blocks) via objects: encode ${Math.round(sackEnc.perSecond).toLocaleString()}/s, decode ${Math.round(sackDec.perSecond).toLocaleString()}/s`);
if (sink === 0.5) console.log(sink);
