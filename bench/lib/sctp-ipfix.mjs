// IPFIX messages for the SCTP benchmark, built with the project's encoder (dist/ipfix/encode.js), and
// their check at the receiver.
//
// One template of 46-octet flow records (IPv4 5-tuple, ToS, octet and packet counts, start and end in
// milliseconds): a 16-octet message header, a 4-octet set header and 30 records make exactly 1,400
// octets. Each outgoing ODID (one per SCTP stream, as the exporter maps them, RFC 7011 §10.2) first
// gets a Template Set message, then data messages whose Sequence Number counts the data records sent
// before them in that ODID (RFC 7011 §3.1). The receiver checks every message's header and set framing
// and that each ODID's sequence numbers arrive exactly in order: 0, 30, 60, ... — any loss, duplicate
// or reordering within a stream shows up as a sequence error.

import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const dist = (p) => import(resolve(root, 'dist', p));
const { writeMessageHeader, writeSetHeader, writeTemplateRecord } = await dist('ipfix/encode.js');
const { makeTemplate } = await dist('ipfix/template.js');

export const MESSAGE_LENGTH = 1400;
export const TEMPLATE_ID = 256;
export const RECORDS_PER_MESSAGE = 30;
const IE = (id, length) => ({ id, enterprise: 0, length });
// sourceIPv4Address, destinationIPv4Address, sourceTransportPort, destinationTransportPort,
// protocolIdentifier, ipClassOfService, octetDeltaCount, packetDeltaCount, flowStart/EndMilliseconds
export const template = makeTemplate(TEMPLATE_ID, [IE(8, 4), IE(12, 4), IE(7, 2), IE(11, 2), IE(4, 1), IE(5, 1), IE(1, 8), IE(2, 8), IE(152, 8), IE(153, 8)]);
export const RECORD_LENGTH = template.fixedLength; // 46
if (16 + 4 + RECORDS_PER_MESSAGE * RECORD_LENGTH !== MESSAGE_LENGTH) throw new Error('bench IPFIX layout is not 1,400 octets');

/** The Template Set message that opens an ODID. */
export function templateMessage(odid, exportTime) {
  const len = 16 + 4 + 4 + template.fields.length * 4;
  const buf = Buffer.alloc(len);
  let o = writeMessageHeader(buf, 0, len, exportTime, 0, odid);
  o = writeSetHeader(buf, o, 2, len - 16);
  o = writeTemplateRecord(buf, o, template, TEMPLATE_ID);
  if (o !== len) throw new Error('template message length');
  return buf;
}

/** 64 data set bodies of plausible flows, rotated through so the payload is not one constant. */
function recordBlocks() {
  const blocks = [];
  const t0 = Date.UTC(2026, 10, 23, 12, 0, 0);
  for (let b = 0; b < 64; b++) {
    const buf = Buffer.alloc(MESSAGE_LENGTH);
    let o = writeSetHeader(buf, 16, TEMPLATE_ID, MESSAGE_LENGTH - 16);
    for (let r = 0; r < RECORDS_PER_MESSAGE; r++) {
      const n = b * RECORDS_PER_MESSAGE + r;
      buf.writeUInt32BE(((10 << 24) | n) >>> 0, o);
      buf.writeUInt32BE(((192 << 24) | (168 << 16) | (n & 0xffff)) >>> 0, o + 4);
      buf.writeUInt16BE(1024 + (n % 60000), o + 8);
      buf.writeUInt16BE([53, 80, 443, 4739][n & 3], o + 10);
      buf[o + 12] = [6, 17][n & 1];
      buf[o + 13] = 0;
      buf.writeBigUInt64BE(BigInt(64 + ((n * 37) % 1400) * 3), o + 14);
      buf.writeBigUInt64BE(BigInt(1 + (n % 3)), o + 22);
      buf.writeBigUInt64BE(BigInt(t0 + n * 10), o + 30);
      buf.writeBigUInt64BE(BigInt(t0 + n * 10 + 250), o + 38);
      o += RECORD_LENGTH;
    }
    blocks.push(buf);
  }
  return blocks;
}
const blocks = recordBlocks();

/**
 * A fresh 1,400-octet data message (the stack may keep it until acknowledged, so one buffer per
 * message, as the Exporting Process hands its messages over). `sequence` is the ODID's record count.
 */
export function dataMessage(odid, sequence, exportTime) {
  const buf = Buffer.allocUnsafe(MESSAGE_LENGTH);
  blocks[(sequence / RECORDS_PER_MESSAGE) & 63].copy(buf, 16, 16);
  writeMessageHeader(buf, 0, MESSAGE_LENGTH, exportTime, sequence, odid);
  return buf;
}

/** Receiver-side checker: every message framed right, each ODID's sequence exactly in order. */
export class MessageChecker {
  constructor() {
    this.expected = new Map(); // odid → next expected sequence number
    this.templates = new Set(); // odids whose template arrived
    this.dataMessages = 0;
    this.templateMessages = 0;
    this.records = 0;
    this.errors = 0;
    this.firstErrors = [];
  }

  error(text) {
    this.errors++;
    if (this.firstErrors.length < 10) this.firstErrors.push(text);
  }

  /** Check one received message; `stream` is the SCTP stream it came on (must equal its ODID). */
  check(m, stream) {
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    if (m.byteLength < 20 || dv.getUint16(0) !== 10 || dv.getUint16(2) !== m.byteLength) return this.error(`bad header, ${m.byteLength} octets`);
    const seq = dv.getUint32(8);
    const odid = dv.getUint32(12);
    if (odid !== stream) return this.error(`ODID ${odid} on stream ${stream}`);
    const setId = dv.getUint16(16);
    if (dv.getUint16(18) !== m.byteLength - 16) return this.error('bad set length');
    if (setId === 2) {
      if (this.templates.has(odid)) return this.error(`template again on ODID ${odid}`);
      this.templates.add(odid);
      this.expected.set(odid, 0);
      this.templateMessages++;
      return;
    }
    if (setId !== TEMPLATE_ID || m.byteLength !== MESSAGE_LENGTH) return this.error(`unexpected set ${setId} of ${m.byteLength} octets`);
    const want = this.expected.get(odid);
    if (want === undefined) return this.error(`data before template on ODID ${odid}`);
    if (seq !== want) return this.error(`ODID ${odid}: sequence ${seq}, expected ${want} (${seq < want ? 'duplicate/reordered' : 'gap'})`);
    this.expected.set(odid, (want + RECORDS_PER_MESSAGE) >>> 0);
    this.dataMessages++;
    this.records += RECORDS_PER_MESSAGE;
  }
}
