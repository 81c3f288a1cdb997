// The in-band sink events (src/mediate/sink.ts) carried between threads as bytes: a worker's Collecting
// Process writes into an EventWriter (a RecordSink); the main thread's EventReader turns the batches back
// into calls on the real sink, in the same order. Records travel as their IPFIX-encoded octets, copied once
// into the batch; the reader hands them to the sink straight from the batch buffer.
//
// Sessions and Templates cross once: the reader keeps a mirror (worker uid → the main thread's own
// ExporterSession and Template objects, made with makeExporterSession / makeTemplate so their uids are
// unique in the main thread). The mirror also serves announceTo (an output added by a reload learns the live
// sessions) and ends a dead worker's sessions.
//
// Event layout (little endian), after a batch header (used u32):
//   1 sessionStarted     op u8 | session u32 | protocol u8 | port u16 | odid u32 | address length u8 | address
//   2 templateDefined    op u8 | session u32 | template u32 | id u16 | scope count u16 | field count u16 |
//                        fields × (id u16 | length u16 | enterprise u32)
//   3 templateWithdrawn  op u8 | session u32 | template u32
//   4 records            op u8 | session u32 | template u32 | count u32 | export time f64 | length u32 | octets
//   5 sessionEnded       op u8 | session u32 | reason u8
//   6 batch              op u8 | sequence u32   (the events after it come from datagram batch `sequence`)

import { makeExporterSession, type ExporterSession, type InputProtocol } from '../collect/session.js';
import { makeTemplate, type FieldSpecifier, type Template } from '../ipfix/template.js';
import type { RecordSink, SessionEndReason } from '../mediate/sink.js';
import { sessionHealth, type SessionHealth } from '../observe/http.js';
import { copyShort, SHORT_COPY, SourceView } from '../util/octets.js';

/** Size of an event batch; a records event larger than this gets a batch of its own size. */
export const EVENT_BATCH_BYTES = 1 << 20;
const HEADER = 4;
/** Offset of an event batch's first event. */
export const EVENTS_START = HEADER;

const enum Op {
  sessionStarted = 1,
  templateDefined = 2,
  templateWithdrawn = 3,
  records = 4,
  sessionEnded = 5,
  batch = 6,
}

const PROTOCOLS: readonly InputProtocol[] = ['netflow5', 'netflow9', 'ipfix', 'sflow'];
const PROTOCOL_CODE: Record<InputProtocol, number> = { netflow5: 0, netflow9: 1, ipfix: 2, sflow: 3 };
const REASONS: readonly SessionEndReason[] = ['timeout', 'restart', 'shutdown', 'closed'];
const REASON_CODE: Record<SessionEndReason, number> = { timeout: 0, restart: 1, shutdown: 2, closed: 3 };

/**
 * Worker side: a RecordSink that appends every event to the current batch. Full batches wait in `ready`
 * until `take()`; `take()` also closes the current one.
 */
export class EventWriter implements RecordSink {
  private buffer!: ArrayBufferLike;
  private bytes!: Buffer;
  private view!: DataView;
  private used = HEADER;
  private readonly sources = new SourceView();
  private readonly ready: ArrayBufferLike[] = [];

  /** `fresh` supplies an empty buffer of at least `size` octets (recycled ones when there are). */
  constructor(private readonly fresh: (size: number) => ArrayBufferLike) {
    this.open(EVENT_BATCH_BYTES);
  }

  /** Closed batches, in order, since the last take (the current one included when it holds events). */
  take(): ArrayBufferLike[] {
    if (this.used > HEADER) {
      this.close();
      this.open(EVENT_BATCH_BYTES);
    }
    return this.ready.splice(0);
  }

  /** Has anything been written since the last take? */
  get pending(): boolean {
    return this.used > HEADER || this.ready.length > 0;
  }

  private open(size: number): void {
    this.buffer = this.fresh(size);
    this.bytes = Buffer.from(this.buffer);
    this.view = new DataView(this.buffer);
    this.used = HEADER;
  }

  private close(): void {
    this.bytes.writeUInt32LE(this.used, 0);
    this.ready.push(this.buffer);
  }

  /** Makes room for `n` octets: closes the current batch when they do not fit; returns the write offset. */
  private room(n: number): number {
    if (this.used + n > this.bytes.length) {
      if (this.used > HEADER) this.close();
      this.open(Math.max(EVENT_BATCH_BYTES, n + HEADER));
    }
    return this.used;
  }

  sessionStarted(s: ExporterSession): void {
    const o = this.room(13 + s.address.length);
    const b = this.bytes;
    b[o] = Op.sessionStarted;
    b.writeUInt32LE(s.uid, o + 1);
    b[o + 5] = PROTOCOL_CODE[s.protocol];
    b.writeUInt16LE(s.port, o + 6);
    b.writeUInt32LE(s.observationDomainId, o + 8);
    const n = b.write(s.address, o + 13, 'latin1');
    b[o + 12] = n;
    this.used = o + 13 + n;
  }

  templateDefined(s: ExporterSession, t: Template): void {
    const o = this.room(15 + 8 * t.fields.length);
    const b = this.bytes;
    b[o] = Op.templateDefined;
    b.writeUInt32LE(s.uid, o + 1);
    b.writeUInt32LE(t.uid, o + 5);
    b.writeUInt16LE(t.id, o + 9);
    b.writeUInt16LE(t.scopeCount, o + 11);
    b.writeUInt16LE(t.fields.length, o + 13);
    let p = o + 15;
    for (const f of t.fields) {
      b.writeUInt16LE(f.id, p);
      b.writeUInt16LE(f.length, p + 2);
      b.writeUInt32LE(f.enterprise, p + 4);
      p += 8;
    }
    this.used = p;
  }

  templateWithdrawn(s: ExporterSession, t: Template): void {
    const o = this.room(9);
    const b = this.bytes;
    b[o] = Op.templateWithdrawn;
    b.writeUInt32LE(s.uid, o + 1);
    b.writeUInt32LE(t.uid, o + 5);
    this.used = o + 9;
  }

  records(s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    const length = end - start;
    const o = this.room(25 + length);
    // Through the batch's DataView: Buffer#writeUInt32LE checks its arguments on every call.
    const v = this.view;
    v.setUint8(o, Op.records);
    v.setUint32(o + 1, s.uid, true);
    v.setUint32(o + 5, t.uid, true);
    v.setUint32(o + 9, count, true);
    v.setFloat64(o + 13, exportTime, true);
    v.setUint32(o + 21, length, true);
    // Octet by octet this copy was 13 % of a worker-mode gateway's CPU with sFlow (perf, 600 K samples/s).
    if (length < SHORT_COPY) copyShort(this.sources.of(buf), buf.byteOffset + start, v, o + 25, length);
    else this.bytes.set(buf.subarray(start, end), o + 25);
    this.used = o + 25 + length;
  }

  /** The events from here on come from datagram batch `sequence` (the reader may wait for its turn). */
  batch(sequence: number): void {
    const o = this.room(5);
    this.bytes[o] = Op.batch;
    this.bytes.writeUInt32LE(sequence, o + 1);
    this.used = o + 5;
  }

  sessionEnded(s: ExporterSession, reason: SessionEndReason): void {
    const o = this.room(6);
    const b = this.bytes;
    b[o] = Op.sessionEnded;
    b.writeUInt32LE(s.uid, o + 1);
    b[o + 5] = REASON_CODE[reason];
    this.used = o + 6;
  }
}

interface Mirrored {
  readonly session: ExporterSession;
  /** Live templates by the worker's uid, in definition order (announceTo replays them in that order). */
  readonly templates: Map<number, Template>;
}

/** Main-thread side: replays batches into a sink, keeping the mirror of live sessions and templates. */
export class EventReader {
  private readonly sessions = new Map<number, Mirrored>();

  /** `input`: the name the sessions carry (config inputs[].name). */
  constructor(readonly input: string) {}

  /** Live sessions (for /health and tests). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Calls `sink` for every event of the batch, in order, from offset `from`. At a batch mark it asks `pass`
   * whether that datagram batch's turn has come, and stops there when not. Returns the offset to go on
   * from, or -1 when the whole batch was replayed. A sink that throws loses that one event (logged by
   * `failed`), never the events after it.
   */
  replay(buffer: ArrayBufferLike | Buffer, sink: RecordSink, from = HEADER, pass: (sequence: number) => boolean = () => true, failed: (err: unknown) => void = () => undefined): number {
    const b = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer);
    // The per-event fields are read through a DataView (Buffer#readUInt32LE checks its argument per call).
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const used = v.getUint32(0, true);
    let o = from;
    while (o < used) {
      const op = v.getUint8(o);
      if (op === Op.batch) {
        if (!pass(v.getUint32(o + 1, true))) return o;
        o += 5;
        continue;
      }
      const m = this.sessions.get(v.getUint32(o + 1, true));
      try {
        o = op === Op.records ? this.records(b, v, o, m, sink) : this.event(b, o, op, m, sink);
      } catch (err) {
        failed(err);
        o = this.skip(b, o, op);
      }
    }
    return -1;
  }

  /** The offset after the event at `o` (for an event whose sink call failed). */
  private skip(b: Buffer, o: number, op: number): number {
    switch (op) {
      case Op.sessionStarted:
        return o + 13 + b[o + 12]!;
      case Op.templateDefined:
        return o + 15 + 8 * b.readUInt16LE(o + 13);
      case Op.templateWithdrawn:
        return o + 9;
      case Op.records:
        return o + 25 + b.readUInt32LE(o + 21);
      case Op.sessionEnded:
        return o + 6;
      default:
        // Written by our own EventWriter: an unknown op means a bug, and nothing after it can be read.
        throw new Error(`event batch: unknown event ${op} at offset ${o}`);
    }
  }

  /** Replays the records event at `o` (the one that comes by the thousand); returns the offset after it. */
  private records(b: Buffer, v: DataView, o: number, m: Mirrored | undefined, sink: RecordSink): number {
    const length = v.getUint32(o + 21, true);
    const t = m?.templates.get(v.getUint32(o + 5, true));
    if (m && t) sink.records(m.session, t, b, o + 25, o + 25 + length, v.getUint32(o + 9, true), v.getFloat64(o + 13, true));
    return o + 25 + length;
  }

  /** Replays the one event at `o` (other than records); returns the offset after it. */
  private event(b: Buffer, o: number, op: number, m: Mirrored | undefined, sink: RecordSink): number {
    switch (op) {
        case Op.sessionStarted: {
          const n = b[o + 12]!;
          const session = makeExporterSession(this.input, PROTOCOLS[b[o + 5]!]!, b.toString('latin1', o + 13, o + 13 + n), b.readUInt16LE(o + 6), b.readUInt32LE(o + 8));
          this.sessions.set(b.readUInt32LE(o + 1), { session, templates: new Map() });
          sink.sessionStarted(session);
          return o + 13 + n;
        }
        case Op.templateDefined: {
          const count = b.readUInt16LE(o + 13);
          const fields: FieldSpecifier[] = [];
          let p = o + 15;
          for (let i = 0; i < count; i++, p += 8) fields.push({ id: b.readUInt16LE(p), length: b.readUInt16LE(p + 2), enterprise: b.readUInt32LE(p + 4) });
          const t = makeTemplate(b.readUInt16LE(o + 9), fields, b.readUInt16LE(o + 11));
          if (m) {
            m.templates.set(b.readUInt32LE(o + 5), t);
            sink.templateDefined(m.session, t);
          }
          return p;
        }
        case Op.templateWithdrawn: {
          const uid = b.readUInt32LE(o + 5);
          const t = m?.templates.get(uid);
          if (m && t) {
            m.templates.delete(uid);
            sink.templateWithdrawn(m.session, t);
          }
          return o + 9;
        }
        case Op.sessionEnded: {
          if (m) {
            this.sessions.delete(b.readUInt32LE(o + 1));
            sink.sessionEnded(m.session, REASONS[b[o + 5]!]!);
          }
          return o + 6;
        }
        default:
          return this.skip(b, o, op);
      }
  }

  /** An output joining late learns every live session and its templates (as sessions.ts announceTo). */
  announceTo(sink: RecordSink): void {
    for (const m of this.sessions.values()) {
      sink.sessionStarted(m.session);
      for (const t of m.templates.values()) sink.templateDefined(m.session, t);
    }
  }

  /** The live sessions and their templates' IDs, as /health lists them (unsorted). */
  health(): SessionHealth[] {
    const out: SessionHealth[] = [];
    for (const m of this.sessions.values()) out.push(sessionHealth(m.session, m.templates.values()));
    return out;
  }

  /**
   * The worker is gone (it failed, or stopped without answering): its sessions end downstream so reliable
   * outputs withdraw their templates. A sink that throws loses that one session's end (`failed`), not the others'.
   */
  endAll(sink: RecordSink, reason: SessionEndReason, failed: (err: unknown) => void = () => undefined): void {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const m of all) {
      try {
        sink.sessionEnded(m.session, reason);
      } catch (err) {
        failed(err);
      }
    }
  }
}
