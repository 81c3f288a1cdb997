// An association's life after the handshake: graceful SHUTDOWN (§9.2) with queued data delivered
// first and T2 retransmission, ABORT both ways (§9.1), a dead peer detected by T3-rtx or HEARTBEAT
// error counting (§8.1-§8.3) within the bound the options give, and a peer restart (§5.2.4 A).

import { describe, expect, it } from 'vitest';
import type { DownReason, SctpAssociation } from '../../../src/transport/sctp/association.js';
import { ChunkType } from '../../../src/transport/sctp/chunk.js';
import { SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import { decodePacket } from '../../../src/transport/sctp/packet.js';
import { A, B, Receiver, connected, makeMessages, pair, settle } from './association-helpers.js';

function downs(a: SctpAssociation, clock: { now(): number }) {
  const out: { reason: DownReason; detail?: string; at: number }[] = [];
  a.on('down', (reason, detail) => out.push({ reason, detail, at: clock.now() }));
  return out;
}

describe('SCTP shutdown and abort', () => {
  it('SHUTDOWN delivers everything queued first, then SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE, both sides down with "shutdown"', async () => {
    const p = pair({ seed: 9, dropRate: 0.02, delayMs: 5 });
    const { client, server } = await connected(p);
    const messages = makeMessages(3, 800, 4, { unorderedRate: 0.2 });
    const rx = new Receiver(server, new Map(messages.map((m) => [m.id, m])), 4);
    for (const m of messages) client.send(m.data, { stream: m.stream, ordered: m.ordered });
    const dc = downs(client, p.clock);
    const ds = downs(server, p.clock);
    await settle(p.clock, client.shutdown());
    p.clock.runUntil(() => ds.length > 0, 10_000);
    expect(rx.times.size).toBe(800);
    expect(rx.exactlyOnce && rx.orderViolations === 0 && rx.contentErrors === 0).toBe(true);
    expect(dc.map((d) => d.reason)).toEqual(['shutdown']);
    expect(ds.map((d) => d.reason)).toEqual(['shutdown']);
    expect(client.state).toBe('CLOSED');
    expect(server.state).toBe('CLOSED');
    // on the wire: the last DATA goes before the first SHUTDOWN, which carries the server's view
    const kinds = p.seen.filter((x) => x.fate !== 'dropped').map((x) => x.chunks.map((c) => c.type));
    const firstShutdown = kinds.findIndex((k) => k.includes(ChunkType.SHUTDOWN));
    const lastData = kinds.map((k) => k.includes(ChunkType.DATA)).lastIndexOf(true);
    expect(firstShutdown).toBeGreaterThan(lastData);
    expect(kinds.some((k) => k.includes(ChunkType.SHUTDOWN_ACK))).toBe(true);
    expect(kinds.at(-1)).toEqual([ChunkType.SHUTDOWN_COMPLETE]);
    expect(p.a.associations).toHaveLength(0);
    expect(p.b.associations).toHaveLength(0);
    expect(() => client.send(new Uint8Array(4), { stream: 0 })).toThrow(/CLOSED/);
  });

  it('the side that receives SHUTDOWN still sends all it has queued; the closing side acknowledges it with SACK and SHUTDOWN', async () => {
    const p = pair({ seed: 4, dropRate: 0.02, delayMs: 5 });
    const { client, server } = await connected(p);
    const toClient = makeMessages(5, 300, 4);
    const rxc = new Receiver(client, new Map(toClient.map((m) => [m.id, m])), 4);
    for (const m of toClient) server.send(m.data, { stream: m.stream, ordered: m.ordered });
    client.send(new Uint8Array([1, 2, 3]), { stream: 0 });
    const ds = downs(server, p.clock);
    await settle(p.clock, client.shutdown(), 120_000);
    p.clock.runUntil(() => ds.length > 0, 10_000);
    expect(rxc.times.size).toBe(300);
    expect(rxc.exactlyOnce && rxc.orderViolations === 0 && rxc.contentErrors === 0).toBe(true);
    expect(ds[0]!.reason).toBe('shutdown');
    // the client's SHUTDOWN went out again with SACKs while the server's data kept coming
    const fromClient = p.seen.filter((x) => x.from === A.address && x.chunks.some((c) => c.type === ChunkType.SHUTDOWN));
    expect(fromClient.length).toBeGreaterThan(1);
  });

  it('T2-shutdown retransmits a lost SHUTDOWN ACK', async () => {
    const p = pair({ delayMs: 5 });
    const { client, server } = await connected(p);
    let lost = 0;
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      if (d.ok && d.value.chunks[0]!.type === ChunkType.SHUTDOWN_ACK && lost++ === 0) return;
      send(packet, length, from, to);
    };
    const ds = downs(server, p.clock);
    await settle(p.clock, client.shutdown());
    p.clock.runUntil(() => ds.length > 0, 10_000);
    expect(lost).toBe(2);
    expect(ds[0]!.reason).toBe('shutdown');
  });

  it('the T5-shutdown-guard ends a shutdown that never completes with ABORT after 5 × RTO.Max', async () => {
    const p = pair({ delayMs: 5 }, { rtoMax: 100, rtoMin: 50, rtoInitial: 50 });
    const { client } = await connected(p);
    const send = p.link.transmit.bind(p.link);
    p.link.transmit = (packet, length, from, to) => {
      const d = decodePacket(packet, 0, length);
      if (d.ok && d.value.chunks[0]!.type === ChunkType.SHUTDOWN_ACK) return; // never arrives
      send(packet, length, from, to);
    };
    const dc = downs(client, p.clock);
    const t0 = p.clock.now();
    await expect(settle(p.clock, client.shutdown())).rejects.toThrow(/T5-shutdown-guard/);
    // SHUTDOWN at 0; T2 resends it at 50 ms, then every 100 ms (RTO.Max): errors at 50, 150, ..., 450
    // are 5, not above the limit of 5; T5 (5 × 100 ms) comes first at 500 ms
    expect(dc).toHaveLength(1);
    expect(dc[0]!.reason).toBe('abort');
    expect(dc[0]!.at - t0).toBe(500);
    expect(p.seen.filter((x) => x.from === A.address && x.chunks[0]!.type === ChunkType.SHUTDOWN).map((x) => x.at - t0)).toEqual([0, 50, 150, 250, 350, 450]);
    expect(p.seen.at(-1)!.chunks[0]!.type).toBe(ChunkType.ABORT);
  });

  it('ABORT with a reason: the peer goes down with "abort" and hears the reason', async () => {
    const p = pair();
    const { client, server } = await connected(p);
    const dc = downs(client, p.clock);
    const ds = downs(server, p.clock);
    client.abort('maintenance');
    p.clock.runUntil(() => ds.length > 0, 1000);
    expect(dc).toHaveLength(1);
    expect(dc[0]!.reason).toBe('abort');
    expect(ds[0]!.reason).toBe('abort');
    expect(ds[0]!.detail).toContain('maintenance');
    const abort = p.seen.at(-1)!;
    const c = abort.chunks[0]!;
    if (c.type !== ChunkType.ABORT) throw new Error('ABORT expected');
    expect(abort.tag).toBe(server.localTag);
    expect(c.tBit).toBe(false);
    expect(c.causes[0]!.code).toBe(CauseCode.USER_INITIATED_ABORT);
    expect(p.b.associations).toHaveLength(0);
  });

  it('closing the endpoint ABORTs its associations ("closed" locally, "abort" at the peer)', async () => {
    const p = pair();
    const { client, server } = await connected(p);
    const dc = downs(client, p.clock);
    const ds = downs(server, p.clock);
    p.a.close();
    p.clock.runUntil(() => ds.length > 0, 1000);
    expect(dc[0]!.reason).toBe('closed');
    expect(ds[0]!.reason).toBe('abort');
  });
});

describe('SCTP dead peer (COMM_LOST)', () => {
  // Path.Max.Retrans 5 < Association.Max.Retrans 10: with one path the peer counts as gone after
  // M + 1 = 6 consecutive errors (M = min of the two). RTO.Min 50, RTO.Max 2000, 10 ms each way.
  const M = 5;
  const rtoMax = 2000;

  it('with data outstanding: T3-rtx backs off and reports comm-lost within Σ_{j=0..M} min(R·2^j, RTO.Max)', async () => {
    const p = pair({ delayMs: 10 }, { heartbeatInterval: 1000 });
    const { client, server } = await connected(p);
    new Receiver(server, new Map(), 4);
    // keep data flowing; note the largest RTO seen before the cut (T3 may have been armed with it)
    let maxRto = 0;
    const watch = () => {
      maxRto = Math.max(maxRto, client.stats().rto);
      if (client.state === 'ESTABLISHED' && p.link.options.dropRate < 1) p.clock.setTimeout(watch, 1);
    };
    watch();
    const feed = () => {
      if (client.state !== 'ESTABLISHED') return;
      for (let i = 0; i < 20; i++) client.send(new Uint8Array(300), { stream: i % 4 });
      p.clock.setTimeout(feed, 10);
    };
    feed();
    p.clock.advance(2000);
    const dc = downs(client, p.clock);
    const cut = p.clock.now();
    p.link.options.dropRate = 1;
    p.clock.runUntil(() => dc.length > 0, 120_000);
    let bound = 0;
    for (let j = 0; j <= M; j++) bound += Math.min(maxRto * 2 ** j, rtoMax);
    expect(dc).toHaveLength(1);
    expect(dc[0]!.reason).toBe('comm-lost');
    expect(dc[0]!.at - cut).toBeLessThanOrEqual(bound);
    expect(client.stats().t3Expiries).toBe(M + 1);
    console.log(`comm-lost with data outstanding after ${dc[0]!.at - cut} ms (bound ${bound} ms, R ${maxRto} ms)`);
  });

  it('idle: unanswered HEARTBEATs report comm-lost within (M+2)·HB.interval + 2R + Σ_{j=1..M} min(R·2^j, RTO.Max)', async () => {
    const H = 1000;
    const p = pair({ delayMs: 10 }, { heartbeatInterval: H });
    const { client } = await connected(p);
    p.clock.advance(10 * H); // heartbeats answered, RTO settles at RTO.Min (RTT 20 ms)
    const s = client.stats();
    expect(s.heartbeatAcks).toBeGreaterThanOrEqual(5);
    expect(s.rto).toBe(50);
    const R = s.rto;
    const dc = downs(client, p.clock);
    const cut = p.clock.now();
    p.link.options.dropRate = 1;
    p.clock.runUntil(() => dc.length > 0, 600_000);
    let bound = (M + 2) * H + 2 * R;
    for (let j = 1; j <= M; j++) bound += Math.min(R * 2 ** j, rtoMax);
    expect(dc[0]!.reason).toBe('comm-lost');
    expect(dc[0]!.at - cut).toBeLessThanOrEqual(bound);
    expect(dc[0]!.at - cut).toBeGreaterThanOrEqual((M + 1) * H); // M + 1 heartbeats had to go unanswered
    expect(client.stats().errorCount).toBe(M + 1);
    console.log(`comm-lost when idle after ${dc[0]!.at - cut} ms (bound ${bound} ms)`);
  });
});

describe('SCTP peer restart (RFC 9260 §5.2.2, §5.2.4 A)', () => {
  it('a restarted client reconnects from the same port: the server association reports "restart" and data flows both ways', async () => {
    const p = pair({ delayMs: 5 });
    let server: SctpAssociation | null = null;
    let accepted = 0;
    p.b.listen(5000, (s) => {
      server = s;
      accepted++;
    });
    const client = await settle(p.clock, p.a.connect({ remote: B, remotePort: 5000, localPort: 45000 }));
    p.clock.runUntil(() => server !== null, 1000);
    const s = server as unknown as SctpAssociation;
    const got: string[] = [];
    s.on('message', (d) => got.push(Buffer.from(d).toString()));
    client.send(Buffer.from('before'), { stream: 0 });
    p.clock.runUntil(() => got.length === 1, 1000);
    const oldTags = [s.localTag, s.peerTag];
    let restarts = 0;
    s.on('restart', () => restarts++);
    // the client host crashes (no ABORT) and comes back at the same address
    p.lowerA.close();
    const a2 = new SctpEndpoint({ lower: p.link.endpoint(A.address, A.udpPort), ...p.base });
    const client2 = await settle(p.clock, a2.connect({ remote: B, remotePort: 5000, localPort: 45000 }));
    expect(restarts).toBe(1);
    expect(accepted).toBe(1); // the same association object, restarted
    expect(s.state).toBe('ESTABLISHED');
    expect(s.localTag).not.toBe(oldTags[0]);
    expect(s.peerTag).toBe(client2.localTag);
    expect(client2.peerTag).toBe(s.localTag);
    const back: string[] = [];
    client2.on('message', (d) => back.push(Buffer.from(d).toString()));
    client2.send(Buffer.from('after'), { stream: 1 });
    s.send(Buffer.from('welcome back'), { stream: 0 });
    p.clock.runUntil(() => got.length === 2 && back.length === 1, 2000);
    expect(got).toEqual(['before', 'after']);
    expect(back).toEqual(['welcome back']);
    void client;
  });
});

describe('SCTP restart with data queued', () => {
  it('messages not yet sent when the peer restarted go to the new peer, in order; those in flight to the old one are lost', async () => {
    const p = pair({ delayMs: 5 });
    let server: SctpAssociation | null = null;
    p.b.listen(5000, (s) => (server = s));
    await settle(p.clock, p.a.connect({ remote: B, remotePort: 5000, localPort: 45001 }));
    p.clock.runUntil(() => server !== null, 1000);
    const s = server as unknown as SctpAssociation;
    // 50 messages of 1,000 octets: cwnd (4404) lets 4 out, the rest wait
    for (let i = 0; i < 50; i++) s.send(new Uint8Array(1000).fill(i), { stream: 0 });
    p.clock.advance(0); // the first packets leave
    expect(s.bufferedAmount).toBeGreaterThan(40_000);
    p.lowerA.close(); // the client host dies with them in flight
    const a2 = new SctpEndpoint({ lower: p.link.endpoint(A.address, A.udpPort), ...p.base });
    let lost = -1;
    s.on('restart', (n) => (lost = n));
    const c2 = await settle(p.clock, a2.connect({ remote: B, remotePort: 5000, localPort: 45001 }));
    const got: number[] = [];
    c2.on('message', (d) => got.push(d[0]!));
    p.clock.runUntil(() => got.at(-1) === 49, 10_000);
    const first = got[0]!;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(got).toEqual(Array.from({ length: 50 - first }, (_, i) => first + i));
    expect(lost).toBe(first); // every message before the first one the new peer got was in flight, and is reported
    expect(s.stats().lostAtRestart).toBe(first);
    expect(s.stats().state).toBe('ESTABLISHED');
  });
});
