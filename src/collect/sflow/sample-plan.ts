// Compiled flow-sample plans. For a sample layout (layout.ts) every fact sits at a fixed distance from a few
// positions, and the record shape (the template) is fixed too, so one straight-line function per layout can
// read each fact from the datagram and write it at its place in the record: no view, no copy out of it, no
// branch per record or per field. The plan is WebAssembly (plan-wasm.ts), but for counts scaled by the
// sampling rate, written by JavaScript; the same plan all in JavaScript writes a record too large for a
// staging area, and every record where WebAssembly is missing. The general decoder (decode.ts: view, header walk, shape
// copy) decodes the first sample of each layout, which names the shape, and every sample whose layout is
// not one of these; sample-plan.test.ts holds the plans to it, record for record, octet for octet.
// Generated text holds numbers only.

import { setUint53 } from '../../util/octets.js';
import { writeAsPath, writeCommunities } from './gateway.js';
import { Chain } from './header.js';
import { BY_CODE, CONSUMED_FOR_US, DROPPED_UNKNOWN, FORWARDED } from './forwarding-status.js';
import { IF_DISCARD, IF_INDEX, IF_LOCAL, IF_MULTIPLE } from './formats.js';
import {
  AS_NUMBERS,
  COMMUNITIES,
  FIRST_AS,
  GATEWAY,
  IP,
  L4,
  LAST_AS,
  type Layout,
  layoutOfKey,
  LOCAL_PREF,
  PATH,
  PATH_LENGTH,
  PREFIXES,
  Q,
  RAW,
  ROUTER,
  SAMPLE,
  SEGMENTS,
  SWITCH,
} from './layout.js';
import { PLAN_DISPATCH } from './plan-dispatch.js';
import { CLOCK_AT, CLOCK_TIME, CLOCK_UPTIME, PLAN_MEMORY, SLOTS_AT } from './plan-memory.js';
import { ALL, compileFacts, type Copy, type Expr, type Fact, type PlacedFact, type Tail } from './plan-wasm.js';
import type { Shape } from './shapes.js';
import { VariableFact } from './view.js';

/** How a plan writes a column: a fact (plan-wasm.ts) that WebAssembly and JavaScript both can write, or
 *  a JavaScript expression for one only JavaScript writes. */
type Column = Fact | string;

const read = (base: number, offset: number, width: 1 | 2 | 4, mask = ALL): Expr => ({ kind: 'read', base, offset, width, mask });
const copy = (base: number, offset: number): Copy => ({ kind: 'copy', base, offset });
const constant = (value: number): Expr => ({ kind: 'constant', value });
const slot = (n: number): Expr => ({ kind: 'slot', slot: n });
const op = (a: Expr, o: '&' | '>>>' | '+' | '===' | '!==' | '<' | '&&', b: Expr | number): Expr => ({ kind: 'op', op: o, a, b: typeof b === 'number' ? constant(b) : b });
const choose = (cond: Expr, then: Expr | number, otherwise: Expr | number): Expr => ({ kind: 'if', cond, then: typeof then === 'number' ? constant(then) : then, otherwise: typeof otherwise === 'number' ? constant(otherwise) : otherwise });

/**
 * How a layout gives each view field. Undefined: the layout does not give it, and no plan is made (the
 * general decoder then decodes every such sample). `mult` in a JavaScript expression is the plan's
 * (planSource).
 */
function expression(field: string, l: Layout, scale: boolean): Column | undefined {
  const v6 = l.chain >= 0 && (l.chain & Chain.ipv6) !== 0;
  const raw = l.chain >= 0;
  // The input value: after its format word (expanded), or the compact word with the format in its top bits.
  const input = l.expanded ? read(Q, 16, 4) : read(Q, 12, 4);
  // The output value: after its format word (expanded), or below the format's 2 bits.
  const output = l.expanded ? read(Q, 24, 4) : read(Q, 16, 4, 0x3fffffff);
  const ipLength = v6 ? op(read(IP, 4, 2), '+', 40) : read(IP, 2, 2);
  switch (field) {
    case 'sampleSequence': return read(SAMPLE, 0, 4);
    case 'sourceIdType': return l.expanded ? read(SAMPLE, 4, 4) : read(SAMPLE, 4, 1);
    case 'sourceIdIndex': return l.expanded ? read(SAMPLE, 8, 4) : read(SAMPLE, 4, 4, 0xffffff);
    case 'samplingRate': return read(Q, 0, 4);
    case 'samplePool': return read(Q, 4, 4);
    case 'drops': return read(Q, 8, 4);
    // Input: an ifIndex, 0 when unknown or "local" (decode.ts flowSample).
    // `input` is the compact word (format in its top 2 bits), or the expanded value after its format.
    case 'inputInterface': {
      const format = l.expanded ? read(Q, 12, 4) : op(input, '>>>', 30);
      return choose(op(op(format, '===', 0), '&&', op(input, '!==', IF_LOCAL)), input, 0);
    }
    // Output: an ifIndex, 0 for "local", a discard or several interfaces.
    case 'outputInterface': return l.output === IF_INDEX ? choose(op(output, '===', IF_LOCAL), 0, output) : constant(0);
    case 'forwardingStatus':
      // The discard reason's status (forwarding-status.ts), as a chain of comparisons.
      if (l.output === IF_DISCARD) return [...BY_CODE].reduceRight((otherwise, [code, status]) => choose(op(output, '===', code), status, otherwise), constant(DROPPED_UNKNOWN));
      return l.output === IF_INDEX ? choose(op(output, '===', IF_LOCAL), CONSUMED_FOR_US, FORWARDED) : constant(FORWARDED);
    case 'discardReason': return l.output === IF_DISCARD ? output : undefined;
    case 'outputInterfaceCount': return l.output === IF_MULTIPLE ? output : undefined;
    case 'packets': return scale ? 'mult' : constant(1);
    case 'observationTimeMs': return copy(-1, CLOCK_AT + CLOCK_TIME);
    case 'agentUptimeMs': return copy(-1, CLOCK_AT + CLOCK_UPTIME);
  }
  if (raw) {
    switch (field) {
      case 'headerProtocol': return read(RAW, 0, 4);
      case 'frameLength': return read(RAW, 4, 4);
      case 'strippedOctets': return read(RAW, 8, 4);
      case 'layer2Octets': return scale ? 'mult * S.getUint32(raw + 4)' : read(RAW, 4, 4);
      case 'destinationMac': return copy(RAW, 16);
      case 'sourceMac': return copy(RAW, 22);
      case 'etherType': return read(IP, -2, 2);
      case 'vlanId': return read(RAW, 30, 2, 0x0fff);
      case 'vlanPriority': return op(read(RAW, 30, 2), '>>>', 13);
      case 'ipVersion': return constant(v6 ? 6 : 4);
      case 'protocol': return read(IP, v6 ? 6 : 9, 1);
      case 'classOfService': return v6 ? op(op(read(IP, 0, 4), '>>>', 20), '&', 0xff) : read(IP, 1, 1);
      case 'ttl': return read(IP, v6 ? 7 : 8, 1);
      case 'ipLength': return ipLength;
      case 'octets': return scale ? `mult * (${jsOf(ipLength)})` : ipLength;
      case 'sourceIPv4': return v6 ? undefined : copy(IP, 12);
      case 'destinationIPv4': return v6 ? undefined : copy(IP, 16);
      case 'sourceIPv6': return v6 ? copy(IP, 8) : undefined;
      case 'destinationIPv6': return v6 ? copy(IP, 24) : undefined;
      case 'flowLabel': return v6 ? read(IP, 0, 4, 0xfffff) : undefined;
      case 'sourcePort': return read(L4, 0, 2);
      case 'destinationPort': return read(L4, 2, 2);
      case 'tcpFlags': return read(L4, 12, 2, 0x0fff);
      case 'icmpTypeCodeV4':
      case 'icmpTypeCodeV6': return read(L4, 0, 2);
    }
  }
  switch (field) {
    case 'switchInVlan': return read(SWITCH, 0, 4);
    case 'switchInPriority': return read(SWITCH, 4, 4);
    case 'switchOutVlan': return read(SWITCH, 8, 4);
    case 'switchOutPriority': return read(SWITCH, 12, 4);
    case 'routerNextHopIPv4':
    case 'routerNextHopIPv6': return copy(ROUTER, 4);
    case 'sourcePrefixV4':
    case 'sourcePrefixV6': return read(PREFIXES, 0, 4);
    case 'destinationPrefixV4':
    case 'destinationPrefixV6': return read(PREFIXES, 4, 4);
    case 'gatewayNextHopIPv4':
    case 'gatewayNextHopIPv6': return copy(GATEWAY, 4);
    case 'routerAs': return read(AS_NUMBERS, 0, 4);
    case 'sourceAs': return read(AS_NUMBERS, 4, 4);
    case 'sourcePeerAs': return read(AS_NUMBERS, 8, 4);
    // The path leads from the next AS (the destination peer) to the origin AS (the destination).
    case 'destinationPeerAs': return choose(op(slot(FIRST_AS), '<', 0), 0, read(FIRST_AS, 0, 4));
    case 'destinationAs': return choose(op(slot(LAST_AS), '<', 0), 0, read(LAST_AS, 0, 4));
    case 'localPref': return read(LOCAL_PREF, 0, 4);
  }
  return undefined;
}

/** The plan's names of the slots it reads most. */
const BASE_NAMES: Record<number, string> = { [SAMPLE]: 's', [Q]: 'q', [RAW]: 'raw', [IP]: 'ip', [L4]: 'l4', [SWITCH]: 'sw', [ROUTER]: 'router', [PREFIXES]: 'prefixes', [GATEWAY]: 'gateway', [AS_NUMBERS]: 'asNumbers' };

/** A number fact as a JavaScript expression (a copy is not one). */
function jsOf(f: Expr | string): string {
  if (typeof f === 'string') return f;
  switch (f.kind) {
    case 'constant':
      return `${f.value}`;
    case 'slot':
      return BASE_NAMES[f.slot] ?? `at[${f.slot}]`;
    case 'read': {
      const value = `S.getUint${8 * f.width}(${BASE_NAMES[f.base] ?? `at[${f.base}]`} + ${f.offset})`;
      return f.mask === ALL ? value : `(${value} & 0x${f.mask.toString(16)})`;
    }
    case 'op':
      // Comparisons give booleans here, 0 or 1 in WebAssembly: they only ever meet `&&` and `?`.
      return `(${jsOf(f.a)} ${f.op} ${jsOf(f.b)})`;
    case 'if':
      return `(${jsOf(f.cond)} ? ${jsOf(f.then)} : ${jsOf(f.otherwise)})`;
  }
}

/**
 * Source text of a plan: one write per column of the shape, in its order, then its variable-length
 * fields; undefined when a column has no expression. `staged`: the JavaScript part of the plan for the
 * shape's staging area, the facts left to WebAssembly (returned in `facts`; the text calls their function
 * first as `facts(d)`) and the rest written through the area's `dv`; `rest` says whether there is any.
 */
export function planSource(key: number, shape: Shape, scale: boolean, staged = false): { text: string; facts: PlacedFact[]; length: number; tails: Tail[]; rest: boolean } | undefined {
  const l = layoutOfKey(key);
  const facts: PlacedFact[] = [];
  const writes: string[] = [];
  let to = 0;
  for (const c of shape.columns) {
    const e = expression(c.field, l, scale);
    if (e === undefined) return undefined;
    if (typeof e !== 'string' && staged) facts.push({ fact: e, to, length: c.length });
    else if (typeof e !== 'string' && e.kind === 'copy') {
      const [source, from] = e.base < 0 ? ['M', `${e.offset}`] : ['S', `${BASE_NAMES[e.base]} + ${e.offset}`];
      let k = 0;
      for (; c.length - k >= 4; k += 4) writes.push(`dv.setUint32(d + ${to + k}, ${source}.getUint32(${from} + ${k}));`);
      if (c.length - k >= 2) {
        writes.push(`dv.setUint16(d + ${to + k}, ${source}.getUint16(${from} + ${k}));`);
        k += 2;
      }
      if (c.length - k === 1) writes.push(`dv.setUint8(d + ${to + k}, ${source}.getUint8(${from} + ${k}));`);
    } else if (c.length === 8) {
      // Unscaled, 8-octet facts (a count of one, a length) are below 2^32.
      if (scale && typeof e === 'string') writes.push(`u64(dv, d + ${to}, ${e});`);
      else writes.push(`dv.setUint32(d + ${to}, 0);`, `dv.setUint32(d + ${to + 4}, ${jsOf(e)});`);
    } else if (c.length === 4) writes.push(`dv.setUint32(d + ${to}, ${jsOf(e)});`);
    else if (c.length === 2) writes.push(`dv.setUint16(d + ${to}, ${jsOf(e)});`);
    else if (c.length === 1) writes.push(`dv.setUint8(d + ${to}, ${jsOf(e)});`);
    else return undefined;
    to += c.length;
  }
  const used = (name: string) => writes.some((w) => new RegExp(`\\b${name}\\b`).test(w));
  const lines = [
    '"use strict";',
    staged ? 'return function staged(d) {' : 'return function write(dv, d) {',
    // The WebAssembly part writes the variable-length fields too, and says where the record ends.
    ...(staged ? ['const end = facts(d);'] : []),
    `const s = at[${SAMPLE}], q = at[${Q}], raw = at[${RAW}], ip = at[${IP}], l4 = at[${L4}], sw = at[${SWITCH}], router = at[${ROUTER}], prefixes = at[${PREFIXES}], gateway = at[${GATEWAY}], asNumbers = at[${AS_NUMBERS}];`,
  ];
  // Counts: one sampled packet, or scaled by the sampling rate (decode.ts flowSample).
  if (used('mult')) lines.push('const rate = S.getUint32(q);', scale ? 'const mult = rate > 0 ? rate : 1;' : 'const mult = 1;');
  lines.push(...writes);
  const tails: Tail[] = [];
  const variable: string[] = [];
  for (const fact of shape.variableFacts) {
    if (fact === VariableFact.communities) {
      tails.push({ kind: 'communities', count: COMMUNITIES });
      variable.push(`d = writeCommunities(S, at[${COMMUNITIES}], dv, d);`);
    } else if (fact === VariableFact.asPath) {
      tails.push({ kind: 'asPath', path: PATH, segments: SEGMENTS, asns: PATH_LENGTH });
      variable.push(`d = writeAsPath(S, at[${PATH}], at[${SEGMENTS}], at[${PATH_LENGTH}], dv, d);`);
    } else return undefined; // the sampled header itself, a tunnel name: not in a planned layout
  }
  if (staged) lines.push('return end;', '};');
  else lines.push(`d += ${to};`, ...variable, 'return d;', '};');
  return { text: lines.join('\n'), facts, length: to, tails, rest: writes.length > 0 };
}

/** Writes one record of the plan's shape at d of dv; returns where it ends. */
export type PlanWrite = (dv: DataView, d: number) => number;
/** The same at d of the shape's staging area. */
export type PlanStagedWrite = (d: number) => number;

export interface SamplePlan {
  readonly shape: Shape;
  /** Writes a record anywhere (the large-record buffer). */
  readonly write: PlanWrite;
  /** Writes a record into the shape's staging area, in WebAssembly but for scaled counts; null when the
   *  area is not in the plan memory or this runtime has no WebAssembly. */
  readonly staged: PlanStagedWrite | null;
  /** When `staged` is all WebAssembly: its index in the thread's plan table (plan-dispatch.ts), else -1. */
  readonly index: number;
}

const PARAMETERS = ['S', 'M', 'at', 'u64', 'writeCommunities', 'writeAsPath'];

/**
 * The plan of layout `key` for `shape`, or null when none can be made (a column or variable-length field
 * the layout does not give). It reads the datagram and the layout's slots in the plan memory (layoutOf
 * filled them) and the datagram's clock there (decode.ts setClock). `wasm`: whether its staged writes may
 * be WebAssembly.
 */
export function compilePlan(key: number, shape: Shape, scale: boolean, wasm = true): SamplePlan | null {
  const plain = planSource(key, shape, scale);
  if (plain === undefined) return null;
  const { view: S, slots: at } = PLAN_MEMORY;
  const M = new DataView(S.buffer);
  const values = [S, M, at, setUint53, writeCommunities, writeAsPath];
  const write = (new Function(...PARAMETERS, plain.text) as (...a: unknown[]) => PlanWrite)(...values);
  let staged: PlanStagedWrite | null = null;
  let index = -1;
  const split = !wasm || shape.stageAddress < 0 ? null : planSource(key, shape, scale, true)!;
  const facts = split === null ? null : compileFacts(split.facts, split.length, split.tails, SLOTS_AT, shape.stageAddress - shape.stageStart);
  if (split !== null && facts !== null) {
    // With nothing left to JavaScript, the WebAssembly function is the plan.
    staged = split.rest ? (new Function(...PARAMETERS, 'dv', 'facts', split.text) as (...a: unknown[]) => PlanStagedWrite)(...values, shape.stageView, facts) : facts;
    if (!split.rest && PLAN_DISPATCH) index = PLAN_DISPATCH.add(facts);
  }
  return { shape, write, staged, index };
}

/** Layouts a decoder keeps plans (or their absence) for: far above real agents', a bound against crafted input. */
export const MAX_PLANS = 1024;
/** Slots of a plan table: a power of two, at most half full. */
export const TABLE_SLOTS = 2 * MAX_PLANS;
/** A key's first slot is the top bits of its product with HASH_MULTIPLIER (Fibonacci hashing); then the
 *  slots after it, in turn. sample-walk.ts probes its own table the same way. */
export const HASH_MULTIPLIER = 0x9e3779b1 | 0;
export const HASH_SHIFT = 32 - Math.log2(TABLE_SLOTS);

/**
 * Plans by layout key, open addressing over typed arrays: a lookup is a multiply, a shift and a compare or
 * two, where a Map lookup took 3.4 % of the time per sample (profile with the WebAssembly plans).
 */
export class PlanTable {
  private readonly keys = new Int32Array(TABLE_SLOTS).fill(-1);
  private readonly plans: (SamplePlan | null)[] = new Array<SamplePlan | null>(TABLE_SLOTS).fill(null);
  size = 0;

  /** The slot of `key` (layout keys are below 2^20), or where it would go. */
  private slot(key: number): number {
    let i = Math.imul(key, HASH_MULTIPLIER) >>> HASH_SHIFT;
    while (this.keys[i] !== key && this.keys[i] !== -1) i = (i + 1) & (TABLE_SLOTS - 1);
    return i;
  }

  /** The plan of `key`; null when its layout has none; undefined when the layout is new. */
  get(key: number): SamplePlan | null | undefined {
    const i = this.slot(key);
    return this.keys[i] === -1 ? undefined : this.plans[i]!;
  }

  /** Keeps the plan (or its absence) of a new layout while fewer than MAX_PLANS are kept. */
  set(key: number, plan: SamplePlan | null): void {
    if (this.size >= MAX_PLANS) return;
    const i = this.slot(key);
    this.keys[i] = key;
    this.plans[i] = plan;
    this.size++;
  }
}
