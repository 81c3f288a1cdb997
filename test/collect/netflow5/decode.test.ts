// NetFlow v5 → IPFIX: golden tests over every v5 capture of the shared corpus, cross-checked field by
// field against tshark's decode of the same capture, plus hand-built datagrams for the header checks and
// a sysUptime wrap.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { buildNetflow5Decoder, createNetflow5Decoder, NETFLOW5_TEMPLATE_ID, type Netflow5State } from '../../../src/collect/netflow5/decode.js';
import type { DecodeFn } from '../../../src/collect/decoder.js';
import { udpPayloads } from '../../../src/util/pcap.js';
import { allRows, corpus, mappingConfig, RecordingContext, rows, testRegistry, type Row } from '../../mapping/harness.js';
import { requireOrSkip, tempDir } from '../../helpers/tools.js';
import { writePcapOfUdp } from '../../helpers/pcap-writer.js';
import { secondsToMs, tsharkJson, type TsharkRecord } from '../../helpers/tshark.js';

const reg = testRegistry();
const options = { registry: reg, mapping: mappingConfig };

function decodeCapture(file: string, decode: DecodeFn = createNetflow5Decoder(options)): RecordingContext {
  const ctx = new RecordingContext();
  for (const p of udpPayloads(resolve(corpus, file))) decode(ctx, p.payload, p.src, p.srcPort);
  return ctx;
}

/** A v5 datagram built by hand: header values as given, records from `recs` (field → value). */
function v5(header: { uptime: number; secs: number; nsecs: number; seq?: number; engineType?: number; engineId?: number; sampling?: number; count?: number }, recs: Partial<Record<'src' | 'first' | 'last' | 'octets', number>>[]): Buffer {
  const b = Buffer.alloc(24 + 48 * recs.length);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(header.count ?? recs.length, 2);
  b.writeUInt32BE(header.uptime, 4);
  b.writeUInt32BE(header.secs, 8);
  b.writeUInt32BE(header.nsecs, 12);
  b.writeUInt32BE(header.seq ?? 0, 16);
  b[20] = header.engineType ?? 0;
  b[21] = header.engineId ?? 0;
  b.writeUInt16BE(header.sampling ?? 0, 22);
  recs.forEach((r, i) => {
    const o = 24 + 48 * i;
    b.writeUInt32BE(r.src ?? 0x0a000001, o);
    b.writeUInt32BE(r.octets ?? 100, o + 20);
    b.writeUInt32BE(r.first ?? 0, o + 24);
    b.writeUInt32BE(r.last ?? 0, o + 28);
    b[o + 38] = 6;
  });
  return b;
}

// Corpus README: records per capture. invalid01 announces count 55582 in a 1464-octet datagram;
// overflowd's file is cut at 4,000,000 bytes, so its last datagram (count 29) is truncated.
const CAPTURES: [string, number, number, number][] = [
  // file, udp port, datagrams decoded, records
  ['nf5/akvorado__nfv5.pcap', 9990, 1, 29],
  ['nf5/logstash-dat__generic.pcap', 2055, 12, 30],
  ['nf5/overflowd__netflow_4M.pcap', 9500, 2708, 78684],
  ['nf5/logstash-dat__invalid01.pcap', 2055, 0, 0],
];
const EXPECTED_DROPS: Record<string, [string, number][]> = {
  'nf5/logstash-dat__invalid01.pcap': [['bad_length', 0]],
  'nf5/overflowd__netflow_4M.pcap': [['truncated', 29]],
};

describe('NetFlow v5 decoder over the corpus', () => {
  it.each(CAPTURES)('%s: %i/%i datagrams → %i records', (file, _port, datagrams, records) => {
    const ctx = decodeCapture(file);
    expect(ctx.records).toHaveLength(datagrams);
    expect(ctx.records.reduce((n, c) => n + c.count, 0)).toBe(records);
    expect(ctx.counts.get('netflow5') ?? 0).toBe(records);
    expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual(EXPECTED_DROPS[file] ?? []);
  });

  it('announces one template per session, defined once, with every v5 field as an IANA IE', () => {
    const ctx = decodeCapture('nf5/overflowd__netflow_4M.pcap');
    const defined = ctx.events.filter((e) => e.kind === 'defined');
    const sessions = ctx.allSessions();
    expect(defined).toHaveLength(sessions.length);
    // engine_id 5 in 2556 datagrams, 0 in 152: two Observation Domains, two sessions
    expect(sessions.map((s) => s.session.observationDomainId)).toEqual([5, 0]);
    const t = ctx.records[0]!.template;
    expect(t.id).toBe(NETFLOW5_TEMPLATE_ID);
    expect(t.scopeCount).toBe(0);
    // id/length, in record order; v5 sizes kept (reduced-size encoding) except the times (8 octets)
    expect(t.fields.map((f) => `${f.id}/${f.length}`)).toEqual([
      '8/4', '12/4', '15/4', '10/2', '14/2', '2/4', '1/4', '152/8', '153/8', '7/2', '11/2', '6/1', '4/1', '5/1',
      '16/2', '17/2', '9/1', '13/1', '38/1', '39/1', '35/1', '34/2',
    ]);
    expect(t.fields.every((f) => f.enterprise === 0)).toBe(true);
    // every datagram of a session uses that session's one template
    const bySession = new Map(defined.map((e) => [e.session.uid, (e as { template: typeof t }).template]));
    expect(ctx.records.every((c) => c.template === bySession.get(c.session.uid))).toBe(true);
    expect(new Set(ctx.records.map((c) => c.template.uid)).size).toBe(2);
  });

  it('keeps header facts per session in protocolState', () => {
    const ctx = decodeCapture('nf5/logstash-dat__generic.pcap');
    const state = ctx.allSessions()[0]!.protocolState as Netflow5State;
    const last = udpPayloads(resolve(corpus, 'nf5/logstash-dat__generic.pcap')).at(-1)!.payload;
    expect(state.packets).toBe(12);
    expect(state.sysUptime).toBe(last.readUInt32BE(4));
    expect(state.unixSecs).toBe(last.readUInt32BE(8));
    expect(state.nextSequence).toBe(last.readUInt32BE(16) + last.readUInt16BE(2));
  });

  it('produces the same bytes with the generated plan and the interpreted one', () => {
    const a = decodeCapture('nf5/overflowd__netflow_4M.pcap', buildNetflow5Decoder(options, 'generated'));
    const b = decodeCapture('nf5/overflowd__netflow_4M.pcap', buildNetflow5Decoder(options, 'interpreted'));
    expect(a.records.length).toBe(b.records.length);
    for (let i = 0; i < a.records.length; i++) expect(a.records[i]!.bytes.equals(b.records[i]!.bytes)).toBe(true);
  });
});

describe.skipIf(!requireOrSkip('tshark'))('NetFlow v5 values equal tshark decode', () => {
  const expected = new Map<string, TsharkRecord[]>();
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  beforeAll(async () => {
    for (const [file, port, , records] of CAPTURES) {
      if (records === 0) continue;
      let path = resolve(corpus, file);
      if (file.includes('overflowd')) {
        // tshark refuses a file cut mid-packet: give it the complete datagrams, rewrapped.
        const whole = udpPayloads(path).map((p) => p.payload).filter((d) => d.length >= 24 + 48 * d.readUInt16BE(2));
        path = join(tmp.dir, 'overflowd-complete.pcap');
        writePcapOfUdp(whole, path, port, { src: '122.166.4.242' });
      }
      expected.set(file, await tsharkJson(path, { udpPorts: [port] }));
    }
  }, 120_000);

  /** What our record must hold, from tshark's fields and the header it printed. */
  function fromTshark(t: TsharkRecord): Row {
    const f = (k: string) => t.fields[k] as string;
    const exportMs = t.exportTime * 1000 + Math.floor(t.exportNanos! / 1e6);
    const age = (ms: number) => (t.sysUptimeMs! - ms) | 0; // signed 32-bit age, wrap-safe
    return {
      sourceIPv4Address: f('cflow.srcaddr'),
      destinationIPv4Address: f('cflow.dstaddr'),
      ipNextHopIPv4Address: f('cflow.nexthop'),
      ingressInterface: Number(f('cflow.inputint')),
      egressInterface: Number(f('cflow.outputint')),
      packetDeltaCount: Number(f('cflow.packets')),
      octetDeltaCount: Number(f('cflow.octets')),
      flowStartMilliseconds: exportMs - age(secondsToMs(f('cflow.timestart'))),
      flowEndMilliseconds: exportMs - age(secondsToMs(f('cflow.timeend'))),
      sourceTransportPort: Number(f('cflow.srcport')),
      destinationTransportPort: Number(f('cflow.dstport')),
      tcpControlBits: Number(f('cflow.tcpflags')),
      protocolIdentifier: Number(f('cflow.protocol')),
      ipClassOfService: Number(f('cflow.tos')),
      bgpSourceAsNumber: Number(f('cflow.srcas')),
      bgpDestinationAsNumber: Number(f('cflow.dstas')),
      sourceIPv4PrefixLength: Number(f('cflow.srcmask')),
      destinationIPv4PrefixLength: Number(f('cflow.dstmask')),
      engineType: t.domain >> 8,
      engineId: t.domain & 0xff,
    };
  }

  it.each(CAPTURES.filter((c) => c[3] > 0).map((c) => c[0]))('%s: every record, every field', (file) => {
    const ours = allRows(reg, decodeCapture(file));
    const theirs = expected.get(file)!;
    expect(ours.length).toBe(theirs.length);
    for (let i = 0; i < ours.length; i++) {
      const { $odid, $template, samplingAlgorithm, samplingInterval, ...fields } = ours[i]!;
      expect(fields, `record ${i}`).toEqual(fromTshark(theirs[i]!));
      expect($odid).toBe(theirs[i]!.domain);
      void $template;
      void samplingAlgorithm;
      void samplingInterval;
    }
  });

  it('akvorado: header sampling and engine fields land in every record', () => {
    const r = allRows(reg, decodeCapture('nf5/akvorado__nfv5.pcap'));
    // tshark: engine_type 0, engine_id 3, sampling mode 0, rate 0
    expect(new Set(r.map((x) => `${x.engineType}/${x.engineId}/${x.samplingAlgorithm}/${x.samplingInterval}`))).toEqual(new Set(['0/3/0/0']));
    expect(r[0]!.$odid).toBe(3);
  });
});

describe('NetFlow v5 header handling (hand-built datagrams)', () => {
  const decode = createNetflow5Decoder(options);
  const secs = 1_700_000_000;

  it('converts First/Last across a sysUptime wrap', () => {
    // sysUptime wrapped 1000 ms ago; the flow started 500 ms before the wrap and ended 200 ms after it.
    const ctx = new RecordingContext();
    decode(ctx, v5({ uptime: 1000, secs, nsecs: 250_999_999 }, [{ first: 2 ** 32 - 500, last: 200 }]), '192.0.2.1', 2055);
    const [r] = rows(reg, ctx.records[0]!);
    const exportMs = secs * 1000 + 250; // ⌊nsecs / 10^6⌋
    expect(r!.flowStartMilliseconds).toBe(exportMs - 1500);
    expect(r!.flowEndMilliseconds).toBe(exportMs - 800);
  });

  it('takes a Last slightly after the header sysUptime as a few ms in the future, not 49 days ago', () => {
    const ctx = new RecordingContext();
    decode(ctx, v5({ uptime: 50_000, secs, nsecs: 0 }, [{ first: 40_000, last: 50_003 }]), '192.0.2.1', 2055);
    const [r] = rows(reg, ctx.records[0]!);
    expect(r!.flowStartMilliseconds).toBe(secs * 1000 - 10_000);
    expect(r!.flowEndMilliseconds).toBe(secs * 1000 + 3);
  });

  it('splits the sampling header into mode and interval, engine fields into the ODID', () => {
    const ctx = new RecordingContext();
    // mode 01 (deterministic), interval 1000: 0b01 << 14 | 1000
    decode(ctx, v5({ uptime: 1, secs, nsecs: 0, engineType: 1, engineId: 7, sampling: (1 << 14) | 1000 }, [{}]), '192.0.2.1', 2055);
    const [r] = rows(reg, ctx.records[0]!);
    expect(r).toMatchObject({ engineType: 1, engineId: 7, samplingAlgorithm: 1, samplingInterval: 1000 });
    expect(ctx.records[0]!.session.observationDomainId).toBe((1 << 8) | 7);
    expect(ctx.records[0]!.exportTime).toBe(secs);
  });

  it('drops bad headers with a reason and goes on with the next datagram', () => {
    const ctx = new RecordingContext();
    const good = v5({ uptime: 1, secs, nsecs: 0 }, [{}, {}]);
    decode(ctx, good.subarray(0, 20), '192.0.2.1', 2055); // shorter than the header
    decode(ctx, v5({ uptime: 1, secs, nsecs: 0, count: 0 }, [{}]), '192.0.2.1', 2055);
    decode(ctx, v5({ uptime: 1, secs, nsecs: 0, count: 31 }, [{}]), '192.0.2.1', 2055);
    decode(ctx, good.subarray(0, good.length - 1), '192.0.2.1', 2055); // count 2, 1 octet short
    const wrongVersion = Buffer.from(good);
    wrongVersion.writeUInt16BE(7, 0);
    decode(ctx, wrongVersion, '192.0.2.1', 2055);
    decode(ctx, good, '192.0.2.1', 2055);
    expect(ctx.drops.map((d) => [d.reason, d.records])).toEqual([
      ['truncated', 0],
      ['bad_length', 0],
      ['bad_length', 0],
      ['truncated', 2],
      ['unknown_version', 0],
    ]);
    expect(ctx.records).toHaveLength(1);
    expect(ctx.records[0]!.count).toBe(2);
  });

  it('tolerates octets beyond the records (decoded, counted, not dropped)', () => {
    const ctx = new RecordingContext();
    const longer = Buffer.concat([v5({ uptime: 1, secs, nsecs: 0 }, [{ octets: 4242 }]), Buffer.alloc(10, 0xee)]);
    decode(ctx, longer, '192.0.2.1', 2055);
    expect(ctx.drops).toEqual([]);
    expect(ctx.records).toHaveLength(1);
    expect(rows(reg, ctx.records[0]!)[0]!.octetDeltaCount).toBe(4242);
  });
});
