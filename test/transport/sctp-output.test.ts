// The sctp:// output (SctpTransport) against the project's SCTP listener, in one process, over real
// UDP sockets on loopback (RFC 6951 encapsulation). IPFIX messages are built here octet by octet:
//
//   message header  00 0a LLLL  TTTTTTTT (export time)  SSSSSSSS (sequence)  OOOOOOOO (ODID)
//   Template Set    00 02 00 10  01 00 00 02  00 08 00 04  00 01 00 08
//                   (template 256: sourceIPv4Address 4 octets, octetDeltaCount 8 octets)
//   Data Set        01 00 LLLL  then 12-octet records
//
// What is checked: the stream of every message is its ODID mod the negotiated outbound streams;
// messages with a Template Set are never abandoned while Data-only messages may be (PR-SCTP ttl);
// every association is a new Transport Session (onSession); a collector that aborts, or vanishes,
// is noticed and reconnected to with backoff.

import { afterEach, describe, expect, it } from 'vitest';
import { SctpTransport, onlyDataSets, streamOf } from '../../src/transport/sctp-transport.js';
import { SctpListener } from '../../src/transport/sctp-listener.js';
import { parseSctpUrl, type SctpUrl } from '../../src/transport/sctp-options.js';
import { reconnects, sctpAbandoned, sctpRetransmissions } from '../../src/observe/metrics.js';
import { lossyRelay, until, type LossyRelay } from '../helpers/sctp.js';
import { ipfixMessage as message } from '../helpers/ipfix-message.js';

const TEMPLATE_SET = Buffer.from('00020010010000020008000400010008', 'hex');
function dataSet(records: number, seed: number): Buffer {
  const b = Buffer.alloc(4 + 12 * records);
  b.writeUInt16BE(256, 0);
  b.writeUInt16BE(b.length, 2);
  for (let i = 0; i < records; i++) {
    b.writeUInt32BE(0x0a000000 + seed * 1000 + i, 4 + 12 * i); // 10.x.y.z
    b.writeBigUInt64BE(BigInt(seed * 1000 + i), 8 + 12 * i);
  }
  return b;
}
const WITHDRAWAL_SET = Buffer.from('000200080100' + '0000', 'hex'); // template 256, field count 0

interface Received {
  stream: number;
  data: Buffer;
  from: string;
}

async function metricValue(m: typeof sctpAbandoned, output: string): Promise<number> {
  return (await m.get()).values.find((v) => v.labels.output === output)?.value ?? 0;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function collector(udpPort = 0, extra = '', host = '127.0.0.1'): Promise<{ listener: SctpListener; got: Received[]; sessions: { opened: number; closed: string[] } }> {
  const got: Received[] = [];
  const sessions = { opened: 0, closed: [] as string[] };
  const url = parseSctpUrl(`sctp://${host}:4739?encapsulation=udp&udpPort=${udpPort}${extra}`, 'listen') as SctpUrl;
  const listener = await SctpListener.open(url.at, url.options, {
    opened: () => sessions.opened++,
    message: (peer, data, stream) => got.push({ stream, data, from: `${peer.address}:${peer.port}` }),
    closed: (_peer, reason) => sessions.closed.push(reason),
  });
  cleanups.push(() => listener.close(200));
  return { listener, got, sessions };
}

function output(name: string, udpPort: number, query: string, reconnect = 0.05, host = '127.0.0.1'): { transport: SctpTransport; sessions: () => number } {
  const url = parseSctpUrl(`sctp://${host}:4739?encapsulation=udp&udpPort=${udpPort}${query}`, 'output') as SctpUrl;
  const transport = new SctpTransport(name, url.at, url.options, reconnect, 0.2, 1 << 20);
  let n = 0;
  void transport.start(() => n++);
  cleanups.push(() => transport.close());
  return { transport, sessions: () => n };
}

describe('message classification', () => {
  it('a message with a Template Set or a withdrawal is never sent with a PR-SCTP lifetime', () => {
    expect(onlyDataSets(message(1, 0, [dataSet(3, 1)]))).toBe(true);
    expect(onlyDataSets(message(1, 0, [dataSet(1, 1), dataSet(2, 2)]))).toBe(true);
    expect(onlyDataSets(message(1, 0, [TEMPLATE_SET, dataSet(3, 1)]))).toBe(false);
    expect(onlyDataSets(message(1, 0, [dataSet(3, 1), WITHDRAWAL_SET]))).toBe(false);
    // an Options Template Set (id 3)
    expect(onlyDataSets(message(1, 0, [Buffer.from('00030004', 'hex')]))).toBe(false);
    // a set length below 4 is no message we built: treated as not data-only (sent reliably)
    expect(onlyDataSets(message(1, 0, [Buffer.from('01000002', 'hex')]))).toBe(false);
  });

  it('the stream is the ODID (message octets 12-15) mod the outbound streams', () => {
    expect(streamOf(message(1, 0, []), 16)).toBe(1);
    expect(streamOf(message(16, 0, []), 16)).toBe(0);
    expect(streamOf(message(0xffffffff, 0, []), 16)).toBe(15);
    expect(streamOf(message(7, 0, []), 1)).toBe(0);
  });
});

describe('sctp:// output over UDP encapsulation on loopback', () => {
  it('sends each ODID on its own stream, whole, in order; a collector abort ends the Transport Session and a new association starts the next', async () => {
    const c = await collector();
    const { transport, sessions } = output('sctp-streams', c.listener.udpPort!, '&streams=3');
    await until(() => transport.isUp(), 10_000, 'the association');
    expect(sessions()).toBe(1);

    const sent: Buffer[] = [];
    for (const odid of [1, 2, 3]) sent.push(message(odid, 0, [TEMPLATE_SET, dataSet(2, odid)]));
    for (let i = 0; i < 30; i++) sent.push(message(1 + (i % 3), 2 + 4 * Math.floor(i / 3), [dataSet(4, 100 + i)]));
    for (const m of sent) expect(transport.send(Buffer.from(m))).toBe(true);
    await until(() => c.got.length === sent.length, 10_000, 'every message at the collector');

    // streams 3 asked, 3 granted: ODID 1 → 1, 2 → 2, 3 → 0
    for (const odid of [1, 2, 3]) {
      const mine = c.got.filter((r) => r.data.readUInt32BE(12) === odid);
      expect(new Set(mine.map((r) => r.stream))).toEqual(new Set([odid % 3]));
      // per stream in the order sent, template first, octet for octet
      expect(mine.map((r) => r.data.toString('hex'))).toEqual(sent.filter((m) => m.readUInt32BE(12) === odid).map((m) => m.toString('hex')));
    }

    // The collector goes away with an ABORT (endpoint closed without SHUTDOWN).
    await c.listener.close(0);
    await until(() => !transport.isUp(), 10_000, 'the output to see the ABORT');
    expect(transport.lastDown?.reason).toBe('abort');
    expect(transport.send(message(1, 0, [dataSet(1, 1)]))).toEqual({ reason: 'transport_down' });

    // A collector on the same UDP port again: a new association, a new Transport Session.
    const again = await collector(c.listener.udpPort!);
    await until(() => transport.isUp(), 10_000, 'the new association');
    expect(sessions()).toBe(2);
    expect(transport.associations).toBe(2);
    expect(transport.send(message(2, 0, [TEMPLATE_SET, dataSet(1, 7)]))).toBe(true);
    await until(() => again.got.length === 1, 10_000, 'the message on the new association');
    expect(again.got[0]!.stream).toBe(2);
  });

  it('IPv6: over [::1], the collector sees the exporter at ::1', async () => {
    const c = await collector(0, '', '[::1]');
    const { transport } = output('sctp-ipv6', c.listener.udpPort!, '', 0.05, '[::1]');
    await until(() => transport.isUp(), 10_000, 'the association over IPv6');
    const m = message(5, 0, [TEMPLATE_SET, dataSet(2, 5)]);
    expect(transport.send(Buffer.from(m))).toBe(true);
    await until(() => c.got.length === 1, 10_000, 'the message');
    expect(c.got[0]!.data.equals(m)).toBe(true);
    expect(c.got[0]!.stream).toBe(5);
    expect(c.got[0]!.from).toMatch(/^::1:\d+$/);
  });

  it('the collector grants fewer inbound streams than asked: ODIDs map onto the streams it granted', async () => {
    const c = await collector(0, '&streams=2');
    const { transport } = output('sctp-granted', c.listener.udpPort!, '&streams=16');
    await until(() => transport.isUp(), 10_000, 'the association');
    for (const odid of [1, 2, 3, 4]) expect(transport.send(message(odid, 0, [TEMPLATE_SET, dataSet(1, odid)]))).toBe(true);
    await until(() => c.got.length === 4, 10_000, 'four messages');
    expect(c.got.map((r) => [r.data.readUInt32BE(12), r.stream])).toEqual([
      [1, 1],
      [2, 0],
      [3, 1],
      [4, 0],
    ]);
  });

  it('backpressure: past the stack\'s high-water mark, queueLimit more octets are taken, then queue_full until drain', async () => {
    const c = await collector();
    const url = parseSctpUrl(`sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${c.listener.udpPort}`, 'output') as SctpUrl;
    // queueLimit 100,000 octets beyond the stack's 1 MiB mark
    const transport = new SctpTransport('sctp-backpressure', url.at, url.options, 0.05, 0.2, 100_000);
    cleanups.push(() => transport.close());
    await transport.start(() => {});
    await until(() => transport.isUp(), 10_000, 'the association');
    // all in one turn of the event loop: nothing is acknowledged meanwhile
    const big = () => message(1, 0, [dataSet(5000, 1)]); // 60,020 octets
    const results: (true | { reason: string })[] = [];
    for (let i = 0; i < 22; i++) results.push(transport.send(big()));
    // 17 × 60,020 = 1,020,340 octets stay below 1 MiB (less the few packets the initial cwnd lets out at
    // once); the 18th crosses the mark and is still taken (the stack queued it), and counts against
    // queueLimit: 60,020 + another 60,020 would pass 100,000, so the 19th and later are refused
    const accepted = results.filter((r) => r === true).length;
    expect(accepted).toBe(18);
    expect(results.slice(18)).toEqual([{ reason: 'queue_full' }, { reason: 'queue_full' }, { reason: 'queue_full' }, { reason: 'queue_full' }]);
    // once the collector has read enough, the stack says 'drain' and messages are taken again
    await until(() => transport.send(big()) === true, 15_000, 'drain');
    await until(() => c.got.length === accepted + 1, 15_000, 'every accepted message at the collector');
  });

  it('a collector that vanishes is reported COMM_LOST within the configured retransmission bound; the output reconnects when it is back', async () => {
    const c = await collector();
    const relay: LossyRelay = await lossyRelay(c.listener.udpPort!, 0);
    cleanups.push(() => relay.close());
    // RTO 100-200 ms, 2 retransmissions, heartbeat every 200 ms: dead within ~1 s of silence
    const { transport, sessions } = output('sctp-commlost', relay.port, '&rtoInitial=100&rtoMin=100&rtoMax=200&associationMaxRetrans=2&pathMaxRetrans=2&heartbeatInterval=200&maxInitRetransmits=1');
    await until(() => transport.isUp(), 10_000, 'the association');
    const before = await metricValue(reconnects, 'sctp-commlost');
    relay.cut = true;
    expect(transport.send(message(1, 0, [TEMPLATE_SET, dataSet(1, 1)]))).toBe(true);
    // bound: (2 + 1) retransmissions × 200 ms + a heartbeat interval, with room for a loaded machine
    await until(() => !transport.isUp(), 5_000, 'COMM_LOST');
    expect(transport.lastDown?.reason).toBe('comm-lost');
    // the T3-rtx retransmissions that ran into the limit are counted
    expect(await metricValue(sctpRetransmissions, 'sctp-commlost')).toBeGreaterThanOrEqual(2);
    // retries while the path is cut fail (INIT unanswered), with the attempts counted
    await until(async () => (await metricValue(reconnects, 'sctp-commlost')) >= before + 2, 10_000, 'reconnect attempts');
    expect(transport.isUp()).toBe(false);
    relay.cut = false;
    await until(() => transport.isUp(), 10_000, 'the association after the path is back');
    expect(sessions()).toBe(2);
  });

  it('PR-SCTP: under loss, Data-only messages past their ttl are abandoned and counted; template messages all arrive', async () => {
    const c = await collector();
    const relay = await lossyRelay(c.listener.udpPort!, 0, 0x1234567);
    cleanups.push(() => relay.close());
    const { transport } = output('sctp-ttl', relay.port, '&streams=2&ttl=20&rtoInitial=200&rtoMin=200&rtoMax=400');
    await until(() => transport.isUp(), 10_000, 'the association');
    relay.dropRate = 0.3;
    const templates: Buffer[] = [];
    const data: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const m = i % 10 === 0 ? message(1, i, [TEMPLATE_SET, dataSet(1, i)]) : message(1, i, [dataSet(2, i)]);
      (i % 10 === 0 ? templates : data).push(m);
      expect(transport.send(Buffer.from(m))).toBe(true);
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
    }
    const abandoned = () => metricValue(sctpAbandoned, 'sctp-ttl');
    const hex = (b: Buffer) => b.toString('hex');
    const arrivedTemplates = () => c.got.filter((r) => !onlyDataSets(r.data)).length;
    await until(async () => arrivedTemplates() === templates.length && c.got.length + (await abandoned()) >= 300, 30_000, 'every message delivered or abandoned');
    const got = new Set(c.got.map((r) => hex(r.data)));
    // every template message arrived, whatever was dropped on the way
    for (const t of templates) expect(got.has(hex(t))).toBe(true);
    const dataArrived = data.filter((d) => got.has(hex(d))).length;
    expect(relay.stats.dropped).toBeGreaterThan(0);
    expect(await abandoned()).toBeGreaterThan(0);
    expect(dataArrived).toBeLessThan(data.length);
    // nothing arrives that was not sent, nothing twice, and the sequence order holds on the stream
    expect(c.got.length).toBe(got.size);
    const seqs = c.got.map((r) => r.data.readUInt32BE(8));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});
