import { describe, expect, it } from 'vitest';
import { DataResult, ReceiveTracker } from '../../../src/transport/sctp/receive-tracker.js';
import { tsnAdd } from '../../../src/transport/sctp/serial.js';
import { prng } from '../../mapping/harness.js';

const none = () => {};
const one = new Uint8Array(1);

function tracker(initialTsn: number, extra: Partial<ConstructorParameters<typeof ReceiveTracker>[0]> = {}) {
  return new ReceiveTracker({ initialTsn, inboundStreams: 4, receiveWindow: 1 << 20, deliver: none, ...extra });
}

/** Every chunk a message of its own on stream 0, unordered (so reassembly holds nothing). */
function put(t: ReceiveTracker, tsn: number) {
  return t.receive(tsn, 0, 0, 0, true, true, true, false, one);
}

/** The reference: cumulative ack and gap blocks from a plain set of offsets from the initial TSN. */
function reference(received: Set<number>) {
  let cum = -1;
  while (received.has(cum + 1)) cum++;
  const blocks: { start: number; end: number }[] = [];
  const above = [...received].filter((o) => o > cum).sort((a, b) => a - b);
  for (const o of above) {
    const last = blocks[blocks.length - 1];
    if (last && last.end === o - cum - 1) last.end = o - cum;
    else blocks.push({ start: o - cum, end: o - cum });
  }
  return { cum, blocks };
}

describe('ReceiveTracker: TSNs, gap blocks, duplicates', () => {
  it('reports gaps relative to the cumulative ack (RFC 9260 §3.3.4 example shape)', () => {
    const t = tracker(100);
    for (const tsn of [100, 101, 103, 104, 107, 109, 110]) expect(put(t, tsn)).toBe(DataResult.NEW);
    expect(put(t, 103)).toBe(DataResult.DUPLICATE);
    expect(put(t, 99)).toBe(DataResult.DUPLICATE);
    const s = t.sack(ReceiveTracker.newSack());
    expect(s.cumulativeTsnAck).toBe(101);
    expect(s.gapAckBlocks).toEqual([
      { start: 2, end: 3 },
      { start: 6, end: 6 },
      { start: 8, end: 9 },
    ]);
    expect(s.duplicateTsns).toEqual([103, 99]);
    // filling 102, 105, 106 joins everything up to 107
    put(t, 102);
    put(t, 106);
    put(t, 105);
    const s2 = t.sack(ReceiveTracker.newSack());
    expect(s2.cumulativeTsnAck).toBe(107);
    expect(s2.gapAckBlocks).toEqual([{ start: 2, end: 3 }]);
    expect(s2.duplicateTsns).toEqual([]);
  });

  it('agrees with a brute-force reference over shuffled, duplicated, gapped sequences across the 2^32 wrap', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed);
      const initial = (0xffffffff - Math.floor(rnd() * 300)) >>> 0; // wraps within the run
      const n = 200 + Math.floor(rnd() * 400);
      const order: number[] = [];
      for (let o = 0; o < n; o++) if (rnd() > 0.1) order.push(o); // 10% never arrive
      for (let i = order.length - 1; i > 0; i--) {
        // local shuffle: reordering within a window of 30
        const j = Math.max(0, i - Math.floor(rnd() * 30));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const t = tracker(initial, { maxDuplicates: 1000, maxGapAckBlocks: 1000 });
      const got = new Set<number>();
      let dups = 0;
      for (let k = 0; k < order.length; k++) {
        const o = order[k]!;
        const again = rnd() < 0.05;
        for (const off of again ? [o, o] : [o]) {
          const r = put(t, tsnAdd(initial, off));
          expect(r).toBe(got.has(off) ? DataResult.DUPLICATE : DataResult.NEW);
          if (got.has(off)) dups++;
          got.add(off);
        }
        if (k % 17 === 0 || k === order.length - 1) {
          const ref = reference(got);
          const s = t.sack(ReceiveTracker.newSack());
          expect(s.cumulativeTsnAck).toBe(tsnAdd(initial, ref.cum));
          expect(s.gapAckBlocks).toEqual(ref.blocks);
        }
        if (k === order.length - 1) for (let q = -3; q < n + 3; q++) expect(t.has(tsnAdd(initial, q))).toBe(q < 0 || got.has(q));
      }
      expect(t.stats.duplicates).toBe(dups);
    }
  });

  it('bounds the duplicate list and the gap blocks per SACK', () => {
    const t = tracker(1, { maxDuplicates: 3, maxGapAckBlocks: 2 });
    for (const tsn of [3, 5, 7, 9]) put(t, tsn);
    for (let i = 0; i < 5; i++) put(t, 3);
    const s = t.sack(ReceiveTracker.newSack());
    expect(s.cumulativeTsnAck).toBe(0);
    expect(s.gapAckBlocks).toEqual([
      { start: 3, end: 3 },
      { start: 5, end: 5 },
    ]);
    expect(s.duplicateTsns).toEqual([3, 3, 3]);
    expect(t.stats.duplicates).toBe(5);
  });

  it('drops a TSN more than 65535 beyond the ack point', () => {
    const t = tracker(10);
    // the ack point is 9: offset 65536 cannot be said in 16 bits, 65535 can
    expect(put(t, 9 + 65536)).toBe(DataResult.OUT_OF_WINDOW);
    expect(put(t, 9 + 65535)).toBe(DataResult.NEW);
    expect(t.sack(ReceiveTracker.newSack()).gapAckBlocks).toEqual([{ start: 65535, end: 65535 }]);
  });
});

describe('ReceiveTracker: when to SACK (RFC 9260 §6.2)', () => {
  it('delays a SACK for in-order data up to 200 ms, and SACKs every second packet', () => {
    const t = tracker(1);
    expect(t.shouldSackNow(0)).toBe(false);
    put(t, 1);
    t.packetReceived(1000);
    expect(t.sackDeadline).toBe(1200);
    expect(t.shouldSackNow(1000)).toBe(false);
    expect(t.shouldSackNow(1199)).toBe(false);
    expect(t.shouldSackNow(1200)).toBe(true);
    put(t, 2);
    t.packetReceived(1050);
    expect(t.sackDeadline).toBe(1200); // the first packet's deadline stands
    expect(t.shouldSackNow(1050)).toBe(true); // second packet
    t.sack(ReceiveTracker.newSack());
    expect(t.sackPending).toBe(false);
    expect(t.sackDeadline).toBe(Infinity);
    expect(t.shouldSackNow(5000)).toBe(false);
    t.packetReceived(5000); // a packet without DATA does not count
    expect(t.sackPending).toBe(false);
  });

  it('SACKs at once on a gap, while it lasts, when it is filled, on a duplicate and on the I bit', () => {
    const t = tracker(1);
    put(t, 2); // gap: 1 missing
    t.packetReceived(0);
    expect(t.shouldSackNow(0)).toBe(true);
    t.sack(ReceiveTracker.newSack());
    put(t, 3);
    t.packetReceived(1);
    expect(t.shouldSackNow(1)).toBe(true); // the gap is still there
    t.sack(ReceiveTracker.newSack());
    put(t, 1); // fills it
    t.packetReceived(2);
    expect(t.shouldSackNow(2)).toBe(true);
    t.sack(ReceiveTracker.newSack());
    put(t, 4);
    t.packetReceived(3);
    expect(t.shouldSackNow(3)).toBe(false);
    t.sack(ReceiveTracker.newSack());
    put(t, 4);
    t.packetReceived(4);
    expect(t.shouldSackNow(4)).toBe(true); // duplicate
    t.sack(ReceiveTracker.newSack());
    t.receive(5, 0, 0, 0, true, true, true, true, one);
    t.packetReceived(5);
    expect(t.shouldSackNow(5)).toBe(true); // I bit
  });
});

describe('ReceiveTracker: receive window', () => {
  it('advertises the space left and drops new data beyond the highest TSN when full', () => {
    const data = new Uint8Array(400);
    const t = tracker(1, { receiveWindow: 1000 });
    // ordered messages 1, 2 arrive before 0: they are held, taking window
    expect(t.receive(2, 0, 1, 0, false, true, true, false, data)).toBe(DataResult.NEW);
    expect(t.receive(3, 0, 2, 0, false, true, true, false, data)).toBe(DataResult.NEW);
    expect(t.aRwnd).toBe(200);
    expect(t.receive(4, 0, 3, 0, false, true, true, false, data)).toBe(DataResult.NO_SPACE);
    expect(t.has(4)).toBe(false);
    // the hole is taken even without space, and releases everything
    expect(t.receive(1, 0, 0, 0, false, true, true, false, data)).toBe(DataResult.NEW);
    expect(t.aRwnd).toBe(1000);
    expect(t.reassembly.delivered).toBe(3);
  });
});

describe('ReceiveTracker: FORWARD TSN (RFC 3758 §3.6)', () => {
  it('moves the ack point, drops the blocks it covers and joins the next run', () => {
    const t = tracker(1);
    for (const tsn of [1, 2, 5, 6, 9]) put(t, tsn);
    t.forwardTsn(4, []);
    expect(t.cumulativeTsn).toBe(6);
    expect(t.shouldSackNow(0)).toBe(true);
    const s = t.sack(ReceiveTracker.newSack());
    expect(s.cumulativeTsnAck).toBe(6);
    expect(s.gapAckBlocks).toEqual([{ start: 3, end: 3 }]);
    t.forwardTsn(3, []); // behind: nothing changes, but a SACK is owed
    expect(t.cumulativeTsn).toBe(6);
    expect(t.shouldSackNow(0)).toBe(true);
    t.forwardTsn(12, []);
    expect(t.cumulativeTsn).toBe(12);
    expect(t.gapCount).toBe(0);
    expect(put(t, 11)).toBe(DataResult.DUPLICATE);
  });
});
