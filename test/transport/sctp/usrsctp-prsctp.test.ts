// PR-SCTP (RFC 3758) against usrsctp.
//
// 1. Timed messages that cannot get through in time are abandoned and skipped with FORWARD TSN, and
//    usrsctp must accept the skip. Our lower layer is wrapped in a gate that, while shut, loses every
//    packet we send (a link outage); three ordered messages with a 100 ms lifetime are sent during the
//    outage. After it, our association has abandoned them; the FORWARD TSN moves usrsctp's cumulative
//    TSN past them (its SACKs bring our flight size to 0) and tells it stream 0's SSNs 1–3 are gone,
//    so the reliable message sent next (SSN 4) is delivered in order instead of waiting forever for
//    SSN 1. usrsctp's log shows exactly that: SSN 0, then SSN 4. The association is captured on lo
//    and tshark reads the FORWARD TSN: CRC32c good, New Cumulative TSN just below the message sent
//    after the outage, stream 0 SSN 3; usrsctp's next SACK jumps its cumulative ack over the three
//    TSNs it never saw.
// 2. 1,000 messages under 5 % loss each way, half of them with a 30 ms lifetime, checked against
//    usrsctp's log: every reliable one arrives, none twice, each stream in order.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LowerLayer, type PacketHandler, type Remote, SctpEndpoint } from '../../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { prng } from '../../mapping/harness.js';
import { requireOrSkip, run, sleep, tempDir } from '../../helpers/tools.js';
import { DISCARD_PORT, canCaptureLoopback, captureLoopback, haveUsrsctp, killAllUsrsctp, startUsrsctpServer } from '../../helpers/usrsctp.js';
import { until } from '../../helpers/wait-for.js';

const tmp = tempDir('sctp-prsctp-');
const endpoints: SctpEndpoint[] = [];
afterAll(async () => {
  for (const ep of endpoints) ep.close();
  await killAllUsrsctp();
  tmp.cleanup();
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

/** Loses a seeded share of the packets each way. */
class Lossy implements LowerLayer {
  private readonly random: () => number;
  constructor(
    private readonly inner: LowerLayer,
    private readonly rate: number,
    seed: number,
  ) {
    this.random = prng(seed);
  }
  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (this.random() >= this.rate) this.inner.send(packet, length, remote);
  }
  onPacket(cb: PacketHandler): void {
    this.inner.onPacket((p, n, r) => {
      if (this.random() >= this.rate) cb(p, n, r);
    });
  }
  close(): void {
    this.inner.close();
  }
}

describe.skipIf(!haveUsrsctp('discard_server') || !requireOrSkip('dumpcap', 'tshark') || !canCaptureLoopback())('PR-SCTP with usrsctp', () => {
  it('abandoned timed messages are skipped by FORWARD TSN, which usrsctp accepts: the next ordered message is delivered', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const gate = new Gate(udp);
    const ep = new SctpEndpoint({ lower: gate, rtoInitial: 200, rtoMin: 200, rtoMax: 400 });
    endpoints.push(ep);
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udp.local.udpPort });
    const pcap = join(tmp.dir, 'prsctp.pcapng');
    const capture = await captureLoopback(pcap, [server.udpPort]);
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
    await capture.stop();

    // the wire: absolute TSNs; our DATA (the timed ones never left: the gate ate them), our FORWARD TSN, usrsctp's SACKs
    const fields = ['udp.srcport', 'sctp.checksum.status', 'sctp.chunk_type', 'sctp.data_tsn_raw', 'sctp.data_ssn', 'sctp.forward_tsn_tsn', 'sctp.forward_tsn_sid', 'sctp.forward_tsn_ssn', 'sctp.sack_cumulative_tsn_ack_raw'];
    const r = await run('tshark', ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-o', 'sctp.relative_tsns:FALSE', '-d', `udp.port==${server.udpPort},sctp`, '-Y', 'sctp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.filter((row) => row[1] !== '1')).toEqual([]); // CRC32c good everywhere
    const ours = rows.filter((row) => Number(row[0]) === udp.local.udpPort);
    // (a DATA may show twice: retransmitted when T3-rtx beat a SACK on a loaded machine)
    const dataTsns = [...new Set(ours.flatMap((row) => (row[3] ? row[3].split(',').map(Number) : [])))];
    const dataSsns = [...new Set(ours.flatMap((row) => (row[4] ? row[4].split(',').map(Number) : [])))];
    expect(dataSsns).toEqual([0, 4]); // 111 octets at SSN 0, 555 at SSN 4: the timed ones never made it out
    const [before, after] = dataTsns as [number, number];
    expect(after).toBe((before + 4) >>> 0);
    const forward = ours.filter((row) => row[2]!.split(',').includes('192'));
    expect(forward.length).toBeGreaterThanOrEqual(1);
    for (const row of forward) {
      expect(Number(row[5])).toBe((before + 3) >>> 0); // New Cumulative TSN: the last abandoned one
      expect(row[6]).toBe('0');
      expect(row[7]).toBe('3'); // stream 0 skips up to SSN 3
    }
    const acks = rows.filter((row) => Number(row[0]) === server.udpPort).flatMap((row) => (row[8] ? row[8].split(',').map(Number) : []));
    // usrsctp's cumulative ack goes from the first message straight to the one after the outage, over
    // three TSNs it never received. Seen on the wire: the DATA after the outage goes first and usrsctp
    // SACKs it still at `before` (holding it in a gap); that SACK shows us the peer is behind our
    // Advanced.Peer.Ack.Point, so we send FORWARD TSN (RFC 3758 §3.5 C4), and the next SACK is at `after`
    // (had a FORWARD TSN gone out first, the SACK after it would be at before + 3: allowed too)
    const skipped = (before + 3) >>> 0;
    expect(acks.filter((x) => x !== before && x !== skipped && x !== after)).toEqual([]);
    expect(acks.at(-1)).toBe(after);
    // after our first FORWARD TSN, usrsctp acknowledges past the skipped TSNs (a SACK of its already on
    // the way may still say `before`)
    const firstForward = rows.indexOf(forward[0]!);
    const acksAfterForward = rows.slice(firstForward).filter((row) => Number(row[0]) === server.udpPort && row[8]).map((row) => Number(row[8]));
    expect(acksAfterForward.some((x) => x === skipped || x === after)).toBe(true);
  }, 30_000);
  it('under 5 % loss each way, half the messages timed (30 ms): every reliable one arrives once and in order, usrsctp never stalls on a skipped SSN', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const ep = new SctpEndpoint({ lower: new Lossy(udp, 0.05, 31), rtoInitial: 500, rtoMin: 200 });
    endpoints.push(ep);
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udp.local.udpPort });
    const a = await ep.connect({ remote: { address: '127.0.0.1', udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 4 });
    let abandonedEvents = 0;
    a.on('abandoned', (n) => (abandonedEvents += n));
    // message q: 100 + q octets (its name in usrsctp's log), stream q % 4, odd ones with a 30 ms lifetime
    const N = 1000;
    const timed = (size: number) => (size - 100) % 2 === 1;
    let queued = 0;
    const pump = () => {
      while (queued < N) {
        const more = a.send(new Uint8Array(100 + queued), { stream: queued % 4, ttl: queued % 2 === 1 ? 30 : 0 });
        queued++;
        if (!more) return;
      }
    };
    a.on('drain', pump);
    pump();
    await until('everything acknowledged or abandoned', () => {
      const s = a.stats();
      return queued === N && s.flightSize === 0 && s.bufferedAmount === 0;
    }, 60_000, () => JSON.stringify(a.stats()));
    // acknowledged is not yet read: wait for usrsctp's application to print every reliable message,
    // then for its output to stay quiet (timed ones that did arrive are read too)
    const line = /Msg of length (\d+) received from \S+ on stream (\d+) with SSN (\d+) .*complete 1\./g;
    const printedSizes = () => new Set([...server.output().matchAll(line)].map((m) => Number(m[1])));
    await until('usrsctp printing every reliable message', () => {
      const got = printedSizes();
      for (let q = 0; q < N; q += 2) if (!got.has(100 + q)) return false;
      return true;
    }, 20_000);
    for (let before = -1, t0 = Date.now(); Date.now() - t0 < 10_000; ) {
      const now = server.output().length;
      if (now === before) break;
      before = now;
      await sleep(500);
    }

    const printed = [...server.output().matchAll(line)].map((m) => ({ size: Number(m[1]), stream: Number(m[2]), ssn: Number(m[3]) }));
    const delivered = new Set(printed.map((p) => p.size));
    expect(printed.length).toBe(delivered.size); // none twice
    const all = Array.from({ length: N }, (_, q) => 100 + q);
    const missing = all.filter((size) => !delivered.has(size));
    // every reliable message arrived: no ordered stream was left waiting for an SSN we skipped
    expect(missing.filter((size) => !timed(size))).toEqual([]);
    // what never arrived was given up by us; a message can also be given up after it did arrive
    // (its SACK lost, its lifetime over), so abandoned ≥ missing
    const s = a.stats();
    expect(missing.length).toBeGreaterThan(0);
    expect(s.abandonedMessages).toBeGreaterThanOrEqual(missing.length);
    expect(abandonedEvents).toBe(s.abandonedMessages);
    // each stream in order: SSNs rising, and the messages in the order they were sent
    for (let stream = 0; stream < 4; stream++) {
      const mine = printed.filter((p) => p.stream === stream);
      expect(mine.every((p, k) => k === 0 || p.ssn > mine[k - 1]!.ssn)).toBe(true);
      expect(mine.every((p, k) => k === 0 || p.size > mine[k - 1]!.size)).toBe(true);
      expect(mine.every((p) => (p.size - 100) % 4 === stream)).toBe(true);
    }
    await a.shutdown();
  }, 90_000);
});
