// IPFIX Collecting Process decoder (RFC 7011): the relay. Templates are learned per exporter session;
// Data Sets are handed downstream as the exporter's own bytes (zero copy, padding cut off), so every field —
// enterprise-specific and variable-length ones included — arrives unchanged and is only re-templated by
// the Exporting Process.

import type { DecodeContext, DecoderFactory, SessionState, TemplateEntry } from '../decoder.js';
import { makeTemplate } from '../../ipfix/template.js';
import { MESSAGE_HEADER_LENGTH, OPTIONS_TEMPLATE_SET_ID, SET_HEADER_LENGTH, TEMPLATE_SET_ID } from '../../ipfix/constants.js';
import { dataSetRecords, messageLength, readTemplateSet, setKind, type TemplateVisitor } from '../../ipfix/reader.js';
import { DropReason } from '../../observe/metrics.js';
import { counterRestarted, type HeaderClock } from '../restart.js';

type Session = SessionState<TemplateEntry>;

/** What the decoder keeps per session. */
interface IpfixState extends HeaderClock {
  /** Template IDs this session has defined (some may have expired since): what "withdraw all of a kind" visits. */
  readonly ids: Set<number>;
}

function stateOf(session: Session): IpfixState {
  let st = session.protocolState as IpfixState | undefined;
  if (!st) session.protocolState = st = { ids: new Set<number>(), exportTime: 0, nextSequence: 0 };
  return st;
}

function definedIds(session: Session): Set<number> {
  return stateOf(session).ids;
}

/**
 * RFC 7011 §8.1: Template ID 2 in a Template Set withdraws every Template, ID 3 in an Options Template Set
 * every Options Template; the other kind stays defined.
 */
function withdrawKind(session: Session, options: boolean): void {
  const ids = definedIds(session);
  for (const id of ids) {
    const entry = session.templates.get(id);
    if (!entry) ids.delete(id);
    else if (entry.template.scopeCount > 0 === options) {
      session.templates.withdraw(id);
      ids.delete(id);
    }
  }
}

export const createIpfixDecoder: DecoderFactory = () => {
  const frame = new Int32Array(2); // [records, end of last record], reused per Data Set

  /** Data Records of the message being decoded (the next message's Sequence Number should be this much higher). */
  let messageRecords = 0;

  /** Relays one Data Set; returns the records handed on. */
  function relay(ctx: DecodeContext, session: Session, entry: TemplateEntry, buf: Buffer, start: number, end: number, exportTime: number, offset: number): number {
    const whole = dataSetRecords(entry.template, buf, start, end, frame);
    const n = frame[0]!;
    if (n > 0) {
      ctx.sink.records(session.session, entry.template, buf, start, frame[1]!, n, exportTime);
      ctx.counted('ipfix', n);
    }
    if (!whole) {
      ctx.drop(DropReason.badLength, { session: session.session, templateId: entry.template.id, offset: offset + (frame[1]! - start), message: 'a record runs past the end of its Data Set' }, 1);
    }
    return n;
  }

  function message(ctx: DecodeContext, dg: Buffer, start: number, end: number, address: string, port: number): void {
    const exportTime = dg.readUInt32BE(start + 4);
    const sequence = dg.readUInt32BE(start + 8);
    let session = ctx.session<TemplateEntry>('ipfix', address, port, dg.readUInt32BE(start + 12));
    const overUdp = ctx.transport === undefined || ctx.transport === 'udp';
    const last = session.protocolState as IpfixState | undefined;
    // Over UDP only (a restart over TCP/TLS/SCTP closes the Transport Session): see restart.ts.
    if (overUdp && last && session.restart && counterRestarted(last, exportTime, sequence)) {
      session = session.restart(`sequence number ${sequence} below the expected ${last.nextSequence} while Export Time went forward (${last.exportTime} → ${exportTime})`);
    }
    const clock = stateOf(session);
    clock.exportTime = exportTime;
    messageRecords = 0;
    const visitor: TemplateVisitor = {
      template(id, fields, scopeCount) {
        session.templates.define(id, { template: makeTemplate(id, fields, scopeCount) });
        definedIds(session).add(id);
      },
      withdrawal(id, offset) {
        if (overUdp) {
          ctx.drop(DropReason.withdrawalOverUdp, { session: session.session, templateId: id, offset, message: 'Template Withdrawal over UDP ignored (RFC 7011 §8.1); templates expire instead' });
        } else if (id === TEMPLATE_SET_ID) withdrawKind(session, false);
        else if (id === OPTIONS_TEMPLATE_SET_ID) withdrawKind(session, true);
        else session.templates.withdraw(id);
      },
      error(e) {
        ctx.drop(e.reason, { session: session.session, offset: e.offset, message: e.message });
      },
    };
    try {
      sets(ctx, session, visitor, dg, start + MESSAGE_HEADER_LENGTH, end, exportTime);
    } finally {
      clock.nextSequence = (sequence + messageRecords) >>> 0;
    }
  }

  function sets(ctx: DecodeContext, session: Session, visitor: TemplateVisitor, dg: Buffer, first: number, end: number, exportTime: number): void {
    let o = first;
    while (o < end) {
      if (end - o < SET_HEADER_LENGTH) {
        ctx.drop(DropReason.truncated, { session: session.session, offset: o, message: `${end - o} octets after the last Set, less than a Set header` });
        return;
      }
      const setId = dg.readUInt16BE(o);
      const setLength = dg.readUInt16BE(o + 2);
      if (setLength < SET_HEADER_LENGTH) {
        ctx.drop(DropReason.badLength, { session: session.session, offset: o, message: `Set length ${setLength} is below 4; rest of the message skipped` });
        return;
      }
      if (o + setLength > end) {
        // A Data Set of a known fixed-length template says how many records were lost; otherwise the
        // drop counts as the datagram's.
        const t = setKind(setId) === 'data' ? session.templates.get(setId)?.template : undefined;
        const lost = t && t.fixedLength > 0 ? Math.floor((setLength - SET_HEADER_LENGTH) / t.fixedLength) : 0;
        ctx.drop(DropReason.badLength, { session: session.session, offset: o, templateId: t?.id, message: `Set ${setId} of ${setLength} octets runs past the message end; rest of the message skipped` }, lost);
        return;
      }
      const body = o + SET_HEADER_LENGTH;
      const setEnd = o + setLength;
      switch (setKind(setId)) {
        case 'template':
          readTemplateSet(dg, body, setEnd, setId, visitor);
          break;
        case 'reserved':
          ctx.drop(DropReason.badSetId, { session: session.session, offset: o, message: `Set ID ${setId} is reserved in IPFIX` });
          break;
        case 'data': {
          const entry = session.templates.get(setId);
          // Held sets replayed later belong to their own message's count, not to the one that releases them.
          if (entry) messageRecords += relay(ctx, session, entry, dg, body, setEnd, exportTime, body);
          else {
            const setOffset = body;
            session.hold(setId, dg.subarray(body, setEnd), exportTime, 1, (set, time) => {
              const e = session.templates.get(setId);
              if (e) relay(ctx, session, e, set, 0, set.length, time, setOffset);
            });
          }
          break;
        }
      }
      o = setEnd;
    }
  }

  return (ctx, dg, address, port) => {
    let o = 0;
    // A datagram (or a stream chunk handed over whole) may hold several messages back to back.
    while (o < dg.length) {
      const len = messageLength(dg, o);
      if (typeof len !== 'number') {
        ctx.drop(len.reason, { offset: len.offset, message: o === 0 ? len.message : `${len.message} (after ${o} octets of valid messages)` });
        return;
      }
      message(ctx, dg, o, o + len, address, port);
      o += len;
    }
  };
};
