// One listening endpoint, many associations: packets go to the right one by verification tag and by
// (address, UDP port, SCTP ports); ephemeral local ports stay apart.

import { describe, expect, it } from 'vitest';
import type { SctpAssociation } from '../../../src/transport/sctp/association.js';
import { SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { LossyLink } from '../../../src/transport/sctp/lossy-link.js';
import { VirtualClock } from '../../../src/transport/sctp/virtual-clock.js';
import { settle } from './association-helpers.js';

describe('SCTP endpoint demultiplexing', () => {
  it('five associations into one listener (three hosts, two of them with two associations each, one by ephemeral and one by chosen port) keep their messages apart', async () => {
    const clock = new VirtualClock();
    const link = new LossyLink({ seed: 5, delayMs: 3, dropRate: 0.01, reorderRate: 0.01, clock });
    const opts = { clock, rtoInitial: 100, rtoMin: 50, rtoMax: 2000 };
    const server = new SctpEndpoint({ lower: link.endpoint('10.1.0.1', 9899), ...opts });
    const accepted: SctpAssociation[] = [];
    const byClient = new Map<SctpAssociation, number[]>();
    server.listen(4739, (a) => {
      accepted.push(a);
      const got: number[] = [];
      byClient.set(a, got);
      a.on('message', (d) => got.push(new DataView(d.buffer, d.byteOffset).getUint16(0)));
    });
    const hosts = ['10.1.0.11', '10.1.0.12', '10.1.0.13'].map((address) => new SctpEndpoint({ lower: link.endpoint(address, 9899), ...opts }));
    const remote = { address: '10.1.0.1', udpPort: 9899 };
    const clients: SctpAssociation[] = [];
    for (const h of hosts) clients.push(await settle(clock, h.connect({ remote, remotePort: 4739 })));
    clients.push(await settle(clock, hosts[0]!.connect({ remote, remotePort: 4739 }))); // a second from the same host
    clients.push(await settle(clock, hosts[1]!.connect({ remote, remotePort: 4739, localPort: clients[1]!.localPort + 1 })));
    const ports = clients.map((c) => c.localPort);
    for (const port of ports.slice(0, 4)) expect(port >= 49152 && port <= 65535).toBe(true);
    expect(ports[0]).not.toBe(ports[3]);
    expect(new Set(clients.map((c) => c.localTag)).size).toBe(5);
    // each client sends 200 messages marked with its index in the top byte
    clients.forEach((c, k) => {
      for (let i = 0; i < 200; i++) {
        const m = new Uint8Array(2 + ((i * 37) % 900));
        new DataView(m.buffer).setUint16(0, (k << 8) | (i & 0xff));
        c.send(m, { stream: i % 4 });
      }
    });
    clock.runUntil(() => [...byClient.values()].every((g) => g.length === 200), 60_000);
    expect(accepted).toHaveLength(5);
    for (const a of accepted) {
      const client = clients.find((c) => c.localPort === a.remotePort && c.peerTag === a.localTag)!;
      const k = clients.indexOf(client);
      expect(k).toBeGreaterThanOrEqual(0);
      const got = byClient.get(a)!;
      expect(got.every((v) => v >> 8 === k)).toBe(true);
      expect(got.length).toBe(200);
    }
    // closing one client touches none of the others
    clients[0]!.abort('bye');
    clock.advance(100);
    expect(accepted.filter((a) => a.state === 'ESTABLISHED')).toHaveLength(4);
    expect(server.associations).toHaveLength(4);
  });
});

describe('SCTP endpoint options', () => {
  it('refuses impossible settings at construction', () => {
    const link = new LossyLink({ clock: new VirtualClock() });
    expect(() => new SctpEndpoint({ lower: link.endpoint('10.2.0.1', 1), rtoMin: 5000, rtoMax: 1000 })).toThrow(RangeError);
    expect(() => new SctpEndpoint({ lower: link.endpoint('10.2.0.2', 1), mtu: 60 })).toThrow(RangeError);
  });
});
