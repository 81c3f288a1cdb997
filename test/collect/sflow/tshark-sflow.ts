// tshark as the judge of sFlow captures: its sflow dissector's `-T json` output, read with key order and
// repeated keys kept (a sampled header that carries two Ethernet or IP layers, a tunnel, repeats "eth" and
// "ip"; JSON.parse would keep only the last), turned into one object per sample.

import { requireOrSkip, run, toolPath } from '../../helpers/tools.js';

export { requireOrSkip };

/** A JSON value with objects as ordered entry lists (repeated keys kept). */
export type JNode = string | number | boolean | null | JNode[] | JObject;
export class JObject {
  constructor(readonly entries: [string, JNode][]) {}
  /** The first value under `key` (a string), or undefined. */
  s(key: string): string | undefined {
    for (const [k, v] of this.entries) if (k === key) return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
    return undefined;
  }
  n(key: string): number | undefined {
    const v = this.s(key);
    return v === undefined ? undefined : Number(v);
  }
  /** The first object under `key`. */
  o(key: string): JObject | undefined {
    for (const [k, v] of this.entries) if (k === key && v instanceof JObject) return v;
    return undefined;
  }
}

/** A JSON parser that keeps object keys in order, repeated ones included. */
export function parseOrdered(text: string): JNode {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    // JSON.parse handles the escapes of one string literal
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): JNode => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, JNode][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return new JObject(entries);
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i++] !== ':') throw new Error(`json: ':' expected at ${i - 1}`);
        entries.push([k, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return new JObject(entries);
        } else throw new Error(`json: ',' or '}' expected at ${i}`);
      }
    }
    if (c === '[') {
      i++;
      const out: JNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return out;
        } else throw new Error(`json: ',' or ']' expected at ${i}`);
      }
    }
    if (c === '"') return str();
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 40));
    if (!m) throw new Error(`json: unexpected ${c} at ${i}`);
    i += m[0].length;
    return JSON.parse(m[0]) as JNode;
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`json: trailing text at ${i}`);
  return v;
}

/** One sample as tshark decoded it. */
export interface TsharkSample {
  /** 1-based frame number. */
  frame: number;
  agent: string;
  subAgent: number;
  /** Datagram sequence number. */
  datagramSequence: number;
  /** sample_type: 1 flow, 2 counters, 3 expanded flow, 4 expanded counters (others: what tshark saw). */
  type: number;
  /** The sample's own fields (sflow.flow_sample.*, sflow.counters_sample.*). */
  sample: JObject;
  /** Its flow or counter records, by tshark's title ("Raw packet header", "Extended switch data", ...). */
  records: [string, JObject][];
  /** Layers inside a tunnel of the sampled header (see tsharkSflow), in order. */
  tunnelLayers: [string, JObject][];
}

export interface TsharkDatagram {
  frame: number;
  agent: string;
  subAgent: number;
  sequence: number;
  /** NumSamples as the datagram header says. */
  numSamples: number;
  samples: TsharkSample[];
}

/** Every sFlow datagram of a capture with its samples, as tshark's sflow dissector decodes them. */
export async function tsharkSflow(file: string, timeoutMs = 120_000): Promise<TsharkDatagram[]> {
  const bin = toolPath('tshark');
  if (!bin) throw new Error('tshark is not installed (Debian: tshark)');
  // No -J filter: tshark puts the layers inside a tunnel of a sampled header (VXLAN's inner Ethernet, IP,
  // ...) at the top level of the frame, after the sflow layer, not in the header's tree.
  const args = ['-r', file, '-Y', 'sflow', '-T', 'json'];
  const r = await run(bin, args, { timeoutMs, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  if (r.timedOut || r.code !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${r.stderr}`);
  const packets = parseOrdered(r.stdout || '[]') as JObject[];
  const out: TsharkDatagram[] = [];
  for (const p of packets) {
    const layers = p.o('_source')!.o('layers')!;
    const frame = layers.o('frame')!.n('frame.number')!;
    const sflowAt = layers.entries.findIndex(([k]) => k === 'sflow');
    const trailing = layers.entries.slice(sflowAt + 1).filter((e): e is [string, JObject] => e[1] instanceof JObject);
    for (const [k, v] of layers.entries) {
      if (k !== 'sflow' || !(v instanceof JObject)) continue;
      const d: TsharkDatagram = {
        frame,
        agent: v.s('sflow_245.agent') ?? v.s('sflow_245.agent.v6') ?? '',
        subAgent: v.n('sflow_245.sub_agent_id')!,
        sequence: v.n('sflow_245.sequence_number')!,
        numSamples: v.n('sflow_245.numsamples')!,
        samples: [],
      };
      for (const [, s] of v.entries) {
        if (!(s instanceof JObject) || s.s('sflow_245.sampletype') === undefined) continue;
        const records: [string, JObject][] = [];
        for (const [rk, rv] of s.entries) if (rv instanceof JObject && (rv.s('sflow_245.flow_record_format') !== undefined || rv.s('sflow_245.counters_record_format') !== undefined)) records.push([rk, rv]);
        d.samples.push({ frame, agent: d.agent, subAgent: d.subAgent, datagramSequence: d.sequence, type: s.n('sflow_245.sampletype')!, sample: s, records, tunnelLayers: [] });
      }
      // Layers tshark dissected after the sflow layer continue the one sampled header that ends at a tunnel;
      // anything else there (a heuristic dissector's guess at a sampled payload) belongs to no header.
      const tunnelled = d.samples.flatMap((x) => x.records.filter(([n, r]) => n === 'Raw packet header' && endsInTunnel(r)).map(() => x));
      if (tunnelled.length > 1 && trailing.length > 0) throw new Error(`frame ${frame}: ${tunnelled.length} tunnelled headers, cannot attribute the layers after sflow`);
      if (tunnelled.length === 1) tunnelled[0]!.tunnelLayers = trailing;
      out.push(d);
    }
  }
  return out;
}

/** The layers tshark dissected in a raw packet header record, in order ("eth", "vlan", "ip", "tcp", ...). */
export function headerLayers(rec: JObject): [string, JObject][] {
  const tree = rec.o('sflow_245.header_tree');
  if (!tree) return [];
  return tree.entries.filter((e): e is [string, JObject] => e[1] instanceof JObject);
}

/** UDP ports of the UDP tunnels (VXLAN, GTP-U) whose payload tshark dissects outside the header tree. */
const TUNNEL_PORTS = new Set([4789, 2152]);

function endsInTunnel(rec: JObject): boolean {
  const last = headerLayers(rec).at(-1);
  if (!last) return false;
  if (last[0] === 'gre') return true;
  return last[0] === 'udp' && TUNNEL_PORTS.has(last[1].n('udp.dstport') ?? -1);
}
