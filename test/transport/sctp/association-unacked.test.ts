// takeUnacknowledged(): after the association goes down, the messages the peer never acknowledged come
// back to the user in send order, as the very buffers given to send() — nothing leaves silently.

import { describe, expect, it } from 'vitest';
import type { DownReason } from '../../../src/transport/sctp/association.js';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { connected, makeMessages, pair } from './association-helpers.js';

describe('SctpAssociation.takeUnacknowledged', () => {
  it('comm-lost with messages in flight and queued: returns exactly those not covered by the last SACK that reached the sender, in order, byte-equal', async () => {
    const p = pair({ delayMs: 10 }, { heartbeatInterval: 1000 });
    const { client, server } = await connected(p);
    const messages = makeMessages(5, 3000, 4, { bigRate: 0.2 });
    const idOf = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);
    const delivered: number[] = [];
    server.on('message', (d) => delivered.push(idOf(d)));
    // what the receiver had delivered when it sent the last SACK the sender heard (no loss before the cut,
    // so that SACK's cumulative ack covers exactly those)
    let acknowledged = 0;
    let cut = false;
    p.link.tap = (packet, from, _to, fate) => {
      if (cut || from.address !== '10.0.0.2' || fate !== 'delivered') return;
      // chunk type of the first chunk after the 12-octet common header
      if (packet[12] === ChunkType.SACK) acknowledged = delivered.length;
    };
    let reason: DownReason | undefined;
    client.on('down', (r) => (reason = r));
    for (const m of messages) client.send(m.data, { stream: m.stream });
    p.clock.advance(100); // part delivered, part in flight, the rest queued
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.length).toBeLessThan(messages.length);
    // the collector's host vanishes: nothing more reaches it, nothing more comes back
    cut = true;
    p.link.options.dropRate = 1;
    p.clock.runUntil(() => reason !== undefined, 120_000);
    expect(reason).toBe('comm-lost');
    const acked = new Set(delivered.slice(0, acknowledged));
    const back = client.takeUnacknowledged();
    const expected = messages.filter((m) => !acked.has(m.id));
    expect(back.length).toBe(expected.length);
    for (let i = 0; i < back.length; i++) {
      expect(back[i]).toBe(expected[i]!.data); // the same buffer
      expect(Buffer.from(back[i]!).equals(Buffer.from(expected[i]!.data))).toBe(true);
    }
    // nothing silently lost: every message is acknowledged or returned
    expect(acked.size + back.length).toBe(messages.length);
    expect(client.takeUnacknowledged()).toEqual([]);
  });

  it('a PR-SCTP message abandoned before the loss is not returned (it was reported by "abandoned")', async () => {
    const p = pair({ delayMs: 10 }, { heartbeatInterval: 1000 });
    const { client } = await connected(p);
    let abandoned = 0;
    client.on('abandoned', (n) => (abandoned += n));
    let reason: DownReason | undefined;
    client.on('down', (r) => (reason = r));
    p.link.options.dropRate = 1; // nothing gets through from now on
    const reliable = Buffer.from('reliable-1');
    const timed = Buffer.from('timed-ttl-50');
    const last = Buffer.from('reliable-2');
    client.send(reliable, { stream: 0 });
    client.send(timed, { stream: 1, ttl: 50 });
    client.send(last, { stream: 0 });
    p.clock.runUntil(() => reason !== undefined, 120_000);
    expect(reason).toBe('comm-lost');
    expect(abandoned).toBe(1);
    expect(client.takeUnacknowledged()).toEqual([reliable, last]);
  });

  it('refuses while the association is up', async () => {
    const p = pair();
    const { client } = await connected(p);
    expect(() => client.takeUnacknowledged()).toThrow(/down/);
  });
});
