// Congestion control seen from outside (RFC 9260 §7.2): a sender with an endless backlog of
// 1,204-octet messages (one DATA chunk fills a 1,232-octet packet) on a clean link, cwnd read after
// every SACK it receives and checked against the rules by hand: slow start adds min(acked, MTU) per
// SACK that moves the cumulative ack; one lost packet halves cwnd (fast retransmit); congestion
// avoidance then adds one MTU per cwnd of acknowledged data.

import { describe, expect, it } from 'vitest';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { decodePacket } from '../../../src/transport/sctp/packet.js';
import { tsnDiff } from '../../../src/transport/sctp/serial.js';
import { connected, pair } from './association-helpers.js';

const MTU = 1232 - 12 - 16; // user data octets in one packet: what cwnd counts in (1204)

describe('SCTP congestion control (RFC 9260 §7.2)', () => {
  it('slow start, fast retransmit halving, then congestion avoidance, step by step', async () => {
    const p = pair({ delayMs: 10 }, {}, false);
    const { client, server } = await connected(p, 1, 1);
    let delivered = 0;
    server.on('message', () => delivered++);
    // lose the 120th DATA packet once
    let dataPackets = 0;
    let lostTsn = -1;
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      const c = d.ok ? d.value.chunks.find((x) => x.type === ChunkType.DATA) : undefined;
      if (c && c.type === ChunkType.DATA && from.address !== client.remote.address && ++dataPackets === 120) {
        lostTsn = c.tsn;
        return;
      }
      send(packet, length, from, to);
    };
    // every SACK the client takes: cumulative ack, octets it newly acknowledges (cumulative ack and gap
    // blocks, as §7.2 counts them), cwnd before and after
    const steps: { cum: number; acked: number; before: number; after: number; ssthresh: number }[] = [];
    const ackedTsns = new Set<number>();
    let base = -1;
    let cumRel = 0;
    const newlyAcked = (cum: number, gaps: { start: number; end: number }[]) => {
      if (base < 0) base = (cum - 1) >>> 0;
      const rel = tsnDiff(base, cum);
      let n = 0;
      for (let t = cumRel + 1; t <= rel; t++) if (!ackedTsns.delete(t)) n++;
      if (rel > cumRel) cumRel = rel;
      for (const g of gaps)
        for (let off = g.start; off <= g.end; off++)
          if (!ackedTsns.has(cumRel + off)) {
            ackedTsns.add(cumRel + off);
            n++;
          }
      return n * MTU;
    };
    const deliver = p.lowerA.deliver.bind(p.lowerA);
    p.lowerA.deliver = (packet, from) => {
      const d = decodePacket(packet);
      const sack = d.ok ? d.value.chunks.find((x) => x.type === ChunkType.SACK) : undefined;
      const before = client.stats().cwnd;
      deliver(packet, from);
      if (sack && sack.type === ChunkType.SACK) {
        const acked = newlyAcked(sack.cumulativeTsnAck, sack.gapAckBlocks);
        steps.push({ cum: sack.cumulativeTsnAck, acked, before, after: client.stats().cwnd, ssthresh: client.stats().ssthresh });
      }
    };
    const msg = new Uint8Array(MTU);
    const feed = () => {
      while (client.bufferedAmount < 64 * MTU) client.send(msg, { stream: 0 });
      if (delivered < 600) p.clock.setTimeout(feed, 1);
    };
    feed();
    p.clock.runUntil(() => delivered >= 600, 60_000);
    expect(lostTsn).not.toBe(-1);

    // slow start from the initial cwnd min(4·MTU, max(2·MTU, 4404)) = 4404: each SACK acknowledges two
    // full packets (2,408 ≥ MTU), so cwnd grows by one MTU per SACK: 5608, 6812, 8016, ...
    expect(steps[0]!.before).toBe(4404);
    expect(steps.slice(0, 5).map((s) => s.after)).toEqual([5608, 6812, 8016, 9220, 10424]);
    let i = 1;
    for (; i < steps.length && steps[i]!.after >= steps[i]!.before; i++) {
      const s = steps[i]!;
      const cumMoved = s.cum !== steps[i - 1]!.cum;
      // only a SACK that moves the cumulative ack lets cwnd grow (gap reports after the loss do not)
      expect(s.after - s.before).toBe(cumMoved ? Math.min(s.acked, MTU) : 0);
    }
    // the loss: three miss indications, then ssthresh = cwnd = max(cwnd/2, 4·MTU)
    const cut = steps[i]!;
    expect(cut.after).toBe(Math.max(Math.floor(cut.before / 2), 4 * MTU));
    expect(cut.ssthresh).toBe(cut.after);
    // Fast Recovery: no growth until the cumulative ack passes the exit point, then congestion
    // avoidance: +1 MTU each time a whole cwnd of data has been acknowledged since the last step
    const rest = steps.slice(i + 1);
    const grows = rest.filter((s) => s.after > s.before);
    expect(grows.length).toBeGreaterThan(3);
    for (const s of grows) expect(s.after - s.before).toBe(MTU);
    // (partial_bytes_acked left over from Fast Recovery is not visible from outside: count from the first step)
    let ackedSince = 0;
    let firstGrowthSeen = false;
    let checked = 0;
    for (const s of rest) {
      ackedSince += s.acked;
      if (s.after > s.before) {
        if (firstGrowthSeen) {
          // a whole cwnd acknowledged since the last step, give or take what one SACK carries
          expect(ackedSince).toBeGreaterThan(s.before - 2 * MTU);
          expect(ackedSince).toBeLessThan(s.before + 2 * MTU);
          checked++;
        }
        firstGrowthSeen = true;
        ackedSince = 0;
      }
    }
    expect(checked).toBeGreaterThan(3);
    // no SACK in Fast Recovery grew cwnd: the first growth comes only after the lost TSN is acknowledged
    const firstGrowth = rest.findIndex((s) => s.after > s.before);
    expect(tsnDiff(lostTsn, rest[firstGrowth]!.cum)).toBeGreaterThan(0);
    expect(client.stats().fastRetransmits).toBe(1);
    expect(client.stats().t3Expiries).toBe(0);
  });
});
