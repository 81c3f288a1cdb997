// SCTP over raw IP (protocol 132): the kernel-SCTP refusal and the addon-missing message (no privilege
// needed), then two RawIpLowerLayers in this process exchanging packets our codec built, over
// 127.0.0.1/127.0.0.2 and ::1, judged by our decoder and, on the wire, by tshark.
//
// A raw socket sees every SCTP packet to the host, including those of other tests running at the same
// time: each test keeps only packets between its own random ports.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Chunk, ChunkType } from '../../../src/transport/sctp/chunk.js';
import { kernelSctpEvidence } from '../../../src/transport/sctp/kernel-sctp.js';
import type { Remote } from '../../../src/transport/sctp/lower-layer.js';
import { decodePacket, encodePacket, packetLength } from '../../../src/transport/sctp/packet.js';
import { RawIpError, type RawIpLowerLayer, type RawIpOptions, loadRawSocket, openRawIp, parseIPv4, sctpOffsetInIPv4 } from '../../../src/transport/sctp/raw-ip.js';
import { interopRequired, requireOrSkip, runOk, tempDir, toolPath } from '../../helpers/tools.js';
import * as S from './samples.js';
import { waitFor } from '../../helpers/wait-for.js';

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/** A raw IP layer, closed after the test. */
async function opened(opts?: RawIpOptions): Promise<RawIpLowerLayer> {
  const l = await openRawIp(opts);
  closers.push(() => l.close());
  return l;
}

/** Raw sockets need root or CAP_NET_RAW and the built addon: say plainly why the tests below would not run. */
function rawSocketsUsable(): boolean {
  let why: string | null = null;
  try {
    const addon = loadRawSocket();
    addon.createSocket({ protocol: 132, addressFamily: addon.AddressFamily.IPv4 }).close();
  } catch (e) {
    why = (e as Error).message;
  }
  if (why === null) return true;
  if (interopRequired) throw new Error(`raw IP tests cannot run: ${why}; IPFIX_MEDIATOR_INTEROP=required`);
  console.warn(`\n*** SKIPPING raw IP tests (they need root or CAP_NET_RAW and the raw-socket addon): ${why} ***\n`);
  return false;
}

/** Two distinct high ports for one test, so its packets stand apart from other tests' SCTP traffic. */
function ports(): [number, number] {
  const a = 20000 + Math.floor(Math.random() * 40000);
  return [a, a + 1];
}

interface Arrival {
  bytes: Uint8Array;
  remote: Remote;
  /** The view handed up, kept to check that it stays valid. */
  view: Uint8Array;
}

/**
 * Collect what a layer hands up for SCTP packets between ports a and b (either direction). Packets
 * holding an ABORT are left out: these tests send none, but another userspace stack in raw mode on
 * this host (usrsctp in another test file running at the same time) sees our packets too and may
 * answer them as out of the blue (RFC 9260 §8.4) with an ABORT.
 */
function collect(layer: RawIpLowerLayer, a: number, b: number): Arrival[] {
  const got: Arrival[] = [];
  layer.onPacket((p, len, remote) => {
    if (len < 16) return;
    const src = (p[0]! << 8) | p[1]!;
    const dst = (p[2]! << 8) | p[3]!;
    if (!((src === a && dst === b) || (src === b && dst === a)) || hasAbort(p, len)) return;
    got.push({ bytes: Uint8Array.from(p.subarray(0, len)), remote, view: p.subarray(0, len) });
  });
  return got;
}

function hasAbort(p: Uint8Array, len: number): boolean {
  for (let o = 12; o + 4 <= len; o += Math.max(4, (((p[o + 2]! << 8) | p[o + 3]!) + 3) & ~3)) if (p[o] === ChunkType.ABORT) return true;
  return false;
}

/** Does the file hold these octets (yet)? */
function fileHolds(path: string, octets: Uint8Array): boolean {
  try {
    return readFileSync(path).includes(octets);
  } catch {
    return false;
  }
}

function packet(src: number, dst: number, tag: number, chunks: Chunk[]): Uint8Array {
  const b = new Uint8Array(packetLength(chunks));
  encodePacket(b, 0, { srcPort: src, dstPort: dst, verificationTag: tag }, chunks);
  return b;
}

const dataChunk = (tsn: number, text: string): Chunk => ({
  type: ChunkType.DATA,
  unordered: false,
  beginning: true,
  ending: true,
  immediate: false,
  tsn,
  streamId: 1,
  ssn: tsn & 0xffff,
  ppid: 0,
  userData: S.text(text),
});

describe('kernel SCTP check', () => {
  const tmp = tempDir('sctp-kernel-');
  afterAll(() => tmp.cleanup());
  const paths = (name: string) => {
    const d = join(tmp.dir, name);
    mkdirSync(d, { recursive: true });
    return { procNetSctp: join(d, 'net-sctp'), procModules: join(d, 'modules'), sysModuleSctp: join(d, 'sys-module-sctp') };
  };

  it('finds no SCTP when none of the paths shows it, nor when /proc/modules is absent', () => {
    const p = paths('none');
    expect(kernelSctpEvidence(p)).toBeNull();
    writeFileSync(p.procModules, 'nf_tables 372736 0 - Live 0x0000000000000000\nsctp_diag 16384 0 - Live 0x0\nxsctp 1 0 - Live 0x0\n');
    expect(kernelSctpEvidence(p)).toBeNull();
  });

  it('sees the module in /proc/modules, /proc/net/sctp, or /sys/module/sctp', () => {
    const m = paths('modules');
    writeFileSync(m.procModules, 'nf_tables 372736 0 - Live 0x0000000000000000\nsctp 471040 4 sctp_diag, Live 0x0000000000000000\n');
    expect(kernelSctpEvidence(m)).toBe(`the sctp module is listed in ${m.procModules}`);
    const n = paths('net');
    mkdirSync(n.procNetSctp);
    expect(kernelSctpEvidence(n)).toBe(`${n.procNetSctp} exists`);
    const s = paths('sys');
    mkdirSync(s.sysModuleSctp);
    expect(kernelSctpEvidence(s)).toBe(`${s.sysModuleSctp} exists`);
  });

  it('raw mode refuses to start while the kernel has SCTP, naming UDP encapsulation and the blacklist', async () => {
    const p = paths('refuse');
    mkdirSync(p.procNetSctp);
    const e = await openRawIp({ address: '127.0.0.1', kernelSctpPaths: p }).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(RawIpError);
    expect((e as RawIpError).code).toBe('kernel-sctp');
    expect((e as RawIpError).message).toContain(`${p.procNetSctp} exists`);
    expect((e as RawIpError).message).toContain('?encapsulation=udp');
    expect((e as RawIpError).message).toContain('blacklist sctp');
  });
});

describe('raw IP setup errors', () => {
  it('a missing addon names the build tools and UDP encapsulation', () => {
    let e: unknown = null;
    try {
      loadRawSocket('raw-socket-that-is-not-installed');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(RawIpError);
    expect((e as RawIpError).code).toBe('addon-missing');
    expect((e as RawIpError).message).toMatch(/g\+\+ make python3/);
    expect((e as RawIpError).message).toContain('npm ci');
    expect((e as RawIpError).message).toContain('?encapsulation=udp');
  });

  it('refuses a local address that is not an IP address or not this host', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'opened', (x: RawIpError) => x.code);
    expect(await code(openRawIp({ address: 'localhost' }))).toBe('address');
    expect(await code(openRawIp({ address: '::1', family: 4 }))).toBe('address');
    // TEST-NET-1 (RFC 5737): never an address of this host
    expect(await code(openRawIp({ address: '192.0.2.1' }))).toBe('address');
  });

  it('parses dotted quads without allocating and refuses anything else', () => {
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4('0.0.0.0')).toBe(0);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1..2.3', '1.2.3.', '::1', 'a.b.c.d', ' 1.2.3.4']) expect(parseIPv4(bad), bad).toBe(-1);
  });
});

describe('IPv4 header as a raw socket delivers it', () => {
  /** An IPv4 header (IHL from the options' length) with `options`, followed by `payload`. */
  const datagram = (payload: Uint8Array, options: number[] = [], edit: (b: Buffer) => void = () => {}) => {
    const ihl = 20 + options.length;
    const b = Buffer.alloc(ihl + payload.length);
    b[0] = 0x40 | (ihl / 4);
    b.writeUInt16BE(b.length, 2);
    b[8] = 64;
    b[9] = 132;
    b.set([127, 0, 0, 1], 12);
    b.set([127, 0, 0, 2], 16);
    b.set(options, 20);
    b.set(payload, ihl);
    edit(b);
    return b;
  };
  const sctp = packet(5000, 5001, 7, [S.heartbeat]);

  it('finds the SCTP packet after the header, options included (IHL counts 32-bit words)', () => {
    expect(sctpOffsetInIPv4(datagram(sctp), 20 + sctp.length)).toBe(20);
    // NOP, NOP, NOP, End of Option List: IHL 6
    expect(sctpOffsetInIPv4(datagram(sctp, [1, 1, 1, 0]), 24 + sctp.length)).toBe(24);
    // 40 octets of options: IHL 15, the largest
    expect(sctpOffsetInIPv4(datagram(sctp, new Array(40).fill(1)), 60 + sctp.length)).toBe(60);
  });

  it('refuses what does not hold together', () => {
    const n = 20 + sctp.length;
    expect(sctpOffsetInIPv4(datagram(sctp, [], (b) => (b[0] = 0x65)), n), 'version 6').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp, [], (b) => (b[0] = 0x44)), n), 'IHL 4').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(new Uint8Array(0), [], (b) => (b[0] = 0x4f)), 20), 'IHL past the datagram').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp, [], (b) => b.writeUInt16BE(n + 4, 2)), n), 'Total Length beyond what arrived').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp, [], (b) => b.writeUInt16BE(n - 4, 2)), n), 'Total Length short of what arrived').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp, [], (b) => (b[9] = 6)), n), 'protocol TCP').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp), 19), 'shorter than a header').toBe(-1);
    expect(sctpOffsetInIPv4(datagram(sctp), n + 1), 'more received than the buffer holds').toBe(-1);
  });
});

describe.skipIf(!rawSocketsUsable())('two raw IP layers in one process', () => {
  it('IPv4: packets arrive byte for byte, from the bound source address, and only at the bound destination', async () => {
    const a = await opened({ address: '127.0.0.1' });
    const b = await opened({ address: '127.0.0.2' });
    const [pa, pb] = ports();
    const atA = collect(a, pa, pb);
    const atB = collect(b, pa, pb);

    const init = packet(pa, pb, 0, [S.init]);
    const data = packet(pa, pb, 0x01020304, [dataChunk(1000, 'IPFIX over raw SCTP')]);
    a.send(init, init.length, { address: '127.0.0.2', udpPort: 0 });
    a.send(data, data.length, { address: '127.0.0.2', udpPort: 0 });
    await waitFor('two packets at B', () => (atB.length >= 2 ? true : undefined));
    expect(atB.map((x) => x.bytes)).toEqual([init, data]);
    // the source is A's bound address (our own IPv4 header), not the kernel's pick for the route
    expect(atB.map((x) => x.remote)).toEqual([
      { address: '127.0.0.1', udpPort: 0 },
      { address: '127.0.0.1', udpPort: 0 },
    ]);
    const d = decodePacket(atB[1]!.bytes);
    expect(d.ok && d.value.chunks[0]).toMatchObject({ type: ChunkType.DATA, tsn: 1000, userData: S.text('IPFIX over raw SCTP') });

    const ack = packet(pb, pa, 0x11223344, [{ type: ChunkType.SACK, cumulativeTsnAck: 1000, aRwnd: 65536, gapAckBlocks: [], duplicateTsns: [] }]);
    b.send(ack, ack.length, { address: '127.0.0.1', udpPort: 0 });
    await waitFor('the SACK at A', () => (atA.length >= 1 ? true : undefined));
    expect(atA.map((x) => x.bytes)).toEqual([ack]);
    expect(atA[0]!.remote).toEqual({ address: '127.0.0.2', udpPort: 0 });
    // each saw the other's packets to the other address on lo too, and dropped them
    expect(a.stats.droppedOtherAddress).toBeGreaterThanOrEqual(2);
    expect(b.stats.droppedOtherAddress).toBeGreaterThanOrEqual(1);
    expect(a.stats.packetsOut).toBe(2);
    expect(a.stats.octetsOut).toBe(init.length + data.length);
    expect(b.stats.sendErrors + a.stats.sendErrors + a.stats.droppedBadIpHeader + b.stats.droppedBadIpHeader).toBe(0);
    expect(Object.isFrozen(atB[0]!.remote)).toBe(true);
  });

  it('IPv4 unbound: packets to any local address are taken, the kernel picks the source', async () => {
    const any = await opened();
    expect([any.family, any.localAddress, any.device]).toEqual([4, '0.0.0.0', null]);
    const a = await opened({ address: '127.0.0.1' });
    const [pa, pb] = ports();
    const atAny = collect(any, pa, pb);
    const atA = collect(a, pa, pb);
    const to3 = packet(pa, pb, 1, [S.cookieEcho]);
    a.send(to3, to3.length, { address: '127.0.0.3', udpPort: 0 });
    await waitFor('the packet to 127.0.0.3', () => (atAny.length >= 1 ? true : undefined));
    expect(atAny[0]!.bytes).toEqual(to3);
    expect(atAny[0]!.remote.address).toBe('127.0.0.1');
    const back = packet(pb, pa, 2, [S.cookieAck]);
    any.send(back, back.length, { address: '127.0.0.1', udpPort: 0 });
    await waitFor('the answer at A', () => (atA.length >= 1 ? true : undefined));
    expect(atA[0]!.bytes).toEqual(back);
    // for 127.0.0.1 the kernel's source is 127.0.0.1 (the route to lo)
    expect(atA[0]!.remote.address).toBe('127.0.0.1');
    expect(any.stats.droppedOtherAddress).toBe(0);
  });

  it('IPv6 on ::1: the payload arrives without the IPv6 header, the source from recvfrom', async () => {
    const a = await opened({ address: '::1' });
    const b = await opened({ family: 6 });
    expect(a.device).toBe('lo');
    const [pa, pb] = ports();
    const atA = collect(a, pa, pb);
    const atB = collect(b, pa, pb);
    const hb = packet(pa, pb, 0x0a0b0c0d, [S.heartbeat]);
    a.send(hb, hb.length, { address: '::1', udpPort: 0 });
    await waitFor('the HEARTBEAT at both (both are on ::1)', () => (atA.length >= 1 && atB.length >= 1 ? true : undefined));
    expect(atB.map((x) => x.bytes)).toEqual([hb]);
    expect(atA.map((x) => x.bytes)).toEqual([hb]);
    expect(atB[0]!.remote).toEqual({ address: '::1', udpPort: 0 });
    const d = decodePacket(atB[0]!.bytes);
    expect(d.ok && d.value.chunks.map((c) => c.type)).toEqual([ChunkType.HEARTBEAT]);
  });

  it('a packet with a bad CRC32c is handed up unchanged (checking is the endpoint’s job)', async () => {
    const a = await opened({ address: '127.0.0.1' });
    const b = await opened({ address: '127.0.0.2' });
    const [pa, pb] = ports();
    const atB = collect(b, pa, pb);
    const bad = packet(pa, pb, 0x01020304, [dataChunk(7, 'damaged on the way')]);
    bad[bad.length - 1] ^= 0x40;
    a.send(bad, bad.length, { address: '127.0.0.2', udpPort: 0 });
    await waitFor('the damaged packet at B', () => (atB.length >= 1 ? true : undefined));
    expect(atB[0]!.bytes).toEqual(bad);
    const d = decodePacket(atB[0]!.bytes);
    expect(d.ok ? 'ok' : d.error.code).toBe('bad-checksum');
  });

  it('IPv4 with header options: the receiver strips the header by its IHL', async () => {
    const b = await opened({ address: '127.0.0.2' });
    const [pa, pb] = ports();
    const atB = collect(b, pa, pb);
    // a datagram built here with our own header (IP_HDRINCL): IHL 6, options NOP NOP NOP EOL
    const addon = loadRawSocket();
    const raw = addon.createSocket({ protocol: 132, addressFamily: addon.AddressFamily.IPv4 });
    closers.push(() => raw.close());
    raw.setOption(addon.SocketLevel.IPPROTO_IP!, addon.SocketOption.IP_HDRINCL!, 1);
    const sctp = packet(pa, pb, 0x01020304, [dataChunk(5, 'after 24 octets of IPv4 header')]);
    const d = Buffer.alloc(24 + sctp.length);
    d[0] = 0x46;
    d[8] = 64;
    d[9] = 132;
    d.set([127, 0, 0, 1], 12);
    d.set([127, 0, 0, 2], 16);
    d.set([1, 1, 1, 0], 20);
    d.set(sctp, 24); // total length, identification and checksum: the kernel fills them in
    raw.wrap.send(d, 0, d.length, '127.0.0.2', () => {});
    await waitFor('the packet at B', () => (atB.length >= 1 ? true : undefined));
    expect(atB[0]!.bytes).toEqual(sctp);
    expect(atB[0]!.remote.address).toBe('127.0.0.1');
  });

  it('send copies before returning, and received packets stay valid across many later ones', async () => {
    const a = await opened({ address: '127.0.0.1' });
    const b = await opened({ address: '127.0.0.2' });
    const [pa, pb] = ports();
    const atB = collect(b, pa, pb);
    // one buffer, rewritten for every packet straight after send(): 1,000 packets of 1,400 octets
    // (more than one receive arena's worth), sent in bursts the receive buffer can hold
    const buf = new Uint8Array(1400);
    const sent: Uint8Array[] = [];
    const payload = new Uint8Array(1400 - 12 - 16);
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 50; i++) {
        const n = burst * 50 + i;
        payload.fill(n & 0xff);
        const len = encodePacket(buf, 0, { srcPort: pa, dstPort: pb, verificationTag: n }, [{ ...(dataChunk(n, '') as Extract<Chunk, { type: 0 }>), userData: payload }]);
        a.send(buf, len, { address: '127.0.0.2', udpPort: 0 });
        sent.push(buf.slice(0, len));
        buf.fill(0xee); // what send() was given is gone
      }
      await waitFor(`burst ${burst} at B`, () => (atB.length >= (burst + 1) * 50 ? true : undefined));
    }
    expect(atB).toHaveLength(1000);
    // (Buffer#equals: a deep toEqual over 2,000 arrays of 1,400 octets takes vitest many seconds)
    const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length));
    expect(atB.findIndex((x, i) => !same(x.bytes, sent[i]!)), 'first packet received unlike the one sent').toBe(-1);
    expect(atB.findIndex((x, i) => !same(x.view, sent[i]!)), "first packet whose view changed after later ones arrived").toBe(-1);
    expect(new Set(atB.map((x) => x.view.buffer)).size, 'receive arenas used').toBeGreaterThan(1);
  });

  it('send errors are counted, never thrown', async () => {
    const v4 = await opened({ address: '127.0.0.1' });
    const v6 = await opened({ address: '::1' });
    const errors: string[] = [];
    v4.onError((e) => errors.push(e.message));
    const p = packet(40000, 40001, 1, [S.heartbeat]);
    v4.send(p, p.length, { address: 'not-an-address', udpPort: 0 });
    v4.send(p, p.length, { address: '::1', udpPort: 0 });
    expect(v4.stats.sendErrors).toBe(2);
    expect(errors).toHaveLength(2);
    // beyond what one IPv4 datagram (65,535 octets with its header) or one IPv6 payload can carry
    const huge = new Uint8Array(70000);
    v4.send(huge, huge.length, { address: '127.0.0.1', udpPort: 0 });
    expect(v4.stats.sendTooBig).toBe(1);
    v6.send(huge, huge.length, { address: '::1', udpPort: 0 });
    expect(v6.stats.sendTooBig + v6.stats.sendErrors).toBe(1);
    expect(v4.stats.packetsOut + v6.stats.packetsOut).toBe(0);
    v4.close();
    v4.close(); // idempotent
    v4.send(p, p.length, { address: '127.0.0.1', udpPort: 0 }); // after close: nothing, no throw
    expect(v4.stats.packetsOut).toBe(0);
  });
});

describe.skipIf(!rawSocketsUsable() || !requireOrSkip('dumpcap', 'tshark'))('tshark judges raw IP packets captured on lo', () => {
  const tmp = tempDir('sctp-raw-capture-');
  let dumpcap: ChildProcess | undefined;
  afterAll(() => {
    if (dumpcap?.pid && dumpcap.exitCode === null) dumpcap.kill('SIGKILL');
    tmp.cleanup();
  });

  it('IPv4 and IPv6: SCTP with CRC32c good, IPv4 header checksum good, addresses and chunks as sent; no ICMP unreachable', async () => {
    const a = await opened({ address: '127.0.0.1' });
    const a6 = await opened({ address: '::1' });
    const [pa, pb] = ports();
    const pcap = join(tmp.dir, 'raw.pcap');
    // (only packets from port pa are judged: answers to them from any other raw-mode stack go the other way)
    let err = '';
    // -P: classic pcap, simple to search for the probes below
    const p = spawn(toolPath('dumpcap')!, ['-i', 'lo', '-f', 'ip proto 132 or ip6 proto 132 or icmp or icmp6', '-P', '-w', pcap, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    dumpcap = p;
    p.stderr!.on('data', (x: Buffer) => (err += x.toString()));
    // "Capturing on" comes before the filter is in place, and dumpcap writes packets out in blocks on
    // a timer (the last one may be lost when it is stopped): send probes from other ports, each with
    // the marker as its tag, until one is in the file; at the start, and again after our packets
    const untilCaptured = (marker: number) => {
      const probe = packet(pa + 2, pa + 3, marker, [S.cookieAck]);
      const header = probe.subarray(0, 8); // ports and tag
      return waitFor(
        `dumpcap to capture probe ${marker.toString(16)} (${err})`,
        () => {
          if (fileHolds(pcap, header)) return true;
          a.send(probe, probe.length, { address: '127.0.0.2', udpPort: 0 });
          return undefined;
        },
        15_000,
      );
    };
    await untilCaptured(0x57a27001);

    const sent: Array<{ family: 4 | 6; chunks: Chunk[] }> = [
      { family: 4, chunks: [S.init] },
      { family: 4, chunks: [dataChunk(1000, 'IPFIX over raw SCTP'), S.sack] },
      { family: 4, chunks: [S.heartbeat] },
      { family: 6, chunks: [S.initAck] },
      { family: 6, chunks: [dataChunk(1001, 'and over IPv6')] },
    ];
    for (const s of sent) {
      const pkt = packet(pa, pb, s.chunks[0]!.type === ChunkType.INIT ? 0 : 0x01020304, s.chunks);
      if (s.family === 4) a.send(pkt, pkt.length, { address: '127.0.0.2', udpPort: 0 });
      else a6.send(pkt, pkt.length, { address: '::1', udpPort: 0 });
    }
    await untilCaptured(0xe0d0e0d0);
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);

    const fields = ['ip.src', 'ip.dst', 'ip.checksum.status', 'ipv6.src', 'ipv6.dst', 'sctp.srcport', 'sctp.dstport', 'sctp.checksum.status', 'sctp.chunk_type', 'sctp.data_tsn_raw'];
    const args = ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-o', 'ip.check_checksum:TRUE', '-Y', `sctp.srcport == ${pa}`, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=\t'];
    for (const f of fields) args.push('-e', f);
    const r = await runOk(toolPath('tshark')!, args, { timeoutMs: 60_000, env: { ...process.env, LC_ALL: 'C' } });
    const rows = r.stdout
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i]!, v])));
    expect(rows.map((row) => ({ ...row }))).toEqual(
      sent.map((s, i) => ({
        'ip.src': s.family === 4 ? '127.0.0.1' : '',
        'ip.dst': s.family === 4 ? '127.0.0.2' : '',
        'ip.checksum.status': s.family === 4 ? '1' : '',
        'ipv6.src': s.family === 6 ? '::1' : '',
        'ipv6.dst': s.family === 6 ? '::1' : '',
        'sctp.srcport': String(pa),
        'sctp.dstport': String(pb),
        'sctp.checksum.status': '1',
        'sctp.chunk_type': s.chunks.map((c) => c.type).join('|'),
        'sctp.data_tsn_raw': i === 1 ? '1000' : i === 4 ? '1001' : '',
      })),
    );
    const expert = await runOk(toolPath('tshark')!, ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-o', 'ip.check_checksum:TRUE', '-Y', `sctp.srcport == ${pa} && (_ws.expert || _ws.malformed)`, '-T', 'fields', '-e', '_ws.expert.message'], { timeoutMs: 60_000 });
    expect(expert.stdout.trim()).toBe('');
    // the kernel has no SCTP, but while a raw socket takes protocol 132 it does not answer SCTP
    // packets with ICMP protocol (IPv4) / parameter problem "unrecognized Next Header" (IPv6) either
    const icmp = await runOk(toolPath('tshark')!, ['-r', pcap, '-Y', '(icmp.type == 3 && icmp.code == 2) || (icmpv6.type == 4 && icmpv6.code == 1)', '-T', 'fields', '-e', 'frame.number'], { timeoutMs: 60_000 });
    expect(icmp.stdout.trim()).toBe('');
  });
});
