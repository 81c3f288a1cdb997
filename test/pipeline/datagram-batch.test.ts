// Datagram batches (src/pipeline/datagram-batch.ts): what the main thread packs is what the worker reads,
// datagram by datagram, with its source address and port, for real captures over IPv4 and IPv6.

import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { udpPayloads } from '../../src/util/pcap.js';
import { DATAGRAM_BATCH_BYTES, DatagramBatch, DatagramReader } from '../../src/pipeline/datagram-batch.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');

/** Packs `packets` into as many batches as they need (sealed), like the main thread does. */
function pack(packets: { payload: Buffer; src: string; srcPort: number }[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  let b = new DatagramBatch();
  for (const p of packets) {
    if (!b.fits(p.src, p.payload.length)) {
      out.push(b.seal());
      b = new DatagramBatch();
    }
    b.add(p.payload, p.src, p.srcPort);
  }
  if (b.count) out.push(b.seal());
  return out;
}

describe('DatagramBatch → DatagramReader', () => {
  it.each(['sflow/oxyflow__sflow.pcap', 'ipfix/pmacct__111-IPFIX-IPv6-CISCO.pcap', 'nf5/overflowd__netflow_4M.pcap'])('%s: every datagram, address and port survive, in order', (capture) => {
    const packets = udpPayloads(resolve(corpus, capture));
    const batches = pack(packets);
    // 1.8 MB of sFlow / 4 MB of v5 need several batches: the boundary between them is exercised
    if (packets.reduce((n, p) => n + p.payload.length, 0) > DATAGRAM_BATCH_BYTES) expect(batches.length).toBeGreaterThan(1);
    const got: [string, number, string][] = [];
    const reader = new DatagramReader();
    for (const b of batches) reader.read(Buffer.from(b), (d, s, e, address, port) => got.push([address, port, d.toString('hex', s, e)]));
    expect(got).toEqual(packets.map((p) => [p.src, p.srcPort, p.payload.toString('hex')]));
    // A receiver's batch is a view at an offset of a larger memory (a receive area of the plan memory).
    const memory = Buffer.alloc(3 * DATAGRAM_BATCH_BYTES);
    const inArea: [string, number, string][] = [];
    for (const b of batches) {
      memory.fill(0xee);
      const area = memory.subarray(1000, 1000 + b.byteLength);
      area.set(new Uint8Array(b));
      reader.read(area, (d, s, e, address, port) => inArea.push([address, port, d.toString('hex', s, e)]));
    }
    expect(inArea).toEqual(got);
  });

  it('a batch holds as many datagrams as fit and refuses the next; the largest UDP payload gets a batch of its size', () => {
    const v6 = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    const d = Buffer.alloc(1400, 0xab);
    const b = new DatagramBatch();
    let added = 0;
    while (b.fits(v6, d.length)) {
      b.add(d, v6, 65535);
      added++;
    }
    // header 8 octets; per datagram: port 2, address length 1, the address, length 4, the octets
    expect(added).toBe(Math.floor((DATAGRAM_BATCH_BYTES - 8) / (7 + v6.length + d.length)));
    const got: [string, number, number][] = [];
    new DatagramReader().read(Buffer.from(b.seal()), (_x, s, e, a, p) => got.push([a, p, e - s]));
    expect(got).toEqual(Array.from({ length: added }, () => [v6, 65535, 1400]));

    const big = Buffer.alloc(65507, 0xcd);
    expect(new DatagramBatch().fits(v6, big.length)).toBe(false);
    const own = new DatagramBatch(new ArrayBuffer(DatagramBatch.room(v6, big.length)));
    expect(own.fits(v6, big.length)).toBe(true);
    own.add(big, v6, 1);
    expect(own.fits('1.2.3.4', 0)).toBe(false);
    const back: Buffer[] = [];
    new DatagramReader().read(Buffer.from(own.seal()), (x, s, e) => back.push(Buffer.from(x.subarray(s, e))));
    expect(back).toEqual([big]);
  });

  it('consecutive datagrams from one exporter share its address; a new exporter gets its own', () => {
    const b = new DatagramBatch();
    const d = Buffer.from([0, 5]);
    for (const a of ['10.0.0.1', '10.0.0.1', '10.0.0.12', '10.0.0.1']) b.add(d, a, 9);
    const seen: string[] = [];
    new DatagramReader().read(Buffer.from(b.seal()), (_d, _s, _e, a) => seen.push(a));
    expect(seen).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.12', '10.0.0.1']);
  });
});
