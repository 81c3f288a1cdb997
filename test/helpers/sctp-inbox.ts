// For tests that drive an SCTP association by hand against another stack (usrsctp): every packet the
// peer sends is decoded (RFC 9260 §3) and kept until the test takes the one holding the chunk it waits for.

import type { LowerLayer, Remote } from '../../src/transport/sctp/lower-layer.js';
import { type Packet, decodePacket } from '../../src/transport/sctp/packet.js';

export interface ReceivedPacket {
  packet: Packet;
  remote: Remote;
}

export interface ChunkInbox {
  /** Packets that did not decode, as "code: message" (a test expects none). */
  undecodable: string[];
  /**
   * The first kept packet holding a chunk of `type`, taken out of the inbox; waits for it (8 s at most),
   * calling `resend` every `resendMs` meanwhile (the peer may still be starting).
   */
  expectChunk(type: number, resend?: () => void): Promise<ReceivedPacket>;
}

export interface ChunkInboxOptions {
  /** Keep this packet? (A raw socket sees every SCTP packet to the host.) Default: all. */
  keep?: (p: Uint8Array, length: number) => boolean;
  resendMs: number;
  /** Added to the timeout error: who the peer is and what it said. */
  context: () => string;
}

export function chunkInbox(layer: LowerLayer, opts: ChunkInboxOptions): ChunkInbox {
  const inbox: ReceivedPacket[] = [];
  const undecodable: string[] = [];
  layer.onPacket((p, len, remote) => {
    if (opts.keep && !opts.keep(p, len)) return;
    const r = decodePacket(p, 0, len);
    if (r.ok) inbox.push({ packet: r.value, remote });
    else undecodable.push(`${r.error.code}: ${r.error.message}`);
  });
  const expectChunk = async (type: number, resend?: () => void): Promise<ReceivedPacket> => {
    const t0 = Date.now();
    let last = 0;
    for (;;) {
      const i = inbox.findIndex((m) => m.packet.chunks.some((c) => c.type === type));
      if (i >= 0) return inbox.splice(i, 1)[0]!;
      if (Date.now() - t0 > 8000) throw new Error(`no chunk of type ${type} ${opts.context()}; got ${JSON.stringify(inbox.map((m) => m.packet.chunks.map((c) => c.type)))}; undecodable ${undecodable.join(', ')}`);
      if (resend && Date.now() - last > opts.resendMs) {
        resend();
        last = Date.now();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { undecodable, expectChunk };
}
