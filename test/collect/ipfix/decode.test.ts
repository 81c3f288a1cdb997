// IPFIX relay decoder over the corpus: record counts as the corpus README lists them, values as tshark
// decodes them, every synthetic malformed case dropped under its reason, and the relayed bytes equal to
// the exporter's own.

import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { RecordingContext, corpus } from '../../mapping/harness.js';
import { createIpfixDecoder } from '../../../src/collect/ipfix/decode.js';
import { renderRecord, recordEnd } from '../../../src/ipfix/render.js';
import { loadRegistry } from '../../../src/model/registry.js';
import { udpPayloads } from '../../../src/util/pcap.js';
import { DEFAULT_MAPPINGS_DIR } from '../../../src/model/registry.js';

const registry = loadRegistry();
const options = { registry, mapping: { dir: DEFAULT_MAPPINGS_DIR, netflow9Enterprise: 4294967294, netflow9HighEnterprise: 4294967295 } };

function decodeFile(file: string, transport?: 'udp' | 'tcp'): RecordingContext {
  const ctx = new RecordingContext();
  if (transport) Object.assign(ctx, { transport });
  const decode = createIpfixDecoder(options);
  for (const p of udpPayloads(resolve(corpus, file))) decode(ctx, p.payload, p.src, p.srcPort);
  return ctx;
}

const total = (ctx: RecordingContext) => ctx.records.reduce((n, r) => n + r.count, 0);

function rendered(ctx: RecordingContext): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of ctx.records) {
    let o = 0;
    for (let i = 0; i < r.count; i++) {
      const e = recordEnd(r.template, r.bytes, o, r.bytes.length);
      out.push(renderRecord(r.template, r.bytes, o, e, registry));
      o = e;
    }
  }
  return out;
}

describe('IPFIX relay decoder over the corpus', () => {
  it.each([
    ['ipfix/pmacct__400-IPFIX-CISCO-SRv6.pcap', 995],
    ['ipfix/pmacct__100-IPFIX-CISCO.pcap', 12],
    ['ipfix/pmacct__111-IPFIX-IPv6-CISCO.pcap', 13],
    ['ipfix/pmacct__112-IPFIX-CISCO-options.pcap', 76],
    ['ipfix/pmacct__104-IPFIX-IPv6-CISCO-sampling.pcap', 4],
    ['ipfix/akvorado__eompls-cw.pcap', 10],
    ['ipfix/akvorado__physicalinterfaces.pcap', 9],
    ['ipfix/akvorado__ipfixprobe-biflow.pcap', 4],
    ['ipfix/akvorado__mpls.pcap', 3],
    ['ipfix/akvorado__datalink.pcap', 1],
    ['ipfix/logstash-dat__juniper_mx240_opts.pcap', 1],
  ])('%s relays %i records, never dropping one', (file, n) => {
    const ctx = decodeFile(file);
    expect(total(ctx)).toBe(n);
    expect(ctx.drops).toEqual([]);
  });

  it('keeps values as tshark decodes them (Cisco, two observation domains)', () => {
    const rows = rendered(decodeFile('ipfix/pmacct__100-IPFIX-CISCO.pcap'));
    // tshark: srcaddr 10.231.65.56 … dstaddr 10.192.12.213, octets 220 in ODID 851968 (template 260).
    expect(rows[0]).toMatchObject({ sourceIPv4Address: '10.231.65.56', destinationIPv4Address: '10.192.12.213', octetDeltaCount: 220 });
    const odids = new Set(decodeFile('ipfix/pmacct__100-IPFIX-CISCO.pcap').records.map((r) => r.session.observationDomainId));
    expect(odids).toEqual(new Set([851968, 917504]));
  });

  it('relays RFC 5103 reverse (PEN 29305) fields of a biflow exporter', () => {
    const rows = rendered(decodeFile('ipfix/akvorado__ipfixprobe-biflow.pcap'));
    // tshark: source addresses 10.10.1.4, 10.10.1.20, 10.10.1.4, 192.168.1.1; ports 56166, 138, 1470, 0.
    expect(rows.map((r) => r.sourceIPv4Address)).toEqual(['10.10.1.4', '10.10.1.20', '10.10.1.4', '192.168.1.1']);
    expect(rows.map((r) => r.sourceTransportPort)).toEqual([56166, 138, 1470, 0]);
    expect(rows.some((r) => 'reverseOctetDeltaCount' in r)).toBe(true);
  });

  it('hands over the exporter\'s own Data Set bytes (zero copy relay)', () => {
    const [p1, p2] = udpPayloads(resolve(corpus, 'ipfix/akvorado__datalink.pcap'));
    const ctx = new RecordingContext();
    const decode = createIpfixDecoder(options);
    decode(ctx, p1!.payload, p1!.src, p1!.srcPort);
    decode(ctx, p2!.payload, p2!.src, p2!.srcPort);
    const [call] = ctx.records;
    expect(p2!.payload.includes(call!.bytes)).toBe(true);
    expect(call!.template.fields.some((f) => f.id === 315 && f.length === 0xffff)).toBe(true);
  });

  it('holds data that arrives before its template and decodes it when the template comes', () => {
    const ctx = decodeFile('ipfix/pmacct__112-IPFIX-CISCO-options.pcap');
    // The README notes 6 sets without template in this capture; they stay held, never decoded with a guess.
    expect(ctx.heldSets()).toBe(6);
  });

  it.each([
    ['case_01_set_len_gt_msg', ['bad_length']],
    ['case_02_msg_len_gt_datagram', ['truncated']],
    ['case_04_msg_len_lt_header', ['bad_length']],
    ['case_05_truncated_datagram', ['truncated']],
    ['case_06_set_id_1_reserved', ['bad_set_id']],
    ['case_07_set_len_lt_4', ['bad_length']],
    ['case_08_template_withdrawal_udp', ['withdrawal_over_udp']],
    ['case_09_wrong_version_11', ['unknown_version']],
  ])('malformed %s is dropped as %j', (name, reasons) => {
    const ctx = decodeFile(`synthetic/malformed/${name}.pcap`);
    expect(ctx.drops.map((d) => d.reason)).toEqual(reasons);
    expect(total(ctx)).toBe(0);
  });

  it('accepts a withdrawal over a reliable transport', () => {
    const ctx = decodeFile('synthetic/malformed/case_08_template_withdrawal_udp.pcap', 'tcp');
    expect(ctx.drops).toEqual([]);
    expect(ctx.events.some((e) => e.kind === 'withdrawn')).toBe(true);
  });
});
