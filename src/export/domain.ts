// One outgoing Observation Domain of an Exporting Process: the ODID given to one (exporter, ODID) of the
// input side (RFC 7119 §4), its outgoing Template IDs, its sequence number, and the IPFIX message being
// filled for it. Messages carry one ODID each (RFC 7011 §3.1), so each domain packs its own.

import type { ExporterSession } from '../collect/session.js';
import { makeTemplate, templateRecordLength, type Template } from '../ipfix/template.js';
import { MESSAGE_HEADER_LENGTH, SET_HEADER_LENGTH, OPTIONS_TEMPLATE_SET_ID, TEMPLATE_SET_ID } from '../ipfix/constants.js';
import { templateSetId, writeMessageHeader, writeTemplateRecord, writeWithdrawalRecord } from '../ipfix/encode.js';
import { copyShort, SHORT_COPY, SourceView } from '../util/octets.js';

// Records come from a few long-lived buffers (decoders' outputs, event batches): one view over the last.
const sources = new SourceView();

/** IEs of the original-exporter options record (RFC 7119 §4.3, IANA 149, 403–405). */
const OBSERVATION_DOMAIN_ID = 149;
const ORIGINAL_EXPORTER_IPV4 = 403;
const ORIGINAL_EXPORTER_IPV6 = 404;
const ORIGINAL_OBSERVATION_DOMAIN_ID = 405;

/** A template as announced in this domain. */
export interface OutTemplate {
  readonly template: Template;
  readonly id: number;
  readonly domain: Domain;
  /** Sent in the current Transport Session (or since the last refresh, on UDP). */
  announced: boolean;
  /** The exporter session it came from (undefined for the domain's own options template). */
  readonly session?: ExporterSession;
}

/**
 * Outgoing Template IDs, unique across all domains of one output. RFC 7011 scopes Template IDs per
 * Observation Domain, but collectors that key templates by ID alone exist (libfixbuf's file reader among
 * them); unique IDs cost nothing and keep them right. An incoming template keeps its own ID when that is
 * free in the output, so references inside structured data (RFC 6313 subTemplate(Multi)Lists name
 * Template IDs) stay valid; otherwise, and for the gateway's own templates, IDs are taken from 65535
 * downward, where exporters rarely put theirs.
 */
export class TemplateIds {
  private next = 0xffff;
  private readonly live = new Set<number>();

  take(preferred?: number): number {
    if (preferred !== undefined && preferred >= 256 && !this.live.has(preferred)) {
      this.live.add(preferred);
      return preferred;
    }
    for (let tries = 0; tries < 0x10000; tries++) {
      const id = this.next;
      this.next = this.next <= 256 ? 0xffff : this.next - 1;
      if (!this.live.has(id)) {
        this.live.add(id);
        return id;
      }
    }
    throw new Error('all 65280 Template IDs of this output are in use');
  }

  release(id: number): void {
    this.live.delete(id);
  }
}

export class Domain {
  /** Data records sent in this domain in the current Transport Session (RFC 7011 §3.1 Sequence Number). */
  sequence = 0;
  readonly templates = new Map<number, OutTemplate>(); // by incoming template uid
  /** RFC 7119 original-exporter reporting: options template and its one data record. */
  readonly originTemplate: OutTemplate;
  private readonly originRecord: Buffer;

  // The message being filled.
  buf: Buffer;
  private view: DataView;
  pos = MESSAGE_HEADER_LENGTH;
  setStart = -1;
  setId = -1;
  records = 0;

  constructor(
    readonly odid: number,
    readonly origin: ExporterSession,
    private readonly maxMessage: number,
    private readonly ids: TemplateIds,
    /** The transport is done with a message when send() returns (Transport.doneOnReturn): one buffer serves every message. */
    private readonly reuse = false,
  ) {
    this.buf = Buffer.allocUnsafe(maxMessage);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v6 = origin.addressBytes.length === 16;
    const t = makeTemplate(
      ids.take(),
      [
        { id: OBSERVATION_DOMAIN_ID, enterprise: 0, length: 4 },
        { id: v6 ? ORIGINAL_EXPORTER_IPV6 : ORIGINAL_EXPORTER_IPV4, enterprise: 0, length: v6 ? 16 : 4 },
        { id: ORIGINAL_OBSERVATION_DOMAIN_ID, enterprise: 0, length: 4 },
      ],
      1,
    );
    this.originTemplate = { template: t, id: t.id, domain: this, announced: false };
    this.originRecord = Buffer.alloc(t.fixedLength);
    this.originRecord.writeUInt32BE(odid, 0);
    origin.addressBytes.copy(this.originRecord, 4);
    this.originRecord.writeUInt32BE(origin.observationDomainId >>> 0, 4 + origin.addressBytes.length);
  }

  add(template: Template, session: ExporterSession): OutTemplate {
    const out: OutTemplate = { template, id: this.ids.take(template.id), domain: this, announced: false, session };
    this.templates.set(template.uid, out);
    return out;
  }

  get empty(): boolean {
    return this.pos === MESSAGE_HEADER_LENGTH;
  }

  get free(): number {
    return this.maxMessage - this.pos;
  }

  private closeSet(): void {
    // Set ID and length (RFC 7011 §3.3.2), through the message's DataView: Buffer#writeUInt16BE is not
    // inlined, and a Data Set is closed per sink call (sFlow: ~4 per datagram). Both values fit 16 bits
    // (Template IDs, and lengths within a message of at most 65535 octets).
    if (this.setStart >= 0) {
      this.view.setUint16(this.setStart, this.setId);
      this.view.setUint16(this.setStart + 2, this.pos - this.setStart);
    }
    this.setStart = -1;
    this.setId = -1;
  }

  /** Room for `n` more octets in a set of `setId` (a new Set header counted when needed). */
  fits(setId: number, n: number): boolean {
    return this.free >= n + (this.setId === setId ? 0 : SET_HEADER_LENGTH);
  }

  private openSet(setId: number): void {
    if (this.setId === setId) return;
    this.closeSet();
    this.setStart = this.pos;
    this.setId = setId;
    this.pos += SET_HEADER_LENGTH;
  }

  /** Octets a template record of `o` needs, Set header included. */
  static templateSize(o: OutTemplate): number {
    return templateRecordLength(o.template) + SET_HEADER_LENGTH;
  }

  writeTemplate(o: OutTemplate): void {
    this.openSet(templateSetId(o.template));
    this.pos = writeTemplateRecord(this.buf, this.pos, o.template, o.id);
    o.announced = true;
  }

  writeWithdrawal(o: OutTemplate): void {
    this.openSet(o.template.scopeCount > 0 ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID);
    this.pos = writeWithdrawalRecord(this.buf, this.pos, o.id);
  }

  /** Copies `count` whole records (buf[start, end)) into a Data Set of `o`. The caller checked fits(). */
  writeRecords(o: OutTemplate, src: Buffer, start: number, end: number, count: number): void {
    this.openSet(o.id);
    const n = end - start;
    if (n < SHORT_COPY) copyShort(sources.of(src), src.byteOffset + start, this.view, this.pos, n);
    else src.copy(this.buf, this.pos, start, end);
    this.pos += n;
    this.records += count;
  }

  originRecordSize(): number {
    return this.originRecord.length;
  }

  writeOriginRecord(): void {
    this.writeRecords(this.originTemplate, this.originRecord, 0, this.originRecord.length, 1);
  }

  /**
   * Finishes the message and hands it over. The domain starts a fresh buffer (the old one now belongs to the
   * transport), or, when `reuse`, fills the same one again: the message is then valid until the next write.
   */
  take(exportTime: number): { message: Buffer; records: number } | undefined {
    if (this.empty) return undefined;
    this.closeSet();
    writeMessageHeader(this.buf, 0, this.pos, exportTime, this.sequence, this.odid);
    const message = this.buf.subarray(0, this.pos);
    const records = this.records;
    this.sequence = (this.sequence + records) >>> 0;
    if (!this.reuse) {
      // Measured: a fresh 64 KiB buffer per file message was 2-5 % of the gateway's CPU in GC alone.
      this.buf = Buffer.allocUnsafe(this.maxMessage);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    this.pos = MESSAGE_HEADER_LENGTH;
    this.records = 0;
    return { message, records };
  }

  /** Forget the message being filled (its templates belong to a Transport Session that is gone). */
  discard(): number {
    const lost = this.records;
    this.pos = MESSAGE_HEADER_LENGTH;
    this.setStart = -1;
    this.setId = -1;
    this.records = 0;
    return lost;
  }
}
