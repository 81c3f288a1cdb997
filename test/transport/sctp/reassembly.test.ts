import { describe, expect, it } from 'vitest';
import { Reassembly } from '../../../src/transport/sctp/reassembly.js';
import { DataResult, ReceiveTracker } from '../../../src/transport/sctp/receive-tracker.js';
import { tsnAdd } from '../../../src/transport/sctp/serial.js';
import { prng } from '../../mapping/harness.js';

interface Chunk {
  tsn: number;
  stream: number;
  ssn: number;
  ppid: number;
  unordered: boolean;
  b: boolean;
  e: boolean;
  data: Uint8Array;
}

interface Got {
  stream: number;
  ppid: number;
  unordered: boolean;
  ssn: number;
  data: Uint8Array;
}

/** Messages as a sender makes them: fragments of one message on consecutive TSNs, SSNs per stream. */
function makeMessages(rnd: () => number, count: number, streams: number, initialTsn: number, fragment: number) {
  const nextSsn = new Array<number>(streams).fill(0);
  const chunks: Chunk[] = [];
  const messages: { stream: number; unordered: boolean; ssn: number; ppid: number; data: Uint8Array }[] = [];
  let tsn = initialTsn;
  for (let m = 0; m < count; m++) {
    const stream = Math.floor(rnd() * streams);
    const unordered = rnd() < 0.2;
    const ssn = unordered ? 0 : nextSsn[stream]!++;
    const data = new Uint8Array(1 + Math.floor(rnd() * 3000));
    for (let i = 0; i < data.length; i++) data[i] = (m * 31 + i) & 0xff;
    messages.push({ stream, unordered, ssn, ppid: m, data });
    for (let off = 0; off < data.length; off += fragment) {
      const end = Math.min(off + fragment, data.length);
      chunks.push({ tsn, stream, ssn, ppid: m, unordered, b: off === 0, e: end === data.length, data: data.subarray(off, end) });
      tsn = tsnAdd(tsn, 1);
    }
  }
  return { chunks, messages };
}

function shuffle<T>(rnd: () => number, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('Reassembly: fragments, ordered and unordered delivery', () => {
  it('delivers every message exactly once, whole, ordered ones in SSN order per stream, from random arrival order', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = prng(seed);
      const initial = (0xffffffff - 50 * seed) >>> 0;
      const { chunks, messages } = makeMessages(rnd, 150, 5, initial, 500);
      const arrivals = shuffle(rnd, [...chunks, ...chunks.filter(() => rnd() < 0.1)]);
      const got: Got[] = [];
      const t = new ReceiveTracker({
        initialTsn: initial,
        inboundStreams: 5,
        receiveWindow: 1 << 24,
        deliver: (data, stream, ppid, unordered, ssn) => got.push({ stream, ppid, unordered, ssn, data }),
      });
      for (const c of arrivals) {
        const r = t.receive(c.tsn, c.stream, c.ssn, c.ppid, c.unordered, c.b, c.e, false, c.data);
        expect([DataResult.NEW, DataResult.DUPLICATE]).toContain(r);
      }
      expect(t.cumulativeTsn).toBe(tsnAdd(initial, chunks.length - 1));
      expect(t.reassembly.bufferedOctets).toBe(0);
      expect(got.length).toBe(messages.length);
      const byPpid = new Map(got.map((g) => [g.ppid, g]));
      expect(byPpid.size).toBe(messages.length);
      for (const m of messages) {
        const g = byPpid.get(m.ppid)!;
        expect(g.stream).toBe(m.stream);
        expect(g.unordered).toBe(m.unordered);
        expect(Buffer.from(g.data).equals(Buffer.from(m.data))).toBe(true);
      }
      for (let s = 0; s < 5; s++) {
        const ordered = got.filter((g) => g.stream === s && !g.unordered).map((g) => g.ssn);
        expect(ordered).toEqual(ordered.map((_, i) => i));
      }
    }
  });

  it('hands an unfragmented message over as the view it arrived in (no copy)', () => {
    const packet = new Uint8Array(100);
    const view = packet.subarray(20, 60);
    let delivered: Uint8Array | null = null;
    const t = new ReceiveTracker({ initialTsn: 7, inboundStreams: 1, receiveWindow: 1000, deliver: (d) => (delivered = d) });
    t.receive(7, 0, 0, 0, false, true, true, false, view);
    expect(delivered).toBe(view);
  });

  it('acknowledges a chunk for a stream that does not exist but delivers nothing', () => {
    const got: number[] = [];
    const t = new ReceiveTracker({ initialTsn: 1, inboundStreams: 2, receiveWindow: 1000, deliver: (_d, s) => got.push(s) });
    expect(t.receive(1, 2, 0, 0, false, true, true, false, new Uint8Array(4))).toBe(DataResult.INVALID_STREAM);
    expect(t.cumulativeTsn).toBe(1);
    expect(got).toEqual([]);
  });
});

describe('Reassembly: FORWARD TSN skips abandoned messages (RFC 3758 §3.6)', () => {
  it('drops partial fragments, skips the SSN and delivers what waited behind it', () => {
    const got: string[] = [];
    const t = new ReceiveTracker({
      initialTsn: 1,
      inboundStreams: 2,
      receiveWindow: 10000,
      deliver: (d, s, ppid, u, ssn) => got.push(`${s}/${u ? 'u' : ssn}/${ppid}/${d.length}`),
    });
    const d = (n: number) => new Uint8Array(n);
    t.receive(1, 0, 0, 10, false, true, true, false, d(100)); // stream 0 SSN 0: delivered
    t.receive(2, 0, 1, 11, false, true, false, false, d(200)); // SSN 1, first of 3 fragments (3 and 4 lost, abandoned)
    t.receive(5, 0, 2, 12, false, true, true, false, d(300)); // SSN 2: waits for SSN 1
    t.receive(6, 1, 0, 13, true, true, false, false, d(50)); // unordered, first of two (7 abandoned)
    t.receive(8, 1, 0, 14, false, true, true, false, d(60)); // stream 1 SSN 0: waits for TSN 7 only in the TSN space, delivered now
    expect(got).toEqual(['0/0/10/100', '1/0/14/60']);
    expect(t.reassembly.bufferedOctets).toBe(550);
    expect(t.cumulativeTsn).toBe(2);
    t.forwardTsn(7, [{ streamId: 0, ssn: 1 }]);
    expect(got).toEqual(['0/0/10/100', '1/0/14/60', '0/2/12/300']);
    expect(t.reassembly.bufferedOctets).toBe(0);
    expect(t.cumulativeTsn).toBe(8);
    expect(t.reassembly.nextSsn(0)).toBe(3);
    // a late fragment of the abandoned message is a duplicate now
    expect(t.receive(3, 0, 1, 11, false, false, false, false, d(200))).toBe(DataResult.DUPLICATE);
    // the stream goes on with SSN 3
    t.receive(9, 0, 3, 15, false, true, true, false, d(10));
    expect(got[got.length - 1]).toBe('0/3/15/10');
  });

  it('skips SSNs across the 16-bit wrap', () => {
    const got: number[] = [];
    const t = new ReceiveTracker({ initialTsn: 1, inboundStreams: 1, receiveWindow: 10000, deliver: (_d, _s, _p, _u, ssn) => got.push(ssn) });
    // SSNs only compare within half the space: skip there in three steps
    t.forwardTsn(3, [{ streamId: 0, ssn: 0x7ff0 }]);
    t.forwardTsn(4, [{ streamId: 0, ssn: 0xf000 }]);
    t.forwardTsn(5, [{ streamId: 0, ssn: 0xfffe }]);
    expect(t.reassembly.nextSsn(0)).toBe(0xffff);
    t.receive(7, 0, 0, 0, false, true, true, false, new Uint8Array(1)); // SSN 0 after 65535: waits
    t.receive(6, 0, 0xffff, 0, false, true, true, false, new Uint8Array(1));
    expect(got).toEqual([0xffff, 0]);
  });
});

describe('Reassembly: a long message in order', () => {
  it('takes 20,000 fragments arriving in order without walking back over them each time', () => {
    const got: Uint8Array[] = [];
    const r = new Reassembly(1, (m) => got.push(m));
    const n = 20_000;
    const frag = new Uint8Array(10);
    // count the map lookups the reassembly makes (walking back to B on every fragment would be n²/2)
    let lookups = 0;
    const get = Map.prototype.get;
    Map.prototype.get = function (this: Map<unknown, unknown>, k: unknown) {
      lookups++;
      return get.call(this, k);
    };
    try {
      for (let i = 0; i < n; i++) {
        frag.fill(i & 0xff);
        r.accept(1000 + i, 0, 0, 0, false, i === 0, i === n - 1, frag.slice());
      }
    } finally {
      Map.prototype.get = get;
    }
    expect(got).toHaveLength(1);
    expect(got[0]!.length).toBe(10 * n);
    expect(got[0]![10 * 12345]).toBe(12345 & 0xff);
    expect(r.bufferedOctets).toBe(0);
    expect(lookups).toBeLessThan(5 * n);
  });
});
