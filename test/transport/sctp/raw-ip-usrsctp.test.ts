// Interop over raw IP with an independent stack: usrsctp's discard_server, which without UDP ports
// runs over raw IP itself. A raw-mode stack sees every SCTP packet that reaches its host and may
// answer any it does not know (usrsctp does: even a usrsctp over UDP in another test answers packets
// out of the blue on raw IP), so neither side runs in the host's network: this file creates two
// network namespaces joined by a veth pair (10.x.y.0/30 and an fd00::/8 ULA /64 chosen at random,
// deleted afterwards), starts discard_server in one, and runs itself again in a child vitest inside
// the other (a process cannot change its own namespace), where the tests below run. Over IPv4 and
// IPv6: first our side drives an association by hand from a RawIpLowerLayer (INIT → INIT ACK →
// COOKIE ECHO → COOKIE ACK → DATA → SACK → ABORT, every packet from usrsctp decoded by our codec);
// then a real one runs through SctpEndpoint over the raw layer, captured on our end of the veth pair
// by dumpcap and judged by tshark (CRC32c good on every packet, no expert info, the whole life of
// the association on the wire).

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chunk, ChunkType, DataFlags, writeDataChunk } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import type { Remote } from '../../../src/transport/sctp/lower-layer.js';
import { encodePacket, finishPacket, writeCommonHeader } from '../../../src/transport/sctp/packet.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { type RawIpLowerLayer, loadRawSocket, openRawIp } from '../../../src/transport/sctp/raw-ip.js';
import { SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { interopRequired, repoRoot, requireOrSkip, run, runOk, tempDir, toolPath } from '../../helpers/tools.js';
import { waitFor } from '../../helpers/wait-for.js';
import { chunkInbox } from '../../helpers/sctp-inbox.js';

const DISCARD_SERVER = '/usr/lib/usrsctp/discard_server';
const DISCARD_PORT = 9;

/** Root (for namespaces and raw sockets), `ip`, discard_server and the raw-socket addon: why not, or null. */
function missing(): string | null {
  if (process.getuid?.() !== 0) return 'not root (network namespaces and raw sockets need it)';
  if (!requireOrSkip('dumpcap', 'tshark')) return 'missing dumpcap/tshark';
  if (!toolPath('ip')) return 'missing ip (Debian: apt-get install iproute2)';
  try {
    accessSync(DISCARD_SERVER, constants.X_OK);
  } catch {
    return `missing ${DISCARD_SERVER} (Debian: apt-get install libusrsctp-examples)`;
  }
  try {
    const addon = loadRawSocket();
    addon.createSocket({ protocol: 132, addressFamily: addon.AddressFamily.IPv4 }).close();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

function usable(): boolean {
  const why = missing();
  if (why === null) return true;
  if (interopRequired) throw new Error(`usrsctp raw IP interop cannot run: ${why}; IPFIX_MEDIATOR_INTEROP=required`);
  console.warn(`\n*** SKIPPING usrsctp raw IP interop: ${why} ***\n`);
  return false;
}

interface Net {
  /** Our namespace (the child vitest runs in it) and usrsctp's. */
  ours: string;
  peers: string;
  /** Our end of the veth pair (in `ours`) and usrsctp's (in `peers`). */
  ourIf: string;
  peerIf: string;
  ours4: string;
  peer4: string;
  ours6: string;
  peer6: string;
}

/** Set in the child vitest: the network the parent made, which this process now stands in. */
const CHILD_ENV = 'RAW_IP_USRSCTP_NET';
const inside: Net | null = process.env[CHILD_ENV] ? (JSON.parse(process.env[CHILD_ENV]!) as Net) : null;

/** Names and addresses unique to a run (interface names are at most 15 characters). */
function newNet(): Net {
  const id = Math.floor(Math.random() * 0x10000);
  const tag = id.toString(16).padStart(4, '0');
  const net4 = `10.${200 + (id % 50)}.${id >> 8}`;
  const base = (id & 0xff) & ~3;
  return {
    ours: `sctpraw-${tag}-a`,
    peers: `sctpraw-${tag}-b`,
    ourIf: `sr${tag}a`,
    peerIf: `sr${tag}b`,
    ours4: `${net4}.${base + 1}`,
    peer4: `${net4}.${base + 2}`,
    // RFC 5952 text (no leading zeros), as recvfrom reports the peer
    ours6: `fd00:5c7a:${id.toString(16)}::1`,
    peer6: `fd00:5c7a:${id.toString(16)}::2`,
  };
}

async function ip(...args: string[]): Promise<void> {
  await runOk(toolPath('ip')!, args, { timeoutMs: 10_000 });
}

describe.skipIf(inside !== null || !usable())('usrsctp discard_server over raw IP, each stack in a network namespace of its own', () => {
  const net = newNet();

  beforeAll(async () => {
    await ip('netns', 'add', net.ours);
    await ip('netns', 'add', net.peers);
    await ip('link', 'add', net.ourIf, 'netns', net.ours, 'type', 'veth', 'peer', 'name', net.peerIf, 'netns', net.peers);
    for (const [ns, ifc, a4, a6] of [
      [net.ours, net.ourIf, net.ours4, net.ours6],
      [net.peers, net.peerIf, net.peer4, net.peer6],
    ] as const) {
      await ip('-n', ns, 'addr', 'add', `${a4}/30`, 'dev', ifc);
      await ip('-n', ns, '-6', 'addr', 'add', `${a6}/64`, 'dev', ifc, 'nodad');
      await ip('-n', ns, 'link', 'set', ifc, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  }, 30_000);

  afterAll(async () => {
    // deleting a namespace deletes its end of the veth pair, and with it the other end
    await run(toolPath('ip')!, ['netns', 'del', net.ours], { timeoutMs: 10_000 });
    await run(toolPath('ip')!, ['netns', 'del', net.peers], { timeoutMs: 10_000 });
  }, 30_000);

  it('runs the interop tests in a child vitest inside our namespace: all pass', async () => {
    const vitest = join(repoRoot, 'node_modules/vitest/vitest.mjs');
    const r = await run(toolPath('ip')!, ['netns', 'exec', net.ours, process.execPath, vitest, 'run', 'test/transport/sctp/raw-ip-usrsctp.test.ts'], {
      cwd: repoRoot,
      env: { ...process.env, [CHILD_ENV]: JSON.stringify(net), IPFIX_MEDIATOR_INTEROP: 'required', NO_COLOR: '1', FORCE_COLOR: '0' },
      timeoutMs: 120_000,
    });
    const out = `${r.stdout}\n${r.stderr}`.slice(-8000);
    expect(r.timedOut, out).toBe(false);
    expect(r.code, out).toBe(0);
    // the four tests of the inside describe ran and passed (this outside one is skipped there)
    expect(out).toMatch(/Tests\s+4 passed \| 1 skipped \(5\)/);
  }, 150_000);
});

describe.skipIf(inside === null)('usrsctp discard_server over raw IP, from inside our namespace', () => {
  const net = inside!;
  const HOST_IF = net?.ourIf;
  const HOST4 = net?.ours4;
  const PEER4 = net?.peer4;
  const HOST6 = net?.ours6;
  const PEER6 = net?.peer6;
  let server: ChildProcess | undefined;
  let serverOut = '';

  beforeAll(() => {
    // no UDP ports: usrsctp over raw IP (it listens on the discard port, IPv4 and IPv6)
    // stdbuf: its stdout is a pipe here, which stdio would buffer in 4 KB blocks
    server = spawn(toolPath('ip')!, ['netns', 'exec', net.peers, 'stdbuf', '-oL', '-eL', DISCARD_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (b: Buffer) => (serverOut += b.toString()));
    server.stderr!.on('data', (b: Buffer) => (serverOut += b.toString()));
  });

  afterAll(() => {
    if (server?.pid && server.exitCode === null) server.kill('SIGKILL');
  });

  /** The association, by hand; returns what usrsctp sent, decoded. */
  async function associate(layer: RawIpLowerLayer, peerAddress: string, localPort: number): Promise<void> {
    // a raw socket sees every SCTP packet to the host: keep this association's; INIT is re-sent every 250 ms
    const { expectChunk, undecodable } = chunkInbox(layer, {
      keep: (p, len) => len >= 4 && ((p[0]! << 8) | p[1]!) === DISCARD_PORT && ((p[2]! << 8) | p[3]!) === localPort,
      resendMs: 250,
      context: () => `from usrsctp at ${peerAddress}; layer ${JSON.stringify(layer.stats)}; server said: ${serverOut.slice(-2000)}`,
    });
    const peer: Remote = { address: peerAddress, udpPort: 0 };
    const buf = new Uint8Array(2048);
    const send = (vtag: number, chunks: Chunk[]) => {
      const n = encodePacket(buf, 0, { srcPort: localPort, dstPort: DISCARD_PORT, verificationTag: vtag }, chunks);
      layer.send(buf, n, peer);
    };

    const myTag = 0x5ca1ab1e;
    const myTsn = 77;
    const init: Chunk = {
      type: ChunkType.INIT,
      initiateTag: myTag,
      aRwnd: 1 << 20,
      outboundStreams: 4,
      inboundStreams: 4,
      initialTsn: myTsn,
      params: [{ type: ParameterType.FORWARD_TSN_SUPPORTED }],
    };
    const { packet: ia, remote } = await expectChunk(ChunkType.INIT_ACK, () => send(0, [init]));
    expect(remote).toEqual({ address: peerAddress, udpPort: 0 });
    expect(ia.srcPort).toBe(DISCARD_PORT);
    expect(ia.verificationTag).toBe(myTag); // RFC 9260 §8.5: the INIT ACK carries our Initiate Tag
    expect(ia.chunks).toHaveLength(1);
    const initAck = ia.chunks[0]!;
    if (initAck.type !== ChunkType.INIT_ACK) throw new Error('not an INIT ACK');
    expect(initAck.initiateTag).not.toBe(0);
    expect(initAck.params.some((p) => p.type === ParameterType.FORWARD_TSN_SUPPORTED)).toBe(true);
    const cookie = initAck.params.find((p) => p.type === ParameterType.STATE_COOKIE);
    if (cookie?.type !== ParameterType.STATE_COOKIE) throw new Error('INIT ACK without a State Cookie');
    const peerTag = initAck.initiateTag;

    send(peerTag, [{ type: ChunkType.COOKIE_ECHO, cookie: cookie.cookie }]);
    const ca = await expectChunk(ChunkType.COOKIE_ACK);
    expect(ca.packet.verificationTag).toBe(myTag);

    const message = new TextEncoder().encode(`IPFIX over raw SCTP to ${peerAddress}`);
    let o = writeCommonHeader(buf, 0, localPort, DISCARD_PORT, peerTag);
    o = writeDataChunk(buf, o, DataFlags.BEGINNING | DataFlags.ENDING | DataFlags.IMMEDIATE, myTsn, 0, 0, 0, message);
    finishPacket(buf, 0, o);
    layer.send(buf, o, peer);
    const sackMsg = await expectChunk(ChunkType.SACK);
    expect(sackMsg.packet.verificationTag).toBe(myTag);
    expect(sackMsg.packet.chunks.find((c) => c.type === ChunkType.SACK)).toMatchObject({ cumulativeTsnAck: myTsn, gapAckBlocks: [], duplicateTsns: [] });
    await waitForText(() => serverOut, `Msg of length ${message.length} received`);

    send(peerTag, [{ type: ChunkType.ABORT, tBit: false, causes: [{ code: CauseCode.USER_INITIATED_ABORT, reason: new TextEncoder().encode('test done') }] }]);
    expect(undecodable).toEqual([]);
    expect(layer.stats.sendErrors + layer.stats.sendTooBig + layer.stats.droppedBadIpHeader).toBe(0);
  }

  it('IPv4: a hand-driven association through the veth pair', async () => {
    const layer = await openRawIp({ address: HOST4 });
    try {
      await associate(layer, PEER4!, 30000);
    } finally {
      layer.close();
    }
  }, 30_000);

  it('IPv6: a hand-driven association through the veth pair', async () => {
    // spelt in capitals, zero-padded, on purpose: the bound address is compared as an address, not as text
    const layer = await openRawIp({ address: HOST6!.toUpperCase().replace('::', ':0::') });
    try {
      expect(layer.device).toBe(HOST_IF);
      await associate(layer, PEER6!, 30001);
    } finally {
      layer.close();
    }
  }, 30_000);

  for (const family of [4, 6] as const) {
    it(`IPv${family}: a real association through SctpEndpoint over raw IP, messages acknowledged and printed by usrsctp, then SHUTDOWN; tshark judges the capture`, async () => {
      const layer = await openRawIp({ address: family === 4 ? HOST4 : HOST6 });
      const endpoint = new SctpEndpoint({ lower: layer });
      const peer: Remote = { address: family === 4 ? PEER4 : PEER6, udpPort: 0 };
      // probes nobody answers (an out-of-the-blue COOKIE ACK is discarded, RFC 9260 §8.4)
      const probe = new Uint8Array(16);
      const capture = await startCapture(HOST_IF, (marker) => {
        const n = encodePacket(probe, 0, { srcPort: 7, dstPort: 7, verificationTag: marker }, [{ type: ChunkType.COOKIE_ACK }]);
        layer.send(probe, n, peer);
      });
      try {
        const before = serverOut.length;
        const a = await endpoint.connect({ remote: peer, remotePort: DISCARD_PORT, outboundStreams: 2 });
        expect(a.state).toBe('ESTABLISHED');
        const messages = [1, 100, 1000, 3000, 20].map((n, i) => new Uint8Array(n).fill(0x41 + i));
        messages.forEach((m, i) => a.send(m, { stream: i % 2 }));
        // discard_server prints each message it reads; 3,000 octets went in fragments (mtu 1232)
        const printed = () => [...serverOut.slice(before).matchAll(/Msg of length (\d+) received/g)].map((x) => Number(x[1]));
        await waitFor('usrsctp to print every message', () => (printed().length >= messages.length ? true : undefined), 10_000);
        expect(printed().sort((x, y) => x - y)).toEqual(messages.map((m) => m.length).sort((x, y) => x - y));
        const st = a.stats();
        expect(st.messagesSent).toBe(messages.length);
        expect(st.bytesSent).toBe(messages.reduce((n, m) => n + m.length, 0));
        await waitFor('every chunk acknowledged', () => (a.stats().flightSize === 0 ? true : undefined), 10_000);
        await a.shutdown();
        expect(a.state).toBe('CLOSED');
        expect(layer.stats.sendErrors + layer.stats.sendTooBig + layer.stats.droppedBadIpHeader).toBe(0);

        const pcap = await capture.stop();
        const addr = family === 4 ? 'ip' : 'ipv6';
        const fields = [`${addr}.src`, 'sctp.checksum.status', 'sctp.chunk_type', 'sctp.chunk_length', 'sctp.data_tsn_raw'];
        const rows = await tsharkRows(pcap, `sctp.port == ${DISCARD_PORT}`, fields);
        const ours = family === 4 ? HOST4 : HOST6;
        expect(rows.length).toBeGreaterThanOrEqual(9);
        for (const r of rows) expect(r['sctp.checksum.status'], JSON.stringify(r)).toBe('1');
        const types = (from: string) => new Set(rows.filter((r) => (r[`${addr}.src`] === ours) === (from === 'us')).flatMap((r) => r['sctp.chunk_type']!.split('|').map(Number)));
        // our side: INIT, COOKIE ECHO, DATA, SHUTDOWN, SHUTDOWN COMPLETE (discard_server sends no DATA for us to acknowledge)
        for (const t of [ChunkType.INIT, ChunkType.COOKIE_ECHO, ChunkType.DATA, ChunkType.SHUTDOWN, ChunkType.SHUTDOWN_COMPLETE]) expect(types('us').has(t), `we sent chunk type ${t}`).toBe(true);
        for (const t of [ChunkType.INIT_ACK, ChunkType.COOKIE_ACK, ChunkType.SACK, ChunkType.SHUTDOWN_ACK]) expect(types('them').has(t), `usrsctp sent chunk type ${t}`).toBe(true);
        expect(types('them').has(ChunkType.ABORT) || types('us').has(ChunkType.ABORT), 'an ABORT on the wire').toBe(false);
        // the user data in our DATA chunks (Chunk Length less the 16-octet DATA header) adds up to the
        // messages, and no TSN went twice (a clean link: no retransmission)
        let userOctets = 0;
        const tsns: string[] = [];
        for (const r of rows.filter((x) => x[`${addr}.src`] === ours)) {
          const t = r['sctp.chunk_type']!.split('|').map(Number);
          const len = r['sctp.chunk_length']!.split('|').map(Number);
          t.forEach((type, i) => (userOctets += type === ChunkType.DATA ? len[i]! - 16 : 0));
          if (r['sctp.data_tsn_raw']) tsns.push(...r['sctp.data_tsn_raw'].split('|'));
        }
        console.log("ROWS", JSON.stringify(rows, null, 0));
        expect(userOctets).toBe(messages.reduce((n, m) => n + m.length, 0));
        expect(new Set(tsns).size).toBe(tsns.length);
        expect(tsns.length).toBeGreaterThanOrEqual(messages.length + 2); // 3,000 octets take 3 fragments at mtu 1232
        expect(await tsharkRows(pcap, `sctp.port == ${DISCARD_PORT} && (_ws.expert || _ws.malformed)`, ['_ws.expert.message'])).toEqual([]);
      } finally {
        await capture.stop();
        endpoint.close();
      }
    }, 40_000);
  }
});

const tmp = tempDir('sctp-raw-netns-');
afterAll(() => tmp.cleanup());

/**
 * dumpcap on `iface` into a classic pcap. dumpcap writes packets out in blocks, on a timer, and may
 * lose the last block when stopped: so capture starts once a probe (marker tag) is in the file, and
 * stop() sends another probe and waits until that one is in the file before ending dumpcap.
 */
async function startCapture(iface: string, probe: (marker: number) => void): Promise<{ stop: () => Promise<string> }> {
  const pcap = join(tmp.dir, `${iface}-${Date.now()}.pcap`);
  let err = '';
  const p = spawn(toolPath('dumpcap')!, ['-i', iface, '-f', 'ip proto 132 or ip6 proto 132', '-P', '-w', pcap, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.on('data', (x: Buffer) => (err += x.toString()));
  /** Is a packet with this verification tag (and ports 7 → 7) in the file yet? */
  const holds = (marker: number) => {
    const m = Buffer.alloc(8);
    m.writeUInt16BE(7, 0);
    m.writeUInt16BE(7, 2);
    m.writeUInt32BE(marker, 4);
    try {
      return readFileSync(pcap).includes(m);
    } catch {
      return false;
    }
  };
  const until = (marker: number) => waitFor(`dumpcap to capture probe ${marker.toString(16)}`, () => (holds(marker) ? true : (probe(marker), undefined)), 15_000);
  let stopped: Promise<string> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      if (p.exitCode === null) await until(0xe0d0e0d0).catch(() => {});
      return new Promise<string>((resolve) => {
        if (p.exitCode !== null) return resolve(pcap);
        const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
        p.once('exit', () => {
          clearTimeout(t);
          resolve(pcap);
        });
        p.kill('SIGINT');
      });
    })());
  try {
    await until(0x57a27001);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}: ${err}`);
  }
  return { stop };
}

async function tsharkRows(pcap: string, filter: string, fields: string[]): Promise<Array<Record<string, string>>> {
  const args = ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-Y', filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=\t'];
  for (const f of fields) args.push('-e', f);
  const r = await runOk(toolPath('tshark')!, args, { timeoutMs: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i]!, v])));
}

async function waitForText(get: () => string, text: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!get().includes(text)) {
    if (Date.now() - t0 > ms) throw new Error(`usrsctp never printed "${text}"; it said: ${get().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
