// Robustness: packets of a real session (handshake, DATA, SACK, HEARTBEAT, FORWARD TSN, SHUTDOWN)
// mutated at random — octets flipped, lengths and counts bent, chunk types swapped — with a good
// CRC32c and the right verification tag, fired at live associations. Nothing may throw; whatever
// the state machine makes of them, the endpoints still take new associations afterwards.

import { describe, expect, it } from 'vitest';
import { writeSctpChecksum } from '../../../src/transport/sctp/crc32c.js';
import { prng } from '../../mapping/harness.js';
import { A, B, connected, pair, settle } from './association-helpers.js';

describe('SCTP association under mutated packets', () => {
  it('10,000 mutated packets with good checksums and tags: no throw, endpoints still work', async () => {
    const p = pair({ delayMs: 2 });
    // a session to harvest packets from, both directions
    const captured: { from: string; bytes: Uint8Array }[] = [];
    p.link.tap = (packet, from) => captured.push({ from: from.address, bytes: packet.slice() });
    const { client, server } = await connected(p, 3, 3);
    server.on('message', () => {});
    client.on('message', () => {});
    for (let i = 0; i < 40; i++) client.send(new Uint8Array(100 + i * 97).fill(i), { stream: i % 3, ordered: i % 4 !== 0, ttl: i % 5 === 0 ? 1 : 0 });
    for (let i = 0; i < 10; i++) server.send(new Uint8Array(50 + i), { stream: 1 });
    p.clock.advance(35_000); // heartbeats too
    await settle(p.clock, client.shutdown());
    p.link.tap = null;
    expect(captured.length).toBeGreaterThan(30);

    // fresh associations to fire at (a new pair whenever the mutations kill one); packets carry their tags
    let port = 7000;
    let { client: c2, server: s2 } = await connected(p, 3, 3, port);
    let pairs = 1;
    let thrown: unknown = null;
    const rnd = prng(2024);
    for (let n = 0; n < 10_000 && thrown === null; n++) {
      if (c2.state === 'CLOSED' || s2.state === 'CLOSED') {
        p.clock.advance(1000);
        ({ client: c2, server: s2 } = await connected(p, 3, 3, ++port));
        pairs++;
      }
      const src = captured[Math.floor(rnd() * captured.length)]!;
      const toB = src.from === A.address;
      const b = src.bytes.slice();
      const view = new DataView(b.buffer);
      // address it to the live association, with its tag (INIT-like packets keep tag 0 half the time)
      view.setUint16(0, toB ? c2.localPort : port);
      view.setUint16(2, toB ? port : c2.localPort);
      if (view.getUint32(4) !== 0 || rnd() < 0.5) view.setUint32(4, toB ? s2.localTag : c2.localTag);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips; k++) {
        const at = 12 + Math.floor(rnd() * Math.max(1, b.length - 12));
        const r = rnd();
        if (r < 0.5) b[at] = Math.floor(rnd() * 256);
        else if (r < 0.7) b[at] ^= 1 << Math.floor(rnd() * 8);
        else if (r < 0.85 && at + 1 < b.length) view.setUint16(at, view.getUint16(at) + (rnd() < 0.5 ? 4 : -4));
        else b[12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 192, 13, 255][Math.floor(rnd() * 16)]!; // swap the first chunk's type
      }
      const len = rnd() < 0.1 ? 12 + Math.floor(rnd() * (b.length - 11)) : b.length;
      writeSctpChecksum(b, 0, len);
      try {
        (toB ? p.lowerA : p.lowerB).send(b, len, toB ? B : A);
        p.clock.advance(rnd() < 0.1 ? 300 : 1);
      } catch (e) {
        thrown = e;
      }
    }
    expect(thrown).toBeNull();
    expect(p.a.lastInternalError ?? p.b.lastInternalError).toBeNull();
    expect(p.a.drops['internal-error'] ?? p.b.drops['internal-error']).toBeUndefined();
    expect(pairs).toBeGreaterThan(1);
    const drops = { ...p.a.drops, ...p.b.drops };
    expect(Object.keys(drops).length).toBeGreaterThan(2);
    // whatever became of those associations, new ones still come up and carry data
    p.clock.advance(120_000);
    const { client: c3, server: s3 } = await connected(p, 2, 2, 9000);
    const got: number[] = [];
    s3.on('message', (d) => got.push(d[0]!));
    c3.send(new Uint8Array([42]), { stream: 0 });
    p.clock.runUntil(() => got.length === 1, 5000);
    expect(got).toEqual([42]);
    console.log(`drops after fuzzing: A ${JSON.stringify(p.a.drops)}, B ${JSON.stringify(p.b.drops)}; ${pairs} associations fuzzed`);
  });
});
