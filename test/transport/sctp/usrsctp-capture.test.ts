// The wire judged by tshark: one whole association between our SctpEndpoint and usrsctp's echo_server,
// UDP-encapsulated (RFC 6951) on loopback, captured by dumpcap on lo. tshark must decode every chunk of
// every packet (INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, DATA, SACK, HEARTBEAT / ACK, SHUTDOWN,
// SHUTDOWN ACK, SHUTDOWN COMPLETE) with the CRC32c good and no expert item at warning or above, and the
// IPFIX messages inside (sent to echo_server and echoed back, some fragmented) with nothing malformed.
//
// tshark 4.0 needs to be told: `-d udp.port==P,sctp` (P the usrsctp UDP port; 9899 is the only one it
// knows), `-o sctp.checksum:crc-32c` (else it does not check), `-d sctp.port==7,cflow` (IPFIX is only
// known on 4739) and `-o sctp.reassembly:TRUE` so fragmented messages reach cflow whole.

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeMessageHeader, writeSetHeader, writeTemplateRecord } from '../../../src/ipfix/encode.js';
import { makeTemplate } from '../../../src/ipfix/template.js';
import { ChunkType, SctpEndpoint } from '../../../src/transport/sctp/index.js';
import { openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { requireOrSkip, run, sleep, tempDir } from '../../helpers/tools.js';
import { ECHO_PORT, canCaptureLoopback, captureLoopback, haveUsrsctp, killAllUsrsctp, startUsrsctpServer } from '../../helpers/usrsctp.js';

const tmp = tempDir('sctp-capture-');
afterAll(async () => {
  await killAllUsrsctp();
  tmp.cleanup();
});

// IPFIX inside: a template of 46-octet flow records and data messages of 3 and 30 records (the
// 1,400-octet one is fragmented at our 1,280-octet path MTU)
const IE = (id: number, length: number) => ({ id, enterprise: 0, length });
const template = makeTemplate(256, [IE(8, 4), IE(12, 4), IE(7, 2), IE(11, 2), IE(4, 1), IE(5, 1), IE(1, 8), IE(2, 8), IE(152, 8), IE(153, 8)]);
const EXPORT_TIME = 1_795_000_000;

function templateMessage(): Buffer {
  const len = 16 + 4 + 4 + template.fields.length * 4;
  const b = Buffer.alloc(len);
  let o = writeMessageHeader(b, 0, len, EXPORT_TIME, 0, 1);
  o = writeSetHeader(b, o, 2, len - 16);
  writeTemplateRecord(b, o, template, 256);
  return b;
}

function dataMessage(sequence: number, records: number): Buffer {
  const len = 16 + 4 + records * 46;
  const b = Buffer.alloc(len);
  let o = writeMessageHeader(b, 0, len, EXPORT_TIME, sequence, 1);
  o = writeSetHeader(b, o, 256, len - 16);
  for (let r = 0; r < records; r++, o += 46) {
    b.writeUInt32BE(0x0a000001 + sequence + r, o); // 10.0.0.x
    b.writeUInt32BE(0xc0a80001 + r, o + 4); // 192.168.0.x
    b.writeUInt16BE(40000 + r, o + 8);
    b.writeUInt16BE(443, o + 10);
    b[o + 12] = 6;
    b.writeBigUInt64BE(BigInt(1000 + r), o + 14);
    b.writeBigUInt64BE(BigInt(3 + r), o + 22);
    b.writeBigUInt64BE(BigInt(EXPORT_TIME * 1000 - 5000 + r), o + 30);
    b.writeBigUInt64BE(BigInt(EXPORT_TIME * 1000 - 1000 + r), o + 38);
  }
  return b;
}

/** tshark's expert severities (epan/proto.h): chat 0x200000, note 0x400000, warn 0x600000, error 0x800000. */
const PI_WARN = 0x600000;

/** tshark -T fields, one row per frame, repeated fields joined by commas. */
async function tsharkFields(pcap: string, opts: string[], fields: string[]): Promise<string[][]> {
  const r = await run('tshark', ['-r', pcap, ...opts, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`tshark: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => l.split('\t'));
}

describe.skipIf(!haveUsrsctp('echo_server') || !requireOrSkip('dumpcap', 'tshark') || !canCaptureLoopback())('tshark judges a captured association with usrsctp', () => {
  it('decodes every chunk of every packet: CRC32c good, no expert warnings, IPFIX inside not malformed', async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    const ep = new SctpEndpoint({ lower: udp, heartbeatInterval: 150, rtoInitial: 300, rtoMin: 100 });
    try {
      const server = await startUsrsctpServer('echo_server', { remoteUdpPort: udp.local.udpPort });
      const pcap = join(tmp.dir, 'association.pcapng');
      const capture = await captureLoopback(pcap, [server.udpPort]);

      const a = await ep.connect({ remote: { address: '127.0.0.1', udpPort: server.udpPort }, remotePort: ECHO_PORT, outboundStreams: 2 });
      let echoed = 0;
      a.on('message', () => echoed++);
      const messages = [templateMessage(), dataMessage(0, 3), dataMessage(3, 30), dataMessage(33, 30)];
      for (const m of messages) a.send(m, { stream: 1 });
      const t0 = Date.now();
      while (echoed < messages.length && Date.now() - t0 < 10_000) await sleep(10);
      expect(echoed).toBe(messages.length);
      // idle long enough for HEARTBEATs (HB.interval 150 ms + RTO), then a graceful end
      await sleep(1200);
      await a.shutdown();
      const dumpcapSaid = await capture.stop();
      if (process.env.KEEP_PCAP) copyFileSync(pcap, process.env.KEEP_PCAP); // KEEP_PCAP=file.pcapng keeps the capture to look at

      const sctpOnly = ['-o', 'sctp.checksum:crc-32c', '-d', `udp.port==${server.udpPort},sctp`];
      const noMarkers = ['-Y', `not udp.port == ${capture.markerPort}`];
      const withIpfix = [...sctpOnly, '-o', 'sctp.reassembly:TRUE', '-d', `sctp.port==${ECHO_PORT},cflow`];

      // 1. the whole association as SCTP: every frame decoded, CRC32c good, no expert warning or error
      const rows = await tsharkFields(pcap, [...sctpOnly, ...noMarkers], ['frame.number', 'sctp.chunk_type', 'sctp.checksum.status', '_ws.expert.severity', '_ws.malformed']);
      expect(rows.length, `dumpcap: ${dumpcapSaid}`).toBeGreaterThan(10);
      const chunkTypes = new Set<number>();
      const problems: string[] = [];
      for (const [frame, types, checksum, severity, malformed] of rows) {
        if (!types) problems.push(`frame ${frame}: no SCTP decoded`);
        for (const t of (types ?? '').split(',').filter(Boolean)) chunkTypes.add(Number(t));
        if (checksum !== '1') problems.push(`frame ${frame}: checksum status ${checksum}`);
        for (const s of (severity ?? '').split(',').filter(Boolean)) if (Number(s) >= PI_WARN) problems.push(`frame ${frame}: expert severity ${s}`);
        if (malformed) problems.push(`frame ${frame}: malformed`);
      }
      expect(problems).toEqual([]);
      const expected = [ChunkType.INIT, ChunkType.INIT_ACK, ChunkType.COOKIE_ECHO, ChunkType.COOKIE_ACK, ChunkType.DATA, ChunkType.SACK, ChunkType.HEARTBEAT, ChunkType.HEARTBEAT_ACK, ChunkType.SHUTDOWN, ChunkType.SHUTDOWN_ACK, ChunkType.SHUTDOWN_COMPLETE];
      for (const t of expected) expect([...chunkTypes], `chunk type ${t} on the wire`).toContain(t);
      // nothing else: every chunk type on the wire is one of these (no unknown or unexpected chunk)
      expect([...chunkTypes].filter((t) => !expected.includes(t as never))).toEqual([]);
      const expert = await run('tshark', ['-r', pcap, ...sctpOnly, ...noMarkers, '-q', '-z', 'expert,warn'], { timeoutMs: 30_000 });
      expect(expert.stdout).not.toMatch(/Errors \(\d+\)|Warns? \(\d+\)/);

      // 2. the IPFIX inside, one direction at a time: tshark keeps one sequence expectation per ODID for
      // both directions of a conversation, so the echo (the same ODID's messages again) would look out
      // of sequence in a two-way read. Each direction is a proper IPFIX transport session of its own.
      for (const [direction, filter] of [['to usrsctp', `udp.dstport==${server.udpPort}`], ['echoed back', `udp.srcport==${server.udpPort}`]] as const) {
        const part = join(tmp.dir, `${direction.replace(/ /g, '-')}.pcapng`);
        const split = await run('tshark', ['-r', pcap, '-Y', filter, '-w', part], { timeoutMs: 30_000 });
        expect(split.code, split.stderr).toBe(0);
        const ipfix = await tsharkFields(part, withIpfix, ['frame.number', 'sctp.checksum.status', '_ws.expert.severity', '_ws.malformed', 'cflow.template_id', 'cflow.srcaddr', 'cflow.sequence']);
        const bad = ipfix.filter(([, checksum, severity, malformed]) => checksum !== '1' || malformed || (severity ?? '').split(',').some((s) => Number(s) >= PI_WARN));
        expect(bad, direction).toEqual([]);
        const all = (k: number) => ipfix.flatMap((r) => (r[k] ?? '').split(',').filter(Boolean));
        expect(all(4), `${direction}: template records`).toEqual(['256']);
        expect(all(5), `${direction}: data records`).toHaveLength(63);
        expect(all(6).map(Number), `${direction}: message sequence numbers`).toEqual([0, 0, 3, 33]);
        const partExpert = await run('tshark', ['-r', part, ...withIpfix, '-q', '-z', 'expert,warn'], { timeoutMs: 30_000 });
        expect(partExpert.stdout, direction).not.toMatch(/Errors \(\d+\)|Warns? \(\d+\)/);
      }
    } finally {
      ep.close();
    }
  }, 60_000);
});
