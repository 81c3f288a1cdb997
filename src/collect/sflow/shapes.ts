// Record shapes: the IPFIX layout of a sample with a given set of fact groups. One shape per group mask
// seen, compiled on first use (a plan over the fixed view, plus the variable-length columns to append)
// and shared by every exporter session of the decoder; each session announces its own Template for it.

import { VARLEN } from '../../ipfix/constants.js';
import type { FieldSpecifier } from '../../ipfix/template.js';
import { compilePlan } from '../../mapping/compile.js';
import { op, type FieldOp, type Plan } from '../../mapping/plan.js';
import type { SflowColumn } from '../../mapping/sflow-table.js';

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
  /** Variable-length columns, appended after the fixed part in this order. */
  readonly variable: readonly SflowColumn[];
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
    }
  }

  get size(): number {
    return this.byMask.size;
  }

  /** The shape of `mask`, or undefined when MAX_SHAPES are in use (the caller drops and counts the sample). */
  get(mask: number): Shape | undefined {
    const hit = this.byMask.get(mask);
    if (hit || this.byMask.size >= MAX_SHAPES) return hit;
    const ops: FieldOp[] = [];
    const fields: FieldSpecifier[] = [];
    const variable: SflowColumn[] = [];
    let scope = 0;
    let fixedLength = 0;
    this.columns.forEach((c, i) => {
      if ((mask & c.group) !== c.group) return;
      if (i < this.scopeCount) scope++;
      if (c.length === VARLEN) {
        variable.push(c);
        return;
      }
      ops.push(op('copy', 'record', this.inputAt.get(c.offset)!, c.length, c.length));
      fields.push(c.spec);
      fixedLength += c.length;
    });
    // Variable-length fields follow the fixed ones in the record, so also in the template.
    for (const c of variable) fields.push(c.spec);
    const plan = compilePlan(Object.freeze({ inputs: this.inputs, ops }), 'generated');
    const shape: Shape = Object.freeze({ mask, templateId: this.nextTemplateId(), fields, scopeCount: scope, plan, fixedLength, variable });
    this.byMask.set(mask, shape);
    return shape;
  }
}
