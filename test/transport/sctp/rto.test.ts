import { describe, expect, it } from 'vitest';
import { RtoEstimator } from '../../../src/transport/sctp/rto.js';

describe('RTO (RFC 9260 §6.3.1)', () => {
  it('starts at RTO.Initial and keeps RTO.Min as a floor', () => {
    const e = new RtoEstimator();
    expect(e.rto).toBe(1000);
    e.measure(100); // SRTT 100, RTTVAR 50, SRTT + 4·RTTVAR = 300 → RTO.Min
    expect(e.srtt).toBe(100);
    expect(e.rttvar).toBe(50);
    expect(e.rto).toBe(1000);
  });
  it('follows C2 and C3 with a low RTO.Min (worked example)', () => {
    const e = new RtoEstimator({ min: 10, initial: 50 });
    expect(e.rto).toBe(50);
    e.measure(100); // C2: SRTT 100, RTTVAR 50 → 300
    expect(e.rto).toBe(300);
    e.measure(200); // C3: RTTVAR = 3/4·50 + 1/4·|100−200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5; RTO = 112.5 + 250
    expect(e.rttvar).toBe(62.5);
    expect(e.srtt).toBe(112.5);
    expect(e.rto).toBe(362.5);
    e.measure(112.5); // RTTVAR = 3/4·62.5 + 0 = 46.875; SRTT stays 112.5; RTO = 112.5 + 187.5
    expect(e.rto).toBe(300);
  });
  it('never lets RTTVAR fall below G', () => {
    const e = new RtoEstimator({ min: 1, granularity: 2 });
    e.measure(0); // C2 with R = 0: RTTVAR 0 → G = 2; RTO = 0 + 8
    expect(e.rttvar).toBe(2);
    expect(e.rto).toBe(8);
  });
  it('doubles on T3 expiry up to RTO.Max, and a measurement ends the backoff', () => {
    const e = new RtoEstimator({ max: 5000 });
    e.backoff();
    expect(e.rto).toBe(2000);
    e.backoff();
    e.backoff();
    expect(e.rto).toBe(5000);
    e.measure(100);
    expect(e.rto).toBe(1000);
  });
  it('caps a measured RTO at RTO.Max', () => {
    const e = new RtoEstimator({ max: 60000 });
    e.measure(30000); // 30000 + 4·15000 = 90000
    expect(e.rto).toBe(60000);
  });
  it('refuses RTO.Min above RTO.Max', () => {
    expect(() => new RtoEstimator({ min: 70000 })).toThrow(RangeError);
  });
});
