// A LowerLayer decorator that loses a seeded random share of the packets it is asked to send, so a
// benchmark can put loss on a real link (UDP encapsulation over loopback) without touching the stack.
// Each process wraps its own lower layer: the sender's drops hit DATA, the receiver's drop SACKs, so
// a rate r on both sides is r loss each way. Benchmark use only (tests use the stack's LossyLink).

/** xorshift32: the same drop pattern on every run for a seed. */
function generator(seed) {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export class DroppingLowerLayer {
  /**
   * @param inner the LowerLayer to send through (UdpEncapsulation, raw IP)
   * @param {{ dropRate: number, seed?: number }} opts
   */
  constructor(inner, opts) {
    this.inner = inner;
    this.dropRate = opts.dropRate;
    this.random = generator(opts.seed ?? 1);
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
