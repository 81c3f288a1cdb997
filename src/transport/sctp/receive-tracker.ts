// The data receiver's side of RFC 9260 §6: which TSNs have arrived (cumulative TSN ack point, gap
// ack blocks, duplicates), when to send a SACK (§6.2: at least every second packet, at once on
// gaps and duplicates, otherwise within 200 ms), the advertised receiver window, FORWARD TSN
// (RFC 3758 §3.6), and the inbound streams the new chunks go to (reassembly.ts).
// No clock and no timers: times are milliseconds passed in; the association runs the SACK timer
// to `sackDeadline`.

import type { ForwardTsnStream, GapAckBlock, SackChunk } from './chunk.js';
import { type DeliverFn, Reassembly, ReassemblyResult } from './reassembly.js';
import { tsnAdd, tsnDiff, tsnGt, tsnLte } from './serial.js';

export interface ReceiveTrackerOptions {
  /** The peer's Initial TSN (from its INIT or INIT ACK). */
  initialTsn: number;
  /** Number of inbound streams. */
  inboundStreams: number;
  /** Octets of user data this side buffers: the a_rwnd advertised when nothing is held. */
  receiveWindow: number;
  /** Called for each whole user message, in order per stream for ordered ones. */
  deliver: DeliverFn;
  /** Longest delay of a SACK (RFC 9260 §6.2: at most 500 ms, 200 ms recommended). */
  sackDelayMs?: number;
  /** A SACK at least every this many packets with DATA (RFC 9260: 2). */
  sackFrequency?: number;
  /** Duplicate TSNs remembered for the next SACK. */
  maxDuplicates?: number;
  /** Gap Ack Blocks at most in one SACK (more are left for later ones). */
  maxGapAckBlocks?: number;
}

/** What became of one received DATA chunk. */
export const DataResult = {
  /** A new TSN, recorded and handed to its stream. */
  NEW: 0,
  /** Already received (or skipped by FORWARD TSN): reported in the next SACK as a duplicate. */
  DUPLICATE: 1,
  /** No buffer space for a TSN beyond the highest received (§6.2): dropped, not recorded. */
  NO_SPACE: 2,
  /** So far beyond the cumulative ack point that a Gap Ack Block could not name it: dropped. */
  OUT_OF_WINDOW: 3,
  /** Recorded (it is acknowledged) but its stream does not exist: answer with an ERROR. */
  INVALID_STREAM: 4,
  /** Recorded, but an ordered message with an SSN already delivered: discarded. */
  STALE_SSN: 5,
} as const;
export type DataResult = (typeof DataResult)[keyof typeof DataResult];

/** Farthest a TSN may lie beyond the cumulative ack point: gap block offsets are 16 bits. */
const MAX_AHEAD = 0xffff;

export class ReceiveTracker {
  /** The Cumulative TSN Ack Point: every TSN up to it has arrived or was skipped. */
  cumulativeTsn: number;
  /** Highest TSN received so far. */
  highestTsn: number;
  /** Deadline (ms) of the delayed SACK; Infinity when no SACK is owed. */
  sackDeadline = Infinity;
  readonly reassembly: Reassembly;
  readonly receiveWindow: number;
  readonly stats = { chunks: 0, duplicates: 0, noSpace: 0, outOfWindow: 0, invalidStream: 0, staleSsn: 0, sacks: 0 };

  private readonly sackDelayMs: number;
  private readonly sackFrequency: number;
  private readonly maxDuplicates: number;
  private readonly maxGapAckBlocks: number;
  /** Received TSNs above cumulativeTsn + 1, as disjoint runs in increasing order: [start, end] absolute TSNs. */
  private readonly blockStart: number[] = [];
  private readonly blockEnd: number[] = [];
  private readonly duplicates: number[] = [];
  /** Packets with DATA since the last SACK. */
  private packets = 0;
  /** Something since the last SACK asks for one without delay. */
  private immediate = false;
  /** This packet brought a DATA chunk (set by receive, cleared by packetReceived). */
  private dataInPacket = false;

  constructor(opts: ReceiveTrackerOptions) {
    this.cumulativeTsn = tsnAdd(opts.initialTsn, -1);
    this.highestTsn = this.cumulativeTsn;
    this.receiveWindow = opts.receiveWindow;
    this.sackDelayMs = opts.sackDelayMs ?? 200;
    this.sackFrequency = opts.sackFrequency ?? 2;
    this.maxDuplicates = opts.maxDuplicates ?? 16;
    this.maxGapAckBlocks = opts.maxGapAckBlocks ?? 64;
    this.reassembly = new Reassembly(opts.inboundStreams, opts.deliver);
  }

  /** a_rwnd: the buffer space left for user data. */
  get aRwnd(): number {
    const free = this.receiveWindow - this.reassembly.bufferedOctets;
    return free > 0 ? free : 0;
  }

  /** Number of Gap Ack Blocks (runs of TSNs received beyond a missing one). */
  get gapCount(): number {
    return this.blockStart.length;
  }

  /** Whether the TSN has arrived (or was skipped). */
  has(tsn: number): boolean {
    if (tsnLte(tsn, this.cumulativeTsn)) return true;
    const i = this.blockAfter(tsn) - 1;
    return i >= 0 && tsnLte(tsn, this.blockEnd[i]!);
  }

  /**
   * One received DATA chunk (its fields passed apart, so a reused scratch chunk works). Call
   * `packetReceived` once the packet's chunks are all handled.
   */
  receive(tsn: number, streamId: number, ssn: number, ppid: number, unordered: boolean, beginning: boolean, ending: boolean, immediate: boolean, userData: Uint8Array): DataResult {
    this.stats.chunks++;
    this.dataInPacket = true;
    if (immediate) this.immediate = true; // the I bit (RFC 7053, part of RFC 9260)
    if (this.has(tsn)) {
      this.stats.duplicates++;
      if (this.duplicates.length < this.maxDuplicates) this.duplicates.push(tsn);
      this.immediate = true; // §6.2: duplicates are reported at once
      return DataResult.DUPLICATE;
    }
    const ahead = tsnDiff(this.cumulativeTsn, tsn);
    if (ahead > MAX_AHEAD) {
      this.stats.outOfWindow++;
      return DataResult.OUT_OF_WINDOW;
    }
    // §6.2: without space, drop a TSN beyond the highest received; one that fills a hole is taken,
    // and so is the next in sequence always, so a message larger than the window cannot deadlock
    if (ahead !== 1 && userData.length > this.aRwnd && tsnGt(tsn, this.highestTsn)) {
      this.stats.noSpace++;
      return DataResult.NO_SPACE;
    }
    const hadGaps = this.blockStart.length > 0;
    this.record(tsn);
    if (tsnGt(tsn, this.highestTsn)) this.highestTsn = tsn;
    // §6.7: SACK at once while gaps exist, and when a gap is filled
    if (hadGaps || this.blockStart.length > 0) this.immediate = true;
    const r = this.reassembly.accept(tsn, streamId, ssn, ppid, unordered, beginning, ending, userData);
    if (r === ReassemblyResult.INVALID_STREAM) {
      this.stats.invalidStream++;
      return DataResult.INVALID_STREAM;
    }
    if (r === ReassemblyResult.STALE_SSN) {
      this.stats.staleSsn++;
      return DataResult.STALE_SSN;
    }
    return DataResult.NEW;
  }

  /** End of a received packet: counts it towards "a SACK every second packet" and arms the delay. */
  packetReceived(now: number): void {
    if (!this.dataInPacket) return;
    this.dataInPacket = false;
    this.packets++;
    if (this.sackDeadline === Infinity) this.sackDeadline = now + this.sackDelayMs;
  }

  /** Whether a SACK is owed (some DATA or FORWARD TSN arrived since the last one). */
  get sackPending(): boolean {
    return this.packets > 0 || this.immediate;
  }

  /** §6.2: whether to send the SACK now rather than wait for `sackDeadline`. */
  shouldSackNow(now: number): boolean {
    if (!this.sackPending) return false;
    return this.immediate || this.packets >= this.sackFrequency || now >= this.sackDeadline;
  }

  /**
   * Fill a SACK with the current state and clear what it reports (duplicates, pending packets,
   * the delay). Gap Ack Block offsets are relative to the Cumulative TSN Ack (§3.3.4).
   */
  sack(out: SackChunk): SackChunk {
    out.cumulativeTsnAck = this.cumulativeTsn;
    out.aRwnd = this.aRwnd;
    const blocks = out.gapAckBlocks;
    const n = Math.min(this.blockStart.length, this.maxGapAckBlocks);
    blocks.length = n;
    for (let i = 0; i < n; i++) {
      const b: GapAckBlock = blocks[i] ?? { start: 0, end: 0 };
      b.start = tsnDiff(this.cumulativeTsn, this.blockStart[i]!);
      b.end = tsnDiff(this.cumulativeTsn, this.blockEnd[i]!);
      blocks[i] = b;
    }
    out.duplicateTsns.length = 0;
    for (const d of this.duplicates) out.duplicateTsns.push(d);
    this.duplicates.length = 0;
    this.packets = 0;
    this.immediate = false;
    this.sackDeadline = Infinity;
    this.stats.sacks++;
    return out;
  }

  /** A new SACK object to pass to `sack` (then reuse). */
  static newSack(): SackChunk {
    return { type: 3, cumulativeTsnAck: 0, aRwnd: 0, gapAckBlocks: [], duplicateTsns: [] };
  }

  /**
   * FORWARD TSN (RFC 3758 §3.6): move the cumulative ack point to New Cumulative TSN as if every
   * TSN up to it had arrived, then past whatever follows in sequence; the streams skip the listed
   * SSNs. One at or behind the ack point changes nothing. Either way a SACK is sent at once.
   */
  forwardTsn(newCumulativeTsn: number, streams: readonly ForwardTsnStream[]): void {
    this.immediate = true;
    if (!tsnGt(newCumulativeTsn, this.cumulativeTsn)) return;
    if (tsnDiff(this.cumulativeTsn, newCumulativeTsn) > MAX_AHEAD) return; // beyond anything sent to us within a window: ignore
    const bs = this.blockStart;
    const be = this.blockEnd;
    let drop = 0;
    while (drop < bs.length && tsnLte(be[drop]!, newCumulativeTsn)) drop++;
    bs.splice(0, drop);
    be.splice(0, drop);
    this.cumulativeTsn = newCumulativeTsn;
    if (bs.length > 0 && tsnLte(bs[0]!, tsnAdd(newCumulativeTsn, 1))) {
      this.cumulativeTsn = be[0]!;
      bs.shift();
      be.shift();
    }
    if (tsnGt(this.cumulativeTsn, this.highestTsn)) this.highestTsn = this.cumulativeTsn;
    this.reassembly.forward(newCumulativeTsn, streams);
  }

  /** Index of the first block starting after tsn. */
  private blockAfter(tsn: number): number {
    const off = tsnDiff(this.cumulativeTsn, tsn);
    const bs = this.blockStart;
    let lo = 0;
    let hi = bs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tsnDiff(this.cumulativeTsn, bs[mid]!) <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Add a TSN known to be new and above the ack point. */
  private record(tsn: number): void {
    const bs = this.blockStart;
    const be = this.blockEnd;
    if (tsn === tsnAdd(this.cumulativeTsn, 1)) {
      this.cumulativeTsn = tsn;
      if (bs.length > 0 && bs[0] === tsnAdd(tsn, 1)) {
        this.cumulativeTsn = be[0]!;
        bs.shift();
        be.shift();
      }
      return;
    }
    const i = this.blockAfter(tsn);
    const joinsPrev = i > 0 && be[i - 1] === tsnAdd(tsn, -1);
    const joinsNext = i < bs.length && bs[i] === tsnAdd(tsn, 1);
    if (joinsPrev && joinsNext) {
      be[i - 1] = be[i]!;
      bs.splice(i, 1);
      be.splice(i, 1);
    } else if (joinsPrev) be[i - 1] = tsn;
    else if (joinsNext) bs[i] = tsn;
    else {
      bs.splice(i, 0, tsn);
      be.splice(i, 0, tsn);
    }
  }
}
