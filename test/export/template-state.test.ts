// The Template state the output queue reads back from its stream: definitions, withdrawals (single and
// all-of-a-kind), the last Data Set of each Options Template, the preamble for a new Transport Session,
// record counting, and the withdraw-all message. Messages are built here byte by byte.

import { describe, expect, it } from 'vitest';
import { TemplateState, templateSetsOnly, withdrawAllMessage } from '../../src/export/template-state.js';
import { parseSession } from './strict-collector.js';

/** A message of ODID `odid` made of sets given as [setId, body hex]. */
function msg(odid: number, ...sets: [number, string][]): Buffer {
  const bodies = sets.map(([id, hex]) => {
    const b = Buffer.from(hex, 'hex');
    const h = Buffer.alloc(4);
    h.writeUInt16BE(id, 0);
    h.writeUInt16BE(4 + b.length, 2);
    return Buffer.concat([h, b]);
  });
  const head = Buffer.alloc(16);
  const len = 16 + bodies.reduce((n, b) => n + b.length, 0);
  head.writeUInt16BE(10, 0);
  head.writeUInt16BE(len, 2);
  head.writeUInt32BE(odid, 12);
  return Buffer.concat([head, ...bodies]);
}

// Template 300: sourceIPv4Address (8, 4) + interfaceName (82, varlen). Options template 400: scope
// observationDomainId (149, 4), samplingInterval (34, 4).
const T300 = '012c0002' + '00080004' + '0052ffff';
const O400 = '019000020001' + '00950004' + '00220004';

describe('TemplateState', () => {
  it('follows definitions, withdrawals and options data; the preamble re-creates exactly that state', () => {
    const st = new TemplateState();
    expect(st.apply(msg(7, [2, T300], [3, O400], [400, '00000007' + '00000064']))).toBe(0); // counts only when asked
    // Two records of 300 (names "ab" and a 3-octet-length "x"), counted; then 400's data changes.
    expect(st.apply(msg(7, [300, '0a000001' + '026162' + '0a000002' + 'ff000178'], [400, '00000007' + '000003e8']), true)).toBe(3);
    expect(st.templateIds(7)).toEqual([300, 400]);
    const pre = st.preamble(65535, 0);
    expect(pre.length).toBe(1);
    expect(pre[0]!.records).toBe(1); // the last options record
    const p = parseSession(pre[0]!.buf);
    expect(p.errors).toEqual([]);
    expect(p.events).toEqual(['d7:300', 'd7:400']);
    expect(p.records[0]!.bytes.toString('hex')).toBe('00000007000003e8'); // samplingInterval 1000, the latest
    // Withdraw 300 alone, then every options template (ID 3 in set 3).
    st.apply(msg(7, [2, '012c0000']));
    expect(st.templateIds(7)).toEqual([400]);
    st.apply(msg(7, [3, '00030000']));
    expect(st.templateIds(7)).toEqual([]);
    expect(st.preamble(65535, 0)).toEqual([]);
  });

  it('splits a large preamble across messages; withdraw-all and template-sets-only messages parse', () => {
    const st = new TemplateState();
    // 40 templates of 200 fields: 804 octets each, 32 KB in all: two messages of at most 16 KB... at 20000.
    const many: [number, string][] = [];
    for (let i = 0; i < 40; i++) many.push([2, (0x200 + i).toString(16).padStart(4, '0') + '00c8' + '00080004'.repeat(200)]);
    for (const set of many) st.apply(msg(1, set));
    const pre = st.preamble(20000, 0);
    expect(pre.length).toBe(2);
    expect(pre.every((m) => m.buf.length <= 20000)).toBe(true);
    const p = parseSession(Buffer.concat(pre.map((m) => m.buf)));
    expect(p.errors).toEqual([]);
    expect(p.events.length).toBe(40);
    expect(st.definedKinds()).toEqual([{ odid: 1, templates: true, options: false }]);
    const w = parseSession(Buffer.concat([pre[0]!.buf, pre[1]!.buf, withdrawAllMessage(1, true, false, 0)]));
    expect(w.errors).toEqual([]);
    expect(w.events.at(-1)).toBe('w1:2');
    const stripped = templateSetsOnly(msg(5, [2, T300], [300, '0a000001' + '00']))!;
    expect(parseSession(stripped).events).toEqual(['d5:300']);
    expect(parseSession(stripped).records).toEqual([]);
    expect(templateSetsOnly(msg(5, [300, '0a00000100']))).toBeUndefined();
  });
});
