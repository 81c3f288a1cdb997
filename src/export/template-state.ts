// The Template state of an outgoing IPFIX message stream, read back from the messages themselves: per
// Observation Domain, every (Options) Template Record currently defined (RFC 7011 §8: defined until
// withdrawn) and the last Data Set of each Options Template. The output queue follows its stream with it,
// so that when a new Transport Session starts in the middle of the stream it can first announce exactly
// the Templates the next message relies on (RFC 7011 §10.4.2.1: Templates before the Data Records that
// use them, in every Transport Session) — whatever happened to the messages in between (spooled,
// replayed, dropped).
//
// apply() runs once per message sent: it walks the Set headers, parses only Template Sets (rare) and copies
// only Options Data Sets (rare); Data Sets are skipped by their length.

import { MESSAGE_HEADER_LENGTH, OPTIONS_TEMPLATE_SET_ID, SET_HEADER_LENGTH, TEMPLATE_SET_ID, MIN_DATA_SET_ID } from '../ipfix/constants.js';
import { readTemplateSet, dataSetRecords } from '../ipfix/reader.js';
import { makeTemplate, type Template } from '../ipfix/template.js';
import { writeMessageHeader, writeSetHeader } from '../ipfix/encode.js';

interface Defined {
  /** 2 (Template Set) or 3 (Options Template Set). */
  readonly setId: number;
  /** The Template Record as it was sent. */
  readonly record: Buffer;
  /** For framing records. */
  readonly template: Template;
  readonly options: boolean;
  /** Options Templates: the body of the last Data Set of this Template and its record count. */
  lastData?: Buffer;
  lastCount: number;
}

/** A message of the preamble, with the number of Data Records it carries (for sequence numbers). */
export interface CountedMessage {
  buf: Buffer;
  records: number;
}

const counts = new Int32Array(2);

export class TemplateState {
  private readonly domains = new Map<number, Map<number, Defined>>();
  /** The last message apply() followed withdrew a Template (a record with field count 0, or all of a kind). */
  withdrew = false;
  /** The last message apply() followed had a Set it could not frame (so it was not followed to its end). */
  malformed = false;

  /**
   * Follow one message of the stream (a well-formed IPFIX message written by this process). With `count`,
   * returns its Data Records (framed by the Templates known at each Data Set), else 0.
   */
  apply(m: Buffer, count = false): number {
    let records = 0;
    this.withdrew = this.malformed = false;
    const end = Math.min(m.length, m.readUInt16BE(2));
    const odid = m.readUInt32BE(12);
    let d: Map<number, Defined> | undefined;
    let p = MESSAGE_HEADER_LENGTH;
    while (p + SET_HEADER_LENGTH <= end) {
      const setId = m.readUInt16BE(p);
      const len = m.readUInt16BE(p + 2);
      if (len < SET_HEADER_LENGTH || p + len > end) {
        this.malformed = true;
        break;
      }
      if (setId === TEMPLATE_SET_ID || setId === OPTIONS_TEMPLATE_SET_ID) {
        d ??= this.domain(odid);
        this.templateSet(d, m, p + SET_HEADER_LENGTH, p + len, setId);
      } else if (setId >= MIN_DATA_SET_ID) {
        const t = (d ?? this.domains.get(odid))?.get(setId);
        if (t && (t.options || count)) {
          dataSetRecords(t.template, m, p + SET_HEADER_LENGTH, p + len, counts);
          if (count) records += counts[0]!;
          if (t.options) {
            t.lastData = Buffer.from(m.subarray(p + SET_HEADER_LENGTH, counts[1]!));
            t.lastCount = counts[0]!;
          }
        }
      }
      p += len;
    }
    return records;
  }

  private domain(odid: number): Map<number, Defined> {
    let d = this.domains.get(odid);
    if (!d) this.domains.set(odid, (d = new Map()));
    return d;
  }

  private templateSet(d: Map<number, Defined>, m: Buffer, start: number, end: number, setId: number): void {
    readTemplateSet(m, start, end, setId, {
      template: (id, fields, scopeCount, offset) => {
        let n = scopeCount > 0 ? 6 : 4;
        for (const f of fields) n += f.enterprise !== 0 ? 8 : 4;
        const record = Buffer.from(m.subarray(offset, offset + n));
        d.set(id, { setId, record, template: makeTemplate(id, fields, scopeCount), options: scopeCount > 0, lastCount: 0 });
      },
      withdrawal: (id) => {
        this.withdrew = true;
        // Template ID 2 or 3 withdraws every Template of that kind in the domain (RFC 7011 §8.1).
        if (id === setId) {
          for (const [k, v] of d) if (v.setId === setId) d.delete(k);
        } else d.delete(id);
      },
      error: () => {},
    });
  }

  /** Observation Domains with Templates defined, and whether any of them are Options Templates. */
  definedKinds(): { odid: number; templates: boolean; options: boolean }[] {
    const out: { odid: number; templates: boolean; options: boolean }[] = [];
    for (const [odid, d] of this.domains) {
      let templates = false;
      let options = false;
      for (const v of d.values()) {
        if (v.options) options = true;
        else templates = true;
      }
      if (templates || options) out.push({ odid, templates, options });
    }
    return out;
  }

  /** Nothing defined (a new stream). */
  clear(): void {
    this.domains.clear();
  }

  /** Template Records currently defined in `odid` (tests, logs). */
  templateIds(odid: number): number[] {
    return [...(this.domains.get(odid)?.keys() ?? [])];
  }

  /**
   * Messages that define the current state in a new Transport Session: per domain, every Template and
   * Options Template, then the last Data Set of each Options Template (the RFC 7119 original-exporter
   * record among them). Sequence numbers are left at 0: the queue stamps them.
   */
  preamble(maxMessage: number, exportTime: number): CountedMessage[] {
    const out: CountedMessage[] = [];
    for (const [odid, d] of this.domains) {
      if (d.size === 0) continue;
      const parts: { setId: number; bytes: Buffer; records: number }[] = [];
      for (const setId of [TEMPLATE_SET_ID, OPTIONS_TEMPLATE_SET_ID]) {
        for (const v of d.values()) if (v.setId === setId) parts.push({ setId, bytes: v.record, records: 0 });
      }
      for (const [id, v] of d) if (v.lastData && v.lastCount > 0) parts.push({ setId: id, bytes: v.lastData, records: v.lastCount });
      let buf = Buffer.allocUnsafe(maxMessage);
      let pos = MESSAGE_HEADER_LENGTH;
      let setStart = -1;
      let setId = -1;
      let records = 0;
      const finish = () => {
        if (setStart >= 0) writeSetHeader(buf, setStart, setId, pos - setStart);
        if (pos > MESSAGE_HEADER_LENGTH) {
          writeMessageHeader(buf, 0, pos, exportTime, 0, odid);
          out.push({ buf: buf.subarray(0, pos), records });
        }
        buf = Buffer.allocUnsafe(maxMessage);
        pos = MESSAGE_HEADER_LENGTH;
        setStart = -1;
        setId = -1;
        records = 0;
      };
      for (const part of parts) {
        const need = part.bytes.length + (part.setId === setId ? 0 : SET_HEADER_LENGTH);
        if (pos + need > maxMessage) finish();
        // Data Sets are kept whole; template records one by one (each fits any message).
        if (part.setId !== setId || part.setId >= MIN_DATA_SET_ID) {
          if (setStart >= 0) writeSetHeader(buf, setStart, setId, pos - setStart);
          setStart = pos;
          setId = part.setId;
          pos += SET_HEADER_LENGTH;
        }
        part.bytes.copy(buf, pos);
        pos += part.bytes.length;
        records += part.records;
      }
      finish();
    }
    return out;
  }
}

/**
 * The same message without its Data Sets: what a queue keeps of a message it has to drop, so that the
 * Template definitions and withdrawals in it still reach the collector in order. Undefined when nothing
 * but Data Sets was in it.
 */
export function templateSetsOnly(m: Buffer): Buffer | undefined {
  const end = Math.min(m.length, m.readUInt16BE(2));
  let keep = 0;
  for (let p = MESSAGE_HEADER_LENGTH; p + SET_HEADER_LENGTH <= end; ) {
    const setId = m.readUInt16BE(p);
    const len = m.readUInt16BE(p + 2);
    if (len < SET_HEADER_LENGTH || p + len > end) break;
    if (setId === TEMPLATE_SET_ID || setId === OPTIONS_TEMPLATE_SET_ID) keep += len;
    p += len;
  }
  if (keep === 0) return undefined;
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_LENGTH + keep);
  m.copy(out, 0, 0, MESSAGE_HEADER_LENGTH);
  let q = MESSAGE_HEADER_LENGTH;
  for (let p = MESSAGE_HEADER_LENGTH; p + SET_HEADER_LENGTH <= end; ) {
    const setId = m.readUInt16BE(p);
    const len = m.readUInt16BE(p + 2);
    if (len < SET_HEADER_LENGTH || p + len > end) break;
    if (setId === TEMPLATE_SET_ID || setId === OPTIONS_TEMPLATE_SET_ID) q += m.copy(out, q, p, p + len);
    p += len;
  }
  out.writeUInt16BE(q, 2);
  return out;
}

/**
 * A message withdrawing every Template (Template ID 2 in a Template Set) and/or every Options Template
 * (ID 3 in an Options Template Set) of a domain (RFC 7011 §8.1).
 */
export function withdrawAllMessage(odid: number, templates: boolean, options: boolean, exportTime: number): Buffer {
  const m = Buffer.alloc(MESSAGE_HEADER_LENGTH + (templates ? 8 : 0) + (options ? 8 : 0));
  let p = MESSAGE_HEADER_LENGTH;
  for (const [on, setId] of [[templates, TEMPLATE_SET_ID], [options, OPTIONS_TEMPLATE_SET_ID]] as const) {
    if (!on) continue;
    writeSetHeader(m, p, setId, 8);
    m.writeUInt16BE(setId, p + 4);
    m.writeUInt16BE(0, p + 6);
    p += 8;
  }
  writeMessageHeader(m, 0, p, exportTime, 0, odid);
  return m;
}
