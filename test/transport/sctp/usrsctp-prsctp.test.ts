// PR-SCTP (RFC 3758) against usrsctp: timed messages that cannot get through in time are abandoned
// and skipped with FORWARD TSN, and usrsctp must accept the skip. Our lower layer is wrapped in a
// gate that, while shut, loses every packet we send (a link outage); three ordered messages with a
// 100 ms lifetime are sent during the outage. After it, our association has abandoned them; the
// FORWARD TSN moves usrsctp's cumulative TSN past them (its SACKs bring our flight size to 0) and
// tells it stream 0's SSNs 1–3 are gone, so the reliable message sent next (SSN 4) is delivered in
// order instead of waiting forever for SSN 1. usrsctp's log shows exactly that: SSN 0, then SSN 4.

import { afterAll, describe, expect, it } from 'vitest';
import { type LowerLayer, type PacketHandler, type Remote, SctpEndpoint } from '../../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { sleep } from '../../helpers/tools.js';
import { DISCARD_PORT, haveUsrsctp, killAllUsrsctp, startUsrsctpServer } from '../../helpers/usrsctp.js';

const endpoints: SctpEndpoint[] = [];
afterAll(async () => {
  for (const ep of endpoints) ep.close();
  await killAllUsrsctp();
});

/** A lower layer that loses everything sent while `open` is false. */
class Gate implements LowerLayer {
  open = true;
  lost = 0;
  constructor(private readonly inner: LowerLayer) {}
  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (!this.open) {
      this.lost++;
      return;
    }
    this.inner.send(packet, length, remote);
  }
  onPacket(cb: PacketHandler): void {
    this.inner.onPacket(cb);
  }
  close(): void {
    this.inner.close();
  }
}

async function until(what: string, cond: () => boolean, ms: number, explain: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}. ${explain()}`);
    await sleep(10);
  }
}

describe.skipIf(!haveUsrsctp('discard_server'))('PR-SCTP with usrsctp', () => {
  it('abandoned timed messages are skipped by FORWARD TSN, which usrsctp accepts: the next ordered message is delivered', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const gate = new Gate(udp);
    const ep = new SctpEndpoint({ lower: gate, rtoInitial: 200, rtoMin: 200, rtoMax: 400 });
    endpoints.push(ep);
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udp.local.udpPort });
    const a = await ep.connect({ remote: { address: '127.0.0.1', udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 1 });
    let abandonedEvents = 0;
    a.on('abandoned', (n) => (abandonedEvents += n));

    // distinct lengths so usrsctp's log says which message it got
    const reliableBefore = new Uint8Array(111);
    const timed = [new Uint8Array(222), new Uint8Array(333), new Uint8Array(444)];
    const reliableAfter = new Uint8Array(555);

    a.send(reliableBefore, { stream: 0 });
    await until('the first message acknowledged', () => a.stats().flightSize === 0 && a.stats().messagesSent === 1, 5000);

    gate.open = false; // outage
    for (const m of timed) a.send(m, { stream: 0, ttl: 100 });
    await sleep(600); // past the lifetime and at least one T3-rtx expiry
    gate.open = true;
    a.send(reliableAfter, { stream: 0 });

    await until('everything acknowledged or skipped', () => {
      const s = a.stats();
      return s.flightSize === 0 && s.bufferedAmount === 0 && s.abandonedMessages === 3;
    }, 10_000, () => JSON.stringify(a.stats()));
    expect(gate.lost).toBeGreaterThan(0);
    expect(abandonedEvents).toBe(3);

    const line = /Msg of length (\d+) received from \S+ on stream 0 with SSN (\d+) /g;
    await until('usrsctp printing the message after the gap', () => server.output().includes('Msg of length 555 '), 5000, () => server.output().slice(-3000));
    const got = [...server.output().matchAll(line)].map((m) => [Number(m[1]), Number(m[2])]);
    // the abandoned ones never reached it (the first transmissions were lost, nothing was retransmitted in time)
    expect(got).toEqual([
      [111, 0],
      [555, 4],
    ]);
    await a.shutdown();
    expect(a.state).toBe('CLOSED');
  }, 30_000);
});
