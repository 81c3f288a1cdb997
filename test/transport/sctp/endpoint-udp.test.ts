// Two SctpEndpoints over real UDP sockets on 127.0.0.1 (RFC 6951 encapsulation), real time.

import { afterEach, describe, expect, it } from 'vitest';
import type { SctpAssociation } from '../../../src/transport/sctp/association.js';
import { SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

describe('SCTP over UDP encapsulation on loopback', () => {
  it('exchanges 1,000 messages on 3 streams, in order, then shuts down', async () => {
    const lowerS = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const lowerC = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const server = new SctpEndpoint({ lower: lowerS, mtu: 1452 });
    const client = new SctpEndpoint({ lower: lowerC, mtu: 1452 });
    cleanups.push(() => server.close(), () => client.close());
    const port = 20000 + Math.floor(Math.random() * 20000);
    const accepted = new Promise<SctpAssociation>((resolve) => server.listen(port, resolve));
    const c = await within(client.connect({ remote: { address: '127.0.0.1', udpPort: lowerS.local.udpPort }, remotePort: port, outboundStreams: 3 }), 5000, 'connect');
    const s = await within(accepted, 5000, 'accept');
    const received: number[][] = [[], [], []];
    let bytes = 0;
    const all = new Promise<void>((resolve) =>
      s.on('message', (data, info) => {
        const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
        expect(data.length).toBe(100 + (id % 1300));
        expect(data[data.length - 1]).toBe(id & 0xff);
        received[info.stream]!.push(id);
        bytes += data.length;
        if (received[0]!.length + received[1]!.length + received[2]!.length === 1000) resolve();
      }),
    );
    for (let id = 0; id < 1000; id++) {
      const m = new Uint8Array(100 + (id % 1300));
      new DataView(m.buffer).setUint32(0, id);
      m[m.length - 1] = id & 0xff;
      c.send(m, { stream: id % 3 });
    }
    await within(all, 20_000, '1,000 messages');
    for (let k = 0; k < 3; k++) expect(received[k]).toEqual(Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 3 === k));
    expect(s.stats().bytesReceived).toBe(bytes);
    expect(c.stats().messagesSent).toBe(1000);
    expect(s.remote.udpPort).toBe(lowerC.local.udpPort); // RFC 6951 §5.4: replies go to the peer's UDP port
    const down = new Promise<string>((resolve) => s.on('down', (r) => resolve(r)));
    await within(c.shutdown(), 10_000, 'shutdown');
    expect(await within(down, 5000, 'server down')).toBe('shutdown');
    expect(server.drops).toEqual({});
    expect(client.drops).toEqual({});
  });

  it('closing an endpoint ABORTs its associations on the wire before the socket goes', async () => {
    const lowerS = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const lowerC = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const server = new SctpEndpoint({ lower: lowerS, mtu: 1452 });
    const client = new SctpEndpoint({ lower: lowerC, mtu: 1452 });
    cleanups.push(() => server.close());
    const port = 20000 + Math.floor(Math.random() * 20000);
    const accepted = new Promise<SctpAssociation>((resolve) => server.listen(port, resolve));
    await within(client.connect({ remote: { address: '127.0.0.1', udpPort: lowerS.local.udpPort }, remotePort: port }), 5000, 'connect');
    const s = await within(accepted, 5000, 'accept');
    const down = new Promise<string>((resolve) => s.on('down', (r) => resolve(r)));
    client.close(); // sends ABORT and closes its UDP socket in the same tick
    // The ABORT arrives (not COMM_LOST much later, which is what a cancelled send would give).
    expect(await within(down, 2000, 'server down')).toBe('abort');
    expect(lowerC.stats.sendErrors).toBe(0);
  });
});
