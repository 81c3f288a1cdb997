// Congestion control of one destination (RFC 9260 §7.2): cwnd and ssthresh, slow start,
// congestion avoidance with partial_bytes_acked, the reactions to T3-rtx expiry and to fast
// retransmit (with its Fast Recovery exit point), and the decay of an idle path's cwnd.
// Octets are user data octets, as the send tracker counts them. Times are ms passed in.

import { tsnGte } from './serial.js';

export interface CongestionOptions {
  /** The path MTU, as the octets of user data one packet carries. */
  mtu: number;
  /** Initial ssthresh: "arbitrarily high", e.g. the peer's a_rwnd (§7.2.1). */
  initialSsthresh: number;
}

export class CongestionControl {
  mtu: number;
  /** Congestion window, octets. */
  cwnd: number;
  /** Slow start threshold, octets. */
  ssthresh: number;
  /** partial_bytes_acked of congestion avoidance (§7.2.2). */
  partialBytesAcked = 0;
  /** In Fast Recovery (§7.2.4): cwnd does not grow and no further reductions until the exit point is acknowledged. */
  inFastRecovery = false;
  /** The highest TSN outstanding when Fast Recovery began. */
  fastRecoveryExitPoint = 0;
  /** When data was last sent on this path (for the idle decay); -1 before any. */
  lastSendAt = -1;
  private lastDecayAt = -1;

  constructor(opts: CongestionOptions) {
    this.mtu = opts.mtu;
    this.cwnd = CongestionControl.initialCwnd(opts.mtu);
    this.ssthresh = opts.initialSsthresh;
  }

  /** §7.2.1: min(4·MTU, max(2·MTU, 4404)). */
  static initialCwnd(mtu: number): number {
    return Math.min(4 * mtu, Math.max(2 * mtu, 4404));
  }

  /** In slow start (cwnd ≤ ssthresh) rather than congestion avoidance. */
  get slowStart(): boolean {
    return this.cwnd <= this.ssthresh;
  }

  /**
   * §6.1 B: new data may go out while the flight is below cwnd (a packet may then take the flight
   * up to cwnd + MTU − 1). Returns the octets that may still be sent (at least 0).
   */
  window(flightSize: number): number {
    return flightSize < this.cwnd ? this.cwnd - flightSize : 0;
  }

  /** Data went out on this path. */
  sent(now: number): void {
    this.lastSendAt = now;
    this.lastDecayAt = now;
  }

  /**
   * A SACK was processed. `ackedBytes`: octets newly acknowledged (cumulative ack and gap blocks);
   * `flightSizeBefore` / `flightSizeAfter`: the flight around the SACK; `cumulativeTsnAck`: the
   * peer's, to leave Fast Recovery once it reaches the exit point.
   *
   * "cwnd fully used" (§7.2.1, §7.2.2) is taken as: before the SACK, less than one MTU of cwnd was
   * free (a sender that fills packets to the MTU could not have sent another full one).
   */
  onSack(ackedBytes: number, cumulativeAdvanced: boolean, cumulativeTsnAck: number, flightSizeBefore: number, flightSizeAfter: number): void {
    if (this.inFastRecovery && tsnGte(cumulativeTsnAck, this.fastRecoveryExitPoint)) this.inFastRecovery = false;
    const fullyUsed = flightSizeBefore + this.mtu > this.cwnd;
    if (this.cwnd <= this.ssthresh) {
      // slow start: only when the cumulative ack advances, cwnd is fully used, and not in Fast Recovery
      if (cumulativeAdvanced && fullyUsed && !this.inFastRecovery) this.cwnd += Math.min(ackedBytes, this.mtu);
    } else {
      // congestion avoidance: one MTU per cwnd of acknowledged data
      this.partialBytesAcked += ackedBytes;
      if (this.partialBytesAcked >= this.cwnd) {
        if (fullyUsed) {
          this.partialBytesAcked -= this.cwnd;
          if (!this.inFastRecovery) this.cwnd += this.mtu;
        } else {
          this.partialBytesAcked = this.cwnd; // an unused window does not grow, nor bank credit beyond one window
        }
      }
    }
    if (flightSizeAfter === 0) this.partialBytesAcked = 0; // all data acknowledged
  }

  /** §7.2.3: T3-rtx expired on this path. Also leaves Fast Recovery: the timeout starts over. */
  onT3Expired(): void {
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.mtu);
    this.cwnd = this.mtu;
    this.partialBytesAcked = 0;
    this.inFastRecovery = false;
  }

  /**
   * §7.2.4: chunks were marked for fast retransmit. Outside Fast Recovery, halve (ssthresh =
   * max(cwnd/2, 4·MTU), cwnd = ssthresh) and enter it until `highestOutstandingTsn` is acknowledged;
   * inside, nothing changes. Returns whether Fast Recovery began.
   */
  onFastRetransmit(highestOutstandingTsn: number): boolean {
    if (this.inFastRecovery) return false;
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.mtu);
    this.cwnd = this.ssthresh;
    this.partialBytesAcked = 0;
    this.inFastRecovery = true;
    this.fastRecoveryExitPoint = highestOutstandingTsn >>> 0;
    return true;
  }

  /**
   * §7.2.1: a path that sends no data has its cwnd decayed to max(cwnd/2, 4·MTU) once per RTO.
   * Call from time to time (e.g. with the heartbeat timer); applies every whole RTO elapsed.
   */
  decayIfIdle(now: number, rto: number): void {
    if (this.lastDecayAt < 0 || rto <= 0) return;
    while (now - this.lastDecayAt >= rto) {
      this.lastDecayAt += rto;
      const floor = 4 * this.mtu;
      if (this.cwnd <= floor) {
        this.lastDecayAt = now;
        return;
      }
      this.cwnd = Math.max(Math.floor(this.cwnd / 2), floor);
    }
  }
}
