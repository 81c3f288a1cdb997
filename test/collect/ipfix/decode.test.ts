// IPFIX relay decoder over the corpus: record counts as the corpus README lists them, values as tshark
// decodes them, every synthetic malformed case dropped under its reason, and the relayed bytes equal to
// the exporter's own.

import { DEFAULT_MAPPING } from '../../../src/config/load.js';
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { RecordingContext, corpus } from '../../mapping/harness.js';
import { createIpfixDecoder } from '../../../src/collect/ipfix/decode.js';
import { renderRecord, recordEnd } from '../../../src/ipfix/render.js';
import { loadRegistry } from '../../../src/model/registry.js';
import { udpPayloads } from '../../../src/util/pcap.js';
import { makeTemplate, type Template } from '../../../src/ipfix/template.js';
import { writeMessageHeader, writeSetHeader, writeTemplateRecord, writeWithdrawalRecord } from '../../../src/ipfix/encode.js';
import { MESSAGE_HEADER_LENGTH } from '../../../src/ipfix/constants.js';

const registry = loadRegistry();
const options = { registry, mapping: DEFAULT_MAPPING };

function decodeFile(file: string, transport?: 'udp' | 'tcp'): RecordingContext {
  const ctx = new RecordingContext();
  if (transport) Object.assign(ctx, { transport });
  const decode = createIpfixDecoder(options);
  for (const p of udpPayloads(resolve(corpus, file))) decode(ctx, p.payload, p.src, p.srcPort);
  return ctx;
}

/** An IPFIX message (ODID 7) of the given Sets, built with the project's encoder. */
function message(sets: Buffer[]): Buffer {
  const body = Buffer.concat(sets);
  const b = Buffer.alloc(MESSAGE_HEADER_LENGTH + body.length);
  writeMessageHeader(b, 0, b.length, 1700000000, 0, 7);
  body.copy(b, MESSAGE_HEADER_LENGTH);
  return b;
}
function templateSet(setId: number, ts: Template[]): Buffer {
  const b = Buffer.alloc(1024);
  let o = 4;
  for (const t of ts) o = writeTemplateRecord(b, o, t, t.id);
  writeSetHeader(b, 0, setId, o);
  return b.subarray(0, o);
}
function withdrawalSet(setId: number, templateId: number): Buffer {
  const b = Buffer.alloc(8);
  writeWithdrawalRecord(b, writeSetHeader(b, 0, setId, 8), templateId);
  return b;
}
function dataSet(setId: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  writeSetHeader(b, 0, setId, b.length);
  body.copy(b, 4);
  return b;
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

// Records per capture: the corpus README's counts, which tshark (-d udp.port==N,cflow) agrees with.
const golden: [string, number][] = [
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
  ['ipfix/akvorado__juniper-cpid.pcap', 1],
  ['ipfix/akvorado__srv6.pcap', 1],
  // The corpus README says 0; tshark decodes 1 record of template 256 and 2 of 271, as we do.
  ['ipfix/logstash-dat__ixia.pcap', 3],
  ['ipfix/logstash-dat__netscaler_varlen.pcap', 3],
  ['ipfix/logstash-dat__vmware_vds.pcap', 5],
  ['ipfix/logstash-dat__yaf.pcap', 3],
];

describe('IPFIX relay decoder over the corpus', () => {
  it.each(golden)('%s relays %i records, never dropping one', (file, n) => {
    const ctx = decodeFile(file);
    expect(total(ctx)).toBe(n);
    expect(ctx.counts.get('ipfix') ?? 0).toBe(n);
    expect(ctx.drops).toEqual([]);
  });

  it('has a golden count for every IPFIX capture of the corpus', () => {
    const listed = new Set(golden.map(([f]) => f));
    expect(readdirSync(resolve(corpus, 'ipfix')).filter((f) => !listed.has(`ipfix/${f}`))).toEqual([]);
  });

  it('keeps enterprise-specific and variable-length values as tshark decodes them (VMware PEN 6876, NetScaler PEN 5951)', () => {
    const triple = (r: Record<string, unknown>) =>
      `${String(r.sourceIPv4Address ?? r.sourceIPv6Address)} > ${String(r.destinationIPv4Address ?? r.destinationIPv6Address)} ${String(r.octetDeltaCount)}`;
    const vm = decodeFile('ipfix/logstash-dat__vmware_vds.pcap');
    expect(vm.records.some((r) => r.template.fields.some((f) => f.enterprise === 6876))).toBe(true);
    // tshark, flows in order: srcaddr > dstaddr octets.
    expect(rendered(vm).map(triple)).toEqual([
      '172.18.65.21 > 172.18.65.211 100',
      '172.18.65.91 > 172.18.65.255 229',
      '172.18.65.91 > 172.18.65.255 229',
      '172.18.65.21 > 224.0.0.252 104',
      'fe80::5187:5cd8:d750:cdc9 > ff02::1:3 144',
    ]);
    const ns = decodeFile('ipfix/logstash-dat__netscaler_varlen.pcap');
    expect(ns.heldSets()).toBe(1); // the README's "1 sets without template"
    const rows = rendered(ns);
    expect(rows.map(triple).sort()).toEqual(['10.0.0.1 > 192.168.0.1 1525', '192.168.0.1 > 10.0.0.1 1541', '192.168.0.1 > 10.0.0.1 40']);
    // tshark: netscaler.http-req-host "www.kobo.com", a varlen PEN 5951 field the exporter NUL-terminates
    // (unknown to our registry, so rendered as hex).
    const host = Buffer.from('www.kobo.com\0').toString('hex');
    expect(rows.some((r) => Object.entries(r).some(([k, v]) => k.startsWith('e5951id') && v === host))).toBe(true);
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

  it('holds data whose template never comes on its transport session', () => {
    const ctx = decodeFile('ipfix/pmacct__112-IPFIX-CISCO-options.pcap');
    // The README notes 6 sets without template: template 347 is sent from port 61853, its data (and that
    // of 313/341/342/348) from 65156. They stay held, never decoded with a guess.
    expect(ctx.heldSets()).toBe(6);
  });

  it('decodes held data when its template comes', () => {
    // Frame 1: template 260 (ODID 851968); frame 3: its first Data Set, 4 records (tshark).
    const [tpl, , data] = udpPayloads(resolve(corpus, 'ipfix/pmacct__100-IPFIX-CISCO.pcap'));
    const ctx = new RecordingContext();
    const decode = createIpfixDecoder(options);
    decode(ctx, data!.payload, data!.src, data!.srcPort);
    expect(total(ctx)).toBe(0);
    expect(ctx.heldSets()).toBe(1);
    decode(ctx, tpl!.payload, tpl!.src, tpl!.srcPort);
    expect(ctx.heldSets()).toBe(0);
    expect(total(ctx)).toBe(4);
    expect(ctx.counts.get('ipfix')).toBe(4);
    // Same values as when the template comes first.
    expect(rendered(ctx)).toEqual(rendered(decodeFile('ipfix/pmacct__100-IPFIX-CISCO.pcap')).slice(0, 4));
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

  it('the valid base case decodes its 4 records', () => {
    const ctx = decodeFile('synthetic/malformed/case_00_valid_data.pcap');
    expect(total(ctx)).toBe(4);
    expect(ctx.drops).toEqual([]);
  });

  it('a Set running past the message end counts the records of its known fixed-length template', () => {
    const ctx = decodeFile('synthetic/malformed/case_01_set_len_gt_msg.pcap');
    const t = ctx.defined(260);
    expect(t.fixedLength).toBeGreaterThan(0);
    // Set length 632: (632 - 4) / record length records lost.
    expect(ctx.drops[0]).toMatchObject({ reason: 'bad_length', templateId: 260, records: Math.floor(628 / t.fixedLength) });
  });

  it('message length shorter than the datagram: the message is read as announced, the rest is not a message', () => {
    // case_03 shrinks the header length to 402 in a 432-octet datagram: the Data Set (416) no longer fits
    // the message, and the 30 octets after it do not start with version 10.
    const ctx = decodeFile('synthetic/malformed/case_03_msg_len_lt_datagram.pcap');
    expect(ctx.drops.map((d) => d.reason)).toEqual(['bad_length', 'unknown_version']);
    expect(total(ctx)).toBe(0);
  });

  it('all malformed cases in one capture: each dropped under its reason, the valid one decoded, nothing thrown', () => {
    const ctx = decodeFile('synthetic/malformed/ipfix_malformed_all.pcap');
    expect(total(ctx)).toBe(4);
    expect(ctx.drops.map((d) => d.reason)).toEqual([
      'bad_length', // set length > message
      'truncated', // message length > datagram
      'bad_length', // message length < datagram: set past the message end
      'unknown_version', // … and its trailing octets
      'bad_length', // message length < header
      'truncated', // truncated datagram
      'bad_set_id', // set id 1
      'bad_length', // set length < 4
      'withdrawal_over_udp',
      'unknown_version', // version 11
    ]);
  });

  it('withdraws by kind over TCP: ID 2 all Templates, ID 3 all Options Templates (RFC 7011 §8.1)', () => {
    const ctx = new RecordingContext();
    Object.assign(ctx, { transport: 'tcp' });
    const decode = createIpfixDecoder(options);
    const t300 = makeTemplate(300, [{ id: 8, enterprise: 0, length: 4 }]);
    const t301 = makeTemplate(301, [{ id: 12, enterprise: 0, length: 4 }]);
    const o400 = makeTemplate(400, [{ id: 149, enterprise: 0, length: 4 }, { id: 305, enterprise: 0, length: 2 }], 1);
    decode(ctx, message([templateSet(2, [t300, t301]), templateSet(3, [o400])]), '192.0.2.1', 4739);
    const [session] = ctx.allSessions();
    expect(session!.templates.size).toBe(3);
    decode(ctx, message([withdrawalSet(2, 2)]), '192.0.2.1', 4739);
    expect([300, 301, 400].map((id) => session!.templates.get(id) !== undefined)).toEqual([false, false, true]);
    decode(ctx, message([templateSet(2, [t300]), withdrawalSet(3, 3)]), '192.0.2.1', 4739);
    expect([300, 301, 400].map((id) => session!.templates.get(id) !== undefined)).toEqual([true, false, false]);
    decode(ctx, message([withdrawalSet(2, 300)]), '192.0.2.1', 4739);
    expect(session!.templates.size).toBe(0);
    expect(ctx.drops).toEqual([]);
  });

  it('refuses a template whose records are 0 octets long and keeps reading its Set', () => {
    const ctx = new RecordingContext();
    const decode = createIpfixDecoder(options);
    const zero = makeTemplate(300, [{ id: 210, enterprise: 0, length: 0 }]); // paddingOctets of length 0
    const good = makeTemplate(301, [{ id: 8, enterprise: 0, length: 4 }]);
    decode(ctx, message([templateSet(2, [zero, good]), dataSet(300, Buffer.alloc(8))]), '192.0.2.1', 4739);
    expect(ctx.drops.map((d) => d.reason)).toEqual(['bad_template']);
    expect(ctx.allSessions()[0]!.templates.get(301)).toBeDefined();
    // The Data Set of the refused template is held, not silently framed into nothing.
    expect(ctx.heldSets()).toBe(1);
  });

  it('accepts a withdrawal over a reliable transport', () => {
    const ctx = decodeFile('synthetic/malformed/case_08_template_withdrawal_udp.pcap', 'tcp');
    expect(ctx.drops).toEqual([]);
    expect(ctx.events.some((e) => e.kind === 'withdrawn')).toBe(true);
  });
});
