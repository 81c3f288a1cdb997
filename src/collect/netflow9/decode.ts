// NetFlow v9 Collecting Process decoder (RFC 3954): a 20-octet Packet Header and FlowSets — Template
// FlowSets (id 0), Options Template FlowSets (id 1) and Data FlowSets (id = Template ID >= 256). Templates
// become IPFIX (Options) Templates through the mapping tables (src/mapping/netflow9-table.ts) with a
// compiled plan each (templates.ts); each Data FlowSet becomes one sink.records call. Data that arrives
// before its template is held by the session and replayed when the template comes.

import type { DecodeContext, DecodeFn, DecoderFactory, DecoderOptions, SessionState, TemplateEntry } from '../decoder.js';
import { makeTemplate, type Template } from '../../ipfix/template.js';
import { loadNetflow9Table, type Netflow9Table } from '../../mapping/netflow9-table.js';
import { maxOutput, type PlanStyle } from '../../mapping/plan.js';
import { log } from '../../observe/log.js';
import { DropReason } from '../../observe/metrics.js';
import { SAMPLER_RECORD_LENGTH, SAMPLER_TEMPLATE_KEY, samplerTemplateFields, writeSamplerRecords } from './sampler.js';
import { LayoutCompiler, type CompiledLayout } from './templates.js';
import { netflow9Restarted } from '../restart.js';

export const NETFLOW9_VERSION = 9;
export const NETFLOW9_HEADER_LENGTH = 20;
const FLOWSET_HEADER_LENGTH = 4;
const TEMPLATE_FLOWSET_ID = 0;
const OPTIONS_TEMPLATE_FLOWSET_ID = 1;
const MIN_DATA_FLOWSET_ID = 256;

/** What the decoder keeps per incoming template: the IPFIX template and its compiled layout. */
export interface Netflow9Entry extends TemplateEntry {
  readonly template: Template;
  /** null for the derived sampler options template, which has no incoming layout. */
  readonly layout: CompiledLayout | null;
}

/** Header facts kept per session: what the restart checks compare the next packet with (restart.ts). */
export interface Netflow9State {
  sysUptime: number;
  unixSecs: number;
  /** Sequence number of the last packet (RFC 3954 counts packets). */
  lastSequence: number;
  packets: number;
}

type Session = SessionState<Netflow9Entry>;

export const createNetflow9Decoder: DecoderFactory = (options) => buildNetflow9Decoder(options);

/** The decoder with a chosen plan style (benchmarks compare them); the factory uses 'generated'. */
export function buildNetflow9Decoder(options: DecoderOptions, style: PlanStyle = 'generated', table?: Netflow9Table): DecodeFn {
  const tables = table ?? loadNetflow9Table(options.registry, options.mapping);
  const compiler = new LayoutCompiler(tables, style);
  const samplerFields = samplerTemplateFields(options.registry);
  // Output of one Data FlowSet: at most 64 KiB in, and fixed fields grow at most 2x (4-octet times → 8).
  let out = Buffer.allocUnsafe(2 * 0x10000);
  let samplerOut = Buffer.allocUnsafe(SAMPLER_RECORD_LENGTH * 64);
  // (type, length) pairs of the template record being read; a FlowSet holds at most 16383 field specifiers.
  const pairs = new Uint16Array(2 * 16384);
  const st = new Int32Array(3);
  // Export time (epoch ms) and sysUptime of the packet being decoded, for the plans' time conversion.
  const clock = new Float64Array(2);

  function decodeData(ctx: DecodeContext, session: Session, entry: Netflow9Entry, src: Buffer, start: number, end: number, exportTime: number): void {
    const layout = entry.layout!;
    const plan = layout.plan;
    const need = maxOutput(plan, end - start);
    if (need > out.length) out = Buffer.allocUnsafe(need);
    const dEnd = plan.run(src, start, end, out, 0, clock, 0, st);
    const n = st[0]!;
    if (st[2] !== 0) {
      ctx.drop(DropReason.badLength, { session: session.session, templateId: entry.template.id, offset: st[1]!, message: 'variable-length field runs past the end of its Data FlowSet' }, 1);
    }
    if (n === 0) return; // only padding
    ctx.sink.records(session.session, entry.template, out, 0, dEnd, n, exportTime);
    ctx.counted('netflow9', n);
    if (layout.sampler) sampler(session, layout, src, start, n, ctx, exportTime);
  }

  function sampler(session: Session, layout: CompiledLayout, src: Buffer, start: number, n: number, ctx: DecodeContext, exportTime: number): void {
    if (samplerOut.length < n * SAMPLER_RECORD_LENGTH) samplerOut = Buffer.allocUnsafe(n * SAMPLER_RECORD_LENGTH);
    const k = writeSamplerRecords(src, start, n, layout.recordLength, layout.sampler!, samplerOut);
    if (k === 0) return;
    let e = session.templates.get(SAMPLER_TEMPLATE_KEY);
    if (!e) e = session.templates.define(SAMPLER_TEMPLATE_KEY, { template: makeTemplate(SAMPLER_TEMPLATE_KEY, samplerFields, 1), layout: null });
    ctx.sink.records(session.session, e.template, samplerOut, 0, k * SAMPLER_RECORD_LENGTH, k, exportTime);
  }

  /** Defines (or refreshes) template `templateId` from the `n` numbers in `pairs`. */
  function define(ctx: DecodeContext, session: Session, templateId: number, scopeFields: number, n: number, offset: number): void {
    const existing = session.templates.get(templateId);
    if (existing && existing.layout && LayoutCompiler.same(existing.layout, scopeFields, pairs, n)) {
      session.templates.define(templateId, existing); // same layout resent: refresh its lifetime
      return;
    }
    const key = LayoutCompiler.key(scopeFields, pairs, n);
    const layout = compiler.compile(key, scopeFields, pairs, n);
    if (typeof layout === 'string') {
      ctx.drop(DropReason.badTemplate, { session: session.session, templateId, offset, message: `NetFlow v9 template ${templateId}: ${layout}` });
      // The exporter has redefined this id: its old layout no longer describes the data that follows.
      if (existing) session.templates.withdraw(templateId);
      return;
    }
    if (layout.zeroLength.length > 0 || layout.unmapped.length > 0 || layout.scopeDropped) {
      const s = session.session;
      log.info(
        { input: ctx.input, exporter: s.address, odid: s.observationDomainId, templateId, zeroLengthTypes: layout.zeroLength, unmappedTypes: layout.unmapped, scopeDropped: layout.scopeDropped },
        'NetFlow v9 template: zero-length fields left out, unmapped types kept under the NetFlow PEN (docs/netflow.md)',
      );
    }
    session.templates.define(templateId, { template: makeTemplate(templateId, layout.fields, layout.scopeCount), layout });
  }

  function templateFlowSet(ctx: DecodeContext, session: Session, dg: Buffer, p: number, end: number): void {
    while (end - p >= 4) {
      const templateId = dg.readUInt16BE(p);
      const count = dg.readUInt16BE(p + 2);
      if (templateId < MIN_DATA_FLOWSET_ID) {
        if (templateId === 0 && count === 0) return; // padding
        ctx.drop(DropReason.badTemplate, { session: session.session, offset: p, message: `NetFlow v9 Template ID ${templateId} is below 256` });
        return;
      }
      if (count === 0) {
        ctx.drop(DropReason.badTemplate, { session: session.session, templateId, offset: p, message: 'NetFlow v9 template with no fields' });
        return;
      }
      if (p + 4 + count * 4 > end) {
        ctx.drop(DropReason.badTemplate, { session: session.session, templateId, offset: p, message: `NetFlow v9 template of ${count} fields runs past its FlowSet` });
        return;
      }
      let q = p + 4;
      for (let i = 0; i < 2 * count; i += 2, q += 4) {
        pairs[i] = dg.readUInt16BE(q);
        pairs[i + 1] = dg.readUInt16BE(q + 2);
      }
      define(ctx, session, templateId, 0, 2 * count, p);
      p = q;
    }
  }

  function optionsTemplateFlowSet(ctx: DecodeContext, session: Session, dg: Buffer, p: number, end: number): void {
    while (end - p >= 6) {
      const templateId = dg.readUInt16BE(p);
      const scopeLength = dg.readUInt16BE(p + 2);
      const optionLength = dg.readUInt16BE(p + 4);
      if (templateId < MIN_DATA_FLOWSET_ID) {
        if (templateId === 0) return; // padding
        ctx.drop(DropReason.badTemplate, { session: session.session, offset: p, message: `NetFlow v9 options Template ID ${templateId} is below 256` });
        return;
      }
      if (scopeLength % 4 !== 0 || optionLength % 4 !== 0 || scopeLength + optionLength === 0) {
        ctx.drop(DropReason.badTemplate, { session: session.session, templateId, offset: p, message: `NetFlow v9 options template scope/option lengths ${scopeLength}/${optionLength} are not whole field specifiers` });
        return;
      }
      if (p + 6 + scopeLength + optionLength > end) {
        ctx.drop(DropReason.badTemplate, { session: session.session, templateId, offset: p, message: 'NetFlow v9 options template runs past its FlowSet' });
        return;
      }
      const fields = (scopeLength + optionLength) / 4;
      let q = p + 6;
      for (let i = 0; i < 2 * fields; i += 2, q += 4) {
        pairs[i] = dg.readUInt16BE(q);
        pairs[i + 1] = dg.readUInt16BE(q + 2);
      }
      define(ctx, session, templateId, scopeLength / 4, 2 * fields, p);
      p = q;
    }
  }

  return function decodeNetflow9(ctx, dg, address, port) {
    const len = dg.length;
    if (len < NETFLOW9_HEADER_LENGTH) {
      ctx.drop(DropReason.truncated, { offset: 0, message: `NetFlow v9 datagram of ${len} octets is shorter than the 20-octet header` });
      return;
    }
    const version = dg.readUInt16BE(0);
    if (version !== NETFLOW9_VERSION) {
      ctx.drop(DropReason.badVersion, { offset: 0, message: `version ${version} given to the NetFlow v9 decoder` });
      return;
    }
    const sysUptime = dg.readUInt32BE(4);
    const unixSecs = dg.readUInt32BE(8);
    const sequence = dg.readUInt32BE(12);
    let session = ctx.session<Netflow9Entry>('netflow9', address, port, dg.readUInt32BE(16));
    let state = session.protocolState as Netflow9State | undefined;
    if (state && session.restart) {
      // src/collect/restart.ts: an exporter that may have booted since its last packet and whose uptime
      // went back beyond reordering, or whose newer packet has an earlier sequence number.
      const evidence = netflow9Restarted(state.sysUptime, state.unixSecs, state.lastSequence, sysUptime, unixSecs, sequence, session.silence ?? 0);
      if (evidence) {
        session = session.restart(evidence);
        state = undefined;
      }
    }
    if (!state) session.protocolState = state = { sysUptime: 0, unixSecs: 0, lastSequence: 0, packets: 0 };
    state.sysUptime = sysUptime;
    state.unixSecs = unixSecs;
    state.lastSequence = sequence;
    state.packets++;
    clock[0] = unixSecs * 1000;
    clock[1] = sysUptime;

    let o = NETFLOW9_HEADER_LENGTH;
    while (len - o >= FLOWSET_HEADER_LENGTH) {
      const setId = dg.readUInt16BE(o);
      const setLength = dg.readUInt16BE(o + 2);
      if (setLength < FLOWSET_HEADER_LENGTH) {
        ctx.drop(DropReason.badLength, { session: session.session, offset: o, message: `NetFlow v9 FlowSet length ${setLength} is below 4; rest of the datagram skipped` });
        return;
      }
      const end = o + setLength;
      if (end > len) {
        const data = setId >= MIN_DATA_FLOWSET_ID;
        ctx.drop(
          DropReason.truncated,
          { session: session.session, offset: o, templateId: data ? setId : undefined, message: `NetFlow v9 FlowSet ${setId} of ${setLength} octets runs past the datagram (${len - o} left)` },
          data ? 1 : 0,
        );
        return;
      }
      const body = o + FLOWSET_HEADER_LENGTH;
      if (setId === TEMPLATE_FLOWSET_ID) templateFlowSet(ctx, session, dg, body, end);
      else if (setId === OPTIONS_TEMPLATE_FLOWSET_ID) optionsTemplateFlowSet(ctx, session, dg, body, end);
      else if (setId < MIN_DATA_FLOWSET_ID) {
        ctx.drop(DropReason.badSetId, { session: session.session, offset: o, message: `NetFlow v9 FlowSet ID ${setId} is reserved` });
      } else {
        const entry = session.templates.get(setId);
        if (entry && entry.layout) decodeData(ctx, session, entry, dg, body, end, unixSecs);
        else hold(ctx, session, setId, dg, body, end, unixSecs);
      }
      o = end;
    }
  };

  /** Data before its template: the session keeps a copy and replays it with this packet's header times. */
  function hold(ctx: DecodeContext, session: Session, templateId: number, dg: Buffer, start: number, end: number, exportTime: number): void {
    const exportMs = clock[0]!;
    const uptime = clock[1]!;
    session.hold(templateId, dg.subarray(start, end), exportTime, 1, (set, time) => {
      const entry = session.templates.get(templateId);
      if (!entry || !entry.layout) return;
      // Replays run while another packet may be mid-decode: lend the clock and give it back.
      const nowMs = clock[0]!;
      const nowUptime = clock[1]!;
      clock[0] = exportMs;
      clock[1] = uptime;
      decodeData(ctx, session, entry, set, 0, set.length, time);
      clock[0] = nowMs;
      clock[1] = nowUptime;
    });
  }
}
