// The four-way handshake (RFC 9260 §5.1) between two SctpEndpoints over an in-memory LossyLink on
// a virtual clock: every packet is captured off the link and decoded by the codec, so the tests
// assert on the chunks that really travelled.

import { describe, expect, it } from 'vitest';
import { ChunkType, type Chunk } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import { decodePacket, encodePacket } from '../../../src/transport/sctp/packet.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { B, type Seen, connected, pair, settle } from './association-helpers.js';
import type { SctpAssociation } from '../../../src/transport/sctp/association.js';
import { SctpError } from '../../../src/transport/sctp/sctp-error.js';

const types = (s: Seen) => s.chunks.map((c) => c.type);

describe('SCTP handshake (RFC 9260 §5.1)', () => {
  it('INIT → INIT ACK (cookie) → COOKIE ECHO → COOKIE ACK; tags, TSNs, streams negotiated, PR-SCTP detected', async () => {
    const p = pair();
    let server: SctpAssociation | null = null;
    p.b.listen(5000, (s) => (server = s), { outboundStreams: 3, maxInboundStreams: 7 });
    const pending = p.a.connect({ remote: B, remotePort: 5000, localPort: 40000, outboundStreams: 12, maxInboundStreams: 2 });
    const client = await settle(p.clock, pending);
    const s = server as unknown as SctpAssociation;
    expect(p.seen.map(types)).toEqual([[ChunkType.INIT], [ChunkType.INIT_ACK], [ChunkType.COOKIE_ECHO], [ChunkType.COOKIE_ACK]]);
    const [init, initAck, echo, ack] = p.seen;
    const i = init!.chunks[0]!;
    const ia = initAck!.chunks[0]!;
    if (i.type !== ChunkType.INIT || ia.type !== ChunkType.INIT_ACK) throw new Error('types');
    // §8.5.1: INIT travels with tag 0; every later packet with the receiver's Initiate Tag
    expect(init!.tag).toBe(0);
    expect(initAck!.tag).toBe(i.initiateTag);
    expect(echo!.tag).toBe(ia.initiateTag);
    expect(ack!.tag).toBe(i.initiateTag);
    expect(i.initiateTag).not.toBe(0);
    expect([init!.srcPort, init!.dstPort]).toEqual([40000, 5000]);
    expect([i.outboundStreams, i.inboundStreams]).toEqual([12, 2]);
    expect([ia.outboundStreams, ia.inboundStreams]).toEqual([3, 7]);
    expect(i.params.some((x) => x.type === ParameterType.FORWARD_TSN_SUPPORTED)).toBe(true);
    expect(ia.params.some((x) => x.type === ParameterType.FORWARD_TSN_SUPPORTED)).toBe(true);
    const cookie = ia.params.find((x) => x.type === ParameterType.STATE_COOKIE);
    const e = echo!.chunks[0]!;
    if (!cookie || cookie.type !== ParameterType.STATE_COOKIE || e.type !== ChunkType.COOKIE_ECHO) throw new Error('cookie');
    expect(Buffer.from(e.cookie).equals(Buffer.from(cookie.cookie))).toBe(true);
    // negotiated: client OS = min(12, server MIS 7), client IS = min(server OS 3, client MIS 2)
    expect([client.outboundStreams, client.inboundStreams]).toEqual([7, 2]);
    expect([s.outboundStreams, s.inboundStreams]).toEqual([2, 7]);
    expect(client.state).toBe('ESTABLISHED');
    expect(s.state).toBe('ESTABLISHED');
    expect(client.peerForwardTsn && s.peerForwardTsn).toBe(true);
    expect(client.localTag).toBe(s.peerTag);
    expect(s.localTag).toBe(client.peerTag);
  });

  it('retransmits INIT on T1-init (with backoff) and COOKIE ECHO on T1-cookie when packets are lost', async () => {
    const p = pair();
    let server: SctpAssociation | null = null;
    p.b.listen(5000, (s) => (server = s));
    // lose the first INIT and the first COOKIE ECHO
    let inits = 0;
    let echoes = 0;
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      const t = d.ok ? d.value.chunks[0]!.type : -1;
      if (t === ChunkType.INIT && inits++ === 0) return;
      if (t === ChunkType.COOKIE_ECHO && echoes++ === 0) return;
      send(packet, length, from, to);
    };
    const t0 = p.clock.now();
    const client = await settle(p.clock, p.a.connect({ remote: B, remotePort: 5000 }));
    p.clock.runUntil(() => server !== null, 5000);
    expect(inits).toBe(2);
    expect(echoes).toBe(2);
    expect(client.state).toBe('ESTABLISHED');
    // RTO.Initial 100 ms, 10 ms each way: INIT again at 100 (RTO backs off to 200), INIT ACK back at
    // 120, COOKIE ECHO lost; T1-cookie runs 200 ms: COOKIE ECHO again at 320, COOKIE ACK back at 340
    expect(p.clock.now() - t0).toBe(340);
  });

  it('gives up after Max.Init.Retransmits with init-failed', async () => {
    const p = pair({}, { maxInitRetransmits: 3 });
    // nobody listens at B port 6000, and B owns no port there: INITs are ignored
    const pending = p.a.connect({ remote: B, remotePort: 6000 });
    let err: unknown = null;
    pending.catch((e) => (err = e));
    p.clock.runUntil(() => err !== null, 60_000);
    await Promise.resolve();
    expect(err).toBeInstanceOf(SctpError);
    expect((err as SctpError).code).toBe('init-failed');
    expect(p.seen.filter((s) => s.chunks[0]!.type === ChunkType.INIT)).toHaveLength(4); // 1 + 3 retransmissions
    expect(p.b.drops['unowned-port']).toBe(4);
    expect(p.a.associations).toHaveLength(0);
  });

  it('is refused with ABORT when the port is owned but not listened on', async () => {
    const p = pair();
    const { client } = await connected(p); // B now owns port 5000 through an association
    p.b.unlisten(5000);
    const pending = p.a.connect({ remote: B, remotePort: 5000, localPort: 41000 });
    let err: unknown = null;
    pending.catch((e) => (err = e));
    p.clock.runUntil(() => err !== null, 5000);
    await Promise.resolve();
    expect((err as SctpError).code).toBe('aborted');
    const abort = p.seen.find((s) => s.chunks[0]!.type === ChunkType.ABORT)!;
    const i = p.seen.filter((s) => s.chunks[0]!.type === ChunkType.INIT).at(-1)!.chunks[0]!;
    if (i.type !== ChunkType.INIT) throw new Error('INIT');
    expect(abort.tag).toBe(i.initiateTag); // §8.4 rule 3: the INIT's Initiate Tag, T bit clear
    expect(client.state).toBe('ESTABLISHED');
  });

  it('answers a stale cookie with a Stale Cookie error and ignores a forged one', async () => {
    const p = pair({ delayMs: 10 }, { cookieLifetime: 50 });
    let server: SctpAssociation | null = null;
    p.b.listen(5000, (s) => (server = s));
    // hold the COOKIE ECHO back 100 ms: past the 50 ms lifetime
    let held = 0;
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      if (d.ok && d.value.chunks[0]!.type === ChunkType.COOKIE_ECHO && held++ === 0) {
        const copy = packet.slice(0, length);
        p.clock.setTimeout(() => send(copy, length, from, to), 100);
        return;
      }
      send(packet, length, from, to);
    };
    const client = await settle(p.clock, p.a.connect({ remote: B, remotePort: 5000 }));
    p.clock.runUntil(() => server !== null, 10_000);
    expect(client.state).toBe('ESTABLISHED');
    expect(p.b.drops['stale-cookie']).toBeGreaterThanOrEqual(1);
    const err = p.seen.find((s) => s.chunks[0]!.type === ChunkType.ERROR)!.chunks[0]!;
    if (err.type !== ChunkType.ERROR) throw new Error('ERROR');
    expect(err.causes[0]!.code).toBe(CauseCode.STALE_COOKIE);
    // staleness in µs: the echo left at ~20 ms + 100 held + 10 transit, 50 ms lifetime
    if (err.causes[0]!.code === CauseCode.STALE_COOKIE) expect(err.causes[0]!.staleness).toBeGreaterThan(50_000);
    // the INIT that started over asked for the staleness again as Cookie Preservative (ms), and the
    // cookie it got lives that much longer (granted up to one more lifetime)
    const inits = p.seen.filter((s) => s.chunks[0]!.type === ChunkType.INIT).map((s) => s.chunks[0]!);
    expect(inits).toHaveLength(2);
    const second = inits[1]!;
    if (second.type !== ChunkType.INIT) throw new Error('INIT');
    const pres = second.params.find((x) => x.type === ParameterType.COOKIE_PRESERVATIVE);
    if (!pres || pres.type !== ParameterType.COOKIE_PRESERVATIVE || err.causes[0]!.code !== CauseCode.STALE_COOKIE) throw new Error('no Cookie Preservative');
    expect(pres.lifeSpanIncrement).toBe(Math.ceil((2 * err.causes[0]!.staleness) / 1000));
    // then a forged cookie: one flipped bit in a real one, echoed with its tag: no answer, no association
    const echo = p.seen.find((s) => s.chunks[0]!.type === ChunkType.COOKIE_ECHO)!;
    const c = echo.chunks[0]!;
    if (c.type !== ChunkType.COOKIE_ECHO) throw new Error('echo');
    const forged = c.cookie.slice();
    forged[20] ^= 1;
    const before = p.seen.length;
    const buf = new Uint8Array(200);
    const n = encodePacket(buf, 0, { srcPort: 41234, dstPort: 5000, verificationTag: echo.tag }, [{ type: ChunkType.COOKIE_ECHO, cookie: forged }]);
    const rogue = p.link.endpoint('10.0.0.3', 9899);
    rogue.send(buf, n, B);
    p.clock.advance(100);
    expect(p.seen.length).toBe(before + 1); // only the forged packet itself
    expect(p.b.drops['bad-cookie']).toBe(1);
    expect(p.b.associations).toHaveLength(1);
  });
});

describe('State Cookie', () => {
  it('is signed over all its fields, carries its lifetime, and a Cookie Preservative extends it by at most one lifetime', async () => {
    const { makeInitAck } = await import('../../../src/transport/sctp/handshake.js');
    const { openCookie } = await import('../../../src/transport/sctp/cookie.js');
    const secret = new Uint8Array(32).fill(7);
    const init = { type: ChunkType.INIT, initiateTag: 0x01020304, aRwnd: 5000, outboundStreams: 9, inboundStreams: 3, initialTsn: 77, params: [] } as const;
    const settings = { localTag: 0xa0b0c0d0, localInitialTsn: 1234, aRwnd: 1 << 20, outboundStreams: 5, maxInboundStreams: 100, localPort: 4739, remotePort: 50000, localTieTag: 0, peerTieTag: 0, now: 1000, cookieLifetime: 60_000, secret };
    const cookieOf = (ack: ReturnType<typeof makeInitAck>) => {
      const p = ack.params.find((x) => x.type === ParameterType.STATE_COOKIE);
      if (!p || p.type !== ParameterType.STATE_COOKIE) throw new Error('no cookie');
      return p.cookie;
    };
    const c = cookieOf(makeInitAck({ ...init, params: [] }, settings));
    expect(c.length).toBe(84);
    const ok = openCookie(c, secret, 61_000);
    if (!ok.ok) throw new Error('refused');
    expect(ok.cookie).toMatchObject({ localTag: 0xa0b0c0d0, peerTag: 0x01020304, localInitialTsn: 1234, peerInitialTsn: 77, peerRwnd: 5000, outboundStreams: 3, inboundStreams: 9, localPort: 4739, remotePort: 50000, lifetime: 60_000 });
    const stale = openCookie(c, secret, 61_001);
    expect(stale.ok === false && stale.reason === 'stale-cookie' && stale.stalenessUs).toBe(1000);
    expect(openCookie(c, new Uint8Array(32), 2000)).toEqual({ ok: false, reason: 'bad-cookie' }); // another secret
    for (const at of [0, 16, 40, 51, 60]) {
      const forged = c.slice();
      forged[at] ^= 0x80;
      expect(openCookie(forged, secret, 2000)).toEqual({ ok: false, reason: 'bad-cookie' });
    }
    const longer = cookieOf(makeInitAck({ ...init, params: [{ type: ParameterType.COOKIE_PRESERVATIVE, lifeSpanIncrement: 500 }] }, settings));
    const l = openCookie(longer, secret, 0);
    expect(l.ok && l.cookie.lifetime).toBe(60_500);
    const capped = cookieOf(makeInitAck({ ...init, params: [{ type: ParameterType.COOKIE_PRESERVATIVE, lifeSpanIncrement: 10_000_000 }] }, settings));
    const m = openCookie(capped, secret, 0);
    expect(m.ok && m.cookie.lifetime).toBe(120_000);
  });
});
