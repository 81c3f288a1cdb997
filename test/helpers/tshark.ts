// tshark as a judge: its cflow dissector (NetFlow v5/v9 and IPFIX) decodes captures, we read its
// `-T json` output (one object per data record, unlike `-T fields`, which misaligns records of
// different templates in one packet) and its expert info (malformed and warning frames).

import { run, toolPath } from './tools.js';

/** Ports tshark decodes as cflow without being told (udp 2055/9996/4739, tcp/sctp 4739). */
const CFLOW_DEFAULT_UDP = new Set([2055, 9996, 4739]);

export interface TsharkOptions {
  /** Extra UDP ports to decode as cflow (`-d udp.port==N,cflow`). */
  udpPorts?: readonly number[];
  /** Extra TCP ports to decode as cflow. */
  tcpPorts?: readonly number[];
  /** Display filter applied before decoding records, e.g. "udp.srcport == 9995". */
  filter?: string;
  timeoutMs?: number;
}

/** One data record (flow record or options data record) as tshark decoded it. */
export interface TsharkRecord {
  /** Frame number in the capture (1-based). */
  frame: number;
  /** Capture time of the frame, seconds since the epoch. */
  frameTime: number;
  src: string;
  srcPort: number;
  /** 5, 9 or 10. */
  version: number;
  /** Export time in seconds since the epoch (v5/v9 unix_secs, IPFIX exportTime). */
  exportTime: number;
  /** v5 header unix_nsecs. */
  exportNanos?: number;
  /** v5/v9 header sysUptime in milliseconds. */
  sysUptimeMs?: number;
  sequence: number;
  /** v9 source id or IPFIX Observation Domain ID; v5: engine type << 8 | engine id. */
  domain: number;
  /** Template id of the data set (0 for v5). */
  setId: number;
  /** The record belongs to an options template (as far as the capture showed its definition). */
  options: boolean;
  /**
   * Every field tshark printed for the record, subtrees flattened, keyed by tshark field name
   * ("cflow.srcaddr", "cflow.octets", ...). A name that occurs more than once (reverse fields of
   * RFC 5103 biflows reuse the forward names, repeated unknown fields) holds an array in order.
   */
  fields: Record<string, string | string[]>;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function cflowArgs(opts: TsharkOptions): string[] {
  const args: string[] = [];
  for (const p of opts.udpPorts ?? []) if (!CFLOW_DEFAULT_UDP.has(p)) args.push('-d', `udp.port==${p},cflow`);
  for (const p of opts.tcpPorts ?? []) if (p !== 4739) args.push('-d', `tcp.port==${p},cflow`);
  return args;
}

function tsharkBin(): string {
  const bin = toolPath('tshark');
  if (!bin) throw new Error('tshark is not installed (Debian: tshark)');
  return bin;
}

// tshark prints absolute times in the local zone unless told otherwise: pin it.
const TSHARK_ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

/** Add a flattened value, turning repeated names into arrays. */
function put(out: Record<string, string | string[]>, key: string, value: string | string[]) {
  const prev = out[key];
  if (prev === undefined) out[key] = value;
  else out[key] = [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(value) ? value : [value])];
}

function flatten(node: JsonObject, out: Record<string, string | string[]>) {
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string') put(out, key, value);
    else if (Array.isArray(value)) {
      for (const v of value) {
        if (typeof v === 'string') put(out, key, v);
        else if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, out);
      }
    } else if (value && typeof value === 'object') flatten(value, out);
  }
}

function str(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Seconds (tshark prints relative times as "235.119000000") to integer milliseconds. */
export function secondsToMs(s: string): number {
  const [int, frac = ''] = s.split('.');
  return Number(int) * 1000 + Number((frac + '000').slice(0, 3));
}

const SET_KEY = /^(?:Flow)?Set \d+ \[id=(\d+)\]/;
const FLOW_KEY = /^(?:Flow|pdu) \d+/;
const TEMPLATE_KEY = /^(Options )?Template \(Id = (\d+)/;

/** Turn one frame's cflow layer(s) into records; `optionsTemplates` tracks what the capture defined. */
function recordsOfFrame(layers: JsonObject, optionsTemplates: Set<string>): TsharkRecord[] {
  const frame = layers['frame'] as JsonObject;
  const ip = (layers['ip'] ?? layers['ipv6']) as JsonObject | undefined;
  const udp = (layers['udp'] ?? layers['tcp']) as JsonObject | undefined;
  const base = {
    frame: Number(str(frame, 'frame.number')),
    frameTime: Number(str(frame, 'frame.time_epoch')),
    src: ip ? (str(ip, 'ip.src') ?? str(ip, 'ipv6.src') ?? '') : '',
    srcPort: udp ? Number(str(udp, 'udp.srcport') ?? str(udp, 'tcp.srcport')) : 0,
  };
  const out: TsharkRecord[] = [];
  for (const pdu of asArray(layers['cflow'] as JsonObject | JsonObject[] | undefined)) {
    const header: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(pdu)) {
      if (typeof v === 'string') header[k] = v;
      else if (k === 'cflow.timestamp_tree' && v && typeof v === 'object' && !Array.isArray(v)) flatten(v, header);
    }
    const h = (k: string) => {
      const v = header[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const version = Number(h('cflow.version'));
    const exportTime = Number(h('cflow.unix_secs') ?? h('cflow.exporttime'));
    const common = {
      ...base,
      version,
      exportTime,
      exportNanos: h('cflow.unix_nsecs') !== undefined ? Number(h('cflow.unix_nsecs')) : undefined,
      sysUptimeMs: h('cflow.sysuptime') !== undefined ? secondsToMs(h('cflow.sysuptime')!) : undefined,
      sequence: Number(h('cflow.sequence')),
      domain:
        version === 5
          ? (Number(h('cflow.engine_type') ?? 0) << 8) | Number(h('cflow.engine_id') ?? 0)
          : Number(h('cflow.source_id') ?? h('cflow.od_id') ?? 0),
    };
    for (const [key, value] of Object.entries(pdu)) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
      if (version === 5 && FLOW_KEY.test(key)) {
        const fields: Record<string, string | string[]> = {};
        flatten(value, fields);
        out.push({ ...common, setId: 0, options: false, fields });
        continue;
      }
      const set = key.match(SET_KEY);
      if (!set) continue;
      const setId = Number(set[1]);
      if (setId < 256) {
        // (options) template set: remember which ids are options templates
        for (const [tk] of Object.entries(value)) {
          const t = tk.match(TEMPLATE_KEY);
          if (t) {
            const id = `${base.src}/${common.domain}/${t[2]}`;
            if (t[1]) optionsTemplates.add(id);
            else optionsTemplates.delete(id);
          }
        }
        continue;
      }
      for (const [fk, fv] of Object.entries(value)) {
        if (!FLOW_KEY.test(fk)) continue;
        for (const rec of asArray(fv as JsonObject | JsonObject[])) {
          const fields: Record<string, string | string[]> = {};
          flatten(rec, fields);
          out.push({ ...common, setId, options: optionsTemplates.has(`${base.src}/${common.domain}/${setId}`), fields });
        }
      }
    }
  }
  return out;
}

/**
 * Decode a capture (pcap/pcapng, or an IPFIX file, which tshark also reads) with tshark's cflow
 * dissector and return one object per data record, in capture order.
 */
export async function tsharkJson(file: string, opts: TsharkOptions = {}): Promise<TsharkRecord[]> {
  const args = ['-r', file, '-T', 'json', '--no-duplicate-keys', ...cflowArgs(opts)];
  args.push('-Y', opts.filter ? `cflow && (${opts.filter})` : 'cflow');
  const r = await run(tsharkBin(), args, { timeoutMs: opts.timeoutMs ?? 120_000, env: TSHARK_ENV });
  if (r.timedOut || r.code !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${r.stderr}`);
  const packets = JSON.parse(r.stdout || '[]') as { _source: { layers: JsonObject } }[];
  const optionsTemplates = new Set<string>();
  return packets.flatMap((p) => recordsOfFrame(p._source.layers, optionsTemplates));
}

export interface MalformedReport {
  /** Frames tshark marks malformed or with an expert item of severity Warning or above. */
  count: number;
  /** "frame: expert messages" per such frame, for the failure message. */
  frames: string[];
}

/** Count malformed/warning frames: `_ws.malformed || _ws.expert.severity >= "Warning"`. */
export async function tsharkMalformed(file: string, opts: TsharkOptions = {}): Promise<MalformedReport> {
  const filter = '_ws.malformed || _ws.expert.severity >= "Warning"';
  const args = ['-r', file, ...cflowArgs(opts), '-Y', opts.filter ? `(${filter}) && (${opts.filter})` : filter];
  args.push('-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message', '-E', 'occurrence=a', '-E', 'separator=|');
  const r = await run(tsharkBin(), args, { timeoutMs: opts.timeoutMs ?? 120_000, env: TSHARK_ENV });
  if (r.timedOut || r.code !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${r.stderr}`);
  const frames = r.stdout.split('\n').filter((l) => l.trim().length > 0).map((l) => l.replace('|', ': '));
  return { count: frames.length, frames };
}

/** Number of frames tshark reads from a capture (all protocols). */
export async function tsharkFrameCount(file: string): Promise<number> {
  const r = await run(tsharkBin(), ['-r', file, '-T', 'fields', '-e', 'frame.number'], { timeoutMs: 60_000, env: TSHARK_ENV });
  if (r.code !== 0) throw new Error(`tshark -r ${file}: exit ${r.code}\n${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

/** tshark could not decode the record properly (its own malformed/length-mismatch markers are in it). */
export function isMalformed(rec: TsharkRecord): boolean {
  return Object.keys(rec.fields).some((k) => k === '_ws.malformed' || k === '_ws.type_length.mismatch');
}
