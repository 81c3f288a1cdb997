// Validated reading of IPFIX Message structure (RFC 7011 §3): message header, Set headers, (Options)
// Template Records and Template Withdrawals, and record boundaries inside Data Sets. Problems are reported
// through the callbacks as (reason, offset, message) — never thrown — so a caller can drop exactly the
// broken part and go on.

import {
  ENTERPRISE_BIT,
  IPFIX_VERSION,
  MESSAGE_HEADER_LENGTH,
  MIN_DATA_SET_ID,
  OPTIONS_TEMPLATE_SET_ID,
  TEMPLATE_SET_ID,
  VARLEN,
} from './constants.js';
import type { FieldSpecifier, Template } from './template.js';
import { DropReason, type DropReasonValue } from '../observe/metrics.js';

export interface ReadError {
  reason: DropReasonValue;
  offset: number;
  message: string;
}

/** Length of the message starting at `off`, or an error when its header is unusable. */
export function messageLength(buf: Buffer, off: number): number | ReadError {
  if (buf.length - off < MESSAGE_HEADER_LENGTH) {
    return { reason: DropReason.truncated, offset: off, message: `${buf.length - off} octets left, less than an IPFIX message header` };
  }
  const version = buf.readUInt16BE(off);
  if (version !== IPFIX_VERSION) return { reason: DropReason.badVersion, offset: off, message: `IPFIX message with version ${version}` };
  const length = buf.readUInt16BE(off + 2);
  if (length < MESSAGE_HEADER_LENGTH) return { reason: DropReason.badLength, offset: off, message: `message length ${length} is shorter than the header` };
  if (off + length > buf.length) {
    return { reason: DropReason.truncated, offset: off, message: `message length ${length} exceeds the ${buf.length - off} octets received` };
  }
  return length;
}

export interface TemplateVisitor {
  template(templateId: number, fields: FieldSpecifier[], scopeCount: number, offset: number): void;
  /** templateId 2 or 3 withdraws every template of that kind (RFC 7011 §8.1). */
  withdrawal(templateId: number, offset: number): void;
  error(e: ReadError): void;
}

/**
 * Reads the records of a Template Set (2) or Options Template Set (3) in buf[start, end) (Set header
 * excluded). Stops at the first malformed record, since the rest of the Set can no longer be framed.
 */
export function readTemplateSet(buf: Buffer, start: number, end: number, setId: number, v: TemplateVisitor): void {
  const options = setId === OPTIONS_TEMPLATE_SET_ID;
  let o = start;
  // Fewer than 4 octets left is Set padding (RFC 7011 §3.3.1).
  while (end - o >= 4) {
    const recordStart = o;
    const templateId = buf.readUInt16BE(o);
    const fieldCount = buf.readUInt16BE(o + 2);
    o += 4;
    if (fieldCount === 0) {
      if (templateId < MIN_DATA_SET_ID && templateId !== setId) {
        v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `withdrawal of Template ID ${templateId} in a Set ${setId}` });
        return;
      }
      v.withdrawal(templateId, recordStart);
      continue;
    }
    if (templateId < MIN_DATA_SET_ID) {
      // All-zero padding that happens to be ≥ 4 octets is not a template either.
      if (templateId === 0 && buf.subarray(recordStart, end).every((b) => b === 0)) return;
      v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `Template ID ${templateId} is below 256` });
      return;
    }
    let scopeCount = 0;
    if (options) {
      if (end - o < 2) {
        v.error({ reason: DropReason.badTemplate, offset: recordStart, message: 'options template record ends before its scope field count' });
        return;
      }
      scopeCount = buf.readUInt16BE(o);
      o += 2;
      if (scopeCount === 0 || scopeCount > fieldCount) {
        v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `options template ${templateId}: scope field count ${scopeCount} with ${fieldCount} fields` });
        return;
      }
    }
    // Each specifier takes at least 4 octets: a count that cannot fit is rejected before the loop.
    if (fieldCount * 4 > end - o) {
      v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `template ${templateId} announces ${fieldCount} fields but its Set has ${end - o} octets left` });
      return;
    }
    const fields: FieldSpecifier[] = [];
    let recordOctets = 0;
    for (let i = 0; i < fieldCount; i++) {
      if (end - o < 4) {
        v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `template ${templateId} runs past its Set` });
        return;
      }
      const raw = buf.readUInt16BE(o);
      const length = buf.readUInt16BE(o + 2);
      o += 4;
      let enterprise = 0;
      if (raw & ENTERPRISE_BIT) {
        if (end - o < 4) {
          v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `template ${templateId} runs past its Set in an enterprise number` });
          return;
        }
        enterprise = buf.readUInt32BE(o);
        o += 4;
      }
      fields.push({ id: raw & ~ENTERPRISE_BIT, enterprise, length });
      recordOctets += length === VARLEN ? 1 : length;
    }
    // Records of 0 octets cannot be framed in a Data Set: refuse the template, keep reading the Set.
    if (recordOctets === 0) {
      v.error({ reason: DropReason.badTemplate, offset: recordStart, message: `template ${templateId}: every field is 0 octets long, its records cannot be framed` });
      continue;
    }
    v.template(templateId, fields, scopeCount, recordStart);
  }
}

/** Kind of a Set ID: template sets, data sets, or reserved (0, 1, 4..255 are invalid in IPFIX). */
export function setKind(setId: number): 'template' | 'data' | 'reserved' {
  if (setId === TEMPLATE_SET_ID || setId === OPTIONS_TEMPLATE_SET_ID) return 'template';
  return setId >= MIN_DATA_SET_ID ? 'data' : 'reserved';
}

/**
 * End offset of the record starting at `start` (variable-length fields: a 1-octet length, or 255 and a
 * 2-octet length, RFC 7011 §7), or -1 when it does not fit before `limit`.
 */
export function recordEnd(t: Template, buf: Uint8Array, start: number, limit: number): number {
  if (t.fixedLength >= 0) return start + t.fixedLength <= limit ? start + t.fixedLength : -1;
  let o = start;
  for (const f of t.fields) {
    let len = f.length;
    if (len === VARLEN) {
      if (o >= limit) return -1;
      len = buf[o]!;
      o++;
      if (len === 255) {
        if (o + 2 > limit) return -1;
        len = (buf[o]! << 8) | buf[o + 1]!;
        o += 2;
      }
    }
    o += len;
    if (o > limit) return -1;
  }
  return o;
}

/**
 * Whole records of `t` in the Data Set body buf[start, end): writes [count, endOfLastRecord] into `out`
 * and returns true, or false when octets remain that are too many to be padding (a broken record).
 * Allocates nothing.
 */
export function dataSetRecords(t: Template, buf: Buffer, start: number, end: number, out: Int32Array): boolean {
  let o = start;
  let n = 0;
  for (;;) {
    if (end - o < t.minRecordLength || end === o) break;
    const e = recordEnd(t, buf, o, end);
    if (e < 0) {
      out[0] = n;
      out[1] = o;
      return false;
    }
    if (e === o) break; // a template of only zero-length fields frames nothing
    o = e;
    n++;
  }
  out[0] = n;
  out[1] = o;
  return true;
}
