// IPFIX encoding primitives (RFC 7011 §3): message header, set header, template records, withdrawals.
// All write into a caller-owned buffer at an offset and return the new offset, so an Exporting Process can
// pack a message without intermediate allocations.

import {
  IPFIX_VERSION,
  MESSAGE_HEADER_LENGTH,
  SET_HEADER_LENGTH,
  TEMPLATE_SET_ID,
  OPTIONS_TEMPLATE_SET_ID,
  ENTERPRISE_BIT,
} from './constants.js';
import type { Template } from './template.js';

export function writeMessageHeader(buf: Buffer, off: number, length: number, exportTime: number, sequence: number, odid: number): number {
  buf.writeUInt16BE(IPFIX_VERSION, off);
  buf.writeUInt16BE(length, off + 2);
  buf.writeUInt32BE(exportTime >>> 0, off + 4);
  buf.writeUInt32BE(sequence >>> 0, off + 8);
  buf.writeUInt32BE(odid >>> 0, off + 12);
  return off + MESSAGE_HEADER_LENGTH;
}

export function writeSetHeader(buf: Buffer, off: number, setId: number, length: number): number {
  buf.writeUInt16BE(setId, off);
  buf.writeUInt16BE(length, off + 2);
  return off + SET_HEADER_LENGTH;
}

/** Set ID a template record of this template belongs in. */
export function templateSetId(t: Template): number {
  return t.scopeCount > 0 ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID;
}

/** Writes a (Options) Template Record for `t` under the outgoing Template ID `templateId`. */
export function writeTemplateRecord(buf: Buffer, off: number, t: Template, templateId: number): number {
  buf.writeUInt16BE(templateId, off);
  buf.writeUInt16BE(t.fields.length, off + 2);
  off += 4;
  if (t.scopeCount > 0) {
    buf.writeUInt16BE(t.scopeCount, off);
    off += 2;
  }
  for (const f of t.fields) {
    if (f.enterprise !== 0) {
      buf.writeUInt16BE(f.id | ENTERPRISE_BIT, off);
      buf.writeUInt16BE(f.length, off + 2);
      buf.writeUInt32BE(f.enterprise >>> 0, off + 4);
      off += 8;
    } else {
      buf.writeUInt16BE(f.id, off);
      buf.writeUInt16BE(f.length, off + 2);
      off += 4;
    }
  }
  return off;
}

/**
 * A Template Withdrawal record (RFC 7011 §8.1): the Template ID with a field count of 0, in a set of the
 * same kind (2 or 3) as the template. Template ID 2 or 3 withdraws all templates of that kind.
 */
export function writeWithdrawalRecord(buf: Buffer, off: number, templateId: number): number {
  buf.writeUInt16BE(templateId, off);
  buf.writeUInt16BE(0, off + 2);
  return off + 4;
}
