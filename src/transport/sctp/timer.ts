// One protocol timer of an association (T1-init, T1-cookie, T2-shutdown, T3-rtx, T5, the delayed
// SACK, HEARTBEAT): a fixed callback on the association's clock, started, restarted and stopped
// without making a closure each time. Restarting to a later time (T3-rtx on every SACK that moves
// the cumulative ack) only moves the deadline: the clock timer already set fires early, sees the
// deadline ahead and waits out the rest, so a busy association does not churn the clock's timers.

import type { LinkClock } from './lossy-link.js';

export class Timer {
  /** When it fires (ms on the clock); Infinity while stopped. */
  due = Infinity;
  private handle: unknown = null;
  /** When the clock timer set is due (≤ due). */
  private armedFor = Infinity;
  private readonly fire = (): void => {
    this.handle = null;
    const early = this.due - this.clock.now();
    if (early > 0) {
      this.arm(early);
      return;
    }
    this.due = Infinity;
    this.armedFor = Infinity;
    this.onExpiry();
  };

  constructor(
    private readonly clock: LinkClock,
    private readonly onExpiry: () => void,
  ) {}

  get running(): boolean {
    return this.handle !== null;
  }

  /** Start, or restart, to fire `ms` from now. */
  start(ms: number): void {
    const due = this.clock.now() + ms;
    this.due = due;
    if (this.handle !== null) {
      if (due >= this.armedFor) return; // the armed timer fires first and re-arms for the rest
      this.clock.clearTimeout(this.handle);
    }
    this.arm(ms);
  }

  private arm(ms: number): void {
    this.armedFor = this.clock.now() + ms;
    this.handle = this.clock.setTimeout(this.fire, ms);
  }

  /** Start only if not running. */
  ensure(ms: number): void {
    if (this.handle === null) this.start(ms);
  }

  stop(): void {
    if (this.handle === null) return;
    this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.due = Infinity;
    this.armedFor = Infinity;
  }
}
