// The sctp:// input (src/collect/sctp-input.ts) in one process, over RFC 6951 UDP encapsulation on
// loopback, with the project's SCTP stack as the exporter: each association is a Transport Session of a
// real Collecting Process. Checked: records and withdrawals flow (withdrawals honoured, unlike UDP); an
// exporter that restarts on the same addresses and ports (an INIT on the live association, RFC 9260
// §5.2.2) ends its exporter sessions with reason 'restart' and starts new ones; an association from
// outside the allow list is aborted before any message is decoded; a message that is not one IPFIX
// Message aborts its association.
//
// Messages are built byte by byte (test/helpers/ipfix-message.ts): header, then sets;
// template 256 = sourceIPv4Address (8, 4 octets) + destinationTransportPort (11, 2 octets).

import { afterEach, describe, expect, it } from 'vitest';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { SctpInput } from '../../src/collect/sctp-input.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import { recorder } from '../helpers/recording-sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { parseSctpUrl, type SctpUrl } from '../../src/transport/sctp-options.js';
import { SctpEndpoint, type SctpAssociation } from '../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../src/transport/sctp/udp-encap.js';
import type { LowerLayer, PacketHandler, Remote } from '../../src/transport/sctp/lower-layer.js';
import { freeUdpPort } from '../helpers/tools.js';
import { until } from '../helpers/sctp.js';
import { ipfix, set, template256, withdraw256 } from '../helpers/ipfix-message.js';

const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };

// two records: 192.0.2.1 port 4739, 192.0.2.2 port 2055
const data256 = set(256, Buffer.from([192, 0, 2, 1, 0x12, 0x83, 192, 0, 2, 2, 0x08, 0x07]));

/** UDP encapsulation whose sends can be silenced: an exporter that dies without a word (no ABORT). */
async function mutableUdp(port: number): Promise<LowerLayer & { mute: boolean }> {
  const udp = await openUdpEncapsulation({ port, address: '127.0.0.1' });
  const l = {
    mute: false,
    send(p: Uint8Array, n: number, r: Remote) {
      if (!l.mute) udp.send(p, n, r);
    },
    onPacket(cb: PacketHandler) {
      udp.onPacket(cb);
    },
    close() {
      udp.close();
    },
  };
  return l;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let n = 0;
async function sctpInput(admits: (address: string) => boolean = () => true) {
  const { sink, events } = recorder({ address: false });
  const name = `sctp-in-${++n}`;
  const cp = new CollectingProcess({ name, listen: 'sctp://127.0.0.1:4739?encapsulation=udp&udpPort=0', protocol: 'ipfix', sessionTimeout: 5, templateTimeout: 5, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20 }, sink, options);
  const url = parseSctpUrl('sctp://127.0.0.1:4739?encapsulation=udp&udpPort=0', 'listen') as SctpUrl;
  const refused: string[] = [];
  const input = await SctpInput.listen({ input: name, at: url.at, options: url.options, admits, open: (peer) => cp.openTransportSession(peer), refused: (reason) => refused.push(reason) });
  cleanups.push(async () => {
    await input.close();
    await cp.stop();
  });
  return { events, refused, udpPort: input.udpPort! };
}

async function exporter(lower: LowerLayer, collectorUdp: number, localPort: number): Promise<{ ep: SctpEndpoint; a: SctpAssociation; downs: string[] }> {
  const ep = new SctpEndpoint({ lower });
  const a = await ep.connect({ remote: { address: '127.0.0.1', udpPort: collectorUdp }, remotePort: 4739, localPort, outboundStreams: 4 });
  const downs: string[] = [];
  a.on('down', (reason) => downs.push(reason));
  return { ep, a, downs };
}

describe('sctp:// input', () => {
  it('records and withdrawals over an association; an exporter restart ends its sessions (restart) and starts new ones', async () => {
    const { events, udpPort } = await sctpInput();
    const myUdp = await freeUdpPort();
    const l1 = await mutableUdp(myUdp);
    const e1 = await exporter(l1, udpPort, 5001);
    cleanups.push(() => e1.ep.close());
    e1.a.send(ipfix(7, template256, data256), { stream: 1 });
    e1.a.send(ipfix(7, withdraw256), { stream: 1 });
    await until(() => events.some((e) => e[0] === 'withdrawn'), 10_000, 'the withdrawal');
    expect(events).toEqual([
      ['started', 7],
      ['defined', 7, 256],
      ['records', 7, 256, 2, 'c00002011283c00002020807'],
      ['withdrawn', 7, 256],
    ]);

    // The exporter dies silently and comes back on the same UDP port and SCTP port: its INIT meets the
    // live association (RFC 9260 §5.2.2), the collector's side restarts, and the Transport Session with it.
    l1.mute = true;
    e1.ep.close();
    const l2 = await mutableUdp(myUdp);
    const e2 = await exporter(l2, udpPort, 5001);
    cleanups.push(() => e2.ep.close());
    e2.a.send(ipfix(7, template256, data256), { stream: 1 });
    await until(() => events.filter((e) => e[0] === 'records').length === 2, 10_000, 'records after the restart');
    expect(events.slice(4)).toEqual([
      ['ended', 7, 'restart'],
      ['started', 7],
      ['defined', 7, 256],
      ['records', 7, 256, 2, 'c00002011283c00002020807'],
    ]);

    // A graceful SHUTDOWN ends the Transport Session: every exporter session it carried ends, 'closed'.
    await e2.a.shutdown();
    await until(() => events.length === 9, 10_000, 'the session end');
    expect(events[8]).toEqual(['ended', 7, 'closed']);
  });

  it('an association from outside the allow list is aborted before any message is decoded', async () => {
    const { events, refused, udpPort } = await sctpInput(() => false);
    const ep = new SctpEndpoint({ lower: await mutableUdp(0) });
    cleanups.push(() => ep.close());
    // the ABORT follows the COOKIE ACK at once: the exporter's connect fails with the reason
    await expect(ep.connect({ remote: { address: '127.0.0.1', udpPort }, remotePort: 4739, localPort: 5002 })).rejects.toThrow(/not in the allow list/);
    expect(refused).toEqual(['not_allowed']);
    expect(events).toEqual([]);
  });

  it('a message that is not one whole IPFIX Message aborts its association and ends its sessions', async () => {
    const { events, refused, udpPort } = await sctpInput();
    const e = await exporter(await mutableUdp(0), udpPort, 5003);
    cleanups.push(() => e.ep.close());
    e.a.send(ipfix(9, template256, data256), { stream: 0 });
    const bad = ipfix(9, data256);
    bad.writeUInt16BE(bad.length + 4, 2); // Length says 4 octets more than the message holds
    e.a.send(bad, { stream: 0 });
    await until(() => e.downs.length > 0, 10_000, 'the ABORT');
    expect(e.downs).toEqual(['abort']);
    expect(refused).toEqual(['not_ipfix']);
    expect(events).toEqual([
      ['started', 9],
      ['defined', 9, 256],
      ['records', 9, 256, 2, 'c00002011283c00002020807'],
      ['ended', 9, 'closed'],
    ]);
  });
});
