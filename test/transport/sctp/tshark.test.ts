// tshark judges the codec: a capture of every chunk type, raw over IPv4 (protocol 132) and inside
// UDP to port 9899 (RFC 6951), must decode with the CRC32c good, no expert info at all, and every
// field tshark shows equal to what was encoded.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Chunk, ChunkType } from '../../../src/transport/sctp/chunk.js';
import { CauseCode } from '../../../src/transport/sctp/error-cause.js';
import { ParameterType } from '../../../src/transport/sctp/parameter.js';
import { encodePacket, packetLength } from '../../../src/transport/sctp/packet.js';
import { u16 } from '../../../src/transport/sctp/wire.js';
import { requireOrSkip, runOk, tempDir, toolPath } from '../../helpers/tools.js';
import { type SctpFrame, writeSctpPcap } from './pcap.js';
import * as S from './samples.js';

const h = (n: number, digits: number) => `0x${n.toString(16).padStart(digits, '0')}`;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const list = (xs: readonly (string | number)[]) => xs.join('|');
const bit = (b: boolean) => (b ? '1' : '0');

/** Types of the TLVs packed in `b` (the parameters inside an Unrecognized Parameters parameter or cause). */
function tlvTypes(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let o = 0; o + 4 <= b.length; o += (u16(b, o + 2) + 3) & ~3) out.push(u16(b, o));
  return out;
}

/** The fields tshark should show for a chunk, as its -T fields output prints them. */
function expectedFields(c: Chunk): Record<string, string> {
  switch (c.type) {
    case ChunkType.DATA:
      return {
        'sctp.data_tsn_raw': String(c.tsn),
        'sctp.data_sid': h(c.streamId, 4),
        'sctp.data_ssn': String(c.ssn),
        'sctp.data_payload_proto_id': String(c.ppid),
        'sctp.data_u_bit': bit(c.unordered),
        'sctp.data_b_bit': bit(c.beginning),
        'sctp.data_e_bit': bit(c.ending),
        'sctp.data_i_bit': bit(c.immediate),
        // tshark hands only whole messages to the next dissector
        ...(c.beginning && c.ending ? { 'data.data': hex(c.userData) } : {}),
      };
    case ChunkType.INIT:
    case ChunkType.INIT_ACK: {
      const p = c.type === ChunkType.INIT ? 'sctp.init_' : 'sctp.initack_';
      const types: string[] = [];
      const out: Record<string, string[]> = {};
      const add = (k: string, v: string) => (out[k] ??= []).push(v);
      for (const q of c.params) {
        types.push(h(q.type === 'unknown' ? q.parameterType : q.type, 4));
        switch (q.type) {
          case ParameterType.IPV4_ADDRESS:
            add('sctp.parameter_ipv4_address', q.address);
            break;
          case ParameterType.IPV6_ADDRESS:
            add('sctp.parameter_ipv6_address', q.address);
            break;
          case ParameterType.STATE_COOKIE:
            add('sctp.parameter_state_cookie', hex(q.cookie));
            break;
          case ParameterType.COOKIE_PRESERVATIVE:
            add('sctp.parameter_cookie_preservative_incr', String(q.lifeSpanIncrement));
            break;
          case ParameterType.SUPPORTED_ADDRESS_TYPES:
            for (const t of q.addressTypes) add('sctp.parameter_supported_address_type', String(t));
            break;
          case ParameterType.SUPPORTED_EXTENSIONS:
            for (const t of q.chunkTypes) add('sctp.supported_chunk_type', String(t));
            break;
          case ParameterType.UNRECOGNIZED_PARAMETERS:
            types.push(...tlvTypes(q.parameters).map((t) => h(t, 4)));
            break;
          case 'unknown':
            // tshark knows ECN Capable (0x8000, empty) and Adaptation Layer Indication (0xc006)
            if (q.parameterType === 0xc006) add('sctp.adaptation_layer_indication', h(new DataView(q.value.buffer, q.value.byteOffset).getUint32(0), 8));
            else if (q.value.length > 0) add('sctp.parameter_value', hex(q.value));
            break;
          default:
            break;
        }
      }
      return {
        [`${p}initiate_tag`]: h(c.initiateTag, 8),
        [`${p}credit`]: String(c.aRwnd),
        [`${p}nr_out_streams`]: String(c.outboundStreams),
        [`${p}nr_in_streams`]: String(c.inboundStreams),
        [`${p}initial_tsn`]: String(c.initialTsn),
        'sctp.parameter_type': list(types),
        ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k, list(v)])),
      };
    }
    case ChunkType.SACK:
      return {
        'sctp.sack_cumulative_tsn_ack_raw': String(c.cumulativeTsnAck),
        'sctp.sack_a_rwnd': String(c.aRwnd),
        'sctp.sack_number_of_gap_blocks': String(c.gapAckBlocks.length),
        'sctp.sack_number_of_duplicated_tsns': String(c.duplicateTsns.length),
        'sctp.sack_gap_block_start': list(c.gapAckBlocks.map((g) => g.start)),
        'sctp.sack_gap_block_end': list(c.gapAckBlocks.map((g) => g.end)),
        'sctp.sack_duplicate_tsn': list(c.duplicateTsns),
      };
    case ChunkType.HEARTBEAT:
    case ChunkType.HEARTBEAT_ACK:
      return { 'sctp.parameter_type': '0x0001', 'sctp.parameter_heartbeat_information': hex(c.info) };
    case ChunkType.ABORT:
    case ChunkType.ERROR: {
      const out: Record<string, string[]> = {};
      const add = (k: string, v: string) => (out[k] ??= []).push(v);
      for (const e of c.causes) {
        add('sctp.cause_code', h(e.code === 'unknown' ? e.causeCode : e.code, 4));
        switch (e.code) {
          case CauseCode.INVALID_STREAM_IDENTIFIER:
            add('sctp.cause_stream_identifier', String(e.streamId));
            break;
          case CauseCode.MISSING_MANDATORY_PARAMETER:
            add('sctp.cause_nr_of_missing_parameters', String(e.missingParameterTypes.length));
            for (const t of e.missingParameterTypes) add('sctp.cause_missing_parameter_type', h(t, 4));
            break;
          case CauseCode.STALE_COOKIE:
            add('sctp.cause_measure_of_staleness', String(e.staleness));
            break;
          case CauseCode.NO_USER_DATA:
            add('sctp.cause_tsn', String(e.tsn));
            break;
          case CauseCode.UNRECOGNIZED_CHUNK_TYPE:
            add('sctp.chunk_value', hex(e.chunk.subarray(4)));
            break;
          case CauseCode.UNRESOLVABLE_ADDRESS:
            add('sctp.parameter_type', h(u16(e.address, 0), 4));
            break;
          case CauseCode.RESTART_WITH_NEW_ADDRESSES:
            add('sctp.parameter_type', h(u16(e.addresses, 0), 4));
            break;
          case CauseCode.UNRECOGNIZED_PARAMETERS:
            add('sctp.parameter_type', h(u16(e.parameters, 0), 4));
            add('sctp.parameter_value', hex(e.parameters.subarray(4)));
            break;
          case CauseCode.USER_INITIATED_ABORT:
            add('sctp.cause_information', hex(e.reason));
            break;
          case CauseCode.PROTOCOL_VIOLATION:
          case 'unknown':
            add('sctp.cause_information', hex(e.info));
            break;
          default:
            break;
        }
      }
      return {
        ...(c.type === ChunkType.ABORT ? { 'sctp.abort_t_bit': bit(c.tBit) } : {}),
        ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k, list(v)])),
      };
    }
    case ChunkType.SHUTDOWN:
      return { 'sctp.shutdown_cumulative_tsn_ack': String(c.cumulativeTsnAck) };
    case ChunkType.COOKIE_ECHO:
      return { 'sctp.cookie': hex(c.cookie) };
    case ChunkType.SHUTDOWN_COMPLETE:
      return { 'sctp.shutdown_complete_t_bit': bit(c.tBit) };
    case ChunkType.FORWARD_TSN:
      return {
        'sctp.forward_tsn_tsn': String(c.newCumulativeTsn),
        'sctp.forward_tsn_sid': list(c.streams.map((s) => s.streamId)),
        'sctp.forward_tsn_ssn': list(c.streams.map((s) => s.ssn)),
      };
    case 'unknown':
      // ECNE (12) is one tshark knows: its value is the Lowest TSN
      return c.chunkType === 12 ? { 'sctp.ecne_lowest_tsn': String(new DataView(c.value.buffer, c.value.byteOffset).getUint32(0)) } : { 'sctp.chunk_value': hex(c.value) };
    default:
      return {};
  }
}

function typeOf(c: Chunk): number {
  return c.type === 'unknown' ? c.chunkType : c.type;
}

/** A DATA chunk that is a whole message, so tshark shows its payload. */
const wholeData: Chunk = { ...(S.data as Extract<Chunk, { type: 0 }>), tsn: 1000, beginning: true, ending: true, unordered: false, immediate: false, ppid: 0, userData: S.text('IPFIX over SCTP, 1 message') };
const chunks = [...S.everyChunk, wholeData];
/** Chunks that may share a packet (INIT, INIT ACK and SHUTDOWN COMPLETE must travel alone, RFC 9260 §6.10). */
const bundle: Chunk[] = [{ ...(wholeData as Extract<Chunk, { type: 0 }>), tsn: 1001 }, S.sack, S.forwardTsn, S.heartbeat, S.cookieEcho, S.error];

/** The raw and the UDP copies use different SCTP ports, so tshark sees two associations, not retransmissions. */
function packetOf(cs: readonly Chunk[], tag: number, udp: boolean): Uint8Array {
  const b = new Uint8Array(packetLength(cs));
  encodePacket(b, 0, { srcPort: udp ? 40003 : 40001, dstPort: udp ? 40004 : 40002, verificationTag: tag }, cs);
  return b;
}

const fieldNames = [...new Set(['sctp.srcport', 'sctp.dstport', 'sctp.verification_tag', 'sctp.checksum.status', 'sctp.chunk_type', 'sctp.chunk_flags', 'sctp.chunk_length', 'udp.dstport', ...chunks.flatMap((c) => Object.keys(expectedFields(c)))])];

async function tsharkFields(pcap: string): Promise<Array<Record<string, string>>> {
  const args = ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-d', 'udp.port==9899,sctp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=\t'];
  for (const f of fieldNames) args.push('-e', f);
  const r = await runOk(toolPath('tshark')!, args, { timeoutMs: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fieldNames[i]!, v])));
}

async function expertInfo(pcap: string): Promise<string[]> {
  const r = await runOk(
    toolPath('tshark')!,
    ['-r', pcap, '-o', 'sctp.checksum:crc-32c', '-d', 'udp.port==9899,sctp', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message', '-e', '_ws.malformed', '-Y', '_ws.expert || _ws.malformed'],
    { timeoutMs: 60_000 },
  );
  return r.stdout.split('\n').filter((l) => l.trim().length > 0);
}

describe.skipIf(!requireOrSkip('tshark'))('tshark decodes every chunk the codec writes', () => {
  const tmp = tempDir('sctp-tshark-');
  afterAll(() => tmp.cleanup());

  const frames: SctpFrame[] = [];
  for (const udp of [undefined, { srcPort: 50000, dstPort: 9899 }]) {
    for (const c of chunks) frames.push({ packet: packetOf([c], c.type === ChunkType.INIT ? 0 : 0x01020304, !!udp), udp });
    frames.push({ packet: packetOf(bundle, 0x01020304, !!udp), udp, reverse: true });
  }

  it('raw IP and UDP encapsulation: checksum good, no expert info, every field as encoded', async () => {
    const pcap = join(tmp.dir, 'every-chunk.pcap');
    writeSctpPcap(pcap, frames);
    expect(await expertInfo(pcap)).toEqual([]);
    const rows = await tsharkFields(pcap);
    expect(rows).toHaveLength(frames.length);
    const perEncap = chunks.length + 1;
    rows.forEach((row, i) => {
      const udp = i >= perEncap;
      const k = i % perEncap;
      const isBundle = k === chunks.length;
      const cs = isBundle ? bundle : [chunks[k]!];
      const where = `frame ${i + 1} (${udp ? 'udp' : 'raw'}, ${isBundle ? 'bundle' : `chunk type ${typeOf(cs[0]!)}`})`;
      expect(row['sctp.checksum.status'], where).toBe('1');
      expect(row['udp.dstport'], where).toBe(udp ? '9899' : '');
      expect(row['sctp.srcport'], where).toBe(udp ? '40003' : '40001');
      expect(row['sctp.dstport'], where).toBe(udp ? '40004' : '40002');
      // chunk type/length lists include chunks nested in error causes: compare the top-level ones
      const types = row['sctp.chunk_type']!.split('|').map(Number).filter((t) => t !== 0x7f);
      expect(types, where).toEqual(cs.map(typeOf));
      if (isBundle) return;
      const c = cs[0]!;
      expect(row['sctp.verification_tag'], where).toBe(c.type === ChunkType.INIT ? '0x00000000' : '0x01020304');
      const flags = c.type === 'unknown' ? c.flags : c.type === ChunkType.DATA ? (c.ending ? 1 : 0) | (c.beginning ? 2 : 0) | (c.unordered ? 4 : 0) | (c.immediate ? 8 : 0) : 'tBit' in c && c.tBit ? 1 : 0;
      expect(row['sctp.chunk_flags']!.split('|')[0], where).toBe(h(flags, 2));
      for (const [field, value] of Object.entries(expectedFields(c))) expect(row[field], `${where}: ${field}`).toBe(value);
    });
  });

  it('tshark sees a damaged packet as a bad checksum (the check above is not vacuous)', async () => {
    const pkt = packetOf([S.sack], 0x01020304, false);
    pkt[pkt.length - 1] ^= 1;
    const pcap = join(tmp.dir, 'bad.pcap');
    writeSctpPcap(pcap, [{ packet: pkt }, { packet: pkt, udp: { srcPort: 50000, dstPort: 9899 } }]);
    const rows = await tsharkFields(pcap);
    expect(rows.map((r) => r['sctp.checksum.status'])).toEqual(['0', '0']);
  });
});
