// Shared by the association and endpoint tests: two SctpEndpoints joined by a LossyLink on a
// virtual clock, every packet on the link decoded by the codec and kept for assertions.

import { type Chunk } from '../../../src/transport/sctp/chunk.js';
import type { SctpAssociation } from '../../../src/transport/sctp/association.js';
import { type EndpointOptions, SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { type LossyLinkOptions, LossyLink } from '../../../src/transport/sctp/lossy-link.js';
import { decodePacket } from '../../../src/transport/sctp/packet.js';
import { VirtualClock } from '../../../src/transport/sctp/virtual-clock.js';
import { prng } from '../../mapping/harness.js';

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
      if (!d.ok) return; // tests that send damaged packets on purpose
      seen.push({ from: from.address, tag: d.value.verificationTag, srcPort: d.value.srcPort, dstPort: d.value.dstPort, chunks: d.value.chunks, fate, at: clock.now() });
    };
  }
  const base = { clock, rtoInitial: 100, rtoMin: 50, rtoMax: 2000, ...opts };
  const lowerA = l.endpoint(A.address, A.udpPort);
  const lowerB = l.endpoint(B.address, B.udpPort);
  const a = new SctpEndpoint({ lower: lowerA, ...base });
  const b = new SctpEndpoint({ lower: lowerB, ...base });
  return { clock, link: l, a, b, seen, base, lowerA, lowerB };
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

export interface Msg {
  id: number;
  stream: number;
  ordered: boolean;
  ttl: number;
  data: Uint8Array;
}

export function makeMessages(seed: number, count: number, streams: number, opts: { unorderedRate?: number; ttlRate?: number; ttl?: number; bigRate?: number } = {}): Msg[] {
  const rnd = prng(seed);
  const out: Msg[] = [];
  for (let id = 0; id < count; id++) {
    const big = rnd() < (opts.bigRate ?? 0.1);
    const size = big ? 1400 + Math.floor(rnd() * 2600) : 8 + Math.floor(rnd() * 1100);
    const data = new Uint8Array(size);
    for (let i = 4; i < size; i++) data[i] = (id * 7 + i * 13) & 0xff;
    new DataView(data.buffer).setUint32(0, id);
    const ttl = rnd() < (opts.ttlRate ?? 0) ? (opts.ttl ?? 100) : 0;
    out.push({ id, stream: Math.floor(rnd() * streams), ordered: rnd() >= (opts.unorderedRate ?? 0), ttl, data });
  }
  return out;
}

/** Records what the receiver gets and checks it against what was sent. */
export class Receiver {
  readonly times = new Map<number, number>();
  orderViolations = 0;
  contentErrors = 0;
  private readonly last: number[];
  constructor(
    a: SctpAssociation,
    private readonly byId: Map<number, Msg>,
    streams: number,
  ) {
    this.last = new Array<number>(streams).fill(-1);
    a.on('message', (data, info) => {
      const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
      this.times.set(id, (this.times.get(id) ?? 0) + 1);
      const m = this.byId.get(id);
      if (!m || m.stream !== info.stream || m.ordered !== info.ordered || !Buffer.from(m.data).equals(Buffer.from(data))) this.contentErrors++;
      if (info.ordered) {
        if (id <= this.last[info.stream]!) this.orderViolations++; // ids grow in send order per stream
        this.last[info.stream] = id;
      }
    });
  }
  get exactlyOnce(): boolean {
    for (const n of this.times.values()) if (n !== 1) return false;
    return true;
  }
}

/** Send all messages, as fast as backpressure allows, and run until the receiver has them or time is up. */
export function pump(p: Pair, sender: SctpAssociation, messages: Msg[], until: () => boolean, limitMs = 600_000): void {
  let next = 0;
  const fill = () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      if (!sender.send(m.data, { stream: m.stream, ordered: m.ordered, ttl: m.ttl })) return;
    }
  };
  sender.on('drain', fill);
  fill();
  p.clock.runUntil(() => next >= messages.length && until(), limitMs);
}

