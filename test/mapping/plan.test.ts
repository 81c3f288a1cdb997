// Plans: the generated code and the op-list interpreter against bytes worked out by hand, against each
// other on thousands of random layouts (variable-length fields included), and the layout checks.

import { describe, expect, it } from 'vitest';
import { VARLEN } from '../../src/ipfix/constants.js';
import { compilePlan, generatedSource } from '../../src/mapping/compile.js';
import { lengthFits } from '../../src/mapping/elements.js';
import { layoutProblem, maxOutput, op, type FieldOp, type RecordLayout } from '../../src/mapping/plan.js';
import { uptime64ToEpochMs, uptimeToEpochMs } from '../../src/mapping/transforms.js';
import { prng } from './harness.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const STYLES = ['generated', 'interpreted'] as const;

function run(layout: RecordLayout, style: (typeof STYLES)[number], src: Buffer, start: number, end: number, exportMs = 0, uptime = 0, headerLength = 0) {
  const plan = compilePlan(layout, style, headerLength);
  const dst = Buffer.alloc(Math.max(16, maxOutput(plan, end - start) + 64), 0xaa);
  const st = new Int32Array(3);
  const d = plan.run(src, start, end, dst, 0, Float64Array.of(exportMs, uptime), 0, st);
  return { out: dst.subarray(0, d).toString('hex'), records: st[0], stopped: st[1], bad: st[2] };
}

describe.each(STYLES)('%s plan', (style) => {
  it('copies, zero-extends, masks and converts times as worked out by hand', () => {
    // header: 4 octets "c3e8 0001"; record: a(2) b(1) t4(4) t8(8)
    const layout: RecordLayout = {
      inputs: [2, 1, 4, 8],
      ops: [
        op('copy', 'record', 1, 1, 1), // b as is
        op('copy', 'record', 0, 2, 4), // a widened to 4
        op('bits', 'header', 0, 2, 1, 0xc000, 14), // top two header bits: 3
        op('bits', 'header', 0, 2, 2, 0x3fff, 0), // low 14 bits: 0x03e8 = 1000
        op('copy', 'header', 2, 2, 2),
        op('uptime', 'record', 2, 4, 8),
        op('uptime', 'record', 3, 8, 8),
      ],
    };
    const src = hex('c3e80001' + '0102 ff 000003e8 0000000000000fa0');
    const r = run(layout, style, src, 4, src.length, 1_700_000_000_000, 2000, 4);
    // uptime 1000 at sysUptime 2000: 1 s before export; 8-octet 4000 (high half zero): 2 s after
    const t4 = (1_700_000_000_000 - 1000).toString(16).padStart(16, '0');
    const t8 = (1_700_000_000_000 + 2000).toString(16).padStart(16, '0');
    expect(r).toEqual({ out: `ff 00000102 03 03e8 0001 ${t4} ${t8}`.replace(/ /g, ''), records: 1, stopped: src.length, bad: 0 });
  });

  it('relays variable-length fields with 1- and 3-octet length prefixes and stops at padding', () => {
    const layout: RecordLayout = { inputs: [1, VARLEN, 2], ops: [op('copy', 'record', 0, 1, 1), op('varlen', 'record', 1, VARLEN, VARLEN), op('copy', 'record', 2, 2, 2)] };
    const rec1 = '07 03616263 0102';
    const rec2 = '08 ff0002 7879 0304';
    const src = hex(rec1 + rec2 + '0000'); // 2 octets of padding: shorter than the smallest record (4)
    expect(run(layout, style, src, 0, src.length)).toEqual({ out: (rec1 + rec2).replace(/ /g, ''), records: 2, stopped: src.length - 2, bad: 0 });
  });

  it('flags a variable-length field that runs past the end', () => {
    const layout: RecordLayout = { inputs: [1, VARLEN, 2], ops: [op('copy', 'record', 0, 1, 1), op('varlen', 'record', 1, VARLEN, VARLEN), op('copy', 'record', 2, 2, 2)] };
    const src = hex('07 03616263 0102' + '09 20 6162');
    expect(run(layout, style, src, 0, src.length)).toMatchObject({ records: 1, stopped: 7, bad: 1 });
  });

  it('writes negative times (garbage in) as 0', () => {
    const layout: RecordLayout = { inputs: [4], ops: [op('uptime', 'record', 0, 4, 8)] };
    expect(run(layout, style, hex('00000000'), 0, 4, 5, 1000).out).toBe('0000000000000000');
  });
});


describe('generated code equals the interpreter', () => {
  it('on 2000 random layouts over random bytes (fixed and variable-length, truncated sets included)', () => {
    const rnd = prng(7);
    const int = (n: number) => Math.floor(rnd() * n);
    for (let k = 0; k < 2000; k++) {
      const varlen = rnd() < 0.4;
      const inputs: number[] = [];
      const ops: FieldOp[] = [];
      const n = 1 + int(12);
      for (let i = 0; i < n; i++) {
        if (varlen && rnd() < 0.25) {
          inputs.push(VARLEN);
          ops.push(op('varlen', 'record', i, VARLEN, VARLEN));
          continue;
        }
        const len = [0, 1, 2, 3, 4, 6, 8, 16, 20][int(9)]!;
        inputs.push(len);
        if (len === 0 || rnd() < 0.15) continue; // left out
        const r = rnd();
        if ((len === 4 || len === 8) && r < 0.3) ops.push(op('uptime', 'record', i, len, 8));
        else if (len <= 4 && r < 0.5) ops.push(op('bits', 'record', i, len, 1 + int(4), (int(0xffffffff) | 1) >>> 0, int(8)));
        else ops.push(op('copy', 'record', i, len, len + (rnd() < 0.2 ? int(3) : 0)));
      }
      if (!inputs.some((l) => l !== 0)) inputs.push(1);
      if (ops.length === 0) {
        const i = inputs.findIndex((l) => l > 0);
        ops.push(op(inputs[i] === VARLEN ? 'varlen' : 'copy', 'record', i, inputs[i]!, inputs[i]!));
      }
      const layout: RecordLayout = { inputs, ops };
      expect(layoutProblem(layout, 0), generatedSource(layout)).toBeNull();
      const src = Buffer.alloc(int(600));
      for (let i = 0; i < src.length; i++) src[i] = rnd() < 0.5 ? int(256) : int(8); // small values make short varlens likely
      const exportMs = 1_600_000_000_000 + int(1e9);
      const uptime = int(2 ** 32);
      const a = run(layout, 'generated', src, 0, src.length, exportMs, uptime);
      const b = run(layout, 'interpreted', src, 0, src.length, exportMs, uptime);
      expect(a, `layout ${JSON.stringify(inputs)}`).toEqual(b);
    }
  });
});

describe('layout checks', () => {
  it('rejects layouts a plan cannot run', () => {
    expect(layoutProblem({ inputs: [0, 0], ops: [] }, 0)).toBe('record has no octets');
    expect(layoutProblem({ inputs: [4], ops: [op('copy', 'record', 0, 4, 2)] }, 0)).toMatch(/out >= in/);
    expect(layoutProblem({ inputs: [VARLEN, 4], ops: [op('copy', 'record', 1, 4, 4)] }, 0)).toMatch(/not relayed/);
    expect(layoutProblem({ inputs: [2, VARLEN, 4], ops: [op('copy', 'record', 2, 4, 4), op('varlen', 'record', 1, VARLEN, VARLEN)] }, 0)).toMatch(/input order/);
    expect(layoutProblem({ inputs: [4], ops: [op('copy', 'header', 22, 4, 4)] }, 24)).toMatch(/outside the header/);
    expect(layoutProblem({ inputs: [2], ops: [op('uptime', 'record', 0, 2, 8)] }, 0)).toMatch(/4 or 8/);
    expect(() => compilePlan({ inputs: [4], ops: [op('copy', 'record', 0, 3, 3)] })).toThrow(/disagrees/);
  });

  it('generates code from numbers only', () => {
    const src = generatedSource({ inputs: [4, VARLEN], ops: [op('uptime', 'record', 0, 4, 8), op('varlen', 'record', 1, VARLEN, VARLEN)] });
    expect(src.replace('"use strict";', '')).not.toMatch(/["'`]/); // no string literal besides the directive
  });
});

describe('transforms and type lengths', () => {
  it('ages sysUptime times as signed 32-bit differences', () => {
    expect(uptimeToEpochMs(10_000_000, 500, 2 ** 32 - 500)).toBe(10_000_000 - 1000); // across the wrap
    expect(uptimeToEpochMs(10_000_000, 500, 503)).toBe(10_000_003); // 3 ms after the header: skew
  });

  it('reads 8-octet FIRST/LAST_SWITCHED by the documented rules', () => {
    const now = 1_700_000_000_000;
    expect(uptime64ToEpochMs(now, 9000, 0, 4000)).toBe(now - 5000); // uptime in the low half
    expect(uptime64ToEpochMs(now, 9000, 4000, 0)).toBe(now - 5000); // uptime in the high half
    expect(uptime64ToEpochMs(now, 9000, 395, 3_500_000_000)).toBe(395 * 2 ** 32 + 3_500_000_000); // absolute ms (2023)
    expect(uptime64ToEpochMs(now, 9000, 7, 4000)).toBe(now - 5000); // neither: the low half
  });

  it('knows which lengths encode which types (RFC 7011 §6)', () => {
    expect(lengthFits('unsigned64', 4)).toBe(true); // reduced size
    expect(lengthFits('unsigned8', 2)).toBe(false);
    expect(lengthFits('ipv4Address', 4)).toBe(true);
    expect(lengthFits('ipv4Address', 8)).toBe(false);
    expect(lengthFits('ipv6Address', VARLEN)).toBe(false);
    expect(lengthFits('string', VARLEN)).toBe(true);
    expect(lengthFits('float64', 4)).toBe(true);
    expect(lengthFits('float32', 8)).toBe(false);
    expect(lengthFits('dateTimeMilliseconds', 4)).toBe(false);
    expect(lengthFits('macAddress', 6)).toBe(true);
    expect(lengthFits('octetArray', 0)).toBe(false);
  });
});
