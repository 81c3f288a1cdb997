// Record shapes: the IPFIX layout of a sample with a given set of fact groups. One shape per group mask
// seen, compiled on first use (a plan over the fixed view, plus the variable-length columns to append)
// and shared by every exporter session of the decoder; each session announces its own Template for it.

import { VARLEN } from '../../ipfix/constants.js';
import type { FieldSpecifier } from '../../ipfix/template.js';
import { compilePlan } from '../../mapping/compile.js';
import { op, type FieldOp, type Plan, type RecordLayout } from '../../mapping/plan.js';
import type { SflowColumn } from '../../mapping/sflow-table.js';
import { VARIABLE } from './view.js';

export interface Shape {
  readonly mask: number;
  /** Template ID every session announces this shape under. */
  readonly templateId: number;
  readonly fields: readonly FieldSpecifier[];
  readonly scopeCount: number;
  /** Writes the fixed-length fields of one record from the view. */
  readonly plan: Plan;
  /** Octets the plan writes per record. */
  readonly fixedLength: number;
  /** Variable-length columns, appended after the fixed part in this order ... */
  readonly variable: readonly SflowColumn[];
  /** ... as indexes into view.ts VARIABLE (VariableFact), so the hot path switches on numbers. */
  readonly variableFacts: Int32Array;
}

/** The most shapes a decoder keeps: far above what real agents produce, a bound against crafted input. */
export const MAX_SHAPES = 1024;

export class Shapes {
  private readonly byMask = new Map<number, Shape>();
  /** View field lengths in view order: the plan's record layout inputs. */
  private readonly inputs: number[];
  private readonly inputAt: Map<number, number>;

  constructor(
    private readonly columns: readonly SflowColumn[],
    viewFields: Iterable<{ offset: number; length: number }>,
    private readonly scopeCount: number,
    private readonly nextTemplateId: () => number,
  ) {
    this.inputs = [];
    this.inputAt = new Map();
    for (const f of viewFields) {
      this.inputAt.set(f.offset, this.inputs.length);
      this.inputs.push(f.length);
      this.viewLength += f.length;
    }
  }

  private viewLength = 0;

  /**
   * The plan's layout: columns that sit next to each other both in the view and in the record become one
   * copy (a 40-octet run is one loop, not 12 field moves). Falls back to one input per view field when a
   * table maps a field twice (runs would overlap).
   */
  private layout(runs: { offset: number; length: number }[]): RecordLayout {
    const sorted = [...runs].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.offset < sorted[i - 1]!.offset + sorted[i - 1]!.length) {
        const ops: FieldOp[] = [];
        for (const r of runs) {
          // Split the run back into view fields.
          for (let at = r.offset; at < r.offset + r.length; ) {
            const input = this.inputAt.get(at)!;
            const l = this.inputs[input]!;
            ops.push(op('copy', 'record', input, l, l));
            at += l;
          }
        }
        return Object.freeze({ inputs: this.inputs, ops });
      }
    }
    const inputs: number[] = [];
    const inputOf = new Map<number, number>();
    let at = 0;
    for (const r of sorted) {
      if (r.offset > at) inputs.push(r.offset - at);
      inputOf.set(r.offset, inputs.length);
      inputs.push(r.length);
      at = r.offset + r.length;
    }
    if (at < this.viewLength) inputs.push(this.viewLength - at);
    const ops = runs.map((r) => op('copy', 'record', inputOf.get(r.offset)!, r.length, r.length));
    return Object.freeze({ inputs, ops });
  }

  get size(): number {
    return this.byMask.size;
  }

  /** The shape of `mask`, or undefined when MAX_SHAPES are in use (the caller drops and counts the sample). */
  get(mask: number): Shape | undefined {
    const hit = this.byMask.get(mask);
    if (hit || this.byMask.size >= MAX_SHAPES) return hit;
    return this.make(mask);
  }

  /** Compiles the shape of a mask seen for the first time (kept apart so get() stays closure-free). */
  private make(mask: number): Shape {
    const runs: { offset: number; length: number }[] = [];
    const fields: FieldSpecifier[] = [];
    const variable: SflowColumn[] = [];
    let scope = 0;
    let fixedLength = 0;
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i]!;
      if ((mask & c.group) !== c.group) continue;
      if (i < this.scopeCount) scope++;
      if (c.length === VARLEN) {
        variable.push(c);
        continue;
      }
      const last = runs[runs.length - 1];
      if (last && last.offset + last.length === c.offset) last.length += c.length;
      else runs.push({ offset: c.offset, length: c.length });
      fields.push(c.spec);
      fixedLength += c.length;
    }
    // Variable-length fields follow the fixed ones in the record, so also in the template.
    for (const c of variable) fields.push(c.spec);
    const plan = compilePlan(this.layout(runs), 'generated');
    const variableFacts = Int32Array.from(variable, (c) => VARIABLE.findIndex(([name]) => name === c.field));
    const shape: Shape = Object.freeze({ mask, templateId: this.nextTemplateId(), fields, scopeCount: scope, plan, fixedLength, variable, variableFacts });
    this.byMask.set(mask, shape);
    return shape;
  }
}
