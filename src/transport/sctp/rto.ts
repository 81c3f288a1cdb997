// Retransmission timeout per destination (RFC 9260 §6.3.1): smoothed RTT and RTT variation from
// measurements, RTO bounded by RTO.Min / RTO.Max, doubled on each T3-rtx expiry (§6.3.3 E2).
// Times are milliseconds handed in by the caller; nothing here reads a clock.

export interface RtoOptions {
  /** RTO.Initial, before any measurement (RFC 9260: 1 s). */
  initial?: number;
  /** RTO.Min (RFC 9260: 1 s; lower on loopback, where a round trip takes microseconds). */
  min?: number;
  /** RTO.Max (RFC 9260: 60 s). */
  max?: number;
  /** RTO.Alpha (1/8). */
  alpha?: number;
  /** RTO.Beta (1/4). */
  beta?: number;
  /** G, the clock granularity: RTTVAR never counts as less than this (1 ms). */
  granularity?: number;
}

export class RtoEstimator {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
  readonly alpha: number;
  readonly beta: number;
  readonly granularity: number;
  /** SRTT, smoothed round-trip time; NaN before the first measurement. */
  srtt = NaN;
  /** RTTVAR, round-trip time variation; NaN before the first measurement. */
  rttvar = NaN;
  /** The current RTO, backoff included. */
  rto: number;

  constructor(opts: RtoOptions = {}) {
    this.initial = opts.initial ?? 1000;
    this.min = opts.min ?? 1000;
    this.max = opts.max ?? 60000;
    this.alpha = opts.alpha ?? 1 / 8;
    this.beta = opts.beta ?? 1 / 4;
    this.granularity = opts.granularity ?? 1;
    if (!(this.min > 0 && this.min <= this.max)) throw new RangeError(`RTO.Min ${this.min} must be > 0 and ≤ RTO.Max ${this.max}`);
    this.rto = this.clamp(this.initial); // C1
  }

  /** Whether a round trip has been measured yet. */
  get measured(): boolean {
    return this.srtt === this.srtt;
  }

  /**
   * A new RTT measurement R, in ms (rules C2, C3). The caller applies Karn's rule (C5): never from
   * a retransmitted chunk. A measurement also ends any backoff.
   */
  measure(r: number): void {
    if (!(r >= 0)) return;
    if (!this.measured) {
      // C2
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      // C3: RTTVAR is updated with the SRTT from before this measurement
      this.rttvar = (1 - this.beta) * this.rttvar + this.beta * Math.abs(this.srtt - r);
      this.srtt = (1 - this.alpha) * this.srtt + this.alpha * r;
    }
    if (this.rttvar < this.granularity) this.rttvar = this.granularity; // "if RTTVAR computes to zero, RTTVAR ← G"
    this.rto = this.clamp(this.srtt + 4 * this.rttvar); // C6, C7
  }

  /** T3-rtx expired (§6.3.3 E2): RTO ← RTO × 2, at most RTO.Max. */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.max);
  }

  private clamp(v: number): number {
    return v < this.min ? this.min : v > this.max ? this.max : v;
  }
}
