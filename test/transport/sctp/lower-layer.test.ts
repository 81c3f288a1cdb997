import { afterEach, describe, expect, it } from 'vitest';
import { LossyLink, type LinkClock } from '../../../src/transport/sctp/lossy-link.js';
import type { Remote } from '../../../src/transport/sctp/lower-layer.js';
import { type UdpEncapsulation, openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { waitFor } from '../../helpers/wait-for.js';

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/** A virtual clock: time moves only when the test says so. */
function virtualClock() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  const clock: LinkClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++ids;
      timers.push({ at: now + Math.max(0, ms), fn, id });
      return id;
    },
    clearTimeout: (h) => {
      timers = timers.filter((t) => t.id !== h);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = timers[0];
      if (!t || t.at > end) break;
      timers.shift();
      now = t.at;
      t.fn();
    }
    now = end;
  };
  return { clock, advance };
}

const pkt = (n: number, len = 8) => {
  const b = new Uint8Array(len);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const id = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0);

describe('UDP encapsulation (RFC 6951) on loopback', () => {
  async function pair(): Promise<[UdpEncapsulation, UdpEncapsulation]> {
    const a = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const b = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    closers.push(() => a.close(), () => b.close());
    return [a, b];
  }

  it('delivers the packet with the sender UDP port, and the sender may reuse its buffer at once', async () => {
    const [a, b] = await pair();
    const got: Array<{ bytes: number[]; remote: Remote }> = [];
    b.onPacket((p, len, remote) => got.push({ bytes: Array.from(p.subarray(0, len)), remote }));
    const buf = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 99, 99]);
    a.send(buf, 8, b.local); // only the first 8 octets
    buf.fill(0); // reused before the datagram could have left
    a.send(Uint8Array.from([9, 9, 9, 9]), 4, b.local);
    await waitFor('two datagrams', () => (got.length === 2 ? true : undefined));
    expect(got[0]).toEqual({ bytes: [1, 2, 3, 4, 5, 6, 7, 8], remote: { address: '127.0.0.1', udpPort: a.local.udpPort } });
    expect(got[1]!.bytes).toEqual([9, 9, 9, 9]);
    expect(a.stats.packetsOut).toBe(2);
    expect(a.stats.octetsOut).toBe(12);
    expect(b.stats.packetsIn).toBe(2);
    expect(b.stats.octetsIn).toBe(12);
  });

  it('reports a port it cannot bind as a rejected promise, not a crash', async () => {
    const [a] = await pair();
    await expect(openUdpEncapsulation({ port: a.local.udpPort, address: '127.0.0.1' })).rejects.toThrow(/cannot bind/);
  });

  it('counts send errors instead of throwing', async () => {
    const [a] = await pair();
    const errors: Error[] = [];
    a.onError((e) => errors.push(e));
    a.send(new Uint8Array(4), 4, { address: '::1', udpPort: 9 }); // IPv6 peer from an IPv4 socket
    await waitFor('the send error', () => (a.stats.sendErrors > 0 ? true : undefined));
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe('LossyLink', () => {
  function run(seed: number, opts: ConstructorParameters<typeof LossyLink>[0], n: number) {
    const { clock, advance } = virtualClock();
    const link = new LossyLink({ seed, clock, ...opts });
    const a = link.endpoint('192.0.2.1', 9899);
    const b = link.endpoint('192.0.2.2', 9899);
    const got: number[] = [];
    const from: Remote[] = [];
    b.onPacket((p, len, r) => {
      expect(len).toBe(p.length);
      got.push(id(p));
      from.push(r);
    });
    for (let i = 0; i < n; i++) {
      a.send(pkt(i), 8, b.local);
      advance(1); // one packet per millisecond
    }
    advance(10_000);
    return { got, from, stats: link.stats, link };
  }

  it('a clean link delivers everything once, in order, with the sender as remote', () => {
    const { got, from, stats } = run(7, { delayMs: 5 }, 100);
    expect(got).toEqual([...Array(100).keys()]);
    expect(from[0]).toEqual({ address: '192.0.2.1', udpPort: 9899 });
    expect(stats).toMatchObject({ sent: 100, delivered: 100, dropped: 0, duplicated: 0, reordered: 0 });
  });

  it('drops, duplicates and reorders at the configured rates, the same way for the same seed', () => {
    const opts = { dropRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, delayMs: 3, jitterMs: 0.5 };
    const r1 = run(42, opts, 10_000);
    const r2 = run(42, opts, 10_000);
    const r3 = run(43, opts, 10_000);
    expect(r1.got).toEqual(r2.got);
    expect(r1.got).not.toEqual(r3.got);
    const s = r1.stats;
    expect(s.sent).toBe(10_000);
    expect(s.dropped).toBeGreaterThan(900);
    expect(s.dropped).toBeLessThan(1100);
    expect(s.duplicated).toBeGreaterThan(400);
    expect(s.duplicated).toBeLessThan(600);
    expect(s.reordered).toBeGreaterThan(400);
    expect(s.delivered).toBe(s.sent - s.dropped + s.duplicated);
    expect(r1.got.length).toBe(s.delivered);
    // duplicates arrive twice; reordered packets arrive after a later one
    const counts = new Map<number, number>();
    for (const x of r1.got) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.values()].filter((c) => c === 2).length).toBe(s.duplicated);
    let inversions = 0;
    for (let i = 1; i < r1.got.length; i++) if (r1.got[i]! < r1.got[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(300);
    expect(new Set(r1.got).size).toBe(10_000 - s.dropped);
  });

  it('copies at send, delivers nothing to a closed endpoint, drops packets above the MTU, and can be cut', () => {
    const { clock, advance } = virtualClock();
    const link = new LossyLink({ clock, delayMs: 1, mtu: 100 });
    const a = link.endpoint('a', 1);
    const b = link.endpoint('b', 2);
    expect(() => link.endpoint('b', 2)).toThrow(/already open/);
    const got: number[] = [];
    b.onPacket((p) => got.push(id(p)));
    const buf = pkt(1);
    a.send(buf, 8, b.local);
    buf.set(pkt(2)); // the caller's buffer reused at once
    advance(2);
    expect(got).toEqual([1]);
    a.send(pkt(3, 101), 101, b.local);
    advance(2);
    expect(link.stats.tooBig).toBe(1);
    link.options.dropRate = 1;
    a.send(pkt(4), 8, b.local);
    advance(2);
    link.options.dropRate = 0;
    a.send(pkt(5), 8, b.local);
    b.close(); // the peer dies with a packet in flight
    advance(2);
    expect(got).toEqual([1]);
    expect(link.stats.unreachable).toBe(1);
    const b2 = link.endpoint('b', 2); // and restarts at the same address
    b2.onPacket((p) => got.push(id(p)));
    a.send(pkt(6), 8, b2.local);
    advance(2);
    expect(got).toEqual([1, 6]);
  });

  it('runs on real time too (setImmediate for undelayed packets)', async () => {
    const link = new LossyLink({ seed: 3 });
    const a = link.endpoint('a', 1);
    const b = link.endpoint('b', 1);
    const got: number[] = [];
    b.onPacket((p) => got.push(id(p)));
    for (let i = 0; i < 10; i++) a.send(pkt(i), 8, b.local);
    expect(got).toEqual([]); // never delivered synchronously, like a network
    await waitFor('10 packets', () => (got.length === 10 ? true : undefined));
    expect(got).toEqual([...Array(10).keys()]);
    link.close();
  });
});
