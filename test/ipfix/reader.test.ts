// The IPFIX reader on real bytes: every IPFIX capture of the corpus walked message → Set → (Options)
// Template / Data Set records with the reader alone (no decoder), record counts as tshark and the corpus
// README give them; then hand-built malformed template records, each reported (never thrown) under its
// reason and offset.

import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { corpus } from '../mapping/harness.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { dataSetRecords, messageLength, readTemplateSet, setKind, type ReadError, type TemplateVisitor } from '../../src/ipfix/reader.js';
import { recordEnd } from '../../src/ipfix/render.js';
import { makeTemplate, type FieldSpecifier, type Template } from '../../src/ipfix/template.js';
import { writeMessageHeader, writeSetHeader, writeTemplateRecord, writeWithdrawalRecord } from '../../src/ipfix/encode.js';
import { MESSAGE_HEADER_LENGTH, SET_HEADER_LENGTH, VARLEN } from '../../src/ipfix/constants.js';

interface Walk {
  records: Map<number, number>; // Template ID → records
  templates: number;
  optionsTemplates: number;
  withoutTemplate: number;
  errors: ReadError[];
}

/**
 * Walks a capture with the reader only. Templates are scoped as RFC 7011 scopes them: per Transport Session
 * (over UDP the exporter's address and port) and Observation Domain.
 */
function walk(file: string): Walk {
  const w: Walk = { records: new Map(), templates: 0, optionsTemplates: 0, withoutTemplate: 0, errors: [] };
  const known = new Map<string, Template>();
  const frame = new Int32Array(2);
  for (const p of udpPayloads(file)) {
    const dg = p.payload;
    for (let m = 0; m < dg.length; ) {
      const len = messageLength(dg, m);
      if (typeof len !== 'number') {
        w.errors.push(len);
        break;
      }
      const scope = `${p.src}/${p.srcPort}/${dg.readUInt32BE(m + 12)}`;
      const visitor: TemplateVisitor = {
        template(id, fields, scopeCount) {
          known.set(`${scope}/${id}`, makeTemplate(id, fields, scopeCount));
          if (scopeCount > 0) w.optionsTemplates++;
          else w.templates++;
        },
        withdrawal() {},
        error: (e) => w.errors.push(e),
      };
      for (let o = m + MESSAGE_HEADER_LENGTH; o < m + len; ) {
        const setId = dg.readUInt16BE(o);
        const setLength = dg.readUInt16BE(o + 2);
        expect(setLength).toBeGreaterThanOrEqual(SET_HEADER_LENGTH);
        expect(o + setLength).toBeLessThanOrEqual(m + len);
        const kind = setKind(setId);
        if (kind === 'template') readTemplateSet(dg, o + 4, o + setLength, setId, visitor);
        else if (kind === 'data') {
          const t = known.get(`${scope}/${setId}`);
          if (!t) w.withoutTemplate++;
          else {
            expect(dataSetRecords(t, dg, o + 4, o + setLength, frame)).toBe(true);
            // The record-by-record walk ends where dataSetRecords says, and only padding is left after it.
            let e = o + 4;
            for (let i = 0; i < frame[0]!; i++) e = recordEnd(t, dg, e, o + setLength);
            expect(e).toBe(frame[1]);
            expect(o + setLength - e).toBeLessThan(Math.max(t.minRecordLength, 1));
            w.records.set(setId, (w.records.get(setId) ?? 0) + frame[0]!);
          }
        }
        o += setLength;
      }
      m += len;
    }
  }
  return w;
}

const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('IPFIX reader over every corpus IPFIX capture', () => {
  // Record counts per Template ID and template records read (tshark -d udp.port==N,cflow -T json agrees
  // with each). Record totals equal the corpus README's, except ixia: the README says 0, tshark decodes
  // 1 record of 256 and 2 of 271.
  const expected: Record<string, { records: Record<number, number>; templates: number; options: number; withoutTemplate?: number }> = {
    'akvorado__datalink.pcap': { records: { 384: 1 }, templates: 1, options: 0 },
    'akvorado__eompls-cw.pcap': { records: { 384: 10 }, templates: 1, options: 0 },
    'akvorado__ipfixprobe-biflow.pcap': { records: { 258: 4 }, templates: 2, options: 0 },
    'akvorado__juniper-cpid.pcap': { records: { 384: 1 }, templates: 1, options: 0 },
    'akvorado__mpls.pcap': { records: { 2510: 2, 50310: 1 }, templates: 1, options: 1 },
    'akvorado__physicalinterfaces.pcap': { records: { 1910: 8, 50710: 1 }, templates: 1, options: 1 },
    'akvorado__srv6.pcap': { records: { 384: 1 }, templates: 1, options: 0 },
    'logstash-dat__ixia.pcap': { records: { 256: 1, 271: 2 }, templates: 4, options: 2 },
    'logstash-dat__juniper_mx240_opts.pcap': { records: { 512: 1 }, templates: 0, options: 1 },
    'logstash-dat__netscaler_varlen.pcap': { records: { 257: 1, 258: 2 }, templates: 7, options: 0, withoutTemplate: 1 },
    'logstash-dat__vmware_vds.pcap': { records: { 264: 1, 266: 3, 267: 1 }, templates: 13, options: 0 },
    'logstash-dat__yaf.pcap': { records: { 45841: 1, 45873: 1, 53248: 1 }, templates: 14, options: 1 },
    'pmacct__100-IPFIX-CISCO.pcap': { records: { 260: 8, 263: 4 }, templates: 2, options: 0 },
    'pmacct__104-IPFIX-IPv6-CISCO-sampling.pcap': { records: { 257: 1, 342: 3 }, templates: 4, options: 1 },
    'pmacct__111-IPFIX-IPv6-CISCO.pcap': { records: { 266: 4, 342: 9 }, templates: 5, options: 0 },
    // Template 347 comes from source port 61853, its data from 65156 (a new Transport Session): not decodable.
    'pmacct__112-IPFIX-CISCO-options.pcap': { records: { 256: 30, 257: 10, 334: 34, 338: 2 }, templates: 1, options: 8, withoutTemplate: 6 },
    'pmacct__400-IPFIX-CISCO-SRv6.pcap': {
      records: { 256: 130, 257: 26, 313: 184, 334: 156, 338: 26, 340: 26, 341: 12, 342: 156, 347: 163, 348: 116 },
      templates: 294,
      options: 104,
    },
  };

  it('covers every capture in the folder', () => {
    expect(readdirSync(resolve(corpus, 'ipfix')).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', (file, want) => {
    const w = walk(resolve(corpus, 'ipfix', file));
    expect(w.errors).toEqual([]);
    expect(Object.fromEntries(w.records)).toEqual(want.records);
    expect(w.withoutTemplate).toBe(want.withoutTemplate ?? 0);
    // (Options) Template Records read, as many as tshark lists (refreshes included).
    expect(w.templates).toBe(want.templates);
    expect(w.optionsTemplates).toBe(want.options);
  });

  it('pmacct SRv6 capture: 995 records in total, as the corpus README says', () => {
    expect(sum(walk(resolve(corpus, 'ipfix/pmacct__400-IPFIX-CISCO-SRv6.pcap')).records)).toBe(995);
  });
});

describe('message header checks', () => {
  const msg = (version: number, length: number, size: number) => {
    const b = Buffer.alloc(size);
    b.writeUInt16BE(version, 0);
    b.writeUInt16BE(length, 2);
    return b;
  };
  it('accepts version 10 with 16 ≤ length ≤ datagram, and gives the length', () => {
    expect(messageLength(msg(10, 16, 16), 0)).toBe(16);
    expect(messageLength(msg(10, 20, 40), 0)).toBe(20); // more may follow: the caller reads on at 20
  });
  it.each([
    ['a runt', msg(10, 16, 15), 'truncated', 0],
    ['version 9', msg(9, 16, 16), 'unknown_version', 0],
    ['length below the header', msg(10, 15, 16), 'bad_length', 0],
    ['length beyond the datagram', msg(10, 17, 16), 'truncated', 0],
  ])('reports %s', (_name, b, reason, offset) => {
    expect(messageLength(b, 0)).toMatchObject({ reason, offset });
  });
  it('reports at the offset of a second message', () => {
    const b = Buffer.concat([msg(10, 16, 16), msg(11, 16, 16)]);
    expect(messageLength(b, 16)).toMatchObject({ reason: 'unknown_version', offset: 16 });
  });
});

describe('template set records', () => {
  const f = (id: number, length: number, enterprise = 0): FieldSpecifier => ({ id, length, enterprise });

  function read(body: Buffer, setId = 2) {
    const out: { templates: { id: number; fields: FieldSpecifier[]; scope: number; offset: number }[]; withdrawals: number[]; errors: ReadError[] } = {
      templates: [],
      withdrawals: [],
      errors: [],
    };
    readTemplateSet(body, 0, body.length, setId, {
      template: (id, fields, scope, offset) => out.templates.push({ id, fields, scope, offset }),
      withdrawal: (id) => out.withdrawals.push(id),
      error: (e) => out.errors.push(e),
    });
    return out;
  }

  it('reads template and options template records written by the encoder, enterprise bit included', () => {
    const t = makeTemplate(300, [f(8, 4), f(1, 8), f(82, VARLEN), f(7, 2, 29305), f(4711, 4, 2636)]);
    const b = Buffer.alloc(200);
    const end = writeTemplateRecord(b, 0, t, 300);
    const r = read(b.subarray(0, end + 3)); // + 3 octets of padding
    expect(r.errors).toEqual([]);
    expect(r.templates).toEqual([{ id: 300, fields: t.fields.map((x) => ({ ...x })), scope: 0, offset: 0 }]);

    const o = makeTemplate(400, [f(149, 4), f(305, 2), f(302, VARLEN)], 1);
    const e2 = writeTemplateRecord(b, 0, o, 400);
    expect(read(b.subarray(0, e2), 3).templates).toEqual([{ id: 400, fields: o.fields.map((x) => ({ ...x })), scope: 1, offset: 0 }]);
  });

  it('reads withdrawals: one template, and all of a kind (ID 2 in Set 2, ID 3 in Set 3)', () => {
    const b = Buffer.alloc(12);
    writeWithdrawalRecord(b, writeWithdrawalRecord(b, 0, 300), 2);
    expect(read(b.subarray(0, 8))).toMatchObject({ withdrawals: [300, 2], errors: [] });
    writeWithdrawalRecord(b, 0, 3);
    expect(read(b.subarray(0, 4), 3)).toMatchObject({ withdrawals: [3], errors: [] });
    // "All options templates" (3) inside a Template Set (2) is malformed.
    expect(read(b.subarray(0, 4), 2).errors[0]).toMatchObject({ reason: 'bad_template', offset: 0 });
  });

  const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
  it.each([
    // id, count | fields...
    ['Template ID below 256', hex('00ff 0001 0008 0004'), 2, /below 256/],
    ['more fields than the Set can hold', hex('012c 0100 0008 0004'), 2, /announces 256 fields/],
    ['an enterprise number cut off by the Set end', hex('012c 0001 8008 0004 0000'), 2, /enterprise number/],
    ['scope field count 0', hex('0190 0002 0000 0095 0004 0131 0002'), 3, /scope field count 0/],
    ['scope field count above the field count', hex('0190 0001 0002 0095 0004'), 3, /scope field count 2 with 1 fields/],
    ['an options record ending before its scope count', hex('0190 0001'), 3, /before its scope field count/],
  ])('rejects %s', (_name, body, setId, message) => {
    const r = read(body, setId);
    expect(r.templates).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ reason: 'bad_template', offset: 0 });
    expect(r.errors[0]!.message).toMatch(message);
  });

  it('refuses a template whose records would be 0 octets, and reads the next record of the Set', () => {
    const r = read(hex('012c 0001 00d2 0000  012d 0001 0008 0004'));
    expect(r.errors).toEqual([expect.objectContaining({ reason: 'bad_template', offset: 0 })]);
    expect(r.templates.map((t) => t.id)).toEqual([301]);
  });

  it('keeps the records before a malformed one, and treats zero octets after the last record as padding', () => {
    const good = hex('012c 0001 0008 0004');
    expect(read(Buffer.concat([good, hex('00000000 00')])).templates).toHaveLength(1);
    const r = read(Buffer.concat([good, hex('0001 0001 0008 0004')]));
    expect(r.templates.map((t) => t.id)).toEqual([300]);
    expect(r.errors[0]).toMatchObject({ reason: 'bad_template', offset: 8 });
  });
});

describe('data set records', () => {
  const frame = new Int32Array(2);
  it('frames varlen records (1-octet and 255 + 2-octet lengths) and leaves short padding out', () => {
    const t = makeTemplate(256, [
      { id: 7, enterprise: 0, length: 2 },
      { id: 82, enterprise: 0, length: VARLEN },
    ]);
    const long = Buffer.alloc(300, 0x61);
    const b = Buffer.concat([
      Buffer.from([0x00, 0x50, 3, 0x61, 0x62, 0x63]), // port 80, "abc"
      Buffer.from([0x01, 0xbb, 255, 0x01, 0x2c]), // port 443, 300 octets
      long,
      Buffer.from([0, 0]), // padding: fewer octets than the 3-octet minimum record
    ]);
    expect(dataSetRecords(t, b, 0, b.length, frame)).toBe(true);
    expect([...frame]).toEqual([2, b.length - 2]);
    expect(recordEnd(t, b, 0, b.length)).toBe(6);
    expect(recordEnd(t, b, 6, b.length)).toBe(b.length - 2);
  });

  it('reports a record that runs past its Set, with the whole records before it', () => {
    const t = makeTemplate(256, [{ id: 82, enterprise: 0, length: VARLEN }]);
    const b = Buffer.from([2, 0x61, 0x62, 9, 0x61, 0x62, 0x63]); // second record claims 9 octets, has 3
    expect(dataSetRecords(t, b, 0, b.length, frame)).toBe(false);
    expect([...frame]).toEqual([1, 3]);
  });

  it('fixed-length records: whole records counted, a short tail is padding', () => {
    const t = makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }, { id: 4, enterprise: 0, length: 1 }]);
    const b = Buffer.alloc(5 * 3 + 4);
    expect(dataSetRecords(t, b, 0, b.length, frame)).toBe(true);
    expect([...frame]).toEqual([3, 15]);
  });
});
