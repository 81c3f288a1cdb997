// Virtual time for tests of the stack: timers run in due order when the test says so, and time
// jumps from one due time to the next, so minutes of protocol (RTO backoff, heartbeats, cookie
// lifetimes) run in milliseconds and replay exactly.

import type { LinkClock } from './lossy-link.js';

interface VirtualTimer {
  due: number;
  seq: number;
  fn: () => void;
  /** Index in the heap; -1 once run or cleared. */
  at: number;
}

export class VirtualClock implements LinkClock {
  private t = 0;
  private seq = 0;
  /** Binary min-heap on (due, seq). */
  private heap: VirtualTimer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: VirtualTimer = { due: this.t + (ms > 0 ? ms : 0), seq: this.seq++, fn, at: this.heap.length };
    this.heap.push(timer);
    this.up(timer.at);
    return timer;
  }

  clearTimeout(h: unknown): void {
    const timer = h as VirtualTimer;
    if (!timer || timer.at < 0) return;
    this.removeAt(timer.at);
  }

  /** Timers waiting. */
  get pending(): number {
    return this.heap.length;
  }

  /** Due time of the next timer, Infinity when none. */
  get nextDue(): number {
    return this.heap.length > 0 ? this.heap[0]!.due : Infinity;
  }

  /** Run the earliest timer, moving time to its due time; false when none is left. */
  step(): boolean {
    const timer = this.heap[0];
    if (!timer) return false;
    this.removeAt(0);
    if (timer.due > this.t) this.t = timer.due;
    timer.fn();
    return true;
  }

  /** Run every timer due within `ms` from now, then set the time to now + ms. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.heap.length > 0 && this.heap[0]!.due <= end) this.step();
    if (end > this.t) this.t = end;
  }

  /**
   * Run timers until `done()` holds (checked before each one) or virtual time would pass `limitMs`
   * from now. Returns whether `done()` held. Throws after `maxSteps` timers (a livelock).
   */
  runUntil(done: () => boolean, limitMs: number, maxSteps = 50_000_000): boolean {
    const end = this.t + limitMs;
    for (let n = 0; ; n++) {
      if (done()) return true;
      if (this.heap.length === 0 || this.heap[0]!.due > end) {
        if (end > this.t) this.t = end;
        return done();
      }
      if (n >= maxSteps) throw new Error(`VirtualClock: ${maxSteps} timers run without reaching the goal`);
      this.step();
    }
  }

  private less(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    b.at = i;
    a.at = j;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[p]!)) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < n && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private removeAt(i: number): void {
    const h = this.heap;
    const timer = h[i]!;
    const last = h.pop()!;
    timer.at = -1;
    if (last !== timer) {
      h[i] = last;
      last.at = i;
      this.down(i);
      this.up(last.at);
    }
  }
}
