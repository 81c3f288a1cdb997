import { describe, expect, it } from 'vitest';
import { CongestionControl } from '../../../src/transport/sctp/congestion.js';

describe('congestion control (RFC 9260 §7.2)', () => {
  it('initial cwnd is min(4·MTU, max(2·MTU, 4404))', () => {
    expect(CongestionControl.initialCwnd(1000)).toBe(4000);
    expect(CongestionControl.initialCwnd(1200)).toBe(4404);
    expect(CongestionControl.initialCwnd(1500)).toBe(4404);
    expect(CongestionControl.initialCwnd(9000)).toBe(18000);
  });

  it('slow start: grows by min(acked, MTU) when the cumulative ack advances and cwnd was fully used', () => {
    const cc = new CongestionControl({ mtu: 1200, initialSsthresh: 1e6 });
    expect(cc.cwnd).toBe(4404);
    cc.onSack(2400, true, 10, 4404, 2004);
    expect(cc.cwnd).toBe(5604); // + MTU
    cc.onSack(600, true, 11, 5000, 4400);
    expect(cc.cwnd).toBe(6204); // + acked
    cc.onSack(2400, true, 12, 3000, 600);
    expect(cc.cwnd).toBe(6204); // 3000 in flight: more than an MTU of cwnd unused
    cc.onSack(2400, false, 12, 6204, 3804);
    expect(cc.cwnd).toBe(6204); // gap acks alone do not grow it
    expect(cc.window(6000)).toBe(204);
    expect(cc.window(6204)).toBe(0);
  });

  it('congestion avoidance: one MTU per cwnd acknowledged, with partial_bytes_acked', () => {
    const cc = new CongestionControl({ mtu: 1200, initialSsthresh: 5000 });
    cc.cwnd = 6000;
    expect(cc.slowStart).toBe(false);
    cc.onSack(2400, true, 1, 6000, 3600);
    cc.onSack(2400, false, 1, 6000, 3600);
    expect(cc.partialBytesAcked).toBe(4800);
    expect(cc.cwnd).toBe(6000);
    cc.onSack(2400, true, 2, 6000, 3600);
    expect(cc.cwnd).toBe(7200); // pba 7200 ≥ 6000: pba − cwnd = 1200, cwnd + MTU
    expect(cc.partialBytesAcked).toBe(1200);
    cc.onSack(3600, true, 3, 3000, 1000);
    expect(cc.partialBytesAcked).toBe(4800);
    cc.onSack(3000, true, 4, 3000, 1000); // pba 7800 ≥ cwnd but the window was not used: capped at cwnd
    expect(cc.partialBytesAcked).toBe(7200);
    expect(cc.cwnd).toBe(7200);
    cc.onSack(1000, true, 5, 1000, 0); // everything acknowledged
    expect(cc.partialBytesAcked).toBe(0);
  });

  it('T3-rtx expiry: ssthresh = max(cwnd/2, 4·MTU), cwnd = 1 MTU', () => {
    const cc = new CongestionControl({ mtu: 1200, initialSsthresh: 1e6 });
    cc.cwnd = 7200;
    cc.onT3Expired();
    expect(cc.ssthresh).toBe(4800);
    expect(cc.cwnd).toBe(1200);
    cc.cwnd = 30000;
    cc.onT3Expired();
    expect(cc.ssthresh).toBe(15000);
    // then slow start from 1 MTU
    cc.onSack(1200, true, 1, 1200, 0);
    expect(cc.cwnd).toBe(2400);
  });

  it('fast retransmit: halves once, no growth in Fast Recovery, leaves it at the exit point', () => {
    const cc = new CongestionControl({ mtu: 1200, initialSsthresh: 1e6 });
    cc.cwnd = 20000;
    expect(cc.onFastRetransmit(500)).toBe(true);
    expect(cc.ssthresh).toBe(10000);
    expect(cc.cwnd).toBe(10000);
    expect(cc.onFastRetransmit(510)).toBe(false); // already in Fast Recovery
    expect(cc.cwnd).toBe(10000);
    cc.onSack(1200, true, 499, 10000, 8800);
    expect(cc.inFastRecovery).toBe(true);
    expect(cc.cwnd).toBe(10000); // slow start (cwnd = ssthresh) but no growth in Fast Recovery
    cc.onSack(1200, true, 500, 10000, 8800);
    expect(cc.inFastRecovery).toBe(false);
    expect(cc.cwnd).toBe(11200); // the exiting SACK grows it again (cwnd ≤ ssthresh: slow start)
    cc.cwnd = 8000;
    expect(cc.onFastRetransmit(0xffffffff)).toBe(true);
    expect(cc.ssthresh).toBe(4800); // max(4000, 4·1200)
    cc.onSack(0, false, 0, 4800, 4800); // TSN 0 is after 0xffffffff: exit
    expect(cc.inFastRecovery).toBe(false);
  });

  it('idle decay: max(cwnd/2, 4·MTU) per RTO without data', () => {
    const cc = new CongestionControl({ mtu: 1200, initialSsthresh: 1e6 });
    cc.cwnd = 20000;
    cc.decayIfIdle(5000, 1000);
    expect(cc.cwnd).toBe(20000); // nothing sent yet: not idle, just unused
    cc.sent(0);
    cc.decayIfIdle(999, 1000);
    expect(cc.cwnd).toBe(20000);
    cc.decayIfIdle(1000, 1000);
    expect(cc.cwnd).toBe(10000);
    cc.decayIfIdle(3500, 1000);
    expect(cc.cwnd).toBe(4800); // 5000, then the 4·MTU floor
    cc.cwnd = 20000;
    cc.sent(4000);
    cc.decayIfIdle(4999, 1000);
    expect(cc.cwnd).toBe(20000);
  });
});
