import { describe, expect, it } from 'vitest';
import { DataFlags } from '../../../src/transport/sctp/chunk.js';
import { SendTracker } from '../../../src/transport/sctp/send-tracker.js';

const BE = DataFlags.BEGINNING | DataFlags.ENDING;

/** A tracker with chunks of 100 octets, TSNs 1000…, one message each, reliable. */
function sent(n: number, peerRwnd = 100000, now = 0) {
  const t = new SendTracker({ initialTsn: 1000, peerRwnd });
  for (let i = 0; i < n; i++) t.send(0, i, 0, BE, new Uint8Array(100), i, Infinity, now + i);
  return t;
}

describe('SendTracker: SACK processing (RFC 9260 §6.2.1)', () => {
  it('acknowledges by cumulative ack and gap blocks, once, and sets the peer rwnd', () => {
    const t = sent(10);
    expect(t.flightSize).toBe(1000);
    expect(t.peerRwnd).toBe(99000); // B: every send uses window
    // cum 1002 (3 chunks), gaps 1004-1005 (offsets 2-3) and 1008 (offset 6)
    let o = t.onSack(1002, 50000, [{ start: 2, end: 3 }, { start: 6, end: 6 }], 100);
    expect(o.cumulativeAdvanced).toBe(true);
    expect(o.ackedBytes).toBe(600);
    expect(o.flightSizeBefore).toBe(1000);
    expect(t.flightSize).toBe(400);
    expect(t.peerRwnd).toBe(50000 - 400); // D ii
    expect(t.outstanding).toBe(7);
    expect(t.cumulativeTsnAck).toBe(1002);
    // the same SACK again acknowledges nothing new
    o = t.onSack(1002, 50000, [{ start: 2, end: 3 }, { start: 6, end: 6 }], 110);
    expect(o.ackedBytes).toBe(0);
    expect(o.cumulativeAdvanced).toBe(false);
    expect(o.rttSample).toBe(-1);
    // cum to 1005: only 1003 is new (1004, 1005 were gap-acked)
    o = t.onSack(1005, 50000, [{ start: 3, end: 3 }], 120);
    expect(o.ackedBytes).toBe(100);
    expect(t.flightSize).toBe(300);
  });

  it('ignores a SACK older than the cumulative ack and refuses one that acknowledges unsent TSNs', () => {
    const t = sent(5);
    t.onSack(1002, 1000, [], 10);
    const o = t.onSack(1001, 99999, [], 11);
    expect(o.stale).toBe(true);
    expect(t.peerRwnd).toBe(1000 - 200);
    expect(t.onSack(1005, 1000, [], 12).invalid).toBe(true); // 1004 is the last sent
    expect(t.onSack(1002, 1000, [{ start: 1, end: 3 }], 12).invalid).toBe(true); // offset 3 = 1005
    expect(t.onSack(1002, 1000, [{ start: 2, end: 2 }, { start: 1, end: 1 }], 12).invalid).toBe(true); // out of order
    expect(t.cumulativeTsnAck).toBe(1002);
  });

  it('takes an RTT sample only from chunks sent once (Karn), the newest acknowledged', () => {
    const t = sent(4); // sent at 0, 1, 2, 3
    let o = t.onSack(1001, 1e5, [], 50);
    expect(o.rttSample).toBe(49); // 1001 sent at 1
    t.onT3Expired();
    const c = t.nextRetransmission()!;
    expect(c.tsn).toBe(1002);
    t.retransmitted(c, 60);
    o = t.onSack(1002, 1e5, [], 70);
    expect(o.ackedBytes).toBe(100);
    expect(o.rttSample).toBe(-1); // retransmitted: ambiguous
  });

  it('fast-retransmits after 3 miss indications (HTNA), once per chunk', () => {
    const t = sent(8);
    // 1000 lost; SACKs report 1001, then 1001-1002, then 1001-1003: three misses for 1000
    let o = t.onSack(999, 1e5, [{ start: 2, end: 2 }], 10);
    expect(o.fastRetransmits).toBe(0);
    expect(t.get(1000)!.missIndications).toBe(1);
    o = t.onSack(999, 1e5, [{ start: 2, end: 3 }], 11);
    expect(o.fastRetransmits).toBe(0);
    // a SACK that newly acknowledges nothing is no miss indication
    o = t.onSack(999, 1e5, [{ start: 2, end: 3 }], 11);
    expect(t.get(1000)!.missIndications).toBe(2);
    o = t.onSack(999, 1e5, [{ start: 2, end: 4 }], 12);
    expect(o.fastRetransmits).toBe(1);
    expect(t.retransmitPending).toBe(1);
    expect(t.get(1000)!.retransmit).toBe(true);
    expect(t.flightSize).toBe(400); // 1000 out of flight, 1001-1003 acked, 1004-1007 in flight
    const c = t.nextRetransmission()!;
    expect(c.tsn).toBe(1000);
    t.retransmitted(c, 13);
    expect(c.transmissions).toBe(2);
    expect(c.missIndications).toBe(0);
    // lost again: more misses do not fast-retransmit it a second time
    for (let k = 5; k <= 7; k++) t.onSack(999, 1e5, [{ start: 2, end: k }], 14 + k);
    expect(t.get(1000)!.missIndications).toBe(3);
    expect(t.retransmitPending).toBe(0);
    // only T3 sends it again
    expect(t.onT3Expired()).toBe(2); // 1000 and 1007: offsets 2..7 acknowledged 1001..1006
  });

  it('counts misses below the highest TSN newly acknowledged only', () => {
    const t = sent(6);
    t.onSack(999, 1e5, [{ start: 4, end: 4 }], 1); // 1003 newly acked: 1000-1002 missed once, 1004-1005 not
    expect([1000, 1001, 1002, 1004, 1005].map((x) => t.get(x)!.missIndications)).toEqual([1, 1, 1, 0, 0]);
    t.onSack(1000, 1e5, [{ start: 3, end: 3 }], 2); // newly: 1000 only → nothing below it missing
    expect([1001, 1002].map((x) => t.get(x)!.missIndications)).toEqual([1, 1]);
    t.onSack(1000, 1e5, [{ start: 3, end: 3 }], 3, true); // fast recovery but the cum ack did not advance: nothing
    expect([1001, 1002].map((x) => t.get(x)!.missIndications)).toEqual([1, 1]);
  });

  it('in Fast Recovery, a SACK advancing the cumulative ack counts a miss for every TSN reported missing', () => {
    const t = sent(6);
    t.onSack(999, 1e5, [{ start: 4, end: 4 }], 1);
    t.onSack(1000, 1e5, [{ start: 3, end: 3 }], 2, true);
    expect([1001, 1002, 1004].map((x) => t.get(x)!.missIndications)).toEqual([2, 2, 0]);
  });

  it('handles reneging: a gap-acked chunk no longer reported is outstanding again and counts a miss', () => {
    const t = sent(5);
    t.onSack(999, 1e5, [{ start: 3, end: 4 }], 1); // 1002, 1003 acked
    const o = t.onSack(1000, 1e5, [{ start: 3, end: 3 }], 2); // cum 1000; 1003 still acked, 1002 withdrawn
    expect(o.reneged).toBe(1);
    expect(t.get(1002)!.acked).toBe(false);
    expect(t.get(1002)!.missIndications).toBe(1);
    expect(t.onT3Expired()).toBe(3); // 1001, 1002, 1004
  });

  it('drops a SACK overtaken by a newer one with the same cumulative ack (fewer TSNs reported): no false reneging', () => {
    // the peer sent S1 (cum 999, 1001 gap-acked) then S2 (cum 999, 1001-1002); S2 arrives first
    const t = sent(4);
    t.onSack(999, 1e5, [{ start: 2, end: 3 }], 1); // S2
    const o = t.onSack(999, 1e5, [{ start: 2, end: 2 }], 2); // S1, late
    expect(o.stale).toBe(true);
    expect(o.reneged).toBe(0);
    expect(t.get(1002)!.acked).toBe(true);
    expect(t.get(1002)!.missIndications).toBe(0);
    expect(t.stats.staleSacks).toBe(1);
    // the same report again, or a bigger one, is taken as usual
    expect(t.onSack(999, 1e5, [{ start: 2, end: 3 }], 3).stale).toBe(false);
    const o2 = t.onSack(999, 1e5, [{ start: 2, end: 4 }], 4);
    expect(o2.stale).toBe(false);
    expect(o2.ackedBytes).toBe(100);
  });

  it('on T3-rtx expiry marks every unacknowledged chunk, empties the flight and gives back window (§6.2.1 C)', () => {
    const t = sent(5, 1000);
    expect(t.peerRwnd).toBe(500);
    t.onSack(999, 1000, [{ start: 2, end: 2 }], 5); // 1001 acked
    expect(t.peerRwnd).toBe(1000 - 400);
    expect(t.onT3Expired()).toBe(4);
    expect(t.flightSize).toBe(0);
    expect(t.peerRwnd).toBe(1000);
    const order: number[] = [];
    for (let c = t.nextRetransmission(); c; c = t.nextRetransmission()) {
      order.push(c.tsn);
      t.retransmitted(c, 10);
    }
    expect(order).toEqual([1000, 1002, 1003, 1004]);
    expect(t.flightSize).toBe(400);
    expect(t.peerRwnd).toBe(600);
  });

  it('acknowledgement of a chunk marked for retransmission unmarks it', () => {
    const t = sent(3);
    t.onT3Expired();
    t.onSack(1001, 1e5, [], 1);
    expect(t.retransmitPending).toBe(1);
    expect(t.nextRetransmission()!.tsn).toBe(1002);
  });

  it('works across the TSN wrap', () => {
    const t = new SendTracker({ initialTsn: 0xfffffffe, peerRwnd: 1e5 });
    for (let i = 0; i < 4; i++) t.send(0, i, 0, BE, new Uint8Array(10), i, Infinity, 0);
    expect(t.nextTsn).toBe(2);
    const o = t.onSack(0xffffffff, 1e5, [{ start: 2, end: 2 }], 1); // 0xfffffffe, 0xffffffff cum; 1 gap-acked
    expect(o.ackedBytes).toBe(30);
    expect(t.get(0)!.acked).toBe(false);
    expect(t.get(1)!.acked).toBe(true);
    t.onSack(1, 1e5, [], 2);
    expect(t.outstanding).toBe(0);
    expect(t.flightSize).toBe(0);
  });
});

describe('SendTracker: PR-SCTP (RFC 3758)', () => {
  it('abandons whole messages, moves the Advanced.Peer.Ack.Point and fills the FORWARD TSN', () => {
    const t = new SendTracker({ initialTsn: 1, peerRwnd: 1e5 });
    const p = new Uint8Array(100);
    // TSN 1: stream 0 SSN 0 reliable
    t.send(0, 0, 0, BE, p, 1, Infinity, 0);
    // TSN 2-4: stream 0 SSN 1 in three fragments, lifetime to 500
    t.send(0, 1, 0, DataFlags.BEGINNING, p, 2, 500, 0);
    t.send(0, 1, 0, 0, p, 2, 500, 0);
    t.send(0, 1, 0, DataFlags.ENDING, p, 2, 500, 0);
    // TSN 5: stream 1 SSN 7 lifetime 500 (ordered); TSN 6: stream 2 unordered, lifetime 500
    t.send(1, 7, 0, BE, p, 3, 500, 0);
    t.send(2, 0, 0, BE | DataFlags.UNORDERED, p, 4, 500, 0);
    // TSN 7: stream 0 SSN 2 reliable; TSN 8: stream 1 SSN 8 lifetime 500
    t.send(0, 2, 0, BE, p, 5, Infinity, 0);
    t.send(1, 8, 0, BE, p, 6, 500, 0);
    // the peer got 1, 3 (a middle fragment) and 7
    t.onSack(1, 1e5, [{ start: 2, end: 2 }, { start: 6, end: 6 }], 100);
    expect(t.abandonExpired(499)).toEqual([]);
    expect(t.forwardTsnNeeded).toBe(false);
    expect(t.abandonExpired(500)).toEqual([2, 3, 4, 6]);
    expect(t.stats.abandonedChunks).toBe(6);
    expect(t.flightSize).toBe(0); // 7 acked, the rest abandoned
    // C2: over 2-6 (abandoned) to 7? 7 is acked by a gap block, not abandoned: stop at 6
    expect(t.advancedPeerAckPoint).toBe(6);
    expect(t.forwardTsnNeeded).toBe(true);
    const f = t.forwardTsn(SendTracker.newForwardTsn());
    expect(f.newCumulativeTsn).toBe(6);
    expect(f.streams).toEqual([
      { streamId: 0, ssn: 1 },
      { streamId: 1, ssn: 7 },
    ]);
    // abandoned chunks are never retransmitted
    expect(t.onT3Expired()).toBe(0);
    expect(t.nextRetransmission()).toBe(null);
    // the peer takes the FORWARD TSN: cum 7; C1 then C2 over 8
    t.onSack(7, 1e5, [], 200);
    expect(t.advancedPeerAckPoint).toBe(8);
    expect(t.forwardTsn(SendTracker.newForwardTsn())).toEqual({ type: 192, newCumulativeTsn: 8, streams: [{ streamId: 1, ssn: 8 }] });
    t.onSack(8, 1e5, [], 300);
    expect(t.forwardTsnNeeded).toBe(false);
    expect(t.outstanding).toBe(0);
  });

  it('abandons a chunk waiting for retransmission', () => {
    const t = new SendTracker({ initialTsn: 1, peerRwnd: 1e5 });
    t.send(3, 4, 0, BE, new Uint8Array(10), 9, 50, 0);
    t.onT3Expired();
    expect(t.retransmitPending).toBe(1);
    expect(t.abandonExpired(50)).toEqual([9]);
    expect(t.retransmitPending).toBe(0);
    expect(t.forwardTsn(SendTracker.newForwardTsn())).toEqual({ type: 192, newCumulativeTsn: 1, streams: [{ streamId: 3, ssn: 4 }] });
  });
});

describe('SendTracker: earliestAbandonAt (PR-SCTP scans only when something can expire)', () => {
  it('tracks the earliest lifetime among outstanding chunks', () => {
    const t = new SendTracker({ initialTsn: 1, peerRwnd: 1e6 });
    expect(t.earliestAbandonAt).toBe(Infinity);
    t.send(0, 0, 0, BE, new Uint8Array(10), 1, 500, 0);
    t.send(0, 1, 0, BE, new Uint8Array(10), 2, 300, 0);
    t.send(0, 2, 0, BE, new Uint8Array(10), 3, Infinity, 0);
    expect(t.earliestAbandonAt).toBe(300);
    expect(t.abandonExpired(299)).toEqual([]);
    expect(t.abandonExpired(300)).toEqual([2]);
    expect(t.earliestAbandonAt).toBe(500); // recomputed over what is left
    expect(t.abandonExpired(600)).toEqual([1]);
    expect(t.earliestAbandonAt).toBe(Infinity);
  });
});
