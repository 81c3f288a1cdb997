// NetFlow v5 Collecting Process decoder: one datagram (24-octet header + 1..30 fixed 48-octet flow records)
// → one call of sink.records with the records re-encoded as IPFIX under the session's one Template, as
// mappings/netflow-v5.yaml says. The plan is compiled once per decoder (v5 has one layout); per datagram
// the work is header checks, a session lookup and one pass of the plan over the records.

import type { DecodeFn, DecoderFactory, DecoderOptions, SessionState, TemplateEntry } from '../decoder.js';
import { makeTemplate, type Template } from '../../ipfix/template.js';
import { compilePlan } from '../../mapping/compile.js';
import { loadNetflow5Table, NETFLOW5_HEADER_LENGTH, NETFLOW5_RECORD_LENGTH, type Netflow5Table } from '../../mapping/netflow5-table.js';
import type { PlanStyle } from '../../mapping/plan.js';
import { log, RateLimitedLog } from '../../observe/log.js';
import { DropReason, packetsTrailingOctets } from '../../observe/metrics.js';

export const NETFLOW5_VERSION = 5;
/** Records per datagram allowed by the v5 format. */
export const NETFLOW5_MAX_COUNT = 30;
/** The Template ID the one v5 layout is announced under in every v5 session. */
export const NETFLOW5_TEMPLATE_ID = 256;

/** Header facts kept per session (for sequence and restart checks; see docs/netflow.md). */
export interface Netflow5State {
  sysUptime: number;
  unixSecs: number;
  unixNsecs: number;
  /** flow_sequence of the last datagram + its count: the next datagram's expected flow_sequence. */
  nextSequence: number;
  packets: number;
}

type Entry = TemplateEntry;

export const createNetflow5Decoder: DecoderFactory = (options) => buildNetflow5Decoder(options);

/** The decoder with a chosen plan style (benchmarks compare them); the factory uses 'generated'. */
export function buildNetflow5Decoder(options: DecoderOptions, style: PlanStyle = 'generated', table?: Netflow5Table): DecodeFn {
  const t = table ?? loadNetflow5Table(options.registry, options.mapping.dir);
  const plan = compilePlan(t.layout, style, NETFLOW5_HEADER_LENGTH);
  const fields = t.fields;
  const out = Buffer.allocUnsafe(NETFLOW5_MAX_COUNT * plan.outputFixedLength);
  const st = new Int32Array(3);
  const clock = new Float64Array(2); // export time (epoch ms), sysUptime: see PlanFn
  const warn = new RateLimitedLog(log);
  const newTemplate = (): Template => makeTemplate(NETFLOW5_TEMPLATE_ID, fields);

  return function decodeNetflow5(ctx, dg, address, port) {
    if (dg.length < NETFLOW5_HEADER_LENGTH) {
      ctx.drop(DropReason.truncated, { offset: 0, message: `NetFlow v5 datagram of ${dg.length} octets is shorter than the 24-octet header` });
      return;
    }
    const version = (dg[0]! << 8) | dg[1]!;
    if (version !== NETFLOW5_VERSION) {
      ctx.drop(DropReason.badVersion, { offset: 0, message: `version ${version} given to the NetFlow v5 decoder` });
      return;
    }
    const count = (dg[2]! << 8) | dg[3]!;
    if (count < 1 || count > NETFLOW5_MAX_COUNT) {
      ctx.drop(DropReason.badLength, { offset: 2, message: `NetFlow v5 count ${count} is outside 1..30` });
      return;
    }
    const need = NETFLOW5_HEADER_LENGTH + NETFLOW5_RECORD_LENGTH * count;
    if (dg.length < need) {
      ctx.drop(DropReason.truncated, { offset: dg.length, message: `NetFlow v5 datagram of ${dg.length} octets is shorter than the ${need} its count ${count} needs` }, count);
      return;
    }
    // Observation Domain: engine_type << 8 | engine_id (the v5 header has no other exporter-side id).
    const session: SessionState<Entry> = ctx.session<Entry>('netflow5', address, port, (dg[20]! << 8) | dg[21]!);
    if (dg.length > need) {
      packetsTrailingOctets.inc({ input: ctx.input, protocol: 'netflow5' });
      warn.warn(
        `v5-trailing:${ctx.input}`,
        { input: ctx.input, exporter: address, odid: session.session.observationDomainId, octets: dg.length - need },
        'NetFlow v5 datagram longer than its count announces; extra octets ignored',
      );
    }
    const sysUptime = dg.readUInt32BE(4);
    const unixSecs = dg.readUInt32BE(8);
    const unixNsecs = dg.readUInt32BE(12);
    let state = session.protocolState as Netflow5State | undefined;
    if (!state) session.protocolState = state = { sysUptime: 0, unixSecs: 0, unixNsecs: 0, nextSequence: 0, packets: 0 };
    state.sysUptime = sysUptime;
    state.unixSecs = unixSecs;
    state.unixNsecs = unixNsecs;
    state.nextSequence = (dg.readUInt32BE(16) + count) >>> 0;
    state.packets++;

    let entry = session.templates.get(NETFLOW5_TEMPLATE_ID);
    if (!entry) entry = session.templates.define(NETFLOW5_TEMPLATE_ID, { template: newTemplate() }, false);

    clock[0] = unixSecs * 1000 + Math.floor(unixNsecs / 1e6);
    clock[1] = sysUptime;
    const end = plan.run(dg, NETFLOW5_HEADER_LENGTH, need, out, 0, clock, 0, st);
    ctx.sink.records(session.session, entry.template, out, 0, end, count, unixSecs);
    ctx.counted('netflow5', count);
  };
}
