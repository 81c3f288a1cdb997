// Record shapes: the IPFIX layout of a sample with a given set of fact groups. One shape per group mask
// seen, compiled on first use and shared by every exporter session of the decoder; each session announces
// its own Template for it.
//
// A shape's plan copies the fixed-length facts from the view (a scratch record the decoder reuses for every
// sample) into an output buffer. The view is fixed for the life of the decoder, so the plan is generated
// with every source offset a constant and the copies done in 4-, 2- and 1-octet DataView moves (measured
// here: a 112-octet record in ~70 ns, against 170-340 ns byte by byte through the general plan compiler,
// src/mapping/compile.ts). The generated text holds numbers only.
//
// Each shape also has its own staging area: the records of one datagram are written straight into the
// area of their shape, so they are already grouped by template when the datagram ends (one sink call per
// shape, no gathering). The areas are cut from shared chunks and handed on as (chunk, start, end), so
// downstream sees the same Buffer object call after call (the Exporting Process keeps a DataView over the
// last source it was given: reading a Buffer's ArrayBuffer is a call into the runtime).

import { VARLEN } from '../../ipfix/constants.js';
import type { FieldSpecifier } from '../../ipfix/template.js';
import type { SflowColumn } from '../../mapping/sflow-table.js';
import { CHUNK_OCTETS, takeChunk } from './plan-memory.js';
import { VARIABLE } from './view.js';

/** Writes the fixed part of one record at d of the shape's chunk and returns where it ends. */
export type CopyPlan = (d: number) => number;
/** The same into another buffer (for a record too large for the staging area). */
export type CopyPlanTo = (dv: DataView, d: number) => number;

export interface Shape {
  readonly mask: number;
  /** Template ID every session announces this shape under. */
  readonly templateId: number;
  readonly fields: readonly FieldSpecifier[];
  /** The fixed-length columns, in record order. */
  readonly columns: readonly SflowColumn[];
  readonly scopeCount: number;
  /** Copies the fixed-length fields of one record from the view to the output. */
  readonly copy: CopyPlan;
  readonly copyTo: CopyPlanTo;
  /** Octets the plan writes per record. */
  readonly fixedLength: number;
  /** The chunk this shape's records of the datagram being decoded are staged in, a DataView over it, and
   *  where the shape's area starts in it (STAGE_LENGTH octets). */
  readonly stage: Buffer;
  readonly stageView: DataView;
  readonly stageStart: number;
  /** Where the staging area starts in the plan memory (plan-memory.ts), -1 when it is outside. */
  readonly stageAddress: number;
  /** Variable-length columns, appended after the fixed part in this order ... */
  readonly variable: readonly SflowColumn[];
  /** ... as indexes into view.ts VARIABLE (VariableFact), so the hot path switches on numbers. */
  readonly variableFacts: Int32Array;
}

/** The most shapes a decoder keeps: far above what real agents produce, a bound against crafted input. */
export const MAX_SHAPES = 1024;

/** Octets of a shape's staging area (a larger record is handed on by itself), and of one chunk of areas. */
export const STAGE_LENGTH = 8192;

/** Cuts staging areas from 1 MiB chunks (one chunk holds 128 shapes: real agents need a handful), taken
 *  from the plan memory while it has some. */
export class StageArena {
  chunk!: Buffer;
  chunkView!: DataView;
  /** The chunk's offset in the plan memory, -1 outside it. */
  chunkAddress = -1;
  private at = CHUNK_OCTETS;

  /** Reserves a staging area: its start in `chunk` (which take() may have replaced by a fresh one). */
  take(): number {
    if (this.at + STAGE_LENGTH > CHUNK_OCTETS) {
      const { chunk, address } = takeChunk();
      this.chunk = chunk;
      this.chunkView = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.chunkAddress = address;
      this.at = 0;
    }
    this.at += STAGE_LENGTH;
    return this.at - STAGE_LENGTH;
  }
}

interface Run {
  /** Offset in the view. */
  offset: number;
  length: number;
}

/** Source text of a copy plan for runs (in output order) of a fixed source into the output. */
export function copySource(runs: readonly Run[], toParameter = false): string {
  // The staging area's DataView is bound in the closure: measured faster than passing it per call.
  const lines = ['"use strict";', toParameter ? 'return function copyTo(dv, d) {' : 'return function copy(d) {'];
  let to = 0;
  for (const r of runs) {
    let k = 0;
    for (; r.length - k >= 4; k += 4) lines.push(`dv.setUint32(d + ${to + k}, sv.getUint32(${r.offset + k}));`);
    if (r.length - k >= 2) {
      lines.push(`dv.setUint16(d + ${to + k}, sv.getUint16(${r.offset + k}));`);
      k += 2;
    }
    if (r.length - k === 1) lines.push(`dv.setUint8(d + ${to + k}, sv.getUint8(${r.offset + k}));`);
    to += r.length;
  }
  lines.push(`return d + ${to};`, '};');
  return lines.join('\n');
}

export class Shapes {
  private readonly byMask = new Map<number, Shape>();
  private lastMask = 0;
  private last: Shape | undefined = undefined;
  private readonly sv: DataView;

  /** `source`: the view the decoder fills; `arena`: where staging areas come from. */
  constructor(
    private readonly columns: readonly SflowColumn[],
    source: Uint8Array,
    private readonly arena: StageArena,
    private readonly scopeCount: number,
    private readonly nextTemplateId: () => number,
  ) {
    this.sv = new DataView(source.buffer, source.byteOffset, source.byteLength);
  }

  get size(): number {
    return this.byMask.size;
  }

  /** The shape of `mask`, or undefined when MAX_SHAPES are in use (the caller drops and counts the sample). */
  get(mask: number): Shape | undefined {
    // Consecutive samples mostly share a shape: the last one answers without a Map lookup.
    if (mask === this.lastMask && this.last !== undefined) return this.last;
    const hit = this.byMask.get(mask) ?? (this.byMask.size >= MAX_SHAPES ? undefined : this.make(mask));
    if (hit) {
      this.lastMask = mask;
      this.last = hit;
    }
    return hit;
  }

  /** Compiles the shape of a mask seen for the first time (kept apart so get() stays closure-free). */
  private make(mask: number): Shape {
    // Columns next to each other both in the view and in the record are copied as one run.
    const runs: Run[] = [];
    const fields: FieldSpecifier[] = [];
    const columns: SflowColumn[] = [];
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
      columns.push(c);
      fixedLength += c.length;
    }
    // Variable-length fields follow the fixed ones in the record, so also in the template.
    for (const c of variable) fields.push(c.spec);
    const variableFacts = Int32Array.from(variable, (c) => VARIABLE.findIndex(([name]) => name === c.field));
    const stageStart = this.arena.take();
    const stage = this.arena.chunk;
    const stageView = this.arena.chunkView;
    const stageAddress = this.arena.chunkAddress < 0 ? -1 : this.arena.chunkAddress + stageStart;
    const copy = (new Function('sv', 'dv', copySource(runs)) as (sv: DataView, dv: DataView) => CopyPlan)(this.sv, stageView);
    const copyTo = (new Function('sv', copySource(runs, true)) as (sv: DataView) => CopyPlanTo)(this.sv);
    const shape: Shape = Object.freeze({ mask, templateId: this.nextTemplateId(), fields, columns, scopeCount: scope, copy, copyTo, fixedLength, stage, stageView, stageStart, stageAddress, variable, variableFacts });
    this.byMask.set(mask, shape);
    return shape;
  }
}
