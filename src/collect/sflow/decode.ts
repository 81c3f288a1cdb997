// sFlow v5 Collecting Process decoder: one datagram (sFlow v5 specification, sflow.org, July 2004) → IPFIX
// Data Records. Every flow sample becomes one record of a template that has exactly the facts the sample
// carried (view.ts, shapes.ts, mappings/sflow.yaml); every counter sample with interface counters becomes
// one record of an options template scoped by its data source. The exporter is the agent: each
// (agent address, sub-agent ID) is one exporter session, its sub-agent ID the Observation Domain ID.
//
// Most flow samples are decoded by a plan compiled for their layout (sample-plan.ts), which writes the
// record straight from the datagram, and runs of them without leaving WebAssembly (sample-walk.ts); the
// first sample of each layout, and samples of any other layout, are decoded the general way below (the
// view, the header walk, the shape's copy).
//
// Every length is checked before it is read. A malformed sample is dropped and counted alone: the sample
// length says where the next one starts. Unknown sample, flow record and counter record formats are
// skipped by their length and counted.

import type { DecodeContext, DecodeFn, DecoderFactory, DecoderOptions, SessionState, TemplateEntry } from '../decoder.js';
import { makeTemplate, type Template } from '../../ipfix/template.js';
import { arrivalMs } from '../arrival.js';
import { loadSflowTable, type SflowTable } from '../../mapping/sflow-table.js';
import { DropReason, packetsTrailingOctets, sflowDatagramsLost, sflowSkipped } from '../../observe/metrics.js';
import { onScrape } from '../../observe/metrics.js';
import { formatIPv4, formatIPv6 } from '../../util/address.js';
import { copyShort, setUint53 } from '../../util/octets.js';
import { CounterGroup, COUNTER_FIELDS, COUNTER_VIEW_LENGTH, ETHERNET_INTERFACE_AT, ETHERNET_INTERFACE_LENGTH, GENERIC_INTERFACE_AT, GENERIC_INTERFACE_LENGTH } from './counter-view.js';
import { decodeHeader, HeaderOutcome } from './header.js';
import { forwardingStatusOfDiscard, FORWARDED, CONSUMED_FOR_US } from './forwarding-status.js';
import {
  addressLength,
  COUNTERS_SAMPLE,
  COUNTERS_SAMPLE_EXPANDED,
  ETHERNET_INTERFACE,
  EXTENDED_GATEWAY,
  EXTENDED_ROUTER,
  EXTENDED_SWITCH,
  FLOW_SAMPLE,
  FLOW_SAMPLE_EXPANDED,
  GENERIC_INTERFACE,
  IF_DISCARD,
  IF_INDEX,
  IF_LOCAL,
  IF_MULTIPLE,
  MAX_PRIORITY,
  MAX_VLAN,
  RAW_PACKET_HEADER,
  SAMPLED_ETHERNET,
  SAMPLED_IPV4,
  SAMPLED_IPV6,
} from './formats.js';
import { Gateway, GATEWAY_PROBLEMS, GATEWAY_SLOTS, varlen, walkGateway, writeAsPath, writeCommunities } from './gateway.js';
import { PLAN_DISPATCH } from './plan-dispatch.js';
import { DATAGRAM_LENGTH, PLAN_MEMORY, receivedAt, setClock } from './plan-memory.js';
import { layoutOf, variableOctets } from './layout.js';
import { compilePlan, MAX_PLANS, PlanTable } from './sample-plan.js';
import { layoutWasm, NOT_LAID_OUT, SampleWalk, ShapeWord } from './sample-walk.js';
import { MAX_SHAPES, Shapes, StageArena, STAGE_LENGTH, type Shape } from './shapes.js';
import { FlowView, Group, TUNNEL_NAMES, V, VariableFact } from './view.js';

export const SFLOW_VERSION = 5;
/** version, agent address type, IPv4 agent address, sub-agent id, sequence number, uptime, sample count. */
const MIN_DATAGRAM = 28;

/** Template IDs of the decoder's shapes start here (flow and counter shapes share the range). */
const FIRST_TEMPLATE_ID = 256;
/** Octets of the buffer for a record larger than a staging area (a datagram holds at most 65,507 octets). */
const BIG_LENGTH = 1 << 18;


const C_SEQUENCE = COUNTER_FIELDS.get('sampleSequence')!.offset;
const C_SOURCE_TYPE = COUNTER_FIELDS.get('sourceIdType')!.offset;
const C_SOURCE_INDEX = COUNTER_FIELDS.get('sourceIdIndex')!.offset;
const C_TIME = COUNTER_FIELDS.get('observationTimeMs')!.offset;
const C_UPTIME = COUNTER_FIELDS.get('agentUptimeMs')!.offset;

/**
 * The plan memory (plan-memory.ts), where the datagram being decoded is read: a read through one
 * long-lived DataView is a single load, where four indexed octet loads of a fresh Buffer per datagram were
 * the decoder's largest single cost (measured: 15-20 % of CPU per sample). A datagram the receiver put in
 * one of its receive areas is decoded where it lies; any other is copied to its datagram area (at 0) first.
 * Positions in the decoder are offsets in this memory; one datagram is decoded at a time per thread.
 */
const DATAGRAM = PLAN_MEMORY.bytes;
const DV = PLAN_MEMORY.view;

/** Big-endian unsigned 32-bit read from the plan memory. */
function u32(o: number): number {
  return DV.getUint32(o);
}

function badGateway(at: number, what: string): SampleError {
  return new SampleError(DropReason.malformed, at, `extended gateway record: ${what}`);
}

/** What the decoder counts beyond drops (sflowSkipped reasons). */
const Skip = { sample: 0, flowRecord: 1, counterRecord: 2, headerProtocol: 3, counterSampleEmpty: 4 } as const;
const SKIP_LABELS = ['unknown_sample_format', 'unknown_flow_record', 'unknown_counter_record', 'unsupported_header_protocol', 'counter_sample_without_interface_counters'];

interface SflowState {
  /** Datagram sequence number expected next, -1 before the first. */
  nextSequence: number;
  uptime: number;
  datagrams: number;
  /** The session's Template per shape (template ID - FIRST_TEMPLATE_ID), once defined: the decoder's
   *  templates never expire and are never withdrawn but with the session, which takes this state along. */
  templates: (Template | undefined)[];
}

type Entry = TemplateEntry;

/** The datagram is malformed beyond this sample: its reason and where. */
class SampleError {
  constructor(
    readonly reason: typeof DropReason.truncated | typeof DropReason.malformed,
    readonly offset: number,
    readonly message: string,
  ) {}
}

export const createSflowDecoder: DecoderFactory = (options) => buildSflowDecoder(options);

/** Whether flow samples may be decoded by compiled plans (sample-plan.ts), and how many were. The tests
 *  turn them off to have the general decoder judge them. */
export interface PlanUse {
  enabled: boolean;
  /** Whether plans and the layout check run as WebAssembly (plan-wasm.ts, layout-wasm.ts); else JavaScript. */
  wasm: boolean;
  samples: number;
  /** Of those, the samples written into their staging area by the WebAssembly plan (the others: by the
   *  JavaScript plan). */
  staged: number;
  /** Of those, the samples the WebAssembly walk decoded without returning to JavaScript (sample-walk.ts). */
  walked: number;
  /** Datagrams decoded where the receiver put them, in the plan memory (not copied in first). */
  inPlace: number;
}

export function buildSflowDecoder(options: DecoderOptions, table?: SflowTable, plans: PlanUse = { enabled: true, wasm: true, samples: 0, staged: 0, walked: 0, inPlace: 0 }): DecodeFn {
  const sflow = options.mapping.sflow;
  const t = table ?? loadSflowTable(options.registry, options.mapping.dir, sflow);
  let nextTemplateId = FIRST_TEMPLATE_ID;
  const takeId = () => nextTemplateId++;
  const view = new FlowView();
  const cview = new Uint8Array(COUNTER_VIEW_LENGTH);
  const cviewDv = new DataView(cview.buffer);
  // Each name in a buffer of its own (a short Buffer.from is a slice of Node's shared pool).
  const tunnelNames = TUNNEL_NAMES.map((n) => new DataView(Uint8Array.from(Buffer.from(n, 'ascii')).buffer));
  const keepOuter = sflow.keepOuterFlow;
  const scale = sflow.scaleCounts;

  // Output: each shape stages the records of the datagram being decoded in its own area (shapes.ts), so a
  // datagram's records are handed on template by template when it ends: one sink call and one Data Set
  // downstream per shape per datagram. Records of different templates carry no order in IPFIX; those of
  // one template keep theirs.
  const arena = new StageArena();
  const flowShapes = new Shapes(t.flow, view.b, arena, 0, takeId);
  const counterShapes = new Shapes(t.counters, cview, arena, t.counterScope, takeId);
  // Compiled plans by layout key (sample-plan.ts); null: the layout's shape cannot be planned.
  const planOf = new PlanTable();
  const layoutAt = PLAN_MEMORY.slots;
  const layoutInWasm = plans.wasm ? layoutWasm : null;
  const runPlan = PLAN_DISPATCH?.run;
  /** Where walkGateway found the parts of the extended gateway record being decoded. */
  const gatewayAt = new Int32Array(GATEWAY_SLOTS);
  /** A record too large for a staging area is written here and handed on by itself. */
  const big = Buffer.allocUnsafe(BIG_LENGTH);
  const bigView = new DataView(big.buffer, big.byteOffset, big.byteLength);
  /** Per shape k (template ID - FIRST_TEMPLATE_ID): the octets and records staged, and the shapes touched
   *  in the datagram in order of their first record, are words the WebAssembly walk shares (sample-walk.ts). */
  const sampleWalk = new SampleWalk(plans.enabled && plans.wasm);
  const words = sampleWalk.words;
  /** Per shape k, the shape: set when its first record is placed, before the walk can stage any. */
  const shapeOf: (Shape | undefined)[] = new Array<Shape | undefined>(2 * MAX_SHAPES + 1).fill(undefined);
  /** The agent's uptime (ms) of the datagram being decoded. */
  const clock = new Float64Array(1);
  /** Where the record being written goes (a staging area, or `big`) and the position in it. */
  let out: Buffer = big;
  let outView: DataView = bigView;
  let pos = 0;
  let ctx!: DecodeContext;
  let session!: SessionState<Entry>;
  let state!: SflowState;
  // Arrival time of the datagram, epoch ms (in an array: a double in a closure variable would be re-boxed
  // on every assignment).
  const now = new Float64Array(1);
  /** The arrival time's epoch second as the number handed to the sink: a double passed to a call is boxed,
   *  so the box is kept and made anew only when the second changes (not per sink call: 4 per datagram). */
  let exportSeconds = 0;
  let converted = 0;

  // Counts summed per datagram and handed to prom-client at scrape time (metrics.ts onScrape).
  const skipped = new Float64Array(SKIP_LABELS.length);
  let lost = 0;
  let input = '';
  onScrape(() => {
    for (let i = 0; i < skipped.length; i++) {
      if (skipped[i]! > 0) sflowSkipped.inc({ input, what: SKIP_LABELS[i]! }, skipped[i]!);
      skipped[i] = 0;
    }
    if (lost > 0) sflowDatagramsLost.inc({ input }, lost);
    lost = 0;
  });

  // IPv4 agent address strings by value (a datagram allocates none once its agent is known).
  const agents = new Map<number, string>();
  // IPv6 agents by a hash of their address, checked octet by octet against the cached address.
  const agents6 = new Map<number, { address: Uint8Array; name: string }>();
  const agent6 = (dg: Buffer, at: number): string => {
    const h = (u32(at) ^ Math.imul(u32(at + 4), 31) ^ Math.imul(u32(at + 8), 961) ^ Math.imul(u32(at + 12), 29791)) | 0;
    const hit = agents6.get(h);
    if (hit) {
      let same = true;
      for (let i = 0; i < 16; i++) if (hit.address[i] !== dg[at + i]) same = false;
      if (same) return hit.name;
    }
    if (agents6.size >= 65536) agents6.clear();
    const name = formatIPv6(dg, at);
    agents6.set(h, { address: Uint8Array.from(dg.subarray(at, at + 16)), name });
    return name;
  };
  const agentName = (dg: Buffer, at: number, v6: boolean): string => {
    if (v6) return agent6(dg, at);
    const k = u32(at);
    let s = agents.get(k);
    if (s === undefined) {
      if (agents.size >= 65536) agents.clear();
      agents.set(k, (s = formatIPv4(dg, at)));
    }
    return s;
  };

  /** The session's Template of shape k, defined the first time. */
  function templateOf(k: number): Template {
    let template = state.templates[k];
    if (template === undefined) {
      const shape = shapeOf[k]!;
      const entry = session.templates.get(shape.templateId) ?? session.templates.define(shape.templateId, { template: makeTemplate(shape.templateId, shape.fields, shape.scopeCount) }, false);
      template = state.templates[k] = entry.template;
    }
    return template;
  }

  /** Hands on the records staged for shape k. */
  function handOn(k: number): void {
    const at = sampleWalk.shapeAt(k);
    const count = words[at + ShapeWord.stagedCount]!;
    if (count === 0) return;
    const shape = shapeOf[k]!;
    ctx.sink.records(session.session, templateOf(k), shape.stage, shape.stageStart, shape.stageStart + words[at + ShapeWord.stagedLength]!, count, exportSeconds);
    converted += count;
    words[at + ShapeWord.stagedLength] = 0;
    words[at + ShapeWord.stagedCount] = 0;
  }

  /** Hands on every staged record, shape by shape, and forgets the datagram's shapes. Templates first, in
   *  the order of their first record, then the records. */
  function flush(): void {
    const n = sampleWalk.touchedCount();
    for (let i = 0; i < n; i++) templateOf(sampleWalk.touched(i));
    for (let i = 0; i < n; i++) handOn(sampleWalk.touched(i));
    sampleWalk.untouchAll();
  }

  /**
   * Starts a record of `shape` needing at most `need` octets: sets `out` and `pos` to where it goes (the
   * shape's staging area, or `big`), and writes its fixed part from the view.
   */
  function startRecord(shape: Shape, need: number): void {
    place(shape, need);
    pos = out === big ? shape.copyTo(bigView, 0) : shape.copy(pos);
  }

  /** Sets `out`, `outView` and `pos` to where the next record of `shape` (at most `need` octets) goes. */
  function place(shape: Shape, need: number): void {
    const k = shape.templateId - FIRST_TEMPLATE_ID;
    shapeOf[k] = shape;
    sampleWalk.touch(k);
    const at = sampleWalk.shapeAt(k) + ShapeWord.stagedLength;
    if (words[at]! + need > STAGE_LENGTH) {
      handOn(k);
      if (need > STAGE_LENGTH) {
        out = big;
        outView = bigView;
        pos = 0;
        return;
      }
    }
    out = shape.stage;
    outView = shape.stageView;
    pos = shape.stageStart + words[at]!;
  }

  /** The record placed by place() (or startRecord()) ends at `pos`. */
  function stage(shape: Shape): void {
    const k = shape.templateId - FIRST_TEMPLATE_ID;
    if (out === big) {
      ctx.sink.records(session.session, templateOf(k), big, 0, pos, 1, exportSeconds);
      converted++;
      return;
    }
    const at = sampleWalk.shapeAt(k);
    words[at + ShapeWord.stagedLength] = pos - shape.stageStart;
    words[at + ShapeWord.stagedCount]!++;
  }

  function emitFlow(dg: Buffer): boolean {
    const shape = flowShapes.get(view.mask);
    if (!shape) return false;
    // Octets the variable-length fields need (each with a 3-octet prefix at most).
    const facts = shape.variableFacts;
    let need = shape.fixedLength;
    for (let i = 0; i < facts.length; i++) need += 3 + variableLength(facts[i]!);
    startRecord(shape, need);
    for (let i = 0; i < facts.length; i++) {
      const fact = facts[i]!;
      if (fact === VariableFact.communities) pos = writeCommunities(DV, view.communityStart - 4, outView, pos);
      else if (fact === VariableFact.asPath) pos = writeAsPath(DV, view.asPathStart, view.asPathSegments, view.asPathLength, outView, pos);
      else {
        // The sampled header itself, or the tunnel's name.
        const l = variableLength(fact);
        pos = varlen(outView, pos, l);
        if (fact === VariableFact.headerBytes) copyShort(DV, view.headerStart, outView, pos, l);
        else copyShort(tunnelNames[view.tunnel]!, 0, outView, pos, l);
        pos += l;
      }
    }
    stage(shape);
    return true;
  }

  function variableLength(fact: number): number {
    switch (fact) {
      case VariableFact.headerBytes:
        return view.headerEnd - view.headerStart;
      case VariableFact.communities:
        return 5 + 4 * view.communityCount;
      case VariableFact.asPath:
        return 4 * view.asPathLength;
      case VariableFact.tunnelTechnology:
        return tunnelNames[view.tunnel]!.byteLength;
      default:
        return 0;
    }
  }

  /** An sFlow address (type 1 IPv4 / 2 IPv6 / 0 unknown) at p: its end, or -1 when it does not fit. */
  function addressEnd(dg: Buffer, p: number, end: number): number {
    if (end - p < 4) return -1;
    const l = addressLength(u32(p));
    if (l < 0 || end - p - 4 < l) return -1;
    return p + 4 + l;
  }

  function flowRecords(dg: Buffer, r: number, end: number, count: number): void {
    let router = false;
    let sampledIpAt = -1;
    let sampledIpV6 = false;
    for (let j = 0; j < count; j++) {
      if (end - r < 8) throw new SampleError(DropReason.truncated, r, `flow record ${j + 1} of ${count} runs past its sample`);
      const format = u32(r);
      const length = u32(r + 4);
      const b = r + 8;
      if (length > end - b) throw new SampleError(DropReason.truncated, r, `flow record ${format >>> 12}:${format & 0xfff} of ${length} octets runs past its sample`);
      r = b + length;
      if (format >>> 12 !== 0) {
        skipped[Skip.flowRecord]!++;
        continue;
      }
      switch (format) {
        case RAW_PACKET_HEADER: {
          if (length < 16) throw new SampleError(DropReason.malformed, b, `raw packet header record of ${length} octets (needs 16 + header)`);
          const protocol = u32(b);
          const headerLength = u32(b + 12);
          if (headerLength > length - 16) throw new SampleError(DropReason.malformed, b + 12, `header_length ${headerLength} exceeds its record (${length - 16} octets)`);
          view.u32(V.headerProtocol!, protocol);
          view.u32(V.frameLength!, u32(b + 4));
          view.u32(V.strippedOctets!, u32(b + 8));
          view.mask |= Group.frame | Group.layer2;
          view.headerStart = b + 16;
          view.headerEnd = b + 16 + headerLength;
          // The header decoder sets the groups it could read whole (IP facts from a header replace those of a
          // sampled IPv4/IPv6 record, and only a header sets the TTL).
          if (decodeHeader(dg, b + 16, b + 16 + headerLength, protocol, view, keepOuter) === HeaderOutcome.unsupportedProtocol) skipped[Skip.headerProtocol]!++;
          break;
        }
        case SAMPLED_ETHERNET: {
          if (length < 24) throw new SampleError(DropReason.malformed, b, `sampled Ethernet record of ${length} octets (needs 24)`);
          if ((view.mask & Group.layer2) === 0) {
            view.u32(V.frameLength!, u32(b));
            view.mask |= Group.layer2;
          }
          if ((view.mask & Group.ethernet) === 0) {
            // XDR opaque<6> MACs are padded to 8 octets.
            view.mac(V.sourceMac!, DV, b + 4);
            view.mac(V.destinationMac!, DV, b + 12);
            view.u16(V.etherType!, u32(b + 20));
            view.mask |= Group.ethernet;
          }
          break;
        }
        case SAMPLED_IPV4:
        case SAMPLED_IPV6: {
          const v6 = format === SAMPLED_IPV6;
          const need = 8 + 2 * (v6 ? 16 : 4) + 16;
          if (length < need) throw new SampleError(DropReason.malformed, b, `sampled IPv${v6 ? 6 : 4} record of ${length} octets (needs ${need})`);
          // Applied after every record was read: a decoded header's IP facts win whatever the record order.
          if (sampledIpAt < 0) {
            sampledIpAt = b;
            sampledIpV6 = v6;
          }
          break;
        }
        case EXTENDED_SWITCH: {
          if (length < 16) throw new SampleError(DropReason.malformed, b, `extended switch record of ${length} octets (needs 16)`);
          // Agents send 0xFFFFFFFF for an unknown VLAN or priority: a fact that fits no VLAN id (12 bits)
          // or priority (3 bits) is left out rather than cut down to a value that would mean something.
          const inVlan = u32(b);
          const inPriority = u32(b + 4);
          const outVlan = u32(b + 8);
          const outPriority = u32(b + 12);
          if (inVlan <= MAX_VLAN) {
            view.u16(V.switchInVlan!, inVlan);
            view.mask |= Group.switchInVlan;
          }
          if (outVlan <= MAX_VLAN) {
            view.u16(V.switchOutVlan!, outVlan);
            view.mask |= Group.switchOutVlan;
          }
          if (inPriority <= MAX_PRIORITY) {
            view.u8(V.switchInPriority!, inPriority);
            view.mask |= Group.switchInPriority;
          }
          if (outPriority <= MAX_PRIORITY) {
            view.u8(V.switchOutPriority!, outPriority);
            view.mask |= Group.switchOutPriority;
          }
          break;
        }
        case EXTENDED_ROUTER: {
          const e = addressEnd(dg, b, r);
          if (e < 0 || r - e < 8) throw new SampleError(DropReason.malformed, b, 'extended router record: bad next-hop address or too short');
          nextHop(dg, b, V.routerNextHopIPv4!, V.routerNextHopIPv6!, Group.routerNextHopIPv4, Group.routerNextHopIPv6);
          const src = u32(e);
          const dst = u32(e + 4);
          view.u8(V.sourcePrefixV4!, src);
          view.u8(V.destinationPrefixV4!, dst);
          view.u8(V.sourcePrefixV6!, src);
          view.u8(V.destinationPrefixV6!, dst);
          router = true;
          break;
        }
        case EXTENDED_GATEWAY:
          gateway(dg, b, r);
          break;
        default:
          skipped[Skip.flowRecord]!++;
      }
    }
    if (sampledIpAt >= 0 && (view.mask & Group.ip) === 0) sampledIp(dg, sampledIpAt, sampledIpV6);
    // Prefix lengths go out as the IPv4 or IPv6 ones by the flow's addresses (view.ts: prefix + ipv4/ipv6).
    if (router) view.mask |= Group.prefix;
  }

  /** Sampled IPv4/IPv6 record at b (its length checked): the flow's IP facts when no header gave them. */
  function sampledIp(dg: Buffer, b: number, v6: boolean): void {
    const protocol = u32(b + 4);
    let p = b + 8;
    view.u8(V.ipVersion!, v6 ? 6 : 4);
    view.u8(V.protocol!, protocol);
    view.u32(V.ipLength!, u32(b));
    if (v6) {
      view.ipv6(V.sourceIPv6!, DV, p);
      view.ipv6(V.destinationIPv6!, DV, p + 16);
    } else {
      view.ipv4(V.sourceIPv4!, DV, p);
      view.ipv4(V.destinationIPv4!, DV, p + 4);
    }
    p += v6 ? 32 : 8;
    view.mask |= Group.ip | (v6 ? Group.ipv6 : Group.ipv4);
    if (protocol === 6 || protocol === 17 || protocol === 132) {
      view.u16(V.sourcePort!, u32(p));
      view.u16(V.destinationPort!, u32(p + 4));
      view.mask |= Group.ports;
    }
    if (protocol === 6) {
      view.u16(V.tcpFlags!, u32(p + 8));
      view.mask |= Group.tcp;
    }
    // IPv4 tos is the whole ToS octet; IPv6 priority is the traffic class.
    view.u8(V.classOfService!, u32(p + 12));
  }

  function nextHop(dg: Buffer, p: number, at4: number, at6: number, g4: number, g6: number): void {
    const type = u32(p);
    if (type === 1) {
      view.ipv4(at4, DV, p + 4);
      view.mask |= g4;
    } else if (type === 2) {
      view.ipv6(at6, DV, p + 4);
      view.mask |= g6;
    }
  }

  /** Extended gateway: next hop, AS numbers, destination AS path, communities, local preference. */
  function gateway(dg: Buffer, b: number, end: number): void {
    const problem = walkGateway(DV, b, end, gatewayAt, 0);
    if (problem !== 0) throw badGateway(b, GATEWAY_PROBLEMS[problem]!);
    nextHop(dg, b, V.gatewayNextHopIPv4!, V.gatewayNextHopIPv6!, Group.gatewayNextHopIPv4, Group.gatewayNextHopIPv6);
    const p = gatewayAt[Gateway.asNumbers]!;
    view.u32(V.routerAs!, u32(p));
    view.u32(V.sourceAs!, u32(p + 4));
    view.u32(V.sourcePeerAs!, u32(p + 8));
    view.asPathStart = gatewayAt[Gateway.path]!;
    view.asPathSegments = gatewayAt[Gateway.segments]!;
    view.asPathLength = gatewayAt[Gateway.pathLength]!;
    view.communityStart = gatewayAt[Gateway.communities]! + 4;
    view.communityCount = u32(gatewayAt[Gateway.communities]!);
    // The path leads from the next AS (the destination peer) to the origin AS (the destination).
    const first = gatewayAt[Gateway.firstAs]!;
    const last = gatewayAt[Gateway.lastAs]!;
    view.u32(V.destinationPeerAs!, first < 0 ? 0 : u32(first));
    view.u32(V.destinationAs!, last < 0 ? 0 : u32(last));
    view.u32(V.localPref!, u32(gatewayAt[Gateway.localPref]!));
    view.mask |= Group.gateway;
  }

  /** `known`: the layout key the walk found (its slots in place), or NOT_LAID_OUT. */
  function flowSample(dg: Buffer, s: number, end: number, expanded: boolean, known: number): void {
    const key = known !== NOT_LAID_OUT ? known : !plans.enabled ? -1 : layoutInWasm !== null ? layoutInWasm(s, end, expanded ? 1 : 0) : layoutOf(dg, DV, s, end, expanded, layoutAt);
    if (key >= 0) {
      const plan = planOf.get(key);
      if (plan) {
        const shape = plan.shape;
        const facts = shape.variableFacts;
        place(shape, facts.length === 0 ? shape.fixedLength : shape.fixedLength + variableOctets(layoutAt, DV, facts));
        if (out !== big && plan.staged !== null) {
          // Through the one dispatcher when the plan is all WebAssembly (plan-dispatch.ts).
          pos = plan.index >= 0 ? runPlan!(plan.index, pos) : plan.staged(pos);
          plans.staged++;
        } else pos = plan.write(outView, pos);
        stage(shape);
        plans.samples++;
        return;
      }
      generalFlowSample(dg, s, end, expanded);
      // The first sample of a layout names its shape (the view's groups after the general decode).
      // Past MAX_PLANS layouts none is compiled: crafted input must not make every sample compile one.
      if (plan === undefined && planOf.size < MAX_PLANS) {
        const shape = flowShapes.get(view.mask)!;
        const made = compilePlan(key, shape, scale, plans.wasm);
        planOf.set(key, made);
        // An all-WebAssembly plan staging in the plan memory is the walk's from now on.
        if (made !== null && made.index >= 0 && shape.stageAddress >= 0) sampleWalk.addPlan(key, made.index, shape.templateId - FIRST_TEMPLATE_ID, shape.stageStart, shape.fixedLength, shape.variableFacts);
      }
      return;
    }
    generalFlowSample(dg, s, end, expanded);
  }

  function generalFlowSample(dg: Buffer, s: number, end: number, expanded: boolean): void {
    const fixed = expanded ? 44 : 32;
    if (end - s < fixed) throw new SampleError(DropReason.malformed, s, `${expanded ? 'expanded ' : ''}flow sample of ${end - s} octets (needs ${fixed} before its records)`);
    view.reset();
    view.u32(V.sampleSequence!, u32(s));
    let q: number;
    if (expanded) {
      view.u8(V.sourceIdType!, u32(s + 4));
      view.u32(V.sourceIdIndex!, u32(s + 8));
      q = s + 12;
    } else {
      view.u8(V.sourceIdType!, dg[s + 4]!);
      view.u32(V.sourceIdIndex!, u32(s + 4) & 0xffffff);
      q = s + 8;
    }
    const rate = u32(q);
    view.u32(V.samplingRate!, rate);
    view.u32(V.samplePool!, u32(q + 4));
    view.u32(V.drops!, u32(q + 8));
    let inFormat: number, inValue: number, outFormat: number, outValue: number;
    if (expanded) {
      inFormat = u32(q + 12);
      inValue = u32(q + 16);
      outFormat = u32(q + 20);
      outValue = u32(q + 24);
      q += 28;
    } else {
      const i = u32(q + 12);
      const o = u32(q + 16);
      inFormat = i >>> 30;
      inValue = i & 0x3fffffff;
      outFormat = o >>> 30;
      outValue = o & 0x3fffffff;
      q += 20;
    }
    // Input: an ifIndex, 0 when unknown or when the packet came from the agent itself ("local").
    view.u32(V.inputInterface!, inFormat === IF_INDEX && inValue !== IF_LOCAL ? inValue : 0);
    let egress = 0;
    let status = 0;
    if (outFormat === IF_INDEX) {
      if (outValue === IF_LOCAL) status = CONSUMED_FOR_US;
      else {
        egress = outValue;
        status = FORWARDED;
      }
    } else if (outFormat === IF_DISCARD) {
      status = forwardingStatusOfDiscard(outValue);
      view.u32(V.discardReason!, outValue);
      view.mask |= Group.discard;
    } else if (outFormat === IF_MULTIPLE) {
      status = FORWARDED;
      view.u32(V.outputInterfaceCount!, outValue);
      view.mask |= Group.multipleOutputs;
    }
    view.u32(V.outputInterface!, egress);
    view.u8(V.forwardingStatus!, status);
    view.mask |= Group.sample;

    flowRecords(dg, q + 4, end, u32(q));

    // Counts: what was sampled (one packet), or scaled by the sampling rate to estimate what it stands for.
    const mult = scale && rate > 0 ? rate : 1;
    view.u64(V.packets!, mult);
    if (view.mask & Group.ip) view.u64(V.octets!, mult * view.get32(V.ipLength!));
    if (view.mask & Group.layer2) view.u64(V.layer2Octets!, mult * view.get32(V.frameLength!));
    if (view.tunnel !== 0) view.mask |= Group.tunnel;
    if (!emitFlow(dg)) throw new SampleError(DropReason.malformed, s, 'too many distinct record shapes from crafted input');
  }

  function u32ToView(at: number, v: number): void {
    cview[at] = v >>> 24;
    cview[at + 1] = v >>> 16;
    cview[at + 2] = v >>> 8;
    cview[at + 3] = v;
  }

  function counterSample(dg: Buffer, s: number, end: number, expanded: boolean): void {
    const fixed = expanded ? 16 : 12;
    if (end - s < fixed) throw new SampleError(DropReason.malformed, s, `${expanded ? 'expanded ' : ''}counter sample of ${end - s} octets (needs ${fixed} before its records)`);
    u32ToView(C_SEQUENCE, u32(s));
    let r: number;
    if (expanded) {
      cview[C_SOURCE_TYPE] = u32(s + 4);
      u32ToView(C_SOURCE_INDEX, u32(s + 8));
      r = s + 12;
    } else {
      cview[C_SOURCE_TYPE] = dg[s + 4]!;
      u32ToView(C_SOURCE_INDEX, u32(s + 4) & 0xffffff);
      r = s + 8;
    }
    setUint53(cviewDv, C_TIME, now[0]!);
    u32ToView(C_UPTIME, clock[0]!);
    let mask = CounterGroup.sample;
    const count = u32(r);
    r += 4;
    for (let j = 0; j < count; j++) {
      if (end - r < 8) throw new SampleError(DropReason.truncated, r, `counter record ${j + 1} of ${count} runs past its sample`);
      const format = u32(r);
      const length = u32(r + 4);
      const b = r + 8;
      if (length > end - b) throw new SampleError(DropReason.truncated, r, `counter record ${format >>> 12}:${format & 0xfff} of ${length} octets runs past its sample`);
      r = b + length;
      if (format === GENERIC_INTERFACE) {
        if (length < GENERIC_INTERFACE_LENGTH) throw new SampleError(DropReason.malformed, b, `generic interface counters of ${length} octets (needs ${GENERIC_INTERFACE_LENGTH})`);
        copyShort(DV, b, cviewDv, GENERIC_INTERFACE_AT, GENERIC_INTERFACE_LENGTH);
        mask |= CounterGroup.genericInterface;
      } else if (format === ETHERNET_INTERFACE) {
        if (length < ETHERNET_INTERFACE_LENGTH) throw new SampleError(DropReason.malformed, b, `Ethernet interface counters of ${length} octets (needs ${ETHERNET_INTERFACE_LENGTH})`);
        copyShort(DV, b, cviewDv, ETHERNET_INTERFACE_AT, ETHERNET_INTERFACE_LENGTH);
        mask |= CounterGroup.ethernetInterface;
      } else skipped[Skip.counterRecord]!++;
    }
    if (mask === CounterGroup.sample) {
      skipped[Skip.counterSampleEmpty]!++;
      return;
    }
    const shape = counterShapes.get(mask)!;
    startRecord(shape, shape.fixedLength);
    stage(shape);
  }

  const decodeSflow: DecodeFn = (context, received, address, port) => decodeRange(context, received, 0, received.length, address, port);
  decodeSflow.range = decodeRange;
  return decodeSflow;

  /** Decodes the datagram bytes[start, end). */
  function decodeRange(context: DecodeContext, bytes: Buffer, start: number, end: number, address: string, port: number): void {
    ctx = context;
    input = context.input;
    // A decoder bug thrown out of the last datagram must not leave staged records behind.
    sampleWalk.untouchAll();
    sampleWalk.walked();
    const length = end - start;
    // Where the datagram starts in the plan memory: where it lies when the receiver put it there
    // (plan-memory.ts receive areas), else at 0, copied in.
    let base = receivedAt(bytes, start, end);
    if (base >= 0) plans.inPlace++;
    else {
      base = 0;
      if (length > DATAGRAM_LENGTH) {
        ctx.drop(DropReason.malformed, { offset: 0, message: `sFlow datagram of ${length} octets is larger than any UDP payload` });
        return;
      }
      DATAGRAM.set(start === 0 && end === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + start, length));
    }
    const dg = DATAGRAM;
    const n = base + length;
    if (length < MIN_DATAGRAM) {
      ctx.drop(DropReason.truncated, { offset: 0, message: `sFlow datagram of ${length} octets is shorter than the ${MIN_DATAGRAM}-octet header` });
      return;
    }
    const version = u32(base);
    if (version !== SFLOW_VERSION) {
      ctx.drop(DropReason.badVersion, { offset: 0, message: `sFlow version ${version} given to the sFlow v5 decoder` });
      return;
    }
    const agentType = u32(base + 4);
    if (agentType !== 1 && agentType !== 2) {
      ctx.drop(DropReason.malformed, { offset: 4, message: `sFlow agent address type ${agentType} (expected 1 IPv4 or 2 IPv6) from ${address}:${port}` });
      return;
    }
    const v6 = agentType === 2;
    let p = base + (v6 ? 24 : 12);
    if (n < p + 16) {
      ctx.drop(DropReason.truncated, { offset: length, message: `sFlow datagram of ${length} octets is shorter than its ${p - base + 16}-octet header` });
      return;
    }
    const agent = agentName(dg, base + 8, v6);
    const subAgent = u32(p);
    const sequence = u32(p + 4);
    const uptime = u32(p + 8);
    const samples = u32(p + 12);
    p += 16;
    // The agent is the exporter, wherever its datagrams come from (they may be relayed): the session is
    // (agent address, sub-agent ID), the UDP source port is not part of it.
    session = ctx.session<Entry>('sflow', agent, 0, subAgent);
    state = session.protocolState as SflowState;
    if (!state) session.protocolState = state = { nextSequence: -1, uptime: 0, datagrams: 0, templates: [] };
    if (state.nextSequence >= 0 && sequence > state.nextSequence && sequence - state.nextSequence < 0x10000) lost += sequence - state.nextSequence;
    state.nextSequence = (sequence + 1) >>> 0;
    state.uptime = uptime;
    state.datagrams++;
    // The same for every flow sample of the datagram (only these lines write them in the view); the
    // arrival time is that of the receive batch (collect/arrival.ts), so it changes once per batch.
    const arrival = arrivalMs();
    if (arrival !== now[0]) {
      now[0] = arrival;
      const seconds = Math.floor(arrival / 1000);
      if (seconds !== exportSeconds) exportSeconds = seconds;
      view.u64(V.observationTimeMs!, arrival);
    }
    clock[0] = uptime;
    view.u32(V.agentUptimeMs!, uptime);
    setClock(arrival, uptime);
    converted = 0;

    // The WebAssembly walk decodes what it can (sample-walk.ts); each sample it stops at is decoded here.
    const walks = sampleWalk.walks;
    let i = 0;
    for (; ; i++) {
      let key = NOT_LAID_OUT;
      if (walks) {
        i = sampleWalk.walk(p, n, i, samples);
        p = sampleWalk.position();
        key = sampleWalk.stoppedKey();
      }
      if (i >= samples) break;
      if (n - p < 8) {
        ctx.drop(DropReason.truncated, { session: session.session, offset: p - base, message: `sFlow datagram ends after ${i} of its ${samples} samples` }, samples - i);
        break;
      }
      const format = u32(p);
      const length = u32(p + 4);
      const s = p + 8;
      if (length > n - s) {
        ctx.drop(DropReason.truncated, { session: session.session, offset: p - base, message: `sample ${i + 1} of ${samples} (${length} octets) runs past the datagram` }, samples - i);
        break;
      }
      p = s + length;
      try {
        if (format === FLOW_SAMPLE || format === FLOW_SAMPLE_EXPANDED) flowSample(dg, s, p, format === FLOW_SAMPLE_EXPANDED, key);
        else if (format === COUNTERS_SAMPLE || format === COUNTERS_SAMPLE_EXPANDED) counterSample(dg, s, p, format === COUNTERS_SAMPLE_EXPANDED);
        else skipped[Skip.sample]!++;
      } catch (e) {
        if (!(e instanceof SampleError)) throw e;
        ctx.drop(e.reason, { session: session.session, offset: e.offset - base, message: `sFlow sample ${i + 1} of ${samples} dropped: ${e.message}` }, 1);
      }
    }
    if (i === samples && p < n) packetsTrailingOctets.inc({ input: ctx.input, protocol: 'sflow' });
    const walked = sampleWalk.walked();
    plans.samples += walked;
    plans.staged += walked;
    plans.walked += walked;
    flush();
    if (converted > 0) ctx.counted('sflow', converted);
  }
}
