// Interop over raw IP with an independent stack: usrsctp's discard_server, which without UDP ports
// runs over raw IP itself. On one host both stacks would see every SCTP packet and answer the other's
// with ABORTs, so usrsctp runs in a network namespace this test creates, reached through a veth pair
// (10.x.y.0/30 and an fd00::/8 ULA /64 chosen at random, torn down afterwards). Our side drives the
// association by hand from a RawIpLowerLayer, over IPv4 and over IPv6: INIT → INIT ACK → COOKIE ECHO
// → COOKIE ACK → DATA → SACK → ABORT, every packet from usrsctp decoded by our codec.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chunk, ChunkType, DataFlags, writeDataChunk } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import type { Remote } from '../../../src/transport/sctp/lower-layer.js';
import { type Packet, decodePacket, encodePacket, finishPacket, writeCommonHeader } from '../../../src/transport/sctp/packet.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { type RawIpLowerLayer, loadRawSocket, openRawIp } from '../../../src/transport/sctp/raw-ip.js';
import { SctpEndpoint } from '../../../src/transport/sctp/endpoint.js';
import { interopRequired, run, runOk, toolPath } from '../../helpers/tools.js';

const DISCARD_SERVER = '/usr/lib/usrsctp/discard_server';
const DISCARD_PORT = 9;

/** Root (for namespaces and raw sockets), `ip`, discard_server and the raw-socket addon: why not, or null. */
function missing(): string | null {
  if (process.getuid?.() !== 0) return 'not root (network namespaces and raw sockets need it)';
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

// Names and addresses unique to this run (interface names are at most 15 characters).
const id = Math.floor(Math.random() * 0x10000);
const tag = id.toString(16).padStart(4, '0');
const NS = `sctpraw-${tag}`;
const HOST_IF = `sr${tag}h`;
const NS_IF = `sr${tag}n`;
const net4 = `10.${200 + (id % 50)}.${id >> 8}`;
const SUBNET_BASE = (id & 0xff) & ~3;
const HOST4 = `${net4}.${SUBNET_BASE + 1}`;
const PEER4 = `${net4}.${SUBNET_BASE + 2}`;
// RFC 5952 text (no leading zeros), as recvfrom reports the peer
const HOST6 = `fd00:5c7a:${id.toString(16)}::1`;
const PEER6 = `fd00:5c7a:${id.toString(16)}::2`;

async function ip(...args: string[]): Promise<void> {
  await runOk(toolPath('ip')!, args, { timeoutMs: 10_000 });
}

describe.skipIf(!usable())('usrsctp discard_server over raw IP, in a network namespace', () => {
  let server: ChildProcess | undefined;
  let serverOut = '';

  beforeAll(async () => {
    await ip('netns', 'add', NS);
    await ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    await ip('link', 'set', NS_IF, 'netns', NS);
    await ip('addr', 'add', `${HOST4}/30`, 'dev', HOST_IF);
    await ip('-6', 'addr', 'add', `${HOST6}/64`, 'dev', HOST_IF, 'nodad');
    await ip('link', 'set', HOST_IF, 'up');
    await ip('-n', NS, 'addr', 'add', `${PEER4}/30`, 'dev', NS_IF);
    await ip('-n', NS, '-6', 'addr', 'add', `${PEER6}/64`, 'dev', NS_IF, 'nodad');
    await ip('-n', NS, 'link', 'set', NS_IF, 'up');
    await ip('-n', NS, 'link', 'set', 'lo', 'up');
    // no UDP ports: usrsctp over raw IP (it listens on the discard port, IPv4 and IPv6)
    // stdbuf: its stdout is a pipe here, which stdio would buffer in 4 KB blocks
    server = spawn(toolPath('ip')!, ['netns', 'exec', NS, 'stdbuf', '-oL', '-eL', DISCARD_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (b: Buffer) => (serverOut += b.toString()));
    server.stderr!.on('data', (b: Buffer) => (serverOut += b.toString()));
  }, 30_000);

  afterAll(async () => {
    if (server?.pid && server.exitCode === null) server.kill('SIGKILL');
    // deleting the namespace deletes its end of the veth pair, and with it ours
    await run(toolPath('ip')!, ['netns', 'del', NS], { timeoutMs: 10_000 });
    await run(toolPath('ip')!, ['link', 'del', HOST_IF], { timeoutMs: 10_000 });
  }, 30_000);

  /** The association, by hand; returns what usrsctp sent, decoded. */
  async function associate(layer: RawIpLowerLayer, peerAddress: string, localPort: number): Promise<void> {
    const inbox: Array<{ packet: Packet; remote: Remote }> = [];
    const undecodable: string[] = [];
    layer.onPacket((p, len, remote) => {
      // a raw socket sees every SCTP packet to the host: keep this association's
      if (len < 4 || ((p[0]! << 8) | p[1]!) !== DISCARD_PORT || ((p[2]! << 8) | p[3]!) !== localPort) return;
      const r = decodePacket(p, 0, len);
      if (r.ok) inbox.push({ packet: r.value, remote });
      else undecodable.push(`${r.error.code}: ${r.error.message}`);
    });
    const peer: Remote = { address: peerAddress, udpPort: 0 };
    const buf = new Uint8Array(2048);
    const send = (vtag: number, chunks: Chunk[]) => {
      const n = encodePacket(buf, 0, { srcPort: localPort, dstPort: DISCARD_PORT, verificationTag: vtag }, chunks);
      layer.send(buf, n, peer);
    };
    const expectChunk = async (type: number, resend?: () => void): Promise<{ packet: Packet; remote: Remote }> => {
      const t0 = Date.now();
      let last = 0;
      for (;;) {
        const i = inbox.findIndex((m) => m.packet.chunks.some((c) => c.type === type));
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (Date.now() - t0 > 8000)
          throw new Error(`no chunk of type ${type} from usrsctp at ${peerAddress}; got ${JSON.stringify(inbox.map((m) => m.packet.chunks.map((c) => c.type)))}; undecodable ${undecodable.join(', ')}; layer ${JSON.stringify(layer.stats)}; server said: ${serverOut.slice(-2000)}`);
        // the server may still be starting: INIT again every 250 ms until it answers
        if (resend && Date.now() - last > 250) {
          resend();
          last = Date.now();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
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
      await associate(layer, PEER4, 30000 + (id % 20000));
    } finally {
      layer.close();
    }
  }, 30_000);

  it('IPv6: a hand-driven association through the veth pair', async () => {
    // spelt in capitals, zero-padded, on purpose: the bound address is compared as an address, not as text
    const layer = await openRawIp({ address: `FD00:5C7A:${tag.toUpperCase()}:0::1` });
    try {
      expect(layer.device).toBe(HOST_IF);
      await associate(layer, PEER6, 30001 + (id % 20000));
    } finally {
      layer.close();
    }
  }, 30_000);

  for (const family of [4, 6] as const) {
    it(`IPv${family}: a real association through SctpEndpoint over raw IP, messages acknowledged and printed by usrsctp, then SHUTDOWN`, async () => {
      const layer = await openRawIp({ address: family === 4 ? HOST4 : HOST6 });
      const endpoint = new SctpEndpoint({ lower: layer, rtoInitial: 500, rtoMin: 200 });
      try {
        const before = serverOut.length;
        const a = await endpoint.connect({ remote: { address: family === 4 ? PEER4 : PEER6, udpPort: 0 }, remotePort: DISCARD_PORT, outboundStreams: 2 });
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
      } finally {
        endpoint.close();
      }
    }, 30_000);
  }
});

function waitFor<T>(what: string, f: () => T | undefined, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = f();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

async function waitForText(get: () => string, text: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!get().includes(text)) {
    if (Date.now() - t0 > ms) throw new Error(`usrsctp never printed "${text}"; it said: ${get().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
