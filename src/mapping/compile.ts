// Compiles a plan into straight-line JavaScript (one function per record layout, built with `new Function`
// from numeric offsets only: no text from a mapping table or a packet ever reaches the generated source).
// The function loops over a whole set of records; per record it is a run of byte moves and a few integer
// operations, with no calls except for 8-octet timestamps, and no allocation.

import { VARLEN } from '../ipfix/constants.js';
import { layoutProblem, layoutSizes, type FieldOp, type Plan, type PlanFn, type PlanStyle, type RecordLayout } from './plan.js';
import { interpretPlan } from './interpret.js';
import { uptime64ToEpochMs } from './transforms.js';

/** Longest field copied with unrolled byte moves; longer ones use a loop. */
const UNROLL_MAX = 16;

export function compilePlan(layout: RecordLayout, style: PlanStyle = 'generated', headerLength = 0): Plan {
  const problem = layoutProblem(layout, headerLength);
  if (problem) throw new Error(`invalid record layout: ${problem}`);
  const sizes = layoutSizes(layout);
  const run = style === 'generated' ? generate(layout, sizes.inFixed, sizes.inMin) : interpretPlan(layout, sizes.inFixed, sizes.inMin);
  return Object.freeze({
    layout,
    inputFixedLength: sizes.inFixed,
    inputMinLength: sizes.inMin,
    outputFixedLength: sizes.outFixed,
    growthPerRecord: sizes.growth,
    run,
    style,
  });
}

/** Source text of the generated function, for inspection and tests. */
export function generatedSource(layout: RecordLayout): string {
  const sizes = layoutSizes(layout);
  return body(layout, sizes.inFixed, sizes.inMin);
}

function generate(layout: RecordLayout, inFixed: number, inMin: number): PlanFn {
  const factory = new Function('uptime64ToEpochMs', body(layout, inFixed, inMin)) as (a: typeof uptime64ToEpochMs) => PlanFn;
  return factory(uptime64ToEpochMs);
}

/** `base + k` without a `+ 0`. */
function at(base: string, k: number): string {
  return k === 0 ? base : `${base} + ${k}`;
}

/** Big-endian unsigned read of 1..4 octets as an expression. */
function read(base: string, off: number, len: number): string {
  const parts: string[] = [];
  for (let i = 0; i < len; i++) {
    const shift = (len - 1 - i) * 8;
    const b = `src[${at(base, off + i)}]`;
    parts.push(shift === 0 ? b : `(${b} << ${shift})`);
  }
  return len === 4 ? `((${parts.join(' | ')}) >>> 0)` : `(${parts.join(' | ')})`;
}

/** Big-endian write of an integer expression held in variable `v` to `len` octets (len ≤ 4). */
function write(lines: string[], base: string, off: number, len: number, v: string): void {
  for (let i = 0; i < len; i++) {
    const shift = (len - 1 - i) * 8;
    lines.push(`dst[${at(base, off + i)}] = ${shift === 0 ? v : `${v} >>> ${shift}`};`);
  }
}

function copyBytes(lines: string[], sBase: string, sOff: number, dBase: string, dOff: number, len: number): void {
  if (len <= UNROLL_MAX) {
    for (let i = 0; i < len; i++) lines.push(`dst[${at(dBase, dOff + i)}] = src[${at(sBase, sOff + i)}];`);
  } else {
    lines.push(`for (let k = 0; k < ${len}; k++) dst[${at(dBase, dOff)} + k] = src[${at(sBase, sOff)} + k];`);
  }
}

/** Code for one op whose input starts at sBase+sOff (or hdr+input for header ops), output at dBase+dOff. */
function emitOp(lines: string[], o: FieldOp, sBase: string, sOff: number, dBase: string, dOff: number): void {
  if (o.from === 'header') {
    sBase = 'hdr';
    sOff = o.input;
  }
  switch (o.kind) {
    case 'copy': {
      const pad = o.outLength - o.inLength;
      for (let i = 0; i < pad; i++) lines.push(`dst[${at(dBase, dOff + i)}] = 0;`);
      copyBytes(lines, sBase, sOff, dBase, dOff + pad, o.inLength);
      break;
    }
    case 'bits': {
      lines.push(`v = (${read(sBase, sOff, o.inLength)} & ${o.mask >>> 0}) >>> ${o.shift};`);
      write(lines, dBase, dOff, o.outLength, 'v');
      break;
    }
    case 'uptime': {
      if (o.inLength === 4) {
        // exportMs − age, age = (sysUptime − t) as a signed 32-bit difference (transforms.ts uptimeToEpochMs).
        lines.push(`t = exportMs - ((uptime - ${read(sBase, sOff, 4)}) | 0);`);
      } else {
        lines.push(`t = uptime64ToEpochMs(exportMs, uptime, ${read(sBase, sOff, 4)}, ${read(sBase, sOff + 4, 4)});`);
      }
      // 8 octets big-endian, inline (a call would box the double); negative or NaN times become 0.
      lines.push('if (!(t >= 0)) t = 0;', 'v = Math.floor(t / 4294967296);', 't = t - v * 4294967296;');
      write(lines, dBase, dOff, 4, 'v');
      write(lines, dBase, dOff + 4, 4, 't');
      break;
    }
    case 'varlen':
      throw new Error('varlen ops are emitted by the segment walker');
  }
}

function body(layout: RecordLayout, inFixed: number, inMin: number): string {
  const { inputs, ops } = layout;
  const lines: string[] = ['"use strict";', 'return function plan(src, s, end, dst, d, clock, hdr, st) {', 'const exportMs = clock[0], uptime = clock[1];', 'let v = 0, t = 0;'];
  if (inFixed > 0) {
    // Every field at a fixed offset: the record count is known up front, no bounds checks per record.
    const inOff: number[] = [];
    let o = 0;
    for (const l of inputs) {
      inOff.push(o);
      o += l;
    }
    let outLen = 0;
    for (const x of ops) outLen += x.outLength;
    lines.push(`const n = Math.floor((end - s) / ${inFixed});`, 'for (let i = 0; i < n; i++) {');
    let dOff = 0;
    for (const x of ops) {
      emitOp(lines, x, 's', x.from === 'record' ? inOff[x.input]! : 0, 'd', dOff);
      dOff += x.outLength;
    }
    lines.push(`s += ${inFixed};`, `d += ${outLen};`, '}', 'st[0] = n; st[1] = s; st[2] = 0;', 'return d;', '};');
    return lines.join('\n');
  }

  // Variable-length fields split the record into segments; offsets are static within a segment and the
  // segment bases (q = input, p = output) move past each variable-length field as it is read.
  lines.push('let n = 0, bad = 0;', `while (end - s >= ${inMin}) {`, 'let q = s, p = d, L = 0, h = 0;');
  // Fixed octets from each segment start to the next varlen field (or the record end), for bounds checks.
  const segFixed: number[] = [];
  {
    let acc = 0;
    for (const l of inputs) {
      if (l === VARLEN) {
        segFixed.push(acc);
        acc = 0;
      } else acc += l;
    }
    segFixed.push(acc);
  }
  let seg = 0;
  let sOff = 0; // input offset within the current segment
  let dOff = 0; // output offset within the current segment
  let opIndex = 0;
  for (let i = 0; i < inputs.length; i++) {
    const len = inputs[i]!;
    // Header ops and ops on this input, in output order (which is input order for varlen layouts).
    while (opIndex < ops.length && (ops[opIndex]!.from === 'header' || ops[opIndex]!.input === i)) {
      const x = ops[opIndex]!;
      if (x.kind === 'varlen') break;
      emitOp(lines, x, 'q', sOff, 'p', dOff);
      dOff += x.outLength;
      opIndex++;
    }
    if (len !== VARLEN) {
      sOff += len;
      continue;
    }
    // The varlen field itself (its op is next by construction: layoutProblem checked it is relayed).
    opIndex++;
    lines.push(
      `L = src[${at('q', sOff)}]; h = 1;`,
      `if (L === 255) { if (end - (${at('q', sOff)}) < 3) { bad = 1; break; } L = (src[${at('q', sOff + 1)}] << 8) | src[${at('q', sOff + 2)}]; h = 3; }`,
      `if (${at('q', sOff)} + h + L > end) { bad = 1; break; }`,
      `for (let k = 0; k < h + L; k++) dst[${at('p', dOff)} + k] = src[${at('q', sOff)} + k];`,
      `q = ${at('q', sOff)} + h + L; p = ${at('p', dOff)} + h + L;`,
    );
    seg++;
    sOff = 0;
    dOff = 0;
    // The next segment's fixed octets (plus the next varlen prefix) must be inside the set.
    const need = segFixed[seg]! + (seg < segFixed.length - 1 ? 1 : 0);
    if (need > 0) lines.push(`if (end - q < ${need}) { bad = 1; break; }`);
  }
  while (opIndex < ops.length) {
    // Trailing header ops (record ops are all emitted above).
    const x = ops[opIndex]!;
    emitOp(lines, x, 'q', sOff, 'p', dOff);
    dOff += x.outLength;
    opIndex++;
  }
  lines.push(`s = ${at('q', sOff)};`, `d = ${at('p', dOff)};`, 'n++;', '}', 'st[0] = n; st[1] = s; st[2] = bad;', 'return d;', '};');
  return lines.join('\n');
}
