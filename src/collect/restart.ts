// Exporter restart evidence over UDP (RFC 6183 §5.3.2.1: a Mediator must notice when the session behind an
// outgoing domain is no longer the one it was). A restarted exporter starts its clocks and counters again;
// a late (reordered) datagram only ever brings an *older* header. The tests are conservative on purpose:
// a false restart costs every derived template a withdrawal and a new outgoing domain, a missed one costs
// nothing the template checks do not already catch (a changed layout is a redefinition anyway).
//
// NetFlow v9 (RFC 3954 §5.1): the exporter may have booted since its last packet — the new sysUptime is no
// longer than the silence before this packet (plus UPTIME_REORDER_MS) — and either
//  - sysUptime went back by more than UPTIME_REORDER_MS: no reordering delays a datagram that long. A
//    32-bit wrap (about 49.7 days of uptime) is not one: the last uptime was in the wrap window below
//    2^32 and the new one is in the window above 0;
//  - or the Sequence Number (packets) went back while unix_secs went forward: the newer datagram counts
//    fewer packets before it, so its counter started again (exporters whose sysUptime says nothing).
// The first condition keeps captures whose packets were reordered or stitched together (uptime and
// sequence jumping back by seconds, the boot time unchanged) from looking like restarts: a packet from an
// exporter that has been up for days cannot come from one that rebooted a moment ago.
// IPFIX over UDP (RFC 7011 §3.1): the Sequence Number (Data Records before this message, mod 2^32) is below
// the one the last message led to expect — in serial-number arithmetic (RFC 1982), or 0 after a non-zero
// expectation — while the Export Time went forward. Export Time alone going back (a clock step) is not
// evidence, nor is a Sequence Number going back in a message no newer than the last one (reordering).
// Over TCP, TLS and SCTP a restart closes the Transport Session, which ends the exporter sessions anyway.

/** How far back a NetFlow v9 sysUptime may go by reordering alone (ms). */
export const UPTIME_REORDER_MS = 10_000;
/** Uptime near 2^32 ms followed by one near 0 within this window is a wrap, not a restart (ms). */
const UPTIME_WRAP_WINDOW_MS = 3_600_000;
const TWO_32 = 0x1_0000_0000;

/** What the last datagram of a session said, as the decoders keep it. */
export interface HeaderClock {
  /** Export time in seconds since the epoch (v9 unix_secs, IPFIX Export Time). */
  exportTime: number;
  /** The Sequence Number the next message is expected to carry (mod 2^32). */
  nextSequence: number;
}

/** Is `sequence` before `expected` in serial-number arithmetic (RFC 1982), or a reset to 0? */
function sequenceWentBack(sequence: number, expected: number): boolean {
  if (sequence === expected) return false;
  if (sequence === 0) return true;
  const back = (expected - sequence) >>> 0;
  return back < 0x8000_0000;
}

/** A counter that started again: a newer header (later export time) with an earlier sequence number. */
export function counterRestarted(last: HeaderClock, exportTime: number, sequence: number): boolean {
  return exportTime > last.exportTime && sequenceWentBack(sequence >>> 0, last.nextSequence >>> 0);
}

/**
 * NetFlow v9: did the exporter restart between the last packet (`last*`) and this one? `silentMs` is how
 * long the session was silent before this packet. Returns the evidence, for the log, or undefined.
 */
export function netflow9Restarted(lastUptime: number, lastUnixSecs: number, lastSequence: number, uptime: number, unixSecs: number, sequence: number, silentMs: number): string | undefined {
  if (uptime > silentMs + UPTIME_REORDER_MS) return undefined; // up since before the last packet
  if (lastUptime - uptime > UPTIME_REORDER_MS) {
    const wrap = lastUptime > TWO_32 - UPTIME_WRAP_WINDOW_MS && uptime < UPTIME_WRAP_WINDOW_MS;
    if (!wrap) return `sysUptime went back from ${lastUptime} to ${uptime} ms after ${silentMs} ms of silence`;
  }
  if (counterRestarted({ exportTime: lastUnixSecs, nextSequence: (lastSequence + 1) >>> 0 }, unixSecs, sequence)) {
    return `sequence number went back from ${lastSequence} to ${sequence} while unix_secs went forward (${lastUnixSecs} → ${unixSecs})`;
  }
  return undefined;
}
