// A plan: how one incoming record layout becomes IPFIX-encoded Data Records (DESIGN.md "IPFIX is the
// internal language"). A plan is a list of field operations over numeric offsets, compiled once per
// template (compile.ts: straight-line generated code; interpret.ts: a tight op-list loop) and run over a
// whole set of records at a time, writing into a caller-owned buffer. Nothing is allocated per record.

import { VARLEN } from '../ipfix/constants.js';

export type FieldOpKind =
  /** The octets as they are; zero-extended on the left when the output is longer (unsigned widening). */
  | 'copy'
  /** An unsigned integer of 1..4 octets, `(v & mask) >>> shift`, written in `outLength` octets. */
  | 'bits'
  /** A sysUptime-relative time in milliseconds (4 or 8 octets) → epoch milliseconds in 8 octets. */
  | 'uptime'
  /** A variable-length field (RFC 7011 §7 length prefix, which NetFlow v9 exporters use too), copied with its prefix. */
  | 'varlen';

export interface FieldOp {
  readonly kind: FieldOpKind;
  /** 'record': `input` indexes RecordLayout.inputs. 'header': `input` is an octet offset from the header start. */
  readonly from: 'record' | 'header';
  readonly input: number;
  /** Octets read (VARLEN for 'varlen'). For 'record' ops it equals inputs[input]. */
  readonly inLength: number;
  /** Octets written (VARLEN for 'varlen'). */
  readonly outLength: number;
  readonly mask: number;
  readonly shift: number;
}

export interface RecordLayout {
  /** Lengths of the incoming record's fields in order; VARLEN for variable length, 0 for empty fields. */
  readonly inputs: readonly number[];
  /** Output fields in output order. With variable-length inputs the ops must follow input order. */
  readonly ops: readonly FieldOp[];
}

/**
 * Runs the plan over records in src[s, end): decodes every whole record, writes them from dst[d] on and
 * returns the output end. st[0] = records decoded, st[1] = input offset after the last one, st[2] = 1 when
 * it stopped at a record whose variable-length field runs past `end` (malformed), else 0 (the rest, if
 * any, is shorter than a record: padding). clock[0] = export time in epoch milliseconds and clock[1] =
 * the header's sysUptime feed 'uptime' ops (passed in an array so no number is boxed per call); `hdr` is
 * the header offset in src for 'header' ops.
 */
export type PlanFn = (
  src: Uint8Array,
  s: number,
  end: number,
  dst: Uint8Array,
  d: number,
  clock: Float64Array,
  hdr: number,
  st: Int32Array,
) => number;

export interface Plan {
  readonly layout: RecordLayout;
  /** Input record length when every input is fixed, else -1. */
  readonly inputFixedLength: number;
  /** Smallest input record (each variable-length field counts its 1-octet prefix). */
  readonly inputMinLength: number;
  /** Output record length when fixed, else -1. */
  readonly outputFixedLength: number;
  /** Output octets a record can need beyond its input octets (fixed parts; varlen parts are copied as-is). */
  readonly growthPerRecord: number;
  readonly run: PlanFn;
  /** 'generated' or 'interpreted'. */
  readonly style: PlanStyle;
}

export type PlanStyle = 'generated' | 'interpreted';

export function op(kind: FieldOpKind, from: 'record' | 'header', input: number, inLength: number, outLength: number, mask = 0, shift = 0): FieldOp {
  return Object.freeze({ kind, from, input, inLength, outLength, mask, shift });
}

/** Checks a layout's invariants; returns a reason or null. Plans are only compiled from valid layouts. */
export function layoutProblem(layout: RecordLayout, headerLength: number): string | null {
  const { inputs, ops } = layout;
  let varlen = false;
  let min = 0;
  for (const l of inputs) {
    if (l === VARLEN) {
      varlen = true;
      min += 1;
    } else if (!Number.isInteger(l) || l < 0 || l > 0xffff) return `bad input length ${l}`;
    else min += l;
  }
  if (min === 0) return 'record has no octets';
  let last = -1;
  for (const o of ops) {
    if (o.from === 'header') {
      if (o.inLength < 1 || o.input < 0 || o.input + o.inLength > headerLength) return 'header field outside the header';
      if (o.kind === 'varlen') return 'header field cannot be variable-length';
    } else {
      if (o.input < 0 || o.input >= inputs.length) return `op reads input ${o.input} of ${inputs.length}`;
      if (inputs[o.input] !== o.inLength) return `op length ${o.inLength} disagrees with input ${o.input} (${inputs[o.input]})`;
      if (varlen) {
        if (o.input <= last) return 'ops must follow input order when the record has variable-length fields';
        last = o.input;
      }
    }
    switch (o.kind) {
      case 'copy':
        if (o.inLength === VARLEN || o.outLength === VARLEN || o.outLength < o.inLength) return 'copy needs fixed lengths, out >= in';
        break;
      case 'bits':
        if (o.inLength > 4 || o.outLength < 1 || o.outLength > 4) return 'bits needs 1..4 octets';
        break;
      case 'uptime':
        if ((o.inLength !== 4 && o.inLength !== 8) || o.outLength !== 8) return 'uptime reads 4 or 8 octets, writes 8';
        break;
      case 'varlen':
        if (o.inLength !== VARLEN || o.outLength !== VARLEN) return 'varlen op needs VARLEN lengths';
        break;
    }
  }
  if (varlen) {
    // Every variable-length input must be relayed, or later offsets could not be tracked in output order.
    const relayed = new Set(ops.filter((o) => o.kind === 'varlen').map((o) => o.input));
    for (let i = 0; i < inputs.length; i++) if (inputs[i] === VARLEN && !relayed.has(i)) return `variable-length input ${i} not relayed`;
  }
  return null;
}

/** Fixed-size facts of a layout, shared by both plan styles. */
export function layoutSizes(layout: RecordLayout): { inFixed: number; inMin: number; outFixed: number; growth: number } {
  let inFixedSum = 0;
  let varlen = false;
  let inMin = 0;
  for (const l of layout.inputs) {
    if (l === VARLEN) {
      varlen = true;
      inMin += 1;
    } else {
      inFixedSum += l;
      inMin += l;
    }
  }
  let outFixedSum = 0;
  for (const o of layout.ops) if (o.outLength !== VARLEN) outFixedSum += o.outLength;
  return {
    inFixed: varlen ? -1 : inFixedSum,
    inMin,
    outFixed: varlen ? -1 : outFixedSum,
    growth: Math.max(0, outFixedSum - inFixedSum),
  };
}

/** Output octets that `inOctets` of input can produce at most under this plan. */
export function maxOutput(plan: Plan, inOctets: number): number {
  const records = Math.floor(inOctets / plan.inputMinLength);
  if (plan.inputFixedLength > 0) return records * plan.outputFixedLength;
  return inOctets + records * plan.growthPerRecord;
}
