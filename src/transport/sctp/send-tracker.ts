// The data sender's side of RFC 9260 §6: DATA chunks from first transmission until the peer's
// Cumulative TSN Ack covers them. A SACK (§6.2.1) acknowledges by cumulative ack and gap blocks,
// yields an RTT sample (Karn's rule, §6.3.1 C5), counts miss indications towards fast retransmit
// (§7.2.4, HTNA) and sets the peer's rwnd; T3-rtx expiry (§6.3.3) marks everything outstanding for
// retransmission. PR-SCTP (RFC 3758 §3.5): chunks whose lifetime ends are abandoned a whole message
// at a time, the Advanced.Peer.Ack.Point moves over them and a FORWARD TSN tells the peer.
// Sizes are user data octets (what a_rwnd counts). No clock: times are ms passed in.

import { DataFlags, type ForwardTsnChunk, type GapAckBlock } from './chunk.js';
import { ssnLt, tsnAdd, tsnDiff, tsnGt, tsnGte, tsnLt, tsnLte } from './serial.js';

/** One DATA chunk sent and not yet covered by the peer's Cumulative TSN Ack. */
export class OutstandingChunk {
  /** Time (ms) of the latest transmission. */
  sentAt = 0;
  /** Transmissions so far (1 = never retransmitted: may give an RTT sample). */
  transmissions = 1;
  /** Counted in the flight size: sent, not acknowledged, not marked for retransmission, not abandoned. */
  inFlight = true;
  /** Acknowledged by a Gap Ack Block (may be withdrawn if the peer reneges). */
  acked = false;
  /** Marked for retransmission (T3-rtx or fast retransmit), not yet resent. */
  retransmit = false;
  /** Abandoned (PR-SCTP): never to be sent again. */
  abandoned = false;
  /** Miss indications since the last transmission (§7.2.4). */
  missIndications = 0;
  /** Fast-retransmitted already: not again until a T3-rtx expiry. */
  fastRetransmitted = false;

  constructor(
    readonly tsn: number,
    readonly streamId: number,
    readonly ssn: number,
    readonly ppid: number,
    /** DataFlags: BEGINNING, ENDING, UNORDERED (IMMEDIATE is per transmission, not kept). */
    readonly flags: number,
    /** The user data: a view into the user's message, kept for retransmission. */
    readonly payload: Uint8Array,
    /** Identifies the user message the chunk is a fragment of (abandoned together). */
    readonly messageId: number,
    /** When PR-SCTP abandons it (ms); Infinity for a reliable message. */
    readonly abandonAt: number,
  ) {}

  get size(): number {
    return this.payload.length;
  }
  get unordered(): boolean {
    return (this.flags & DataFlags.UNORDERED) !== 0;
  }
}

/** What a SACK did (one object per tracker, overwritten by every onSack). */
export interface SackOutcome {
  /** The Cumulative TSN Ack was behind ours: the SACK was ignored (§6.2.1 D i). */
  stale: boolean;
  /** The SACK acknowledged a TSN never sent: ignored; the association may ABORT (protocol violation). */
  invalid: boolean;
  /** The Cumulative TSN Ack Point moved forward. */
  cumulativeAdvanced: boolean;
  /** User data octets acknowledged for the first time, by the cumulative ack or gap blocks. */
  ackedBytes: number;
  /** Flight size before the SACK (the "cwnd fully used" test of §7.2.1 needs it). */
  flightSizeBefore: number;
  /** RTT (ms) from the newest chunk this SACK acknowledged that was sent only once; -1 if none. */
  rttSample: number;
  /** Chunks newly marked for fast retransmission (three miss indications). */
  fastRetransmits: number;
  /** Chunks the peer had gap-acknowledged and now no longer does (reneging). */
  reneged: number;
}

export interface SendTrackerOptions {
  /** Our Initial TSN (sent in INIT or INIT ACK). */
  initialTsn: number;
  /** The peer's a_rwnd from its INIT or INIT ACK (§6.2.1 A). */
  peerRwnd: number;
  /** Miss indications that trigger fast retransmit (RFC 9260: 3). */
  fastRetransmitThreshold?: number;
}

export class SendTracker {
  /** The TSN the next new chunk gets. */
  nextTsn: number;
  /** The peer's Cumulative TSN Ack as last heard: every TSN up to it is done with. */
  cumulativeTsnAck: number;
  /** RFC 3758: the highest TSN up to which everything is acknowledged or abandoned. */
  advancedPeerAckPoint: number;
  /** The peer's receive window as we reckon it (§6.2.1). */
  peerRwnd: number;
  /** Octets in flight. */
  flightSize = 0;
  /** Chunks marked for retransmission and not yet resent. */
  retransmitPending = 0;
  /** No outstanding chunk is due for abandonment before this time (ms): abandonExpired is free until then. */
  earliestAbandonAt = Infinity;
  readonly stats = { sent: 0, retransmitted: 0, fastRetransmits: 0, t3Expiries: 0, abandonedChunks: 0, abandonedMessages: 0, staleSacks: 0, invalidSacks: 0 };
  readonly outcome: SackOutcome = { stale: false, invalid: false, cumulativeAdvanced: false, ackedBytes: 0, flightSizeBefore: 0, rttSample: -1, fastRetransmits: 0, reneged: 0 };

  private readonly threshold: number;
  /** Every TSN from cumulativeTsnAck + 1 to nextTsn − 1, in order, from index `head`. */
  private queue: OutstandingChunk[] = [];
  private head = 0;
  private readonly ftsnStreams = new Map<number, number>();
  /** TSNs beyond the Cumulative TSN Ack that the latest SACK accepted with this cumulative ack reported. */
  private lastGapReport = 0;
  /** Outstanding chunks now acknowledged by a Gap Ack Block (the gap walk stops once past them all). */
  private gapAckedChunks = 0;

  constructor(opts: SendTrackerOptions) {
    this.nextTsn = opts.initialTsn >>> 0;
    this.cumulativeTsnAck = tsnAdd(opts.initialTsn, -1);
    this.advancedPeerAckPoint = this.cumulativeTsnAck;
    this.peerRwnd = opts.peerRwnd;
    this.threshold = opts.fastRetransmitThreshold ?? 3;
  }

  /** Chunks not yet covered by the Cumulative TSN Ack (acked by gap blocks and abandoned ones included). */
  get outstanding(): number {
    return this.queue.length - this.head;
  }

  /** The highest TSN sent (the Fast Recovery exit point when fast retransmit starts). */
  get highestTsnSent(): number {
    return tsnAdd(this.nextTsn, -1);
  }

  /** The chunk with this TSN, if still outstanding. */
  get(tsn: number): OutstandingChunk | undefined {
    const i = tsnDiff(this.cumulativeTsnAck, tsn) - 1;
    return i >= 0 ? this.queue[this.head + i] : undefined;
  }

  /** A new chunk goes out: it gets the next TSN, enters the flight and uses peer window (§6.2.1 B). */
  send(streamId: number, ssn: number, ppid: number, flags: number, payload: Uint8Array, messageId: number, abandonAt: number, now: number): OutstandingChunk {
    const c = new OutstandingChunk(this.nextTsn, streamId, ssn, ppid, flags & (DataFlags.BEGINNING | DataFlags.ENDING | DataFlags.UNORDERED), payload, messageId, abandonAt);
    c.sentAt = now;
    if (abandonAt < this.earliestAbandonAt) this.earliestAbandonAt = abandonAt;
    this.nextTsn = tsnAdd(this.nextTsn, 1);
    this.queue.push(c);
    this.flightSize += c.size;
    this.peerRwnd = Math.max(0, this.peerRwnd - c.size);
    this.stats.sent++;
    return c;
  }

  /**
   * A SACK arrived (§6.2.1). `inFastRecovery` is the congestion controller's state: while in Fast
   * Recovery, a SACK that advances the cumulative ack counts a miss for every TSN it reports missing.
   */
  onSack(cumulativeTsnAck: number, aRwnd: number, gapAckBlocks: readonly GapAckBlock[], now: number, inFastRecovery = false): SackOutcome {
    const o = this.outcome;
    o.stale = false;
    o.invalid = false;
    o.cumulativeAdvanced = false;
    o.ackedBytes = 0;
    o.flightSizeBefore = this.flightSize;
    o.rttSample = -1;
    o.fastRetransmits = 0;
    o.reneged = 0;
    if (tsnLt(cumulativeTsnAck, this.cumulativeTsnAck)) {
      o.stale = true; // D i: out of order SACK, older than what we know
      this.stats.staleSacks++;
      return o;
    }
    if (tsnGte(cumulativeTsnAck, this.nextTsn) || !this.gapsValid(cumulativeTsnAck, gapAckBlocks)) {
      o.invalid = true;
      this.stats.invalidSacks++;
      return o;
    }
    // A SACK with the same Cumulative TSN Ack that reports fewer TSNs than one already processed
    // is, far more often than a reneging peer, an older SACK overtaken on the way (§6.2.1 D i can
    // only see that by the cumulative ack). Taking it would withdraw gap acks and count spurious
    // miss indications; drop it like a stale one. Real reneging still shows once the cumulative
    // ack moves (the missing TSN below it is retransmitted by T3-rtx or fast retransmit).
    let gapAcked = 0;
    for (const g of gapAckBlocks) gapAcked += g.end - g.start + 1;
    if (cumulativeTsnAck === this.cumulativeTsnAck && gapAcked < this.lastGapReport) {
      o.stale = true;
      this.stats.staleSacks++;
      return o;
    }
    this.lastGapReport = gapAcked;
    let htna = cumulativeTsnAck; // Highest TSN Newly Acknowledged
    let htnaSet = false;
    // cumulative ack: every chunk up to it leaves the queue
    while (this.head < this.queue.length && tsnLte(this.queue[this.head]!.tsn, cumulativeTsnAck)) {
      const c = this.queue[this.head++]!;
      if (!c.acked && !c.abandoned) {
        o.ackedBytes += c.size;
        if (c.transmissions === 1) o.rttSample = now - c.sentAt;
        htna = c.tsn;
        htnaSet = true;
      }
      this.leave(c);
    }
    if (tsnGt(cumulativeTsnAck, this.cumulativeTsnAck)) {
      o.cumulativeAdvanced = true;
      this.cumulativeTsnAck = cumulativeTsnAck;
    }
    this.compact();
    // gap blocks: one walk over what is left, blocks in order; acked chunks outside every block reneged (D iii)
    // (the walk ends once past the last block and every chunk acked before: a SACK without gaps costs nothing per chunk)
    let b = 0;
    let highestReported = cumulativeTsnAck; // highest TSN a gap block covers
    let ackedLeft = this.gapAckedChunks;
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i]!;
      const off = tsnDiff(cumulativeTsnAck, c.tsn);
      while (b < gapAckBlocks.length && gapAckBlocks[b]!.end < off) b++;
      if (b >= gapAckBlocks.length && ackedLeft === 0) break;
      if (c.acked) ackedLeft--;
      const inBlock = b < gapAckBlocks.length && gapAckBlocks[b]!.start <= off;
      if (inBlock) {
        highestReported = c.tsn;
        if (!c.acked) {
          c.acked = true;
          this.gapAckedChunks++;
          if (!c.abandoned) {
            o.ackedBytes += c.size;
            if (c.transmissions === 1) o.rttSample = now - c.sentAt;
            htna = c.tsn;
            htnaSet = true;
          }
          this.outOfFlight(c);
          this.unmark(c);
        }
      } else if (c.acked) {
        c.acked = false;
        this.gapAckedChunks--;
        o.reneged++;
        if (!c.abandoned) c.missIndications++; // one miss indication towards fast retransmit
      }
    }
    // miss indications (§7.2.4, HTNA): for TSNs missing below the highest newly acknowledged one;
    // in Fast Recovery with the cumulative ack advancing, for every TSN reported missing
    const limit = inFastRecovery && o.cumulativeAdvanced ? highestReported : htnaSet ? htna : cumulativeTsnAck;
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i]!;
      if (!tsnLt(c.tsn, limit)) break;
      if (c.acked || c.abandoned || c.retransmit) continue; // a reneged chunk (out of flight, unmarked) counts too
      c.missIndications++;
      if (c.missIndications >= this.threshold && !c.fastRetransmitted) {
        c.fastRetransmitted = true;
        this.mark(c);
        o.fastRetransmits++;
        this.stats.fastRetransmits++;
      }
    }
    // D ii: the peer's window less what is still in flight
    this.peerRwnd = Math.max(0, aRwnd - this.flightSize);
    this.advancePeerAckPoint();
    return o;
  }

  /**
   * T3-rtx expired (§6.3.3 E3): every outstanding chunk not acknowledged is marked for
   * retransmission and leaves the flight; fast retransmit is allowed again. Returns the number marked.
   */
  onT3Expired(): number {
    this.stats.t3Expiries++;
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i]!;
      c.fastRetransmitted = false;
      if (c.acked || c.abandoned || c.retransmit) continue;
      this.mark(c);
      n++;
    }
    return n;
  }

  /** The lowest-TSN chunk marked for retransmission, or null. */
  nextRetransmission(): OutstandingChunk | null {
    if (this.retransmitPending === 0) return null;
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i]!.retransmit) return this.queue[i]!;
    return null;
  }

  /** The chunk from nextRetransmission went out again. */
  retransmitted(c: OutstandingChunk, now: number): void {
    if (!c.retransmit) return;
    c.retransmit = false;
    this.retransmitPending--;
    c.transmissions++;
    c.sentAt = now;
    c.missIndications = 0;
    c.inFlight = true;
    this.flightSize += c.size;
    this.peerRwnd = Math.max(0, this.peerRwnd - c.size);
    this.stats.retransmitted++;
  }

  /**
   * PR-SCTP (RFC 3758 §3.5 A1-A3): abandon every message with a chunk whose lifetime has ended, all
   * its fragments at once; abandoned chunks leave the flight and are never resent. Returns the ids
   * of the messages newly abandoned (their fragments not yet sent are the caller's to drop).
   */
  abandonExpired(now: number, out: number[] = []): number[] {
    out.length = 0;
    if (now < this.earliestAbandonAt) return out;
    let earliest = Infinity;
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i]!;
      if (c.abandoned) continue;
      if (c.abandonAt > now) {
        if (c.abandonAt < earliest) earliest = c.abandonAt;
        continue;
      }
      // a whole message: its fragments are on consecutive TSNs, from B to E
      let first = i;
      while (first > this.head && !(this.queue[first]!.flags & DataFlags.BEGINNING) && this.queue[first - 1]!.messageId === c.messageId) first--;
      let last = i;
      while (last + 1 < this.queue.length && !(this.queue[last]!.flags & DataFlags.ENDING) && this.queue[last + 1]!.messageId === c.messageId) last++;
      for (let k = first; k <= last; k++) this.abandon(this.queue[k]!);
      out.push(c.messageId);
      this.stats.abandonedMessages++;
      i = last;
    }
    this.earliestAbandonAt = earliest;
    if (out.length > 0) this.advancePeerAckPoint();
    return out;
  }

  /** RFC 3758 C3: a FORWARD TSN is owed while the Advanced.Peer.Ack.Point is beyond the peer's cumulative ack. */
  get forwardTsnNeeded(): boolean {
    return tsnGt(this.advancedPeerAckPoint, this.cumulativeTsnAck);
  }

  /**
   * Fill a FORWARD TSN: New Cumulative TSN = Advanced.Peer.Ack.Point, and for each stream with an
   * abandoned ordered message at or below it, the highest such SSN (unordered ones need none).
   */
  forwardTsn(out: ForwardTsnChunk): ForwardTsnChunk {
    out.newCumulativeTsn = this.advancedPeerAckPoint;
    const m = this.ftsnStreams;
    m.clear();
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i]!;
      if (tsnGt(c.tsn, this.advancedPeerAckPoint)) break;
      if (!c.abandoned || c.unordered) continue;
      const prev = m.get(c.streamId);
      if (prev === undefined || ssnLt(prev, c.ssn)) m.set(c.streamId, c.ssn);
    }
    out.streams.length = 0;
    for (const [streamId, ssn] of m) out.streams.push({ streamId, ssn });
    out.streams.sort((a, b) => a.streamId - b.streamId);
    return out;
  }

  /** A new FORWARD TSN object for `forwardTsn` (then reuse). */
  static newForwardTsn(): ForwardTsnChunk {
    return { type: 192, newCumulativeTsn: 0, streams: [] };
  }

  /** RFC 3758 C1, C2: from the cumulative ack, move over abandoned chunks. */
  private advancePeerAckPoint(): void {
    if (tsnGt(this.cumulativeTsnAck, this.advancedPeerAckPoint)) this.advancedPeerAckPoint = this.cumulativeTsnAck;
    for (let i = this.head + tsnDiff(this.cumulativeTsnAck, this.advancedPeerAckPoint); i < this.queue.length; i++) {
      const c = this.queue[i]!;
      if (!c.abandoned) break;
      this.advancedPeerAckPoint = c.tsn;
    }
  }

  private gapsValid(cum: number, blocks: readonly GapAckBlock[]): boolean {
    const sent = tsnDiff(cum, this.highestTsnSent);
    let prevEnd = 0;
    for (const g of blocks) {
      if (g.start <= prevEnd || g.end < g.start || g.end > sent) return false; // blocks in order, not overlapping, only TSNs sent
      prevEnd = g.end;
    }
    return true;
  }

  private mark(c: OutstandingChunk): void {
    c.retransmit = true;
    this.retransmitPending++;
    if (this.outOfFlight(c)) this.peerRwnd += c.size; // §6.2.1 C
  }

  private abandon(c: OutstandingChunk): void {
    if (c.abandoned) return;
    c.abandoned = true;
    this.stats.abandonedChunks++;
    this.outOfFlight(c);
    this.unmark(c);
  }

  private leave(c: OutstandingChunk): void {
    if (c.acked) this.gapAckedChunks--;
    this.outOfFlight(c);
    this.unmark(c);
  }

  /** Takes the chunk's octets out of the flight size; false when it was not in flight. */
  private outOfFlight(c: OutstandingChunk): boolean {
    if (!c.inFlight) return false;
    c.inFlight = false;
    this.flightSize -= c.size;
    return true;
  }

  /** Clears a pending retransmission mark. */
  private unmark(c: OutstandingChunk): void {
    if (!c.retransmit) return;
    c.retransmit = false;
    this.retransmitPending--;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
