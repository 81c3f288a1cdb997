// The endpoint's gate (RFC 9260 §8.4, §8.5): packets built by hand in the test and sent from a
// rogue host on the LossyLink. Bad checksums and malformed packets are dropped and counted;
// out-of-the-blue packets are answered only for ports the endpoint owns, never when they carry
// ABORT or SHUTDOWN COMPLETE; a wrong verification tag never reaches the association.

import { describe, expect, it } from 'vitest';
import { type Chunk, ChunkType } from '../../../src/transport/sctp/chunk.js';
import type { OutOfTheBlue } from '../../../src/transport/sctp/endpoint.js';
import { writeSctpChecksum } from '../../../src/transport/sctp/crc32c.js';
import { encodePacket } from '../../../src/transport/sctp/packet.js';
import { B, connected, pair } from './association-helpers.js';

const ROGUE = { address: '10.0.0.66', udpPort: 9899 };

function setup() {
  const ootb: OutOfTheBlue[] = [];
  const p = pair({ delayMs: 1 }, { onOutOfTheBlue: (o) => ootb.push(o) });
  const rogue = p.link.endpoint(ROGUE.address, ROGUE.udpPort);
  const answers: { tag: number; chunks: Chunk[] }[] = [];
  const buf = new Uint8Array(256);
  const send = (dstPort: number, tag: number, chunks: Chunk[], mutate?: (b: Uint8Array, n: number) => number) => {
    let n = encodePacket(buf, 0, { srcPort: 33333, dstPort, verificationTag: tag }, chunks);
    if (mutate) n = mutate(buf, n);
    rogue.send(buf, n, B);
    const before = p.seen.length;
    p.clock.advance(50);
    for (const s of p.seen.slice(before)) if (s.from === B.address) answers.push({ tag: s.tag, chunks: s.chunks });
  };
  return { p, ootb, send, answers };
}

const data: Chunk = { type: ChunkType.DATA, unordered: false, beginning: true, ending: true, immediate: false, tsn: 1, streamId: 0, ssn: 0, ppid: 0, userData: new Uint8Array([1, 2, 3, 4]) };

describe('SCTP endpoint: drops and out-of-the-blue packets (§8.4)', () => {
  it('drops and counts bad CRC32c and malformed packets, without an answer', () => {
    const { p, send, answers } = setup();
    p.b.listen(5000, () => {});
    send(5000, 0, [data], (b, n) => {
      b[n - 1]! ^= 0xff; // damage the last octet: CRC32c no longer matches
      return n;
    });
    send(5000, 0, [data], () => 10); // shorter than a common header
    send(5000, 0, [data], (b, n) => {
      b[14] = 0xff; // Chunk Length 0xff14: far past the packet; checksum made good again
      writeSctpChecksum(b, 0, n);
      return n;
    });
    send(5000, 0, [data], (b, n) => {
      b[15] = 3; // Chunk Length 3: below a chunk header
      writeSctpChecksum(b, 0, n);
      return n;
    });
    expect(p.b.drops['bad-checksum']).toBe(1);
    expect(p.b.drops['packet-too-short']).toBe(1);
    expect(p.b.drops['chunk-past-end']).toBe(1);
    expect(p.b.drops['chunk-too-short']).toBe(1);
    expect(answers).toHaveLength(0);
  });

  it('answers OOTB DATA on a listened port with ABORT (T bit, tag reflected), nothing on a port it does not own', () => {
    const { p, send, answers } = setup();
    p.b.listen(5000, () => {});
    send(5000, 0x12345678, [data]);
    expect(answers).toHaveLength(1);
    const a = answers[0]!;
    expect(a.tag).toBe(0x12345678);
    const c = a.chunks[0]!;
    if (c.type !== ChunkType.ABORT) throw new Error('ABORT expected');
    expect(c.tBit).toBe(true);
    send(5001, 0x12345678, [data]); // nobody here owns port 5001
    expect(answers).toHaveLength(1);
    expect(p.b.drops['out-of-the-blue']).toBe(2);
  });

  it('never answers OOTB ABORT, SHUTDOWN COMPLETE, COOKIE ACK or ERROR; answers SHUTDOWN ACK with SHUTDOWN COMPLETE (T bit)', () => {
    const { p, send, answers } = setup();
    p.b.listen(5000, () => {});
    send(5000, 7, [{ type: ChunkType.ABORT, tBit: false, causes: [] }]);
    send(5000, 7, [{ type: ChunkType.SHUTDOWN_COMPLETE, tBit: false }]);
    send(5000, 7, [{ type: ChunkType.COOKIE_ACK }]);
    send(5000, 7, [data, { type: ChunkType.ABORT, tBit: false, causes: [] }]); // an ABORT anywhere in the packet
    expect(answers).toHaveLength(0);
    send(5000, 0xabcdef01, [{ type: ChunkType.SHUTDOWN_ACK }]);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.tag).toBe(0xabcdef01);
    expect(answers[0]!.chunks).toEqual([{ type: ChunkType.SHUTDOWN_COMPLETE, tBit: true }]);
  });

  it('ignores INIT bundled with other chunks or with a nonzero tag, and INIT with Initiate Tag 0', () => {
    const { p, send, answers } = setup();
    p.b.listen(5000, () => {});
    const init: Chunk = { type: ChunkType.INIT, initiateTag: 99, aRwnd: 65536, outboundStreams: 1, inboundStreams: 1, initialTsn: 1, params: [] };
    send(5000, 0, [init, data]);
    send(5000, 5, [init]);
    send(5000, 0, [{ ...init, initiateTag: 0 }]);
    expect(answers).toHaveLength(0);
    expect(p.b.drops['bad-bundling']).toBe(2);
    send(5000, 0, [init]);
    expect(answers.map((a) => a.chunks[0]!.type)).toEqual([ChunkType.INIT_ACK]);
    expect(answers[0]!.tag).toBe(99);
    expect(p.b.associations).toHaveLength(0); // the INIT ACK keeps no state (§5.1.3)
  });

  it('reports INIT parameters of unknown type back in the INIT ACK when their high bits ask for it (§3.2.1)', () => {
    const { p, send, answers } = setup();
    p.b.listen(5000, () => {});
    const unknown = (parameterType: number, value: number[]) => ({ type: 'unknown' as const, parameterType, value: new Uint8Array(value), action: 'skip' as const });
    // 0x8123: skip; 0xC123: skip and report; 0x4123: stop and report (nothing after it is looked at); 0xC777 after it
    const init: Chunk = { type: ChunkType.INIT, initiateTag: 77, aRwnd: 65536, outboundStreams: 1, inboundStreams: 1, initialTsn: 1, params: [unknown(0x8123, [1]), unknown(0xc123, [2, 3, 4, 5, 6]), unknown(0x4123, []), unknown(0xc777, [9])] };
    send(5000, 0, [init]);
    const ack = answers[0]!.chunks[0]!;
    if (ack.type !== ChunkType.INIT_ACK) throw new Error('INIT ACK expected');
    const u = ack.params.find((x) => x.type === 8);
    if (!u || u.type !== 8) throw new Error('no Unrecognized Parameters');
    // the two reported TLVs, each padded to 4: c1 23 00 09 02 03 04 05 06 00 00 00 | 41 23 00 04
    expect([...u.parameters]).toEqual([0xc1, 0x23, 0x00, 0x09, 2, 3, 4, 5, 6, 0, 0, 0, 0x41, 0x23, 0x00, 0x04]);
  });

  it('a packet with the wrong verification tag never reaches the association', async () => {
    const p = pair({ delayMs: 1 });
    const { client, server } = await connected(p);
    let got = 0;
    server.on('message', () => got++);
    // from the client's own address and ports, but with a wrong tag
    const buf = new Uint8Array(256);
    const n = encodePacket(buf, 0, { srcPort: client.localPort, dstPort: 5000, verificationTag: server.localTag ^ 1 }, [{ ...data, tsn: server.stats().messagesReceived }]);
    p.lowerA.send(buf, n, B);
    p.clock.advance(50);
    expect(p.b.drops['bad-verification-tag']).toBe(1);
    expect(got).toBe(0);
    expect(server.state).toBe('ESTABLISHED');
    // an ABORT with the wrong tag does not kill it either
    const m = encodePacket(buf, 0, { srcPort: client.localPort, dstPort: 5000, verificationTag: 12345 }, [{ type: ChunkType.ABORT, tBit: true, causes: [] }]);
    p.lowerA.send(buf, m, B);
    p.clock.advance(50);
    expect(server.state).toBe('ESTABLISHED');
    expect(p.b.drops['bad-verification-tag']).toBe(2);
    // the real client still gets through
    client.send(new Uint8Array([9]), { stream: 0 });
    p.clock.advance(50);
    expect(got).toBe(1);
  });

  it('reports each OOTB packet to onOutOfTheBlue with what it did', () => {
    const { p, send, ootb } = setup();
    p.b.listen(5000, () => {});
    send(5000, 1, [data]);
    send(5000, 1, [{ type: ChunkType.ABORT, tBit: false, causes: [] }]);
    send(5000, 0, [{ type: ChunkType.INIT, initiateTag: 5, aRwnd: 65536, outboundStreams: 1, inboundStreams: 1, initialTsn: 1, params: [] }]);
    send(5999, 1, [data]);
    expect(ootb.map((o) => [o.dstPort, o.chunkType, o.action])).toEqual([
      [5000, ChunkType.DATA, 'abort'],
      [5000, ChunkType.ABORT, 'discard'],
      [5000, ChunkType.INIT, 'init-ack'],
      [5999, ChunkType.DATA, 'discard'],
    ]);
    expect(ootb[0]!.remote).toEqual({ address: '10.0.0.66', udpPort: 9899 });
  });
});
