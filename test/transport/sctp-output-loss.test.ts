// Nothing lost silently when an SCTP association dies: the sctp:// output behind its OutputQueue, a
// collector (the project's listener) behind a relay that can cut the path, all in one process on loopback.
// Messages the collector never acknowledged come back from the stack (takeUnacknowledged) to the queue:
// Data-only messages are sent again after the reconnect, after the Templates; a message that defines
// Templates cannot be replayed in order, so its Data Records are counted dropped (association_lost).
//
// Messages are built octet by octet: Template 256 = sourceIPv4Address (4) + octetDeltaCount (8), and
// Data Sets of 12-octet records whose octetDeltaCount is a unique record number.

import { afterEach, describe, expect, it } from 'vitest';
import { SctpTransport } from '../../src/transport/sctp-transport.js';
import { SctpListener } from '../../src/transport/sctp-listener.js';
import { parseSctpUrl, type SctpUrl } from '../../src/transport/sctp-options.js';
import { OutputQueue } from '../../src/export/output-queue.js';
import { recordsDropped } from '../../src/observe/metrics.js';
import { lossyRelay, until } from '../helpers/sctp.js';
import { ipfixMessage as message } from '../helpers/ipfix-message.js';

const TEMPLATE_SET = Buffer.from('00020010010000020008000400010008', 'hex');
function dataSet(first: number, records: number): Buffer {
  const b = Buffer.alloc(4 + 12 * records);
  b.writeUInt16BE(256, 0);
  b.writeUInt16BE(b.length, 2);
  for (let i = 0; i < records; i++) {
    b.writeUInt32BE(0x0a000000 + first + i, 4 + 12 * i);
    b.writeBigUInt64BE(BigInt(first + i), 8 + 12 * i);
  }
  return b;
}

/** What the collector decoded: record numbers of Data Sets 256, per message; template sets seen. */
interface Got {
  templates: number;
  records: number[];
  sequence: number;
}
function decode(m: Buffer): Got {
  const out: Got = { templates: 0, records: [], sequence: m.readUInt32BE(8) };
  for (let p = 16; p + 4 <= m.length; ) {
    const id = m.readUInt16BE(p);
    const len = m.readUInt16BE(p + 2);
    if (id === 2) out.templates++;
    if (id === 256) for (let q = p + 4; q + 12 <= p + len; q += 12) out.records.push(Number(m.readBigUInt64BE(q + 4)));
    p += len;
  }
  return out;
}

async function dropped(output: string, reason: string): Promise<number> {
  return (await recordsDropped.get()).values.find((v) => v.labels.stage === output && v.labels.reason === reason)?.value ?? 0;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(name: string) {
  const got: Got[] = [];
  const url = parseSctpUrl('sctp://127.0.0.1:4739?encapsulation=udp&udpPort=0', 'listen') as SctpUrl;
  const listener = await SctpListener.open(url.at, url.options, { opened: () => {}, message: (_peer, data) => got.push(decode(Buffer.from(data))), closed: () => {} });
  cleanups.push(() => listener.close(200));
  const relay = await lossyRelay(listener.udpPort!, 0);
  cleanups.push(() => relay.close());
  // RTO 100-200 ms, 2 retransmissions, heartbeat every 200 ms: COMM_LOST within about a second of silence
  const out = parseSctpUrl(`sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${relay.port}&rtoInitial=100&rtoMin=100&rtoMax=200&associationMaxRetrans=2&pathMaxRetrans=2&heartbeatInterval=200&maxInitRetransmits=1`, 'output') as SctpUrl;
  const transport = new SctpTransport(name, out.at, out.options, 0.05, 0.2, 1 << 20);
  const queue = new OutputQueue(name, transport, { memoryBytes: 1 << 20, policy: 'drop-newest', drainTimeout: 1 });
  await queue.start(() => {});
  cleanups.push(() => queue.close());
  await until(() => transport.isUp(), 10_000, 'the association');
  return { got, relay, transport, queue };
}

const delivered = (got: Got[]) => got.flatMap((g) => g.records);

describe('sctp:// output: messages the collector never acknowledged', () => {
  it('Data-only messages in flight when the collector vanishes are sent again after the reconnect, after the Templates, each record once', async () => {
    const { got, relay, transport, queue } = await setup('sctp-loss-replay');
    queue.send(message(1, 0, [TEMPLATE_SET, dataSet(1, 2)]), 2);
    await until(() => got.length === 1, 10_000, 'the template message');
    await new Promise((r) => setTimeout(r, 500)); // and its SACK (delayed up to 200 ms) back at the exporter
    relay.cut = true;
    // 40 messages of 5 records (3 .. 202) while the path is cut: handed to the association until it is
    // declared lost, queued after that
    let next = 3;
    for (let i = 0; i < 40; i++) {
      queue.send(message(1, 0, [dataSet(next, 5)]), 5);
      next += 5;
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => transport.lastDown?.reason === 'comm-lost', 10_000, 'COMM_LOST');
    expect(transport.returnedMessages).toBeGreaterThan(0); // the stack gave unacknowledged messages back
    relay.cut = false;
    await until(() => delivered(got).length >= next - 1, 15_000, 'every record at the collector');
    const records = delivered(got);
    expect(records).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1)); // all, once, in order
    // the new Transport Session starts with the Template, then the replay, numbered from zero
    const second = got.slice(1);
    expect(second[0]!.templates).toBe(1);
    expect(second[0]!.sequence).toBe(0);
    let seq = second[0]!.records.length;
    for (const g of second.slice(1)) {
      expect(g.sequence).toBe(seq);
      seq += g.records.length;
    }
    expect(await dropped('sctp-loss-replay', 'association_lost')).toBe(0);
  });

  it('unacknowledged messages that withdraw a Template are not replayed: their records are counted dropped, delivered + dropped = sent', async () => {
    const { got, relay, transport, queue } = await setup('sctp-loss-count');
    relay.cut = true;
    // the path is cut before anything of this goes: all four come back. Replaying them after a preamble
    // (which announces no Template 256: withdrawn) would withdraw and define out of order.
    queue.send(message(1, 0, [TEMPLATE_SET, dataSet(1, 2)]), 2);
    queue.send(message(1, 0, [dataSet(3, 5)]), 5);
    queue.send(message(1, 0, [Buffer.from('0002000801000000', 'hex')]), 0); // withdraw Template 256
    queue.send(message(1, 0, [TEMPLATE_SET, dataSet(8, 5)]), 5); // define it again
    await until(() => transport.lastDown?.reason === 'comm-lost', 10_000, 'COMM_LOST');
    expect(transport.returnedMessages).toBe(4);
    expect(await dropped('sctp-loss-count', 'association_lost')).toBe(12);
    relay.cut = false;
    await until(() => transport.isUp(), 10_000, 'the association again');
    // a newer message still goes out, after the Template the queue knows is defined
    queue.send(message(1, 0, [dataSet(13, 3)]), 3);
    await until(() => delivered(got).length === 3, 10_000, 'the newer message');
    expect(delivered(got)).toEqual([13, 14, 15]);
    expect(got[0]!.templates).toBe(1);
    expect(delivered(got).length + (await dropped('sctp-loss-count', 'association_lost'))).toBe(2 + 5 + 5 + 3);
  });
});
