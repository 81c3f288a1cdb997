// Flow control and odd openings: backpressure ('drain'), a receive window smaller than one message
// (zero-window probing, §6.1 A; reassembly always takes the next TSN in sequence), and an INIT
// collision (§5.2.1, §5.2.4 D) where both ends open the association at once.

import { describe, expect, it } from 'vitest';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { A, B, connected, pair, settle } from './association-helpers.js';

describe('SCTP flow control and INIT collision', () => {
  it('send() returns false above the high-water mark (the message is still queued) and "drain" follows', async () => {
    const p = pair({ delayMs: 5 }, { sendHighWaterMark: 10_000 });
    const { client, server } = await connected(p);
    let got = 0;
    server.on('message', () => got++);
    let drains = 0;
    client.on('drain', () => drains++);
    const results: boolean[] = [];
    for (let i = 0; i < 12; i++) results.push(client.send(new Uint8Array(1000), { stream: 0 }));
    // 10,000 octets fit, the 11th message takes the queue above the mark
    expect(results).toEqual([true, true, true, true, true, true, true, true, true, true, false, false]);
    expect(client.bufferedAmount).toBe(12_000);
    p.clock.runUntil(() => got === 12, 5000);
    expect(got).toBe(12);
    expect(drains).toBe(1);
    expect(client.bufferedAmount).toBe(0);
  });

  it('moves messages larger than the receive window: zero window probed one chunk at a time', async () => {
    const p = pair({ delayMs: 5 }, { receiveWindow: 4096 });
    const { client, server } = await connected(p);
    const sizes = [20_000, 9_000, 50_000, 4_097];
    const got: Uint8Array[] = [];
    server.on('message', (d) => got.push(d));
    for (const [k, n] of sizes.entries()) client.send(new Uint8Array(n).fill(k + 1), { stream: 0 });
    p.clock.runUntil(() => got.length === sizes.length, 60_000);
    expect(got.map((d) => d.length)).toEqual(sizes);
    got.forEach((d, k) => expect(d.every((x) => x === k + 1)).toBe(true));
    // the receiver advertised a window of 4096 at most, and the sender kept going through zero windows
    const sacks = p.seen.flatMap((s) => s.chunks).filter((c) => c.type === ChunkType.SACK);
    expect(Math.max(...sacks.map((c) => (c.type === ChunkType.SACK ? c.aRwnd : 0)))).toBe(4096);
    expect(sacks.some((c) => c.type === ChunkType.SACK && c.aRwnd === 0)).toBe(true);
  });

  it('INIT collision: both ends connect to each other at once and end up with one association each, same tags', async () => {
    const p = pair({ delayMs: 10 });
    const ca = p.a.connect({ remote: B, remotePort: 5000, localPort: 6000 });
    const cb = p.b.connect({ remote: A, remotePort: 6000, localPort: 5000 });
    const a = await settle(p.clock, ca);
    const b = await settle(p.clock, cb);
    expect(a.state).toBe('ESTABLISHED');
    expect(b.state).toBe('ESTABLISHED');
    expect(a.localTag).toBe(b.peerTag);
    expect(b.localTag).toBe(a.peerTag);
    expect(p.a.associations).toHaveLength(1);
    expect(p.b.associations).toHaveLength(1);
    const got: string[] = [];
    b.on('message', (d) => got.push(Buffer.from(d).toString()));
    a.on('message', (d) => got.push(Buffer.from(d).toString()));
    a.send(Buffer.from('from a'), { stream: 0 });
    b.send(Buffer.from('from b'), { stream: 0 });
    p.clock.runUntil(() => got.length === 2, 2000);
    expect(got.sort()).toEqual(['from a', 'from b']);
  });
});

describe('SCTP DATA bundled with COOKIE ACK', () => {
  it('a listener that sends at once rides on the COOKIE ACK; the client gets it although it listens only after connect() resolved', async () => {
    const p = pair({ delayMs: 10 });
    p.b.listen(5000, (s) => s.send(Buffer.from('hello'), { stream: 1, ppid: 7 }));
    const client = await settle(p.clock, p.a.connect({ remote: B, remotePort: 5000 }));
    const got: [string, number, number][] = [];
    client.on('message', (d, info) => got.push([Buffer.from(d).toString(), info.stream, info.ppid]));
    await Promise.resolve();
    expect(got).toEqual([['hello', 1, 7]]);
    const cookieAck = p.seen.find((s) => s.chunks[0]!.type === ChunkType.COOKIE_ACK)!;
    expect(cookieAck.chunks.map((c) => c.type)).toEqual([ChunkType.COOKIE_ACK, ChunkType.DATA]);
  });
});

describe('SCTP receiver bounds', () => {
  it('ABORTs (Out of Resource) a peer whose never-ending message would hold more than max(4 × a_rwnd, 1 MiB)', async () => {
    const p = pair({ delayMs: 1 }, { receiveWindow: 65536 });
    const { client, server } = await connected(p);
    const downs: string[] = [];
    server.on('down', (r, d) => downs.push(`${r}: ${d}`));
    // hand-made DATA from the client's ports and tags: fragments with B, then middles, never E
    const { encodePacket } = await import('../../../src/transport/sctp/packet.js');
    const buf = new Uint8Array(1300);
    const tsn0 = (client as unknown as { tx: { nextTsn: number } }).tx.nextTsn;
    const payload = new Uint8Array(1200);
    let k = 0;
    for (; k < 2_000 && server.state === 'ESTABLISHED'; k++) {
      const n = encodePacket(buf, 0, { srcPort: client.localPort, dstPort: 5000, verificationTag: server.localTag }, [
        { type: ChunkType.DATA, unordered: false, beginning: k === 0, ending: false, immediate: false, tsn: (tsn0 + k) >>> 0, streamId: 0, ssn: 0, ppid: 0, userData: payload },
      ]);
      p.lowerA.send(buf, n, B);
      p.clock.advance(0.01);
    }
    p.clock.advance(10);
    expect(server.state).toBe('CLOSED');
    expect(downs[0]).toMatch(/^abort: peer's unfinished messages hold over 1048576 octets/);
    // 874 fragments of 1,200 octets pass 1 MiB; the loop sends on until the ABORT is seen (1 ms link)
    expect(k * 1200).toBeGreaterThan(1 << 20);
    expect(k * 1200).toBeLessThan((1 << 20) + 200 * 1200);
    const abort = p.seen.find((x) => x.from === B.address && x.chunks[0]!.type === ChunkType.ABORT)!.chunks[0]!;
    if (abort.type !== ChunkType.ABORT) throw new Error('ABORT');
    expect(abort.causes[0]!.code).toBe(4); // Out of Resource
  });
});

describe('SCTP messages nobody listens for', () => {
  it('holds at most a_rwnd octets of them for a first listener and counts the rest as unheard', async () => {
    const p = pair({ delayMs: 2 }, { receiveWindow: 8000 });
    const { client, server } = await connected(p);
    for (let i = 0; i < 30; i++) server.send(new Uint8Array(1000).fill(i), { stream: 0 });
    p.clock.advance(2000);
    expect(client.stats().messagesReceived).toBe(30);
    expect(client.stats().messagesUnheard).toBe(22);
    const got: number[] = [];
    client.on('message', (d) => got.push(d[0]!));
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    server.send(new Uint8Array([99]), { stream: 0 });
    p.clock.advance(100);
    expect(got.at(-1)).toBe(99);
  });
});
