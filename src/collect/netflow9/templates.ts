// NetFlow v9 Template and Options Template records (RFC 3954 §5.2, §6.1) → the outgoing IPFIX Template and
// the compiled plan that re-encodes their data records. The same layout arrives again and again (exporters
// resend templates every few packets, many exporters share layouts), so compiled layouts are cached by
// their field list and a resent template costs a string key and a map lookup.

import { VARLEN } from '../../ipfix/constants.js';
import type { FieldSpecifier } from '../../ipfix/template.js';
import { compilePlan } from '../../mapping/compile.js';
import type { Netflow9Table } from '../../mapping/netflow9-table.js';
import { op, type FieldOp, type Plan, type PlanStyle } from '../../mapping/plan.js';

/** Where the sampler facts sit in an options record (fixed offsets), for the derived PSAMP record. */
export interface SamplerFieldOffsets {
  readonly idOffset: number;
  readonly idLength: number;
  readonly intervalOffset: number;
  readonly intervalLength: number;
  /** -1 when the template has no mode/algorithm field. */
  readonly algorithmOffset: number;
  readonly algorithmLength: number;
}

/** A compiled v9 layout: everything about a template except its Template ID and session. */
export interface CompiledLayout {
  readonly key: string;
  /** Number of scope fields and the (type, length) pairs it was compiled from. */
  readonly scopeFields: number;
  readonly pairs: Uint16Array;
  readonly plan: Plan;
  readonly fields: readonly FieldSpecifier[];
  readonly scopeCount: number;
  /** Input record length when fixed, else -1. */
  readonly recordLength: number;
  readonly sampler: SamplerFieldOffsets | null;
  /** v9 field types left out because their length is 0. */
  readonly zeroLength: readonly number[];
  /** v9 field types kept under a private enterprise number by the fallback rule. */
  readonly unmapped: readonly number[];
  /** v9 options template whose scope fields were all zero-length, relayed as an ordinary template. */
  readonly scopeDropped: boolean;
}

/** Largest sum of fixed field lengths a record may have: it must fit a FlowSet. */
const MAX_RECORD = 0xffff - 4;

/** `pairs` holds type, length, type, length, ... of the scope fields then the option/data fields. */
export class LayoutCompiler {
  private readonly cache = new Map<string, CompiledLayout | string>();

  constructor(
    private readonly table: Netflow9Table,
    private readonly style: PlanStyle = 'generated',
    private readonly maxCached = 4096,
  ) {}

  /** Layout key of a template: scope count and the (type, length) list. */
  static key(scopeFields: number, pairs: ArrayLike<number>, n: number): string {
    let k = `${scopeFields}:`;
    for (let i = 0; i < n; i += 2) k += `${pairs[i]}/${pairs[i + 1]},`;
    return k;
  }

  /** Whether `layout` was compiled from exactly these fields (a resent template), without allocating. */
  static same(layout: CompiledLayout, scopeFields: number, pairs: ArrayLike<number>, n: number): boolean {
    const p = layout.pairs;
    if (layout.scopeFields !== scopeFields || p.length !== n) return false;
    for (let i = 0; i < n; i++) if (p[i] !== pairs[i]) return false;
    return true;
  }

  /** The compiled layout, or a reason the template is unusable. */
  compile(key: string, scopeFields: number, pairs: ArrayLike<number>, n: number): CompiledLayout | string {
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const made = this.build(key, scopeFields, pairs, n);
    if (this.cache.size >= this.maxCached) this.cache.clear();
    this.cache.set(key, made);
    return made;
  }

  private build(key: string, scopeFields: number, pairs: ArrayLike<number>, n: number): CompiledLayout | string {
    const inputs: number[] = [];
    const ops: FieldOp[] = [];
    const fields: FieldSpecifier[] = [];
    const zeroLength: number[] = [];
    const unmapped: number[] = [];
    let scopeCount = 0;
    let fixed = 0;
    let varlen = false;
    for (let i = 0; i < n; i += 2) {
      const type = pairs[i]!;
      const length = pairs[i + 1]!;
      const input = inputs.length;
      inputs.push(length);
      if (length === VARLEN) varlen = true;
      else fixed += length;
      const isScope = i / 2 < scopeFields;
      const target = isScope ? this.table.mapScope(type, length) : this.table.mapField(type, length);
      if (target === undefined) return `scope type ${type} of length ${length} has no IPFIX scope element (mappings/netflow-v9.yaml scopes)`;
      if (target === null) {
        zeroLength.push(type);
        continue;
      }
      if (target.rule === 'pen') unmapped.push(type);
      ops.push(op(target.kind, 'record', input, length, target.spec.length));
      fields.push(target.spec);
      if (isScope) scopeCount++;
    }
    if (fixed > MAX_RECORD) return `records of ${fixed} octets cannot fit a FlowSet`;
    if (fixed === 0 && !varlen) return 'every field has length 0';
    if (fields.length === 0) return 'no field left to relay';
    const plan = compilePlan({ inputs, ops }, this.style);
    const own = new Uint16Array(n);
    for (let i = 0; i < n; i++) own[i] = pairs[i]!;
    return Object.freeze({
      key,
      scopeFields,
      pairs: own,
      plan,
      fields,
      scopeCount,
      recordLength: varlen ? -1 : fixed,
      sampler: scopeFields > 0 && !varlen ? this.samplerOffsets(pairs, n) : null,
      zeroLength,
      unmapped,
      scopeDropped: scopeFields > 0 && scopeCount === 0,
    });
  }

  /** Offsets of the sampler id and interval (and mode) fields, when an options template has both. */
  private samplerOffsets(pairs: ArrayLike<number>, n: number): SamplerFieldOffsets | null {
    const { sampler } = this.table;
    const find = (types: readonly number[], maxLength: number): [number, number] => {
      for (const t of types) {
        let off = 0;
        for (let i = 0; i < n; i += 2) {
          const l = pairs[i + 1]!;
          if (pairs[i] === t && l > 0 && l <= maxLength) return [off, l];
          off += l;
        }
      }
      return [-1, 0];
    };
    const [idOffset, idLength] = find(sampler.id, 8);
    const [intervalOffset, intervalLength] = find(sampler.interval, 4);
    if (idOffset < 0 || intervalOffset < 0) return null;
    const [algorithmOffset, algorithmLength] = find(sampler.algorithm, 4);
    return Object.freeze({ idOffset, idLength, intervalOffset, intervalLength, algorithmOffset, algorithmLength });
  }
}
