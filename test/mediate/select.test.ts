// Select rules compiled per Template (src/mediate/select.ts), over records built here byte by byte:
// fixed and variable-length layouts, reduced-size integers, IPv4 and IPv6 prefixes, AS ranges, exporter
// and ODID conditions, Options Templates, and a Template that lacks the field a rule names.

import { describe, expect, it } from 'vitest';
import { Selector } from '../../src/mediate/select.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { makeExporterSession, type ExporterSession } from '../../src/collect/session.js';
import { makeTemplate, type Template } from '../../src/ipfix/template.js';
import { parseRule } from '../../src/config/select-rules.js';
import type { SelectRule } from '../../src/config/types.js';

/** Remembers what reaches the output: every call, with a copy of its bytes. */
class Recorder implements RecordSink {
  calls: { template: number; bytes: string; count: number }[] = [];
  events: string[] = [];
  sessionStarted(s: ExporterSession) {
    this.events.push(`start ${s.address}`);
  }
  templateDefined(_s: ExporterSession, t: Template) {
    this.events.push(`define ${t.id}`);
  }
  templateWithdrawn(_s: ExporterSession, t: Template) {
    this.events.push(`withdraw ${t.id}`);
  }
  records(_s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number) {
    this.calls.push({ template: t.id, bytes: buf.subarray(start, end).toString('hex'), count });
  }
  sessionEnded(s: ExporterSession) {
    this.events.push(`end ${s.address}`);
  }
}

function rules(...rs: Record<string, unknown>[]): SelectRule[] {
  return rs.map((r) =>
    parseRule(r, (k, m) => {
      throw new Error(`${k}: ${m}`);
    }),
  );
}

const hex = (...parts: string[]) => Buffer.from(parts.join(''), 'hex');

// ingressInterface (10) in 2 octets (reduced size), sourceIPv4Address (8), bgpDestinationAsNumber (17).
const tA = makeTemplate(256, [
  { id: 10, enterprise: 0, length: 2 },
  { id: 8, enterprise: 0, length: 4 },
  { id: 17, enterprise: 0, length: 4 },
]);
const a = (ifIndex: number, src: string, as: number) => hex(ifIndex.toString(16).padStart(4, '0'), src, as.toString(16).padStart(8, '0'));

describe('select rules', () => {
  it('passes runs of matching records of a fixed-length template as views, in order', () => {
    const out = new Recorder();
    const sel = new Selector('o', rules({ ingressInterface: ['5-7'], sourceAddress: ['10.0.0.0/8', '2001:db8::/32'] }), out);
    const s = makeExporterSession('in', 'ipfix', '192.0.2.1', 4739, 1);
    const r = [a(5, '0a010101', 1), a(6, '0a020202', 2), a(5, '0b010101', 3), a(9, '0a010101', 4), a(7, '0affffff', 5)];
    const buf = Buffer.concat([Buffer.from('ffff', 'hex'), ...r, Buffer.from('ee', 'hex')]); // records inside a larger buffer
    sel.sessionStarted(s);
    sel.templateDefined(s, tA);
    sel.records(s, tA, buf, 2, 2 + 50, 5, 0);
    expect(out.calls).toEqual([
      { template: 256, bytes: r[0]!.toString('hex') + r[1]!.toString('hex'), count: 2 },
      { template: 256, bytes: r[4]!.toString('hex'), count: 1 },
    ]);
    expect(out.events).toEqual(['start 192.0.2.1', 'define 256']);
  });

  it('reads variable-length records (1- and 3-octet length prefixes), IPv6 prefixes and reduced-size AS numbers', () => {
    // interfaceName (82, varlen), ingressInterface (10, 4), sourceIPv6Address (27), bgpSourceAsNumber (16, 2).
    const tB = makeTemplate(300, [
      { id: 82, enterprise: 0, length: 0xffff },
      { id: 10, enterprise: 0, length: 4 },
      { id: 27, enterprise: 0, length: 16 },
      { id: 16, enterprise: 0, length: 2 },
    ]);
    const name = (n: number) => (n < 255 ? n.toString(16).padStart(2, '0') : 'ff' + n.toString(16).padStart(4, '0')) + '41'.repeat(n);
    const b = (n: number, ifIndex: number, src: string, as: number) => hex(name(n), ifIndex.toString(16).padStart(8, '0'), src, as.toString(16).padStart(4, '0'));
    const r = [
      b(3, 6, '20010db8000000000000000000000001', 64512), // match
      b(300, 6, '20010db9000000000000000000000001', 64512), // wrong prefix
      b(0, 6, '20010db8ffff00000000000000000001', 64513), // match (long name before, none here)
      b(260, 6, '20010db8000000000000000000000002', 100), // AS out of range
    ];
    const out = new Recorder();
    const sel = new Selector('o', rules({ ingressInterface: 6, sourceAddress: '2001:db8::/32', bgpSourceAsNumber: '64512-65534' }), out);
    const s = makeExporterSession('in', 'ipfix', '2001:db8::9', 4739, 1);
    const buf = Buffer.concat(r);
    sel.records(s, tB, buf, 0, buf.length, 4, 0);
    expect(out.calls.map((c) => c.bytes)).toEqual([r[0]!.toString('hex'), r[2]!.toString('hex')]);
  });

  it('a template lacking the field never matches that rule; another rule may still take the records', () => {
    const tC = makeTemplate(257, [{ id: 8, enterprise: 0, length: 4 }]); // no ingressInterface
    const out = new Recorder();
    const sel = new Selector('o', rules({ ingressInterface: 5 }), out);
    const s = makeExporterSession('in', 'ipfix', '192.0.2.1', 4739, 1);
    sel.records(s, tC, hex('0a000001', '0a000002'), 0, 8, 2, 0);
    expect(out.calls).toEqual([]);
    const both = new Recorder();
    const sel2 = new Selector('o2', rules({ ingressInterface: 5 }, { sourceAddress: '10.0.0.2/32' }), both);
    sel2.records(s, tC, hex('0a000001', '0a000002'), 0, 8, 2, 0);
    expect(both.calls).toEqual([{ template: 257, bytes: '0a000002', count: 1 }]);
  });

  it('exporter and ODID conditions are decided per session: other sessions never reach the output', () => {
    const out = new Recorder();
    const sel = new Selector('o', rules({ exporter: '192.0.2.0/24', odid: [1, '3-4'] }), out);
    const yes = makeExporterSession('in', 'netflow9', '192.0.2.77', 2055, 3);
    const otherOdid = makeExporterSession('in', 'netflow9', '192.0.2.77', 2055, 2);
    const otherNet = makeExporterSession('in', 'netflow9', '198.51.100.1', 2055, 1);
    const data = Buffer.concat([a(1, '0a000001', 1), a(2, '0a000002', 2)]);
    for (const s of [yes, otherOdid, otherNet]) {
      sel.sessionStarted(s);
      sel.templateDefined(s, tA);
      sel.records(s, tA, data, 0, data.length, 2, 0);
      sel.templateWithdrawn(s, tA);
      sel.sessionEnded(s, 'timeout');
    }
    expect(out.events).toEqual(['start 192.0.2.77', 'define 256', 'withdraw 256', 'end 192.0.2.77']);
    expect(out.calls).toEqual([{ template: 256, bytes: data.toString('hex'), count: 2 }]); // no field condition: whole batch
  });

  it('Options Template records pass when the session matches, whatever the field conditions', () => {
    // Scope observationDomainId (149), samplingInterval (34).
    const opt = makeTemplate(400, [{ id: 149, enterprise: 0, length: 4 }, { id: 34, enterprise: 0, length: 4 }], 1);
    const out = new Recorder();
    const sel = new Selector('o', rules({ exporter: '192.0.2.1', ingressInterface: 5 }), out);
    const s = makeExporterSession('in', 'ipfix', '192.0.2.1', 4739, 1);
    sel.records(s, opt, hex('00000001', '00000064'), 0, 8, 1, 0);
    expect(out.calls).toEqual([{ template: 400, bytes: '0000000100000064', count: 1 }]);
  });
});
