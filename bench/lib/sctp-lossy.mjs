// A LowerLayer decorator that loses a seeded random share of the packets it is asked to send, so a
// benchmark can put loss on a real link (UDP encapsulation over loopback) without touching the stack.
// Each process wraps its own lower layer: the sender's drops hit DATA, the receiver's drop SACKs, so
// a rate r on both sides is r loss each way. Benchmark use only (tests use the stack's LossyLink).

import { sctp } from './sctp-stack.mjs';

export class DroppingLowerLayer {
  /**
   * @param inner the LowerLayer to send through (UdpEncapsulation, raw IP)
   * @param {{ dropRate: number, seed?: number }} opts
   */
  constructor(inner, opts) {
    this.inner = inner;
    this.dropRate = opts.dropRate;
    this.random = sctp.seededRandom(opts.seed ?? 1); // the same drop pattern on every run for a seed
    this.stats = { sent: 0, dropped: 0 };
  }

  send(packet, length, remote) {
    if (this.dropRate > 0 && this.random() < this.dropRate) {
      this.stats.dropped++;
      return;
    }
    this.stats.sent++;
    this.inner.send(packet, length, remote);
  }

  onPacket(cb) {
    this.inner.onPacket(cb);
  }

  close() {
    this.inner.close();
  }
}
