// Loss between our association and usrsctp: our lower layer loses a seeded 3 % of the packets we
// send and 3 % of those arriving, so both stacks retransmit to each other: our T3-rtx and fast
// retransmit driven by usrsctp's SACKs and gap blocks, and usrsctp's retransmissions of its echoes
// driven by ours. Every message must come back exactly once, byte for byte, each stream in order,
// and usrsctp's log must show each message once with its SSNs in order. LOSS_SEED=n replays another
// loss pattern (seeds 1-6 pass too, with 7-12 fast retransmits and up to one T3 expiry each).

import { afterAll, describe, expect, it } from 'vitest';
import { type LowerLayer, type PacketHandler, type Remote, SctpEndpoint } from '../../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { prng } from '../../mapping/harness.js';
import { sleep } from '../../helpers/tools.js';
import { ECHO_PORT, haveUsrsctp, killAllUsrsctp, startUsrsctpServer } from '../../helpers/usrsctp.js';

const endpoints: SctpEndpoint[] = [];
afterAll(async () => {
  for (const ep of endpoints) ep.close();
  await killAllUsrsctp();
});

/** Loses a seeded share of the packets in each direction. */
class Lossy implements LowerLayer {
  lostOut = 0;
  lostIn = 0;
  private readonly random: () => number;
  constructor(
    private readonly inner: LowerLayer,
    private readonly rate: number,
    seed: number,
  ) {
    this.random = prng(seed);
  }
  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (this.random() < this.rate) {
      this.lostOut++;
      return;
    }
    this.inner.send(packet, length, remote);
  }
  onPacket(cb: PacketHandler): void {
    this.inner.onPacket((p, n, r) => {
      if (this.random() < this.rate) {
        this.lostIn++;
        return;
      }
      cb(p, n, r);
    });
  }
  close(): void {
    this.inner.close();
  }
}

async function until(what: string, cond: () => boolean, ms: number, explain: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}. ${explain()}`);
    await sleep(20);
  }
}

describe.skipIf(!haveUsrsctp('echo_server'))('loss between our association and usrsctp', () => {
  it('3 % loss each way: every message echoed exactly once, in order per stream, retransmissions on both sides', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const lossy = new Lossy(udp, 0.03, Number(process.env.LOSS_SEED ?? 20261123));
    // RTO.Min 200 ms on our side keeps the test short; usrsctp keeps its own (1 s)
    const ep = new SctpEndpoint({ lower: lossy, rtoInitial: 500, rtoMin: 200 });
    endpoints.push(ep);
    const server = await startUsrsctpServer('echo_server', { remoteUdpPort: udp.local.udpPort });
    // the handshake goes through the loss too (T1-init / T1-cookie retransmit what is lost)
    const a = await ep.connect({ remote: { address: '127.0.0.1', udpPort: server.udpPort }, remotePort: ECHO_PORT, outboundStreams: 3 });
    const got: { stream: number; data: Uint8Array }[] = [];
    a.on('message', (data, info) => got.push({ stream: info.stream, data }));

    const N = 150;
    const sent: { stream: number; data: Uint8Array }[] = [];
    for (let i = 0; i < N; i++) {
      const size = 20 + ((i * 613) % 3000); // a third of them fragmented at the default MTU
      const data = new Uint8Array(size);
      for (let j = 0; j < size; j++) data[j] = (i * 17 + j) & 0xff;
      new DataView(data.buffer).setUint32(0, i);
      sent.push({ stream: i % 3, data });
      a.send(data, { stream: i % 3 });
    }
    await until(`${N} echoes`, () => got.length >= N, 60_000, () => `got ${got.length}; ${JSON.stringify(a.stats())}; lost ${lossy.lostOut} out / ${lossy.lostIn} in`);
    await sleep(500);
    expect(got.length).toBe(N); // nothing twice
    for (const stream of [0, 1, 2]) {
      const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');
      expect(got.filter((g) => g.stream === stream).map((g) => hex(g.data))).toEqual(sent.filter((m) => m.stream === stream).map((m) => hex(m.data)));
    }
    // the loss was real and both sides repaired it
    expect(lossy.lostOut).toBeGreaterThan(0);
    expect(lossy.lostIn).toBeGreaterThan(0);
    const s = a.stats();
    expect(s.retransmissions).toBeGreaterThan(0);
    expect(s.abandonedMessages).toBe(0);
    // usrsctp got each message once, per stream in SSN order with our sizes
    const printed = [...server.output().matchAll(/Msg of length (\d+) received from \S+ on stream (\d+) with SSN (\d+) .*complete 1\./g)];
    expect(printed).toHaveLength(N);
    for (const stream of [0, 1, 2]) {
      const mine = printed.filter((m) => Number(m[2]) === stream);
      expect(mine.map((m) => Number(m[3]))).toEqual(mine.map((_, k) => k));
      expect(mine.map((m) => Number(m[1]))).toEqual(sent.filter((m) => m.stream === stream).map((m) => m.data.length));
    }
    await until('all acknowledged', () => a.stats().flightSize === 0, 10_000);
  }, 90_000);
});
