// Data-based collector selection (RFC 6183 §6.1): an Intermediate Process in front of one output that lets
// through the records its `select` rules match (any rule; within a rule, every condition). Conditions on
// the exporter (address prefix) and the incoming ODID are decided once per exporter session: a session no
// rule can match is never seen by the output at all. Conditions on record fields (interfaces, AS numbers,
// address prefixes) are compiled once per Template into reads at known offsets; a Template lacking a field
// a condition names never matches that rule. Records are then passed on in runs of consecutive matches,
// as views of the caller's buffer: nothing is allocated per record.
//
// Options Template records (exporter and sampling metadata, not flows) are passed to every output whose
// rules the session matches: field conditions do not apply to them.

import type { ExporterSession } from '../collect/session.js';
import type { AddressPrefix, NumberRange, SelectRule } from '../config/types.js';
import type { Template } from '../ipfix/template.js';
import { VARLEN } from '../ipfix/constants.js';
import { recordEnd } from '../ipfix/reader.js';
import type { RecordSink, SessionEndReason } from './sink.js';
import { onScrape, recordsUnselected } from '../observe/metrics.js';

/** Information Elements the field conditions read (IANA ids). */
const IE = {
  sourceIPv4Address: 8,
  ingressInterface: 10,
  destinationIPv4Address: 12,
  egressInterface: 14,
  bgpSourceAsNumber: 16,
  bgpDestinationAsNumber: 17,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
} as const;

const UINT = 0;
const IPV4 = 1;
const IPV6 = 2;

/** One way a condition can hold: a field of the template and what its value must be. */
interface Alternative {
  readonly field: number;
  readonly kind: number;
  /** UINT: [lo, hi] pairs. */
  readonly ranges: Float64Array;
  /** IPV4: [network, mask] pairs. */
  readonly nets: Uint32Array;
  /** IPV6: networks (16 octets) and their prefix lengths. */
  readonly nets6: Uint8Array[];
  readonly lens6: number[];
}
/** A condition holds when any of its alternatives does. */
type Condition = Alternative[];
/** A rule holds when all of its conditions do. */
type CompiledRule = Condition[];

const EMPTY_F = new Float64Array(0);
const EMPTY_U = new Uint32Array(0);

function alternative(field: number, kind: number, ranges?: readonly NumberRange[], prefixes?: readonly AddressPrefix[]): Alternative {
  const r = new Float64Array((ranges?.length ?? 0) * 2);
  ranges?.forEach(([lo, hi], i) => {
    r[2 * i] = lo;
    r[2 * i + 1] = hi;
  });
  const v4 = (prefixes ?? []).filter((p) => p.bytes.length === 4);
  const nets = new Uint32Array(v4.length * 2);
  v4.forEach((p, i) => {
    nets[2 * i] = ((p.bytes[0]! << 24) | (p.bytes[1]! << 16) | (p.bytes[2]! << 8) | p.bytes[3]!) >>> 0;
    nets[2 * i + 1] = p.length === 0 ? 0 : (0xffffffff << (32 - p.length)) >>> 0;
  });
  const v6 = (prefixes ?? []).filter((p) => p.bytes.length === 16);
  return { field, kind, ranges: ranges ? r : EMPTY_F, nets: prefixes ? nets : EMPTY_U, nets6: v6.map((p) => Uint8Array.from(p.bytes)), lens6: v6.map((p) => p.length) };
}

/** Per Template: whether all, none, or some records pass, and how to tell which. */
class Compiled {
  readonly all: boolean;
  readonly none: boolean;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly fixed: boolean;

  constructor(
    readonly template: Template,
    readonly sessionUid: number,
    private readonly rules: CompiledRule[],
    all: boolean,
  ) {
    this.all = all;
    this.none = !all && rules.length === 0;
    const n = template.fields.length;
    this.offsets = new Int32Array(n);
    this.lengths = new Int32Array(n);
    this.fixed = template.fixedLength >= 0;
    if (this.fixed) {
      let o = 0;
      for (let i = 0; i < n; i++) {
        this.offsets[i] = o;
        this.lengths[i] = template.fields[i]!.length;
        o += template.fields[i]!.length;
      }
    }
  }

  /** Does the record at buf[start, end) pass? */
  match(buf: Buffer, start: number, end: number): boolean {
    if (!this.fixed) this.locate(buf, start, end);
    for (let r = 0; r < this.rules.length; r++) {
      const rule = this.rules[r]!;
      let ok = true;
      for (let c = 0; c < rule.length && ok; c++) ok = this.holds(rule[c]!, buf, start);
      if (ok) return true;
    }
    return false;
  }

  /** Field offsets of a record with variable-length fields (RFC 7011 §7), relative to its start. */
  private locate(buf: Buffer, start: number, end: number): void {
    const fields = this.template.fields;
    let o = start;
    for (let i = 0; i < fields.length; i++) {
      let len = fields[i]!.length;
      if (len === VARLEN) {
        len = o < end ? buf[o]! : 0;
        o++;
        if (len === 255) {
          len = o + 2 <= end ? (buf[o]! << 8) | buf[o + 1]! : 0;
          o += 2;
        }
      }
      this.offsets[i] = o - start;
      this.lengths[i] = o + len <= end ? len : -1;
      o += len;
    }
  }

  private holds(cond: Condition, buf: Buffer, start: number): boolean {
    for (let a = 0; a < cond.length; a++) {
      const alt = cond[a]!;
      const len = this.lengths[alt.field]!;
      const off = start + this.offsets[alt.field]!;
      if (alt.kind === UINT) {
        if (len < 1 || len > 8) continue;
        // Reduced-size encoding (RFC 7011 §6.2): any length up to 8 octets.
        let v = 0;
        for (let i = 0; i < len; i++) v = v * 256 + buf[off + i]!;
        const r = alt.ranges;
        for (let i = 0; i < r.length; i += 2) if (v >= r[i]! && v <= r[i + 1]!) return true;
      } else if (alt.kind === IPV4) {
        if (len !== 4) continue;
        const v = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
        const n = alt.nets;
        for (let i = 0; i < n.length; i += 2) if ((v & n[i + 1]!) >>> 0 === n[i]) return true;
      } else {
        if (len !== 16) continue;
        for (let p = 0; p < alt.nets6.length; p++) if (prefixMatch(buf, off, alt.nets6[p]!, alt.lens6[p]!)) return true;
      }
    }
    return false;
  }
}

function prefixMatch(buf: Uint8Array, off: number, net: Uint8Array | readonly number[], length: number): boolean {
  let bits = length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((buf[off + i]! & mask) !== net[i]) return false;
  }
  return true;
}

function inRanges(v: number, ranges: readonly NumberRange[]): boolean {
  return ranges.some(([lo, hi]) => v >= lo && v <= hi);
}

/** Do a rule's exporter and ODID conditions hold for this session? */
function sessionMatches(rule: SelectRule, s: ExporterSession): boolean {
  if (rule.exporter && !rule.exporter.some((p) => p.bytes.length === s.addressBytes.length && prefixMatch(s.addressBytes, 0, p.bytes, p.length))) return false;
  if (rule.odid && !inRanges(s.observationDomainId >>> 0, rule.odid)) return false;
  return true;
}

function fieldIndex(t: Template, id: number): number {
  return t.fields.findIndex((f) => f.id === id && f.enterprise === 0);
}

/** A rule's field conditions for template `t`, or undefined when `t` lacks a field one of them reads. */
function compileFields(rule: SelectRule, t: Template): CompiledRule | undefined {
  const out: CompiledRule = [];
  const uint = (ranges: readonly NumberRange[] | undefined, id: number): boolean => {
    if (!ranges) return true;
    const i = fieldIndex(t, id);
    if (i < 0) return false;
    out.push([alternative(i, UINT, ranges)]);
    return true;
  };
  const address = (prefixes: readonly AddressPrefix[] | undefined, v4: number, v6: number): boolean => {
    if (!prefixes) return true;
    const cond: Condition = [];
    const i4 = fieldIndex(t, v4);
    const i6 = fieldIndex(t, v6);
    if (i4 >= 0 && prefixes.some((p) => p.bytes.length === 4)) cond.push(alternative(i4, IPV4, undefined, prefixes));
    if (i6 >= 0 && prefixes.some((p) => p.bytes.length === 16)) cond.push(alternative(i6, IPV6, undefined, prefixes));
    if (cond.length === 0) return false;
    out.push(cond);
    return true;
  };
  const ok =
    uint(rule.ingressInterface, IE.ingressInterface) &&
    uint(rule.egressInterface, IE.egressInterface) &&
    uint(rule.bgpSourceAsNumber, IE.bgpSourceAsNumber) &&
    uint(rule.bgpDestinationAsNumber, IE.bgpDestinationAsNumber) &&
    address(rule.sourceAddress, IE.sourceIPv4Address, IE.sourceIPv6Address) &&
    address(rule.destinationAddress, IE.destinationIPv4Address, IE.destinationIPv6Address);
  return ok ? out : undefined;
}

export class Selector implements RecordSink {
  private readonly sessions = new Map<number, boolean>(); // session uid → some rule can match it
  private readonly compiled = new Map<number, Compiled>(); // template uid
  private readonly templatesOf = new Map<number, number[]>(); // session uid → template uids compiled
  private unselected = 0;
  private readonly flushCount: () => void;
  private readonly unhookScrape: () => void;

  constructor(
    readonly output: string,
    private readonly rules: readonly SelectRule[],
    private readonly next: RecordSink,
  ) {
    const counter = recordsUnselected.labels({ output });
    this.flushCount = () => {
      if (this.unselected) counter.inc(this.unselected);
      this.unselected = 0;
    };
    this.unhookScrape = onScrape(this.flushCount);
  }

  /** The output is gone (config reload): report what is counted, then no more at scrape time. */
  close(): void {
    this.flushCount();
    this.unhookScrape();
  }

  private passes(s: ExporterSession): boolean {
    let p = this.sessions.get(s.uid);
    if (p === undefined) {
      p = this.rules.some((r) => sessionMatches(r, s));
      this.sessions.set(s.uid, p);
    }
    return p;
  }

  private compile(s: ExporterSession, t: Template): Compiled {
    const rules = this.rules.filter((r) => sessionMatches(r, s));
    let all = false;
    const compiled: CompiledRule[] = [];
    for (const r of rules) {
      const c = t.scopeCount > 0 ? [] : compileFields(r, t);
      if (!c) continue;
      if (c.length === 0) all = true;
      compiled.push(c);
    }
    const out = new Compiled(t, s.uid, all ? [] : compiled, all);
    this.compiled.set(t.uid, out);
    let list = this.templatesOf.get(s.uid);
    if (!list) this.templatesOf.set(s.uid, (list = []));
    list.push(t.uid);
    return out;
  }

  sessionStarted(s: ExporterSession): void {
    if (this.passes(s)) this.next.sessionStarted(s);
  }

  templateDefined(s: ExporterSession, t: Template): void {
    if (this.passes(s)) this.next.templateDefined(s, t);
  }

  templateWithdrawn(s: ExporterSession, t: Template): void {
    this.compiled.delete(t.uid);
    if (this.passes(s)) this.next.templateWithdrawn(s, t);
  }

  records(s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    if (!this.passes(s)) {
      this.unselected += count;
      return;
    }
    let c = this.compiled.get(t.uid);
    if (c === undefined || c.sessionUid !== s.uid) c = this.compile(s, t);
    if (c.all) {
      this.next.records(s, t, buf, start, end, count, exportTime);
      return;
    }
    if (c.none) {
      this.unselected += count;
      return;
    }
    // Runs of consecutive matching records go on as one call each.
    let runStart = -1;
    let run = 0;
    let o = start;
    for (let i = 0; i < count; i++) {
      const e = recordEnd(t, buf, o, end);
      if (e < 0) break;
      if (c.match(buf, o, e)) {
        if (runStart < 0) runStart = o;
        run++;
      } else {
        this.unselected++;
        if (run > 0) this.next.records(s, t, buf, runStart, o, run, exportTime);
        runStart = -1;
        run = 0;
      }
      o = e;
    }
    if (run > 0) this.next.records(s, t, buf, runStart, o, run, exportTime);
  }

  sessionEnded(s: ExporterSession, reason: SessionEndReason): void {
    if (this.passes(s)) this.next.sessionEnded(s, reason);
    this.sessions.delete(s.uid);
    for (const uid of this.templatesOf.get(s.uid) ?? []) this.compiled.delete(uid);
    this.templatesOf.delete(s.uid);
  }
}
