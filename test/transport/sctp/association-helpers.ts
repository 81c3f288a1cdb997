// Shared by the association and endpoint tests: two SctpEndpoints joined by a LossyLink on a
// virtual clock, every packet on the link decoded by the codec and kept for assertions.

import { type Chunk } from '../../../src/transport/sctp/chunk.js';
import type { SctpAssociation } from '../../../src/transport/sctp/association.js';
import { type EndpointOptions, SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { type LossyLinkOptions, LossyLink } from '../../../src/transport/sctp/lossy-link.js';
import { decodePacket } from '../../../src/transport/sctp/packet.js';
import { VirtualClock } from '../../../src/transport/sctp/virtual-clock.js';

export const A = { address: '10.0.0.1', udpPort: 9899 };
export const B = { address: '10.0.0.2', udpPort: 9899 };

export interface Seen {
  from: string;
  tag: number;
  srcPort: number;
  dstPort: number;
  chunks: Chunk[];
  fate: string;
  at: number;
}

export function pair(link: Partial<LossyLinkOptions> = {}, opts: Partial<EndpointOptions> = {}, record = true) {
  const clock = new VirtualClock();
  const l = new LossyLink({ seed: 1, delayMs: 10, clock, ...link });
  const seen: Seen[] = [];
  if (record) {
    l.tap = (packet, from, _to, fate) => {
      const d = decodePacket(packet);
      if (!d.ok) throw new Error(`undecodable packet on the link: ${d.error.message}`);
      seen.push({ from: from.address, tag: d.value.verificationTag, srcPort: d.value.srcPort, dstPort: d.value.dstPort, chunks: d.value.chunks, fate, at: clock.now() });
    };
  }
  const base = { clock, rtoInitial: 100, rtoMin: 50, rtoMax: 2000, ...opts };
  const a = new SctpEndpoint({ lower: l.endpoint(A.address, A.udpPort), ...base });
  const b = new SctpEndpoint({ lower: l.endpoint(B.address, B.udpPort), ...base });
  return { clock, link: l, a, b, seen, base };
}
export type Pair = ReturnType<typeof pair>;

/**
 * Run the virtual clock until `promise` settles (its callbacks run as microtasks, so the clock
 * yields to them between timers). Returns the value or throws the rejection.
 */
export async function settle<T>(clock: VirtualClock, promise: Promise<T>, limitMs = 60_000): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  const end = clock.now() + limitMs;
  while (!done) {
    await Promise.resolve();
    await Promise.resolve();
    if (done) break;
    if (clock.nextDue > end || !clock.step()) break;
  }
  await Promise.resolve();
  if (!done) throw new Error(`promise did not settle within ${limitMs} virtual ms`);
  return promise;
}

/** Connect A → B:5000 and run the clock until both sides are up. */
export async function connected(p: Pair, os = 4, mis = 4, port = 5000) {
  let server: SctpAssociation | null = null;
  p.b.listen(port, (s) => (server = s));
  const client = await settle(p.clock, p.a.connect({ remote: B, remotePort: port, outboundStreams: os, maxInboundStreams: mis }));
  p.clock.runUntil(() => server !== null, 10_000);
  if (!server) throw new Error('no server association');
  return { client, server: server as SctpAssociation };
}
