// Our SCTP association (SctpEndpoint over RFC 6951 UDP encapsulation) against an independent stack:
// usrsctp's example programs (Debian libusrsctp-examples), on loopback.
//
// - echo_server over IPv6 (::1) as well.
// - echo_server: messages of many sizes on several streams, ordered and unordered, come back byte
//   for byte, each stream in order. Our 1,280-octet path MTU fragments the big ones on the way out;
//   usrsctp fragments its echoes at ~1,424 octets, so both reassemblies are exercised.
//   Quirk (seen in its output and on the wire): echo_server reads 10,240 octets at a time and echoes
//   only the piece that completes a message, so a longer message would come back as its tail. The
//   sizes here stop at 10,240.
// - discard_server: N messages all acknowledged (nothing in flight, nothing abandoned), usrsctp
//   printed each one complete with its length, stream and SSN in order, then a graceful SHUTDOWN.
// - 10,000 1,400-octet messages to discard_server, which reads slowly (it logs every read): its
//   window closes and opens again, each message arrives once, SSNs in order.
// - usrsctp killed mid-association: ours reports COMM_LOST ('comm-lost') within the bound that
//   Association.Max.Retrans and RTO.Max give, with data outstanding and while idle (heartbeats).
// - usrsctp not running yet: connect() gives up with init-failed after Max.Init.Retransmits, then
//   succeeds once it runs.
// - usrsctp's client connects to our listening endpoint; we echo; it shuts down.

import { afterAll, describe, expect, it } from 'vitest';
import { ChunkType, ParameterType, SctpEndpoint, decodePacket, type EndpointOptions, type LowerLayer, type PacketHandler, type Remote, type SctpAssociation } from '../../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { freeUdpPort, sleep } from '../../helpers/tools.js';
import { ECHO_PORT, DISCARD_PORT, haveUsrsctp, killAllUsrsctp, probeUsrsctp, startUsrsctpClient, startUsrsctpServer } from '../../helpers/usrsctp.js';
import { until } from '../../helpers/wait-for.js';

const LOOPBACK = '127.0.0.1';

const endpoints: SctpEndpoint[] = [];
afterAll(async () => {
  for (const ep of endpoints) ep.close();
  await killAllUsrsctp();
});

/** Our endpoint on a fresh ephemeral UDP encapsulation port. */
async function ourEndpoint(opts: Partial<EndpointOptions> = {}): Promise<{ ep: SctpEndpoint; udpPort: number }> {
  const udp = await openUdpEncapsulation({ port: 0, address: LOOPBACK });
  const ep = new SctpEndpoint({ lower: udp, ...opts });
  endpoints.push(ep);
  return { ep, udpPort: udp.local.udpPort };
}

interface Received {
  data: Uint8Array;
  stream: number;
  ppid: number;
  ordered: boolean;
}

function record(a: SctpAssociation): Received[] {
  const got: Received[] = [];
  a.on('message', (data, info) => got.push({ data, stream: info.stream, ppid: info.ppid, ordered: info.ordered }));
  return got;
}

/** A lower layer that notes where every packet goes and keeps what arrives, passing all through. */
class Recorder implements LowerLayer {
  readonly sentTo = new Set<string>();
  readonly received: Uint8Array[] = [];
  constructor(private readonly inner: LowerLayer) {}
  send(packet: Uint8Array, length: number, remote: Remote): void {
    this.sentTo.add(`${remote.address}:${remote.udpPort}`);
    this.inner.send(packet, length, remote);
  }
  onPacket(cb: PacketHandler): void {
    this.inner.onPacket((p, n, r) => {
      this.received.push(p.slice(0, n));
      cb(p, n, r);
    });
  }
  close(): void {
    this.inner.close();
  }
}

/** Message `i` of `size` octets: its index in the first 4 octets, then a pattern that differs per message. */
function message(i: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let j = 0; j < size; j++) m[j] = (i * 131 + j * 7 + (j >> 8)) & 0xff;
  if (size >= 4) new DataView(m.buffer).setUint32(0, i);
  return m;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe.skipIf(!haveUsrsctp('echo_server', 'discard_server', 'client'))('our SCTP association with usrsctp over UDP encapsulation', () => {
  it('echo_server returns every message byte for byte, per stream in order (fragmentation and reassembly both ways)', async () => {
    const { ep, udpPort } = await ourEndpoint(); // default path MTU 1,280
    const server = await startUsrsctpServer('echo_server', { remoteUdpPort: udpPort });
    const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: ECHO_PORT, outboundStreams: 4 });
    expect(a.state).toBe('ESTABLISHED');
    expect(a.remotePort).toBe(ECHO_PORT);
    expect(a.remote.udpPort).toBe(server.udpPort);
    // usrsctp's MIS is 2,048 and its OS follows our MIS: OS = 4 asked for, inbound = its OS (≤ 10)
    expect(a.outboundStreams).toBe(4);
    expect(a.inboundStreams).toBeGreaterThanOrEqual(4);
    const got = record(a);

    const sizes = [1, 4, 100, 1000, 1200, 1252, 1300, 2900, 5000, 8191, 10240];
    const sent: { data: Uint8Array; stream: number; ppid: number; ordered: boolean }[] = [];
    for (let i = 0; i < 44; i++) {
      const stream = i % 4;
      // stream 3 carries unordered messages (U bit), the others ordered ones
      const m = { data: message(i, sizes[i % sizes.length]!), stream, ppid: 1000 + i, ordered: stream !== 3 };
      sent.push(m);
      a.send(m.data, { stream: m.stream, ppid: m.ppid, ordered: m.ordered });
    }
    await until('44 echoes', () => got.length >= sent.length, 20_000, () => `got ${got.length}; stats ${JSON.stringify(a.stats())}; usrsctp: ${server.output().slice(-2000)}`);
    await sleep(100);
    expect(got.length).toBe(sent.length); // nothing extra

    // each echo comes back on its stream with its PPID and ordering flag, content intact
    const byIndex = new Map(got.filter((g) => g.data.length >= 4).map((g) => [new DataView(g.data.buffer, g.data.byteOffset).getUint32(0), g]));
    for (const [i, m] of sent.entries()) {
      if (m.data.length < 4) continue;
      const e = byIndex.get(i);
      expect(e, `echo of message ${i}`).toBeDefined();
      expect(e!.stream).toBe(m.stream);
      expect(e!.ppid).toBe(m.ppid);
      expect(e!.ordered).toBe(m.ordered);
      expect(e!.data.length).toBe(m.data.length);
      expect(hex(e!.data)).toBe(hex(m.data));
    }
    // ordered streams: exactly the sent sequence, in order (the 1-octet message included)
    for (const stream of [0, 1, 2]) {
      expect(got.filter((g) => g.stream === stream).map((g) => hex(g.data))).toEqual(sent.filter((m) => m.stream === stream).map((m) => hex(m.data)));
    }
    // the unordered stream: the same messages, any order
    expect(got.filter((g) => g.stream === 3).map((g) => hex(g.data)).sort()).toEqual(sent.filter((m) => m.stream === 3).map((m) => hex(m.data)).sort());

    const s = a.stats();
    expect(s.messagesSent).toBe(sent.length);
    expect(s.messagesReceived).toBe(sent.length);
    expect(s.bytesSent).toBe(sent.reduce((n, m) => n + m.data.length, 0));
    expect(s.bytesReceived).toBe(s.bytesSent);
    await until('all acknowledged', () => a.stats().flightSize === 0, 5000);
    await a.shutdown();
    expect(a.state).toBe('CLOSED');
  }, 40_000);

  it('echo_server over IPv6 (::1): messages in and out, usrsctp sees our IPv6 address and port', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '::1' });
    const ep = new SctpEndpoint({ lower: udp });
    endpoints.push(ep);
    const server = await startUsrsctpServer('echo_server', { remoteUdpPort: udp.local.udpPort });
    const a = await ep.connect({ remote: { address: '::1', udpPort: server.udpPort }, remotePort: ECHO_PORT, outboundStreams: 2 });
    expect(a.remote.address).toBe('::1');
    const got = record(a);
    const sent = [message(1, 9), message(2, 1500), message(3, 5000), message(4, 64)];
    sent.forEach((m, i) => a.send(m, { stream: i % 2 }));
    await until('4 echoes over IPv6', () => got.length === sent.length, 10_000, () => server.output().slice(-2000));
    for (const stream of [0, 1]) {
      expect(got.filter((g) => g.stream === stream).map((g) => hex(g.data))).toEqual(sent.filter((_, i) => i % 2 === stream).map(hex));
    }
    const from = [...server.output().matchAll(/Msg of length (\d+) received from (\S+) on stream/g)].map((m) => [Number(m[1]), m[2]]);
    expect(from).toEqual(sent.map((m) => [m.length, `::1:${a.localPort}`]));
    await a.shutdown();
  }, 30_000);

  it('discard_server: N messages all acknowledged, printed by usrsctp complete and in order, then a graceful SHUTDOWN', async () => {
    const { ep, udpPort } = await ourEndpoint();
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udpPort });
    const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 3 });
    let down: string | undefined;
    a.on('down', (reason) => (down = reason));
    const N = 300;
    const sizes: number[][] = [[], [], []];
    let queued = 0;
    const pump = () => {
      while (queued < N) {
        const size = 1 + ((queued * 397) % 4000);
        const stream = queued % 3;
        sizes[stream]!.push(size);
        const more = a.send(message(queued, size), { stream });
        queued++;
        if (!more) return; // backpressure: 'drain' resumes
      }
    };
    a.on('drain', pump);
    pump();
    await until(`${N} messages queued`, () => queued === N, 20_000);
    await until('everything acknowledged', () => {
      const s = a.stats();
      return s.flightSize === 0 && s.bufferedAmount === 0 && s.messagesSent === N;
    }, 30_000, () => JSON.stringify(a.stats()));
    const s = a.stats();
    expect(s.abandonedMessages).toBe(0);
    expect(s.messagesSent).toBe(N);

    // usrsctp's own account: one complete message per send, per stream with SSNs 0, 1, 2, ... and our sizes
    const complete = /Msg of length (\d+) received from \S+ on stream (\d+) with SSN (\d+) and TSN \d+, PPID \d+, context \d+, complete 1\./g;
    await until(`usrsctp printing ${N} messages`, () => (server.output().match(complete) ?? []).length >= N, 10_000);
    const printed = [...server.output().matchAll(complete)];
    expect(printed).toHaveLength(N);
    for (const stream of [0, 1, 2]) {
      const mine = printed.filter((m) => Number(m[2]) === stream);
      expect(mine.map((m) => Number(m[3]))).toEqual(mine.map((_, k) => k));
      expect(mine.map((m) => Number(m[1]))).toEqual(sizes[stream]);
    }

    await a.shutdown();
    expect(a.state).toBe('CLOSED');
    expect(down).toBe('shutdown');
  }, 60_000);

  it('10,000 messages to a slow usrsctp (it logs every read): its window closes, we wait for it, it gets each once in order', async () => {
    const { ep, udpPort } = await ourEndpoint({ mtu: 1452 });
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udpPort });
    const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 1 });
    const N = 10_000;
    let queued = 0;
    let lowestPeerRwnd = Infinity;
    const pump = () => {
      while (queued < N) {
        const more = a.send(message(queued, 1400), { stream: 0 });
        queued++;
        if (!more) return;
      }
    };
    a.on('drain', pump);
    pump();
    await until('all acknowledged', () => {
      const s = a.stats();
      lowestPeerRwnd = Math.min(lowestPeerRwnd, s.peerRwnd);
      return queued === N && s.flightSize === 0 && s.bufferedAmount === 0;
    }, 60_000, () => JSON.stringify(a.stats()));
    const s = a.stats();
    expect(s.messagesSent).toBe(N);
    expect(s.abandonedMessages).toBe(0);
    // usrsctp's 128 KiB window filled at least once (it reads slower than we send)
    expect(lowestPeerRwnd).toBeLessThan(1452);
    // acknowledged is not yet read: usrsctp's application catches up on its own time
    const read = /Msg of length 1400 received from \S+ on stream 0 with SSN (\d+) .*complete 1\./g;
    await until('usrsctp reading all', () => (server.output().match(read) ?? []).length >= N, 20_000);
    const ssns = [...server.output().matchAll(read)].map((m) => Number(m[1]));
    expect(ssns).toHaveLength(N);
    expect(ssns.every((ssn, k) => ssn === k)).toBe(true);
    await a.shutdown();
  }, 90_000);

  // RFC 9260 §8.1: each T3-rtx expiry (and each unanswered HEARTBEAT) counts one error; above
  // Association.Max.Retrans the peer is unreachable. With RTO doubling up to RTO.Max, the worst case
  // with data outstanding is (AMR + 1) × RTO.Max; idle, each error takes up to HB.interval + RTO
  // (RTO.Max at worst, plus the ±50 % RTO jitter §8.3 allows on the heartbeat timer).
  const faultOptions = { rtoInitial: 200, rtoMin: 100, rtoMax: 400, associationMaxRetrans: 3, pathMaxRetrans: 3, heartbeatInterval: 300 };
  const AMR = faultOptions.associationMaxRetrans;
  /** Event-loop slack on a shared, busy 2-core machine. */
  const SLACK = 1500;

  for (const mode of ['data outstanding', 'idle'] as const) {
    it(`usrsctp killed mid-association (${mode}): 'comm-lost' within the bound from the options`, async () => {
      const { ep, udpPort } = await ourEndpoint(faultOptions);
      const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udpPort });
      const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 1 });
      a.send(message(1, 500), { stream: 0 });
      await until('first message acknowledged', () => a.stats().flightSize === 0, 5000);
      let downAt = 0;
      let reason: string | undefined;
      a.on('down', (r) => {
        reason = r;
        downAt = Date.now();
      });

      await server.kill('SIGKILL');
      const killedAt = Date.now();
      if (mode === 'data outstanding') a.send(message(2, 3000), { stream: 0 });
      const bound = mode === 'data outstanding' ? (AMR + 1) * faultOptions.rtoMax : (AMR + 1) * (faultOptions.heartbeatInterval + 1.5 * faultOptions.rtoMax);
      await until("'down'", () => reason !== undefined, bound + SLACK + 2000, () => JSON.stringify(a.stats()));
      expect(reason).toBe('comm-lost');
      const elapsed = downAt - killedAt;
      expect(elapsed).toBeLessThanOrEqual(bound + SLACK);
      // not before AMR + 1 errors could have been counted: at least AMR + 1 RTOs of at least RTO.Min
      expect(elapsed).toBeGreaterThanOrEqual((AMR + 1) * faultOptions.rtoMin - 50);
      expect(a.state).toBe('CLOSED');
      if (mode === 'data outstanding') expect(a.stats().t3Expiries).toBeGreaterThanOrEqual(1);
      expect(() => a.send(message(3, 10), { stream: 0 })).toThrow();
    }, 30_000);
  }

  it('usrsctp not there yet: connect() fails with init-failed after Max.Init.Retransmits; once it runs, connect() succeeds', async () => {
    // T1-init starts at RTO.Initial and doubles up to RTO.Max (§5.1, §6.3.3); after Max.Init.Retransmits
    // retransmissions unanswered the attempt ends: here 100 + 200 + 400 + 400 ms
    const opts = { rtoInitial: 100, rtoMin: 100, rtoMax: 400, maxInitRetransmits: 3 };
    let expected = 0;
    for (let k = 0; k <= opts.maxInitRetransmits; k++) expected += Math.min(opts.rtoInitial * 2 ** k, opts.rtoMax);
    const { ep, udpPort } = await ourEndpoint(opts);
    const serverUdp = await freeUdpPort(); // nobody there: ICMP port unreachable, counted, never thrown
    const t0 = Date.now();
    const failure = await ep.connect({ remote: { address: LOOPBACK, udpPort: serverUdp }, remotePort: DISCARD_PORT }).then(
      () => null,
      (e: unknown) => e as { code?: string; message: string },
    );
    const elapsed = Date.now() - t0;
    expect(failure?.code).toBe('init-failed');
    expect(elapsed).toBeGreaterThanOrEqual(expected - 50);
    expect(elapsed).toBeLessThanOrEqual(expected + 1500);

    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udpPort, udpPort: serverUdp });
    const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: DISCARD_PORT });
    a.send(message(5, 321), { stream: 0 });
    await server.waitForOutput('Msg of length 321 received');
    await a.shutdown();
  }, 30_000);

  it("usrsctp's client connects to our listening endpoint, we echo its messages, it shuts down", async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: LOOPBACK });
    const udpPort = udp.local.udpPort;
    const recorder = new Recorder(udp);
    const ep = new SctpEndpoint({ lower: recorder });
    endpoints.push(ep);
    const ourPort = 4739;
    const received: Received[] = [];
    let association: SctpAssociation | undefined;
    let down: string | undefined;
    ep.listen(ourPort, (a) => {
      association = a;
      a.on('message', (data, info) => {
        received.push({ data, ...info });
        a.send(data, { stream: info.stream, ppid: info.ppid, ordered: info.ordered });
      });
      a.on('down', (r) => (down = r));
    });
    // client sends each line as one message (fgets into an 80-octet buffer: lines stay shorter)
    const lines = ['IPFIX over SCTP\n', 'a second, longer line of text\n', `${'x'.repeat(70)}\n`, 'last\n'];
    const clientUdp = await freeUdpPort();
    const client = await startUsrsctpClient({ remoteAddress: LOOPBACK, remotePort: ourPort, remoteUdpPort: udpPort, udpPort: clientUdp, input: lines.join('') });
    const exit = await Promise.race([client.exited, sleep(20_000).then(() => null)]);
    expect(exit, `client did not finish; it printed:\n${client.output().slice(-3000)}`).not.toBeNull();
    expect(exit!.code).toBe(0);

    expect(received.map((r) => Buffer.from(r.data).toString())).toEqual(lines);
    expect(received.every((r) => r.stream === 0 && r.ordered)).toBe(true);
    const out = client.output();
    // the client prints what it receives: our echoes, in order
    const userLines = out.split('\n').filter((l) => !l.startsWith('[S]'));
    const echoed = lines.map((l) => l.trimEnd());
    let at = 0;
    for (const l of userLines) if (l === echoed[at]) at++;
    expect(at, `client output:\n${userLines.join('\n')}`).toBe(echoed.length);
    const up = /SCTP_COMM_UP, streams \(in\/out\) = \((\d+)\/(\d+)\)/.exec(out);
    expect(up).not.toBeNull();
    expect(Number(up![1])).toBe(association!.outboundStreams);
    expect(Number(up![2])).toBe(association!.inboundStreams);
    expect(out).toContain('SCTP_SHUTDOWN_COMP');
    await until("our side's 'down'", () => down !== undefined, 5000);
    expect(down).toBe('shutdown');
    expect(association!.state).toBe('CLOSED');

    // usrsctp's INIT lists every address of this host; we are single-homed (docs/sctp.md, known
    // limits) and talk only to the address and UDP port the association came from
    const init = recorder.received.map((p) => decodePacket(p)).flatMap((r) => (r.ok ? r.value.chunks : [])).find((c) => c.type === ChunkType.INIT);
    expect(init).toBeDefined();
    const listed = init!.type === ChunkType.INIT ? init!.params.filter((p) => p.type === ParameterType.IPV4_ADDRESS || p.type === ParameterType.IPV6_ADDRESS) : [];
    expect(listed.length).toBeGreaterThan(1);
    expect([...recorder.sentTo]).toEqual([`${LOOPBACK}:${clientUdp}`]);
  }, 40_000);

  it('stream counts: OS is capped by usrsctp\'s MIS, inbound by our MIS; the last stream works, one more is refused', async () => {
    const { ep, udpPort } = await ourEndpoint();
    const server = await startUsrsctpServer('discard_server', { remoteUdpPort: udpPort });
    const usrsctpMis = (await probeUsrsctp(server.udpPort, DISCARD_PORT)).inboundStreams;
    expect(usrsctpMis).toBeGreaterThan(2);
    expect(usrsctpMis).toBeLessThan(65535);
    const a = await ep.connect({ remote: { address: LOOPBACK, udpPort: server.udpPort }, remotePort: DISCARD_PORT, outboundStreams: 65535, maxInboundStreams: 3 });
    expect(a.outboundStreams).toBe(usrsctpMis); // min(our OS 65535, its MIS)
    expect(a.inboundStreams).toBeLessThanOrEqual(3); // min(its OS, our MIS 3)
    const last = usrsctpMis - 1;
    a.send(message(7, 77), { stream: last });
    expect(() => a.send(message(8, 88), { stream: usrsctpMis })).toThrow(RangeError);
    await server.waitForOutput(`Msg of length 77 received from ::ffff:127.0.0.1:${a.localPort} on stream ${last} with SSN 0 `);
    await a.shutdown();
  }, 30_000);
});
