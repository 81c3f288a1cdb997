// An in-memory network for testing SCTP state machines: endpoints (address, UDP port) exchange
// packets through a link that drops, duplicates, reorders and delays them, every decision drawn
// from a seeded generator so a failing run can be replayed exactly. Time comes from a clock that
// tests may replace with a virtual one.

import type { LowerLayer, PacketHandler, Remote } from './lower-layer.js';

export interface LinkClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time: performance.now, and setImmediate for packets due now (setTimeout(0) waits ~1 ms). */
export const realClock: LinkClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms <= 0 ? { immediate: setImmediate(fn) } : { timeout: setTimeout(fn, Math.ceil(ms)) }),
  clearTimeout: (h) => {
    const handle = h as { immediate?: NodeJS.Immediate; timeout?: NodeJS.Timeout };
    if (handle.immediate) clearImmediate(handle.immediate);
    if (handle.timeout) clearTimeout(handle.timeout);
  },
};

export interface LossyLinkOptions {
  /** Seed of the generator behind every drop/duplicate/reorder/delay decision (default 1). */
  seed?: number;
  /** Probability that a packet is lost (0..1). */
  dropRate?: number;
  /** Probability that a delivered packet arrives twice. */
  duplicateRate?: number;
  /** Probability that a packet is held back by `reorderDelayMs`, so later ones overtake it. */
  reorderRate?: number;
  /** One-way delay of every packet, milliseconds (default 0). */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per packet (reorders too, when large). */
  jitterMs?: number;
  /** Hold-back of a reordered packet (default 2 × delayMs + 1). */
  reorderDelayMs?: number;
  /** Packets longer than this are dropped (counted as tooBig); default 65,507. */
  mtu?: number;
  clock?: LinkClock;
}

export interface LossyLinkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  /** Packets whose destination had no open endpoint when they arrived. */
  unreachable: number;
  tooBig: number;
}

/** What happened to one sent packet, for taps (e.g. a test writing a pcap). */
export type PacketFate = 'delivered' | 'dropped' | 'duplicated' | 'reordered' | 'too-big';

export type LinkTap = (packet: Uint8Array, from: Remote, to: Remote, fate: PacketFate) => void;

interface InFlight {
  due: number;
  order: number;
  packet: Uint8Array;
  from: Remote;
  to: string;
}

/** xorshift32 in [0, 1): small, fast, and the same sequence on every run for a seed (also bench/lib/sctp-lossy.mjs's). */
export function seededRandom(seed: number): () => number {
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

const key = (address: string, udpPort: number) => `${address}|${udpPort}`;

export class LossyLink {
  /** Rates and delays; may be changed while running (e.g. dropRate = 1 to cut the link). */
  readonly options: Required<Omit<LossyLinkOptions, 'seed' | 'clock'>>;
  readonly stats: LossyLinkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, unreachable: 0, tooBig: 0 };
  /** Sees every packet sent, with its fate. */
  tap: LinkTap | null = null;
  private readonly random: () => number;
  private readonly clock: LinkClock;
  private readonly endpoints = new Map<string, LinkEndpoint>();
  /** In flight, sorted by (due, order). */
  private queue: InFlight[] = [];
  private order = 0;
  private timer: unknown = null;
  private timerDue = Infinity;

  constructor(opts: LossyLinkOptions = {}) {
    this.random = seededRandom(opts.seed ?? 1);
    this.clock = opts.clock ?? realClock;
    const delayMs = opts.delayMs ?? 0;
    this.options = {
      dropRate: opts.dropRate ?? 0,
      duplicateRate: opts.duplicateRate ?? 0,
      reorderRate: opts.reorderRate ?? 0,
      delayMs,
      jitterMs: opts.jitterMs ?? 0,
      reorderDelayMs: opts.reorderDelayMs ?? 2 * delayMs + 1,
      mtu: opts.mtu ?? 65507,
    };
  }

  /** Open an endpoint at (address, udpPort). Throws if one is already open there. */
  endpoint(address: string, udpPort: number): LinkEndpoint {
    const k = key(address, udpPort);
    if (this.endpoints.has(k)) throw new Error(`LossyLink: ${address} port ${udpPort} is already open`);
    const e = new LinkEndpoint(this, { address, udpPort }, () => this.endpoints.delete(k));
    this.endpoints.set(k, e);
    return e;
  }

  /** Packets in flight. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Drop everything in flight and stop the timer. */
  close(): void {
    this.queue = [];
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }

  /** @internal */
  transmit(packet: Uint8Array, length: number, from: Remote, to: Remote): void {
    this.stats.sent++;
    const o = this.options;
    const r = this.random;
    // every packet draws the same number of values, so one rate change does not shift the others' luck
    const dropDraw = r();
    const dupDraw = r();
    const reorderDraw = r();
    const jitter1 = r();
    const jitter2 = r();
    if (length > o.mtu) {
      this.stats.tooBig++;
      this.tap?.(packet.subarray(0, length), from, to, 'too-big');
      return;
    }
    if (dropDraw < o.dropRate) {
      this.stats.dropped++;
      this.tap?.(packet.subarray(0, length), from, to, 'dropped');
      return;
    }
    const now = this.clock.now();
    const reorder = reorderDraw < o.reorderRate;
    const duplicate = dupDraw < o.duplicateRate;
    const copy = packet.slice(0, length);
    if (reorder) this.stats.reordered++;
    this.tap?.(copy, from, to, reorder ? 'reordered' : duplicate ? 'duplicated' : 'delivered');
    const k = key(to.address, to.udpPort);
    this.enqueue({ due: now + o.delayMs + jitter1 * o.jitterMs + (reorder ? o.reorderDelayMs : 0), order: this.order++, packet: copy, from, to: k });
    if (duplicate) {
      this.stats.duplicated++;
      this.enqueue({ due: now + o.delayMs + jitter2 * o.jitterMs, order: this.order++, packet: copy.slice(), from, to: k });
    }
  }

  private enqueue(p: InFlight): void {
    const q = this.queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = q[mid]!;
      if (m.due < p.due || (m.due === p.due && m.order < p.order)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, p);
    this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head) return;
    if (this.timer !== null && this.timerDue <= head.due) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timerDue = head.due;
    this.timer = this.clock.setTimeout(this.drain, head.due - this.clock.now());
  }

  private readonly drain = (): void => {
    this.timer = null;
    this.timerDue = Infinity;
    try {
      const now = this.clock.now();
      while (this.queue.length > 0 && this.queue[0]!.due <= now) {
        const p = this.queue.shift()!;
        const dest = this.endpoints.get(p.to);
        if (!dest) {
          this.stats.unreachable++;
          continue;
        }
        this.stats.delivered++;
        dest.deliver(p.packet, p.from);
      }
    } finally {
      this.arm();
    }
  };
}

/** One endpoint of a LossyLink: a LowerLayer like UDP encapsulation, in memory. */
export class LinkEndpoint implements LowerLayer {
  private handler: PacketHandler | null = null;
  private closed = false;

  /** @internal */
  constructor(
    private readonly link: LossyLink,
    /** This endpoint's own address and port, as peers see it. */
    readonly local: Remote,
    private readonly onClose: () => void,
  ) {}

  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (!this.closed) this.link.transmit(packet, length, this.local, remote);
  }

  onPacket(cb: PacketHandler): void {
    this.handler = cb;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.onClose();
  }

  /** @internal */
  deliver(packet: Uint8Array, from: Remote): void {
    this.handler?.(packet, packet.length, { address: from.address, udpPort: from.udpPort });
  }
}
