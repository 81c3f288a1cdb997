// PR-SCTP timed reliability (RFC 3758): a message past its lifetime is abandoned whole, the
// Advanced.Peer.Ack.Point moves over it and a FORWARD TSN moves the receiver on, so later ordered
// messages on the stream are not held back by the one that will never come.

import { describe, expect, it } from 'vitest';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { decodePacket } from '../../../src/transport/sctp/packet.js';
import { Receiver, connected, makeMessages, pair } from './association-helpers.js';

describe('SCTP PR-SCTP (RFC 3758)', () => {
  it('a lost timed message is abandoned and FORWARD TSN lets the next ordered one through', async () => {
    const p = pair({ delayMs: 5 });
    const { client, server } = await connected(p);
    const got: string[] = [];
    server.on('message', (d) => got.push(Buffer.from(d).toString()));
    const abandoned: number[] = [];
    client.on('abandoned', (n) => abandoned.push(n));
    // the link loses every packet that carries "m1"
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      if (d.ok && d.value.chunks.some((c) => c.type === ChunkType.DATA && Buffer.from(c.userData).toString() === 'm1')) return;
      send(packet, length, from, to);
    };
    client.send(Buffer.from('m0'), { stream: 2 });
    p.clock.advance(50);
    client.send(Buffer.from('m1'), { stream: 2, ttl: 300 });
    p.clock.advance(1);
    client.send(Buffer.from('m2'), { stream: 2 });
    client.send(Buffer.from('u3'), { stream: 2, ordered: false });
    p.clock.advance(100);
    expect(got).toEqual(['m0', 'u3']); // m2 waits for SSN 1
    p.clock.runUntil(() => got.length === 3, 5000);
    expect(got).toEqual(['m0', 'u3', 'm2']);
    expect(abandoned).toEqual([1]);
    expect(client.stats().abandonedMessages).toBe(1);
    const ftsn = p.seen.map((s) => s.chunks.find((c) => c.type === ChunkType.FORWARD_TSN)).find((c) => c !== undefined);
    if (!ftsn || ftsn.type !== ChunkType.FORWARD_TSN) throw new Error('no FORWARD TSN on the wire');
    // m0 took the first TSN, m1 the second: the new cumulative TSN is m1's, stream 2 skips SSN 1
    const first = p.seen.find((s) => s.chunks.some((c) => c.type === ChunkType.DATA))!.chunks.find((c) => c.type === ChunkType.DATA)!;
    if (first.type !== ChunkType.DATA) throw new Error('DATA');
    expect(ftsn.newCumulativeTsn).toBe((first.tsn + 1) >>> 0);
    expect(ftsn.streams).toEqual([{ streamId: 2, ssn: 1 }]);
    // and the association goes on
    client.send(Buffer.from('m4'), { stream: 2 });
    p.clock.runUntil(() => got.length === 4, 1000);
    expect(got.at(-1)).toBe('m4');
  });

  it('3,000 messages, half of them timed, over a 5%-loss link: reliable ones exactly once in order, timed ones delivered at most once or abandoned', async () => {
    const p = pair({ seed: 77, dropRate: 0.05, duplicateRate: 0.02, reorderRate: 0.02, delayMs: 5, jitterMs: 2 }, {}, false);
    let forwardTsns = 0;
    p.link.tap = (packet) => {
      // count FORWARD TSN chunks on the wire (type 192 at the first chunk or later)
      const d = decodePacket(packet);
      if (d.ok) forwardTsns += d.value.chunks.filter((c) => c.type === ChunkType.FORWARD_TSN).length;
    };
    const { client, server } = await connected(p, 3, 3);
    const messages = makeMessages(9, 3000, 3, { unorderedRate: 0.1, ttlRate: 0.5, ttl: 40, bigRate: 0.2 });
    const rx = new Receiver(server, new Map(messages.map((m) => [m.id, m])), 3);
    let abandonedEvents = 0;
    client.on('abandoned', (n) => (abandonedEvents += n));
    const reliable = messages.filter((m) => m.ttl === 0);
    // paced: one message every 4 ms (~250 kB/s, below what cwnd allows at 5% loss), so timed messages
    // do go out and some are lost in flight
    let next = 0;
    const feed = () => {
      for (let k = 0; k < 1 && next < messages.length; k++) {
        const m = messages[next++]!;
        client.send(m.data, { stream: m.stream, ordered: m.ordered, ttl: m.ttl });
      }
      if (next < messages.length) p.clock.setTimeout(feed, 4);
    };
    feed();
    p.clock.runUntil(() => next === messages.length && reliable.every((m) => rx.times.has(m.id)) && client.stats().flightSize === 0 && client.bufferedAmount === 0, 600_000);
    expect(rx.exactlyOnce).toBe(true);
    expect(rx.orderViolations).toBe(0);
    expect(rx.contentErrors).toBe(0);
    for (const m of reliable) expect(rx.times.get(m.id)).toBe(1);
    const timed = messages.filter((m) => m.ttl > 0);
    const delivered = timed.filter((m) => rx.times.has(m.id)).length;
    const s = client.stats();
    expect(s.abandonedMessages).toBe(abandonedEvents);
    expect(s.abandonedMessages).toBeGreaterThan(0);
    expect(delivered + s.abandonedMessages).toBeGreaterThanOrEqual(timed.length); // a message may arrive and still be abandoned before its SACK
    expect(delivered).toBeGreaterThan(timed.length / 2);
    expect(forwardTsns).toBeGreaterThan(10);
    console.log(`PR-SCTP: ${timed.length} timed, ${delivered} delivered, ${s.abandonedMessages} abandoned, ${forwardTsns} FORWARD TSN chunks; ${s.retransmissions} retransmissions`);
  });
});

describe('SCTP without PR-SCTP on one side', () => {
  it('a peer that does not advertise Forward-TSN-Supported gets timed messages reliably once sent (only unsent expired ones are dropped)', async () => {
    const p = pair({ delayMs: 5 });
    // B does not take part in PR-SCTP
    p.b.close();
    const { SctpEndpoint } = await import('../../../src/transport/sctp/endpoint.js');
    p.lowerB = p.link.endpoint('10.0.0.2', 9899);
    p.b = new SctpEndpoint({ lower: p.lowerB, ...p.base, forwardTsn: false });
    const { client, server } = await connected(p);
    expect(client.peerForwardTsn).toBe(false);
    expect(server.peerForwardTsn).toBe(false);
    const init = p.seen.filter((s) => s.chunks[0]!.type === ChunkType.INIT_ACK).at(-1)!.chunks[0]!;
    if (init.type !== ChunkType.INIT_ACK) throw new Error('INIT ACK');
    expect(init.params.map((x) => x.type)).toEqual([7]); // the State Cookie only
    const got: string[] = [];
    server.on('message', (d) => got.push(Buffer.from(d).toString()));
    let lost = 0;
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      if (d.ok && d.value.chunks.some((c) => c.type === ChunkType.DATA && Buffer.from(c.userData).toString() === 't1') && lost++ === 0) return;
      send(packet, length, from, to);
    };
    client.send(Buffer.from('t1'), { stream: 0, ttl: 20 });
    p.clock.runUntil(() => got.length === 1, 10_000);
    expect(got).toEqual(['t1']); // retransmitted past its lifetime: the peer could not be told to skip it
    expect(client.stats().abandonedMessages).toBe(0);
    expect(p.seen.some((s) => s.chunks.some((c) => c.type === ChunkType.FORWARD_TSN))).toBe(false);
  });
});
