// Interop of the codec and the UDP lower layer with an independent SCTP stack: usrsctp's
// discard_server (Debian libusrsctp-examples) over UDP encapsulation. The test plays the client by
// hand, packet by packet: INIT → INIT ACK → COOKIE ECHO → COOKIE ACK → DATA → SACK → ABORT, so
// every packet usrsctp sends is decoded by our codec and every one we send is accepted by usrsctp.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Chunk, ChunkType, DataFlags, writeDataChunk } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import type { Remote } from '../../../src/transport/sctp/lower-layer.js';
import { encodePacket, finishPacket, packetLength, writeCommonHeader } from '../../../src/transport/sctp/packet.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { chunkInbox } from '../../helpers/sctp-inbox.js';
import { freeUdpPort, interopRequired } from '../../helpers/tools.js';

const DISCARD_SERVER = '/usr/lib/usrsctp/discard_server';
/** discard_server listens on the discard port. */
const DISCARD_PORT = 9;

function haveDiscardServer(): boolean {
  try {
    accessSync(DISCARD_SERVER, constants.X_OK);
    return true;
  } catch {
    const msg = `interop: missing ${DISCARD_SERVER} (Debian: apt-get install libusrsctp-examples)`;
    if (interopRequired) throw new Error(`${msg}; IPFIX_MEDIATOR_INTEROP=required`);
    console.warn(`\n*** SKIPPING usrsctp interop: ${msg} ***\n`);
    return false;
  }
}

describe.skipIf(!haveDiscardServer())('usrsctp discard_server over UDP encapsulation', () => {
  let server: ChildProcess | undefined;
  let serverOut = '';
  afterAll(() => {
    if (server?.pid && server.exitCode === null) server.kill('SIGKILL');
  });

  it('completes a hand-driven association: every packet decoded, checksums good both ways', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    try {
      const serverUdpPort = await freeUdpPort();
      // discard_server <local UDP encapsulation port> <remote UDP encapsulation port>
      // stdbuf: its stdout is a pipe here, which stdio would buffer in 4 KB blocks
      server = spawn('stdbuf', ['-oL', '-eL', DISCARD_SERVER, String(serverUdpPort), String(udp.local.udpPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
      server.stdout!.on('data', (b: Buffer) => (serverOut += b.toString()));
      server.stderr!.on('data', (b: Buffer) => (serverOut += b.toString()));

      // INIT is re-sent every 200 ms until the server answers
      const { expectChunk, undecodable } = chunkInbox(udp, { resendMs: 200, context: () => `from usrsctp; server said: ${serverOut}` });
      const peer: Remote = { address: '127.0.0.1', udpPort: serverUdpPort };
      const buf = new Uint8Array(2048);
      const send = (vtag: number, chunks: Chunk[]) => {
        const n = encodePacket(buf, 0, { srcPort: 5001, dstPort: DISCARD_PORT, verificationTag: vtag }, chunks);
        udp.send(buf, n, peer);
      };

      const myTag = 0x1a2b3c4d;
      const myTsn = 1000;
      const init: Chunk = {
        type: ChunkType.INIT,
        initiateTag: myTag,
        aRwnd: 1 << 20,
        outboundStreams: 4,
        inboundStreams: 4,
        initialTsn: myTsn,
        params: [
          { type: ParameterType.SUPPORTED_ADDRESS_TYPES, addressTypes: [5] },
          { type: ParameterType.FORWARD_TSN_SUPPORTED },
          { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [ChunkType.FORWARD_TSN] },
        ],
      };
      const initAckMsg = await expectChunk(ChunkType.INIT_ACK, () => send(0, [init]));
      const { packet: ia, remote } = initAckMsg;
      expect(ia.srcPort).toBe(DISCARD_PORT);
      expect(ia.dstPort).toBe(5001);
      expect(ia.verificationTag).toBe(myTag); // RFC 9260 §8.5: the INIT ACK carries our Initiate Tag
      expect(remote.udpPort).toBe(serverUdpPort); // the encapsulation port to remember (RFC 6951 §5.4)
      const initAck = ia.chunks[0]!;
      expect(ia.chunks).toHaveLength(1);
      if (initAck.type !== ChunkType.INIT_ACK) throw new Error('not an INIT ACK');
      expect(initAck.initiateTag).not.toBe(0);
      expect(initAck.outboundStreams).toBeGreaterThan(0);
      expect(initAck.inboundStreams).toBeGreaterThan(0); // its MIS; the association uses min(our OS, its MIS)
      const cookie = initAck.params.find((p) => p.type === ParameterType.STATE_COOKIE);
      expect(cookie).toBeDefined();
      // usrsctp supports PR-SCTP and says so (RFC 3758 §3.1)
      expect(initAck.params.some((p) => p.type === ParameterType.FORWARD_TSN_SUPPORTED)).toBe(true);
      const peerTag = initAck.initiateTag;

      // COOKIE ECHO → COOKIE ACK
      const cookieBytes = cookie!.type === ParameterType.STATE_COOKIE ? cookie!.cookie : new Uint8Array(0);
      send(peerTag, [{ type: ChunkType.COOKIE_ECHO, cookie: cookieBytes }]);
      const ca = await expectChunk(ChunkType.COOKIE_ACK);
      expect(ca.packet.verificationTag).toBe(myTag);

      // one DATA through the zero-allocation writer; usrsctp SACKs it
      const message = new TextEncoder().encode('IPFIX over SCTP, hello usrsctp');
      let o = writeCommonHeader(buf, 0, 5001, DISCARD_PORT, peerTag);
      o = writeDataChunk(buf, o, DataFlags.BEGINNING | DataFlags.ENDING | DataFlags.IMMEDIATE, myTsn, 0, 0, 0, message);
      finishPacket(buf, 0, o);
      udp.send(buf, o, peer);
      const sackMsg = await expectChunk(ChunkType.SACK);
      const sack = sackMsg.packet.chunks.find((c) => c.type === ChunkType.SACK)!;
      expect(sackMsg.packet.verificationTag).toBe(myTag);
      expect(sack).toMatchObject({ type: ChunkType.SACK, cumulativeTsnAck: myTsn, gapAckBlocks: [], duplicateTsns: [] });
      await waitForText(() => serverOut, `Msg of length ${message.length} received`);

      // a HEARTBEAT is answered with our info echoed
      const info = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      send(peerTag, [{ type: ChunkType.HEARTBEAT, info }]);
      const hbAck = await expectChunk(ChunkType.HEARTBEAT_ACK);
      const ack = hbAck.packet.chunks.find((c) => c.type === ChunkType.HEARTBEAT_ACK);
      expect(ack?.type === ChunkType.HEARTBEAT_ACK && Array.from(ack.info)).toEqual(Array.from(info));

      // an unknown chunk type with bits 01 (stop and report) earns an ERROR with Unrecognized Chunk Type
      const strange: Chunk = { type: 'unknown', chunkType: 0x7e, flags: 0, value: Uint8Array.from([0xaa, 0xbb, 0xcc, 0xdd]), action: 'stop-and-report' };
      send(peerTag, [strange]);
      const errMsg = await expectChunk(ChunkType.ERROR);
      const error = errMsg.packet.chunks.find((c) => c.type === ChunkType.ERROR)!;
      if (error.type !== ChunkType.ERROR) throw new Error('not an ERROR');
      expect(error.causes.map((c) => c.code)).toEqual([CauseCode.UNRECOGNIZED_CHUNK_TYPE]);
      const reported = error.causes[0]!;
      expect(reported.code === CauseCode.UNRECOGNIZED_CHUNK_TYPE && Array.from(reported.chunk)).toEqual([0x7e, 0, 0, 8, 0xaa, 0xbb, 0xcc, 0xdd]);

      // ABORT with a user-initiated cause ends the association on the server's side
      send(peerTag, [{ type: ChunkType.ABORT, tBit: false, causes: [{ code: CauseCode.USER_INITIATED_ABORT, reason: new TextEncoder().encode('test done') }] }]);
      expect(undecodable).toEqual([]);
      expect(packetLength([init])).toBeLessThan(buf.length);
    } finally {
      udp.close();
    }
  }, 30_000);
});

async function waitForText(get: () => string, text: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!get().includes(text)) {
    if (Date.now() - t0 > ms) throw new Error(`usrsctp never printed "${text}"; it said: ${get()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
