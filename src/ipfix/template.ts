// Templates and Options Templates (RFC 7011 §3.4): the one description of a record layout that every
// stage shares. A Template object is immutable once defined; a redefinition is a new object with a new uid,
// so downstream state keyed by uid can never confuse the old layout with the new one.

import { VARLEN } from './constants.js';

export interface FieldSpecifier {
  /** Information Element identifier without the enterprise bit. */
  readonly id: number;
  /** Private Enterprise Number, 0 for IANA elements. */
  readonly enterprise: number;
  /** Field length in octets, or VARLEN (65535). */
  readonly length: number;
}

export interface Template {
  /** Process-wide unique identity of this definition (never reused). */
  readonly uid: number;
  /** Template ID as the layout is known on the wire where it came from (>= 256). */
  readonly id: number;
  readonly fields: readonly FieldSpecifier[];
  /** Number of leading scope fields; > 0 makes this an Options Template. */
  readonly scopeCount: number;
  /** Record length when every field is fixed-length, else -1. */
  readonly fixedLength: number;
  /** Smallest possible record length (varlen fields count as their 1-octet length prefix). */
  readonly minRecordLength: number;
}

let nextUid = 1;

export function makeTemplate(id: number, fields: readonly FieldSpecifier[], scopeCount = 0): Template {
  let fixed = 0;
  let min = 0;
  let hasVarlen = false;
  for (const f of fields) {
    if (f.length === VARLEN) {
      hasVarlen = true;
      min += 1;
    } else {
      fixed += f.length;
      min += f.length;
    }
  }
  return Object.freeze({
    uid: nextUid++,
    id,
    fields: Object.freeze(fields.map((f) => Object.freeze({ id: f.id, enterprise: f.enterprise, length: f.length }))),
    scopeCount,
    fixedLength: hasVarlen ? -1 : fixed,
    minRecordLength: min,
  });
}

/** Same layout (ids, enterprises, lengths, scope) regardless of uid and template id. */
export function sameLayout(a: Template, b: Template): boolean {
  if (a.scopeCount !== b.scopeCount || a.fields.length !== b.fields.length) return false;
  for (let i = 0; i < a.fields.length; i++) {
    const x = a.fields[i]!;
    const y = b.fields[i]!;
    if (x.id !== y.id || x.enterprise !== y.enterprise || x.length !== y.length) return false;
  }
  return true;
}

/** Octets the Template Record (or Options Template Record) takes on the wire. */
export function templateRecordLength(t: Template): number {
  let n = t.scopeCount > 0 ? 6 : 4;
  for (const f of t.fields) n += f.enterprise !== 0 ? 8 : 4;
  return n;
}
