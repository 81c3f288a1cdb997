// One protocol timer of an association (T1-init, T1-cookie, T2-shutdown, T3-rtx, T5, the delayed
// SACK, HEARTBEAT): a fixed callback on the association's clock, started, restarted and stopped
// without making a closure each time.

import type { LinkClock } from './lossy-link.js';

export class Timer {
  /** When it fires (ms on the clock); Infinity while stopped. */
  due = Infinity;
  private handle: unknown = null;
  private readonly fire = (): void => {
    this.handle = null;
    this.due = Infinity;
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
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.due = this.clock.now() + ms;
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
  }
}
