// Data transfer between two SctpEndpoints (RFC 9260 §6, §7) over a seeded LossyLink on a virtual
// clock: messages of mixed sizes (10% need fragmenting) on several streams, ordered and unordered,
// delivered exactly once, in order per stream for ordered ones, byte for byte.

import { describe, expect, it } from 'vitest';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { Receiver, connected, makeMessages, pair, pump } from './association-helpers.js';

describe('SCTP data transfer', () => {
  it('moves 2,000 messages over a clean link with no retransmission, bundling small messages', async () => {
    const p = pair({ delayMs: 5 });
    const { client, server } = await connected(p, 3, 3);
    const messages = makeMessages(8, 2000, 3, { unorderedRate: 0.2 });
    const rx = new Receiver(server, new Map(messages.map((m) => [m.id, m])), 3);
    pump(p, client, messages, () => rx.times.size === 2000);
    expect(rx.times.size).toBe(2000);
    expect(rx.exactlyOnce).toBe(true);
    expect(rx.orderViolations).toBe(0);
    expect(rx.contentErrors).toBe(0);
    const s = client.stats();
    expect(s.retransmissions).toBe(0);
    expect(s.t3Expiries).toBe(0);
    expect(s.messagesSent).toBe(2000);
    expect(server.stats().messagesReceived).toBe(2000);
    // packets carry several DATA chunks (and SACKs ride with DATA when both sides send)
    const dataPackets = p.seen.filter((x) => x.chunks.some((c) => c.type === ChunkType.DATA));
    const chunks = dataPackets.reduce((n, x) => n + x.chunks.filter((c) => c.type === ChunkType.DATA).length, 0);
    expect(chunks / dataPackets.length).toBeGreaterThan(1.3);
    expect(Math.max(...p.seen.map((x) => x.chunks.reduce((n, c) => n + (c.type === ChunkType.DATA ? 16 + c.userData.length : 0), 0)))).toBeLessThanOrEqual(1232 - 12);
  });

  it('delivers 10,000 messages on 4 streams exactly once and in order per stream over a link that drops, duplicates, reorders and delays', async () => {
    const p = pair({ seed: 42, dropRate: 0.02, duplicateRate: 0.02, reorderRate: 0.02, delayMs: 5, jitterMs: 2 }, {}, false);
    const { client, server } = await connected(p, 4, 4);
    const messages = makeMessages(7, 10000, 4, { unorderedRate: 0.1 });
    const rx = new Receiver(server, new Map(messages.map((m) => [m.id, m])), 4);
    pump(p, client, messages, () => rx.times.size === 10000);
    expect(rx.times.size).toBe(10000);
    expect(rx.exactlyOnce).toBe(true);
    expect(rx.orderViolations).toBe(0);
    expect(rx.contentErrors).toBe(0);
    const s = client.stats();
    expect(p.link.stats.dropped).toBeGreaterThan(100);
    expect(p.link.stats.duplicated).toBeGreaterThan(100);
    expect(p.link.stats.reordered).toBeGreaterThan(100);
    expect(s.fastRetransmits).toBeGreaterThan(0);
    expect(s.retransmissions).toBeGreaterThan(0);
    console.log(`10,000 messages over a lossy link: ${p.clock.now().toFixed(0)} virtual ms, link ${JSON.stringify(p.link.stats)}, sender ${JSON.stringify(s)}`);
  });

  it('both directions at once, SACKs bundled with DATA', async () => {
    const p = pair({ seed: 3, dropRate: 0.01, delayMs: 3 }, {});
    const { client, server } = await connected(p, 2, 2);
    const m1 = makeMessages(1, 1500, 2, { unorderedRate: 0.3 });
    const m2 = makeMessages(2, 1500, 2, { unorderedRate: 0.3 });
    const r1 = new Receiver(server, new Map(m1.map((m) => [m.id, m])), 2);
    const r2 = new Receiver(client, new Map(m2.map((m) => [m.id, m])), 2);
    let i = 0;
    const fill = () => {
      while (i < 1500) {
        const a = m1[i]!;
        const b = m2[i]!;
        i++;
        const ok1 = client.send(a.data, { stream: a.stream, ordered: a.ordered });
        const ok2 = server.send(b.data, { stream: b.stream, ordered: b.ordered });
        if (!ok1 || !ok2) return;
      }
    };
    client.on('drain', fill);
    server.on('drain', fill);
    fill();
    p.clock.runUntil(() => r1.times.size === 1500 && r2.times.size === 1500, 600_000);
    for (const r of [r1, r2]) {
      expect(r.times.size).toBe(1500);
      expect(r.exactlyOnce && r.orderViolations === 0 && r.contentErrors === 0).toBe(true);
    }
    expect(p.seen.some((x) => x.chunks.some((c) => c.type === ChunkType.SACK) && x.chunks.some((c) => c.type === ChunkType.DATA))).toBe(true);
  });
});
