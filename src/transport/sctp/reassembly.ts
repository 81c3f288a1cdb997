// Inbound streams (RFC 9260 §6.5, §6.6, §6.9): user messages rebuilt from DATA fragments (B and E
// flags, consecutive TSNs) and handed to the user in Stream Sequence Number order per stream, or at
// once when unordered. PR-SCTP (RFC 3758 §3.6): a FORWARD TSN discards the fragments it skips and
// moves a stream's expected SSN past abandoned messages.
//
// An unfragmented message is delivered as the very view it arrived in (no copy; the lower layer
// never reuses a received packet's buffer); fragments are copied once into the whole message.

import type { ForwardTsnStream } from './chunk.js';
import { ssnAdd, ssnLt, ssnLte, tsnAdd, tsnLte } from './serial.js';

/** Hands one user message to the user. `message` is the user's to keep. */
export type DeliverFn = (message: Uint8Array, streamId: number, ppid: number, unordered: boolean, ssn: number) => void;

interface Fragment {
  tsn: number;
  ssn: number;
  ppid: number;
  unordered: boolean;
  beginning: boolean;
  ending: boolean;
  data: Uint8Array;
}

interface HeldMessage {
  data: Uint8Array;
  ppid: number;
}

class InboundStream {
  /** SSN of the next ordered message to deliver. */
  nextSsn = 0;
  /** Fragments of incomplete messages, by TSN. */
  readonly fragments = new Map<number, Fragment>();
  /** How many of them are last fragments (E): while none is held no message can be whole, so a new
   *  middle fragment needs no walk (a big message arriving in order costs O(n), not O(n²)). */
  endings = 0;
  /** Complete ordered messages that wait for an earlier SSN, by SSN. */
  readonly held = new Map<number, HeldMessage>();
}

/** Why a DATA chunk was not taken. */
export const ReassemblyResult = {
  ACCEPTED: 0,
  /** Stream Identifier ≥ the negotiated number of inbound streams (answer: ERROR, Invalid Stream Identifier). */
  INVALID_STREAM: 1,
  /** An ordered message whose SSN was already delivered or skipped: a misbehaving peer. */
  STALE_SSN: 2,
} as const;
export type ReassemblyResult = (typeof ReassemblyResult)[keyof typeof ReassemblyResult];

export class Reassembly {
  /** Octets of user data held here (fragments and ordered messages waiting): what a_rwnd subtracts. */
  bufferedOctets = 0;
  /** Messages handed to the user. */
  delivered = 0;
  private readonly streams: (InboundStream | undefined)[];

  constructor(
    /** Number of inbound streams (MIS negotiated at setup). */
    readonly inboundStreams: number,
    private readonly deliver: DeliverFn,
  ) {
    this.streams = new Array<InboundStream | undefined>(inboundStreams);
  }

  /** The SSN the next ordered message of a stream must carry. */
  nextSsn(streamId: number): number {
    return this.streams[streamId]?.nextSsn ?? 0;
  }

  /**
   * Take one new DATA chunk (the TSN tracker has already found it new). `data` must stay valid while
   * held: a view into a received packet is fine.
   */
  accept(tsn: number, streamId: number, ssn: number, ppid: number, unordered: boolean, beginning: boolean, ending: boolean, data: Uint8Array): ReassemblyResult {
    if (streamId >= this.inboundStreams) return ReassemblyResult.INVALID_STREAM;
    const s = (this.streams[streamId] ??= new InboundStream());
    if (!unordered && ssnLt(ssn, s.nextSsn)) return ReassemblyResult.STALE_SSN;
    if (beginning && ending) {
      this.complete(s, streamId, ssn, ppid, unordered, data);
      return ReassemblyResult.ACCEPTED;
    }
    s.fragments.set(tsn, { tsn, ssn, ppid, unordered, beginning, ending, data });
    this.bufferedOctets += data.length;
    if (ending) s.endings++;
    if (s.endings > 0) this.tryReassemble(s, streamId, tsn);
    return ReassemblyResult.ACCEPTED;
  }

  /**
   * FORWARD TSN received (RFC 3758 §3.6): fragments at or below the New Cumulative TSN belong to
   * abandoned messages and are dropped; each listed stream skips to after the listed SSN, first
   * delivering any complete message held at or below it.
   */
  forward(newCumulativeTsn: number, skipped: readonly ForwardTsnStream[]): void {
    for (let id = 0; id < this.streams.length; id++) {
      const s = this.streams[id];
      if (!s || s.fragments.size === 0) continue;
      for (const [tsn, f] of s.fragments) {
        if (tsnLte(tsn, newCumulativeTsn)) {
          s.fragments.delete(tsn);
          this.bufferedOctets -= f.data.length;
          if (f.ending) s.endings--;
        }
      }
    }
    for (const { streamId, ssn } of skipped) {
      if (streamId >= this.inboundStreams) continue;
      const s = (this.streams[streamId] ??= new InboundStream());
      if (!ssnLte(s.nextSsn, ssn)) continue; // already past it
      if (s.held.size === 0) s.nextSsn = ssnAdd(ssn, 1);
      while (ssnLte(s.nextSsn, ssn)) {
        const m = s.held.get(s.nextSsn);
        if (m) this.release(s, streamId, s.nextSsn, m);
        s.nextSsn = ssnAdd(s.nextSsn, 1);
      }
      this.flushHeld(s, streamId);
    }
  }

  /** After inserting the fragment at `tsn`: is its message whole (B … E over consecutive TSNs)? */
  private tryReassemble(s: InboundStream, streamId: number, tsn: number): void {
    const f = s.fragments.get(tsn)!;
    let first = f;
    while (!first.beginning) {
      const p = s.fragments.get(tsnAdd(first.tsn, -1));
      if (!p || p.ending || !this.sameMessage(p, f)) return;
      first = p;
    }
    // walk from B up to E, summing the length
    let last = f;
    let length = 0;
    let t = first.tsn;
    for (;;) {
      const g = s.fragments.get(t)!;
      length += g.data.length;
      if (g.ending) {
        last = g;
        break;
      }
      t = tsnAdd(t, 1);
      const n = s.fragments.get(t);
      if (!n || n.beginning || !this.sameMessage(n, f)) return;
    }
    const whole = new Uint8Array(length);
    let o = 0;
    for (t = first.tsn; ; t = tsnAdd(t, 1)) {
      const g = s.fragments.get(t)!;
      whole.set(g.data, o);
      o += g.data.length;
      s.fragments.delete(t);
      if (g === last) break;
    }
    s.endings--;
    this.bufferedOctets -= length;
    this.complete(s, streamId, f.ssn, first.ppid, f.unordered, whole);
  }

  private sameMessage(a: Fragment, b: Fragment): boolean {
    return a.unordered === b.unordered && (a.unordered || a.ssn === b.ssn);
  }

  private complete(s: InboundStream, streamId: number, ssn: number, ppid: number, unordered: boolean, data: Uint8Array): void {
    if (unordered) {
      this.delivered++;
      this.deliver(data, streamId, ppid, true, ssn);
      return;
    }
    if (ssn === s.nextSsn) {
      s.nextSsn = ssnAdd(ssn, 1);
      this.delivered++;
      this.deliver(data, streamId, ppid, false, ssn);
      this.flushHeld(s, streamId);
      return;
    }
    if (s.held.has(ssn)) return; // a second message with one SSN: the peer's fault, keep the first
    s.held.set(ssn, { data, ppid });
    this.bufferedOctets += data.length;
  }

  private flushHeld(s: InboundStream, streamId: number): void {
    for (;;) {
      const m = s.held.get(s.nextSsn);
      if (!m) return;
      const ssn = s.nextSsn;
      s.nextSsn = ssnAdd(ssn, 1);
      this.release(s, streamId, ssn, m);
    }
  }

  private release(s: InboundStream, streamId: number, ssn: number, m: HeldMessage): void {
    s.held.delete(ssn);
    this.bufferedOctets -= m.data.length;
    this.delivered++;
    this.deliver(m.data, streamId, m.ppid, false, ssn);
  }
}
