// Test harness shared by the NetFlow v5/v9 decoder and mapping tests: a small in-test DecodeContext that
// keeps sessions, templates and held sets the way the contract in src/collect/decoder.ts describes and
// records every sink call (copying the bytes, as a real sink must), plus a reader that turns the
// IPFIX-encoded records handed to the sink back into values for assertions.

import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DecodeContext, DecodeFn, SessionState, TemplateEntry, TemplateStore } from '../../src/collect/decoder.js';
import { makeExporterSession, type ExporterSession, type InputProtocol } from '../../src/collect/session.js';
import { VARLEN } from '../../src/ipfix/constants.js';
import { sameLayout, type Template } from '../../src/ipfix/template.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import type { Registry } from '../../src/model/types.js';
import { loadRegistry } from '../../src/model/registry.js';
import { DropReason, type DropReasonValue } from '../../src/observe/metrics.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { formatIPv4, formatIPv6, formatMac } from '../../src/util/address.js';
import { log } from '../../src/observe/log.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';

// Decoders log each template with unmapped or zero-length fields at info; fuzzing makes thousands.
if (!process.env.IPFIX_MEDIATOR_LOG_LEVEL) log.level = 'warn';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const corpus = resolve(repoRoot, '../shared/corpus');
export const mappingsDir = resolve(repoRoot, 'mappings');

/** The project's own registry (mappings/iana-elements.yaml). */
export function testRegistry(): Registry {
  return loadRegistry(mappingsDir);
}

export const mappingConfig = { ...DEFAULT_MAPPING, dir: mappingsDir };

export interface RecordsCall {
  session: ExporterSession;
  template: Template;
  bytes: Buffer;
  count: number;
  exportTime: number;
}
export interface DropCall {
  reason: DropReasonValue;
  message: string;
  records: number;
  templateId?: number;
}

interface Held {
  set: Buffer;
  exportTime: number;
  replay: (set: Buffer, exportTime: number) => void;
}

class Store<E extends TemplateEntry> implements TemplateStore<E> {
  readonly map = new Map<number, E>();
  constructor(
    private readonly ctx: RecordingContext,
    private readonly session: ExporterSession,
    private readonly held: Map<number, Held[]>,
  ) {}
  get(id: number): E | undefined {
    return this.map.get(id);
  }
  define(id: number, entry: E): E {
    const old = this.map.get(id);
    if (old && sameLayout(old.template, entry.template)) {
      this.ctx.refreshes++;
      return old;
    }
    if (old) this.ctx.events.push({ kind: 'withdrawn', session: this.session, template: old.template });
    this.map.set(id, entry);
    this.ctx.events.push({ kind: 'defined', session: this.session, template: entry.template });
    const waiting = this.held.get(id);
    if (waiting) {
      this.held.delete(id);
      for (const h of waiting) h.replay(h.set, h.exportTime);
    }
    return entry;
  }
  withdraw(id: number): void {
    const old = this.map.get(id);
    if (old) this.ctx.events.push({ kind: 'withdrawn', session: this.session, template: old.template });
    this.map.delete(id);
  }
  withdrawAll(): void {
    for (const id of [...this.map.keys()]) this.withdraw(id);
  }
  get size(): number {
    return this.map.size;
  }
}

export type SinkEvent =
  | { kind: 'started'; session: ExporterSession }
  | { kind: 'defined' | 'withdrawn'; session: ExporterSession; template: Template }
  | ({ kind: 'records' } & RecordsCall);

/** A DecodeContext for one input that records what a decoder does. */
export class RecordingContext implements DecodeContext {
  readonly input = 'test';
  readonly events: SinkEvent[] = [];
  readonly drops: DropCall[] = [];
  readonly counts = new Map<string, number>();
  readonly held = new Map<string, Map<number, Held[]>>();
  refreshes = 0;
  private readonly sessions = new Map<string, SessionState<TemplateEntry>>();

  readonly sink: RecordSink = {
    sessionStarted: (session) => this.events.push({ kind: 'started', session }),
    templateDefined: (session, template) => this.events.push({ kind: 'defined', session, template }),
    templateWithdrawn: (session, template) => this.events.push({ kind: 'withdrawn', session, template }),
    records: (session, template, buf, start, end, count, exportTime) =>
      this.events.push({ kind: 'records', session, template, bytes: Buffer.from(buf.subarray(start, end)), count, exportTime }),
    sessionEnded: () => {},
  };

  session<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, odid: number): SessionState<E> {
    const key = `${protocol}|${address}|${port}|${odid}`;
    let s = this.sessions.get(key);
    if (!s) {
      const session = makeExporterSession(this.input, protocol, address, port, odid);
      const held = new Map<number, Held[]>();
      this.held.set(key, held);
      this.events.push({ kind: 'started', session });
      s = {
        session,
        templates: new Store<TemplateEntry>(this, session, held),
        hold: (templateId, set, exportTime, _hint, replay) => {
          const list = held.get(templateId) ?? [];
          list.push({ set: Buffer.from(set), exportTime, replay });
          held.set(templateId, list);
        },
        protocolState: undefined,
      };
      this.sessions.set(key, s);
    }
    return s as unknown as SessionState<E>;
  }

  drop(reason: DropReasonValue, detail: { templateId?: number; message: string }, records = 0): void {
    this.drops.push({ reason, message: detail.message, records, templateId: detail.templateId });
  }

  counted(protocol: InputProtocol, records: number): void {
    this.counts.set(protocol, (this.counts.get(protocol) ?? 0) + records);
  }

  get records(): RecordsCall[] {
    return this.events.filter((e): e is { kind: 'records' } & RecordsCall => e.kind === 'records');
  }

  /** Sets still held (data whose template never came). */
  heldSets(): number {
    let n = 0;
    for (const m of this.held.values()) for (const l of m.values()) n += l.length;
    return n;
  }

  /** The template last defined under incoming id `id`. */
  defined(id: number): Template {
    const e = this.events.filter((x): x is { kind: 'defined'; session: ExporterSession; template: Template } => x.kind === 'defined' && x.template.id === id).at(-1);
    if (!e) throw new Error(`template ${id} was never defined`);
    return e.template;
  }

  allSessions(): SessionState<TemplateEntry>[] {
    return [...this.sessions.values()];
  }
}

export type Value = number | bigint | string;
/** One decoded IPFIX record: element name (or "pen/id" when unknown) → value. Repeated names get "#2". */
export type Row = Record<string, Value>;

/** Field name used in rows: the registry's name, else "enterprise/id". */
export function fieldName(reg: Registry, enterprise: number, id: number): string {
  return reg.get(enterprise, id)?.name ?? `${enterprise}/${id}`;
}

function value(reg: Registry, enterprise: number, id: number, b: Buffer): Value {
  const t = reg.get(enterprise, id)?.dataType ?? 'octetArray';
  switch (t) {
    case 'ipv4Address':
      return b.length === 4 ? formatIPv4(b, 0) : b.toString('hex');
    case 'ipv6Address':
      return b.length === 16 ? formatIPv6(b, 0) : b.toString('hex');
    case 'macAddress':
      return b.length === 6 ? formatMac(b, 0) : b.toString('hex');
    case 'string':
      return b.toString('utf8');
    case 'octetArray':
    case 'basicList':
    case 'subTemplateList':
    case 'subTemplateMultiList':
      return b.toString('hex');
    default: {
      if (b.length === 0 || b.length > 8) return b.toString('hex');
      let v = 0n;
      for (const x of b) v = (v << 8n) | BigInt(x);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
  }
}

/** Decodes the IPFIX-encoded data records of one sink call. */
export function rows(reg: Registry, call: { template: Template; bytes: Buffer; count: number }): Row[] {
  const out: Row[] = [];
  const b = call.bytes;
  let o = 0;
  for (let r = 0; r < call.count; r++) {
    const row: Row = {};
    for (const f of call.template.fields) {
      let len = f.length;
      if (len === VARLEN) {
        len = b[o]!;
        o += 1;
        if (len === 255) {
          len = b.readUInt16BE(o);
          o += 2;
        }
      }
      let name = fieldName(reg, f.enterprise, f.id);
      if (name in row) {
        let k = 2;
        while (`${name}#${k}` in row) k++;
        name = `${name}#${k}`;
      }
      row[name] = value(reg, f.enterprise, f.id, b.subarray(o, o + len));
      o += len;
    }
    out.push(row);
  }
  if (o !== b.length) throw new Error(`records decode to ${o} octets, the sink got ${b.length}`);
  return out;
}

/** Every record of every sink call, with the session's ODID and template id. */
export function allRows(reg: Registry, ctx: RecordingContext): (Row & { $odid: number; $template: number })[] {
  const out: (Row & { $odid: number; $template: number })[] = [];
  for (const c of ctx.records) for (const r of rows(reg, c)) out.push({ ...r, $odid: c.session.observationDomainId, $template: c.template.id });
  return out;
}

// ---- fuzzing ----------------------------------------------------------------------------------------
// Malformed bytes must never crash a decoder: corpus datagrams mutated (bit flips, overwritten length
// fields, truncation, extension with junk) and decoded in sequence with unmutated ones so templates exist.
// Every sink call must hold exactly `count` well-formed records of its template; every drop a known reason.

const REASONS = new Set<string>(Object.values(DropReason));

/** Seeded PRNG (mulberry32): the same seed gives the same cases. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mutate(d: Buffer, rnd: () => number): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  const b = Buffer.from(d);
  switch (int(5)) {
    case 0: // flip a few bits
      for (let i = int(4) + 1; i > 0; i--) b[int(b.length)] ^= 1 << int(8);
      return b;
    case 1: {
      // overwrite a 16-bit word (counts, lengths, ids, field types) with a boundary value
      const o = int(Math.max(1, b.length - 1));
      b.writeUInt16BE([0, 1, 2, 3, 4, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff, int(65536)][int(12)]!, o);
      return b;
    }
    case 2: // truncate
      return b.subarray(0, int(b.length));
    case 3: // junk after
      return Buffer.concat([b, Buffer.from(Array.from({ length: int(64) }, () => int(256)))]);
    default: {
      // random bytes over a random span
      const o = int(b.length);
      for (let i = o; i < Math.min(b.length, o + int(16)); i++) b[i] = int(256);
      return b;
    }
  }
}

/** Decodes `cases` datagrams (a quarter unmutated), checks every output, returns records and drops. */
export function fuzzDecoder(dir: 'nf5' | 'nf9', decode: DecodeFn, cases: number, seed: number): { records: number; drops: number } {
  const rnd = prng(seed);
  const inputs = readdirSync(resolve(corpus, dir)).flatMap((f) => udpPayloads(resolve(corpus, dir, f)).slice(0, 200));
  let records = 0;
  let drops = 0;
  const reg = testRegistry();
  for (let c = 0; c < cases; ) {
    // one context per 500 cases so templates and held sets accumulate, as on a live input
    const ctx = new RecordingContext();
    for (let k = 0; k < 500 && c < cases; k++, c++) {
      const p = inputs[Math.floor(rnd() * inputs.length)]!;
      const pkt = rnd() < 0.25 ? p.payload : mutate(p.payload, rnd);
      decode(ctx, pkt, p.src, p.srcPort);
    }
    for (const call of ctx.records) {
      const fixed = call.template.fixedLength;
      if (fixed >= 0) {
        if (call.bytes.length !== call.count * fixed) throw new Error(`${call.count} records of ${fixed} octets in ${call.bytes.length}`);
      } else if (rows(reg, call).length !== call.count) throw new Error('record count'); // rows() throws on bad octets
      records += call.count;
    }
    for (const d of ctx.drops) if (!REASONS.has(d.reason)) throw new Error(`unknown drop reason ${d.reason}`);
    drops += ctx.drops.length;
  }
  return { records, drops };
}
