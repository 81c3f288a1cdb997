// Field-by-field comparison of what tshark decodes from the gateway's input and from its output.
// The rules (also in docs/testing.md):
//  - both sides are tshark's decode; a field is named by tshark's field name, which tshark shares
//    between NetFlow v5, v9 and IPFIX for the same element (cflow.srcaddr, cflow.octets, ...);
//  - a few names differ between the input's and the output's encoding and are aliased (times,
//    ALIASES below, and v9 option scopes, which become IPFIX scope elements: v9ScopeToIpfix);
//  - numbers compare by value (tshark prints some in hex: "0x1a" equals "26"), everything else as text;
//  - times compare as absolute milliseconds since the epoch: NetFlow v5/v9 sysUptime-relative
//    First/Last are converted by docs/netflow.md's formula (uptimeToAbsMs); IPFIX absolute times
//    are parsed from tshark's text;
//  - every field of an input record must be present with an equal value in one output record; the
//    output may carry more fields (e.g. v5 header values the gateway keeps as IEs). Records are
//    matched as a multiset, so packing and order may change. A field the gateway keeps under its
//    private enterprise number (tshark: cflow.enterprise_private_entry) matches by value.

import type { TsharkRecord } from './tshark.js';
import { secondsToMs } from './tshark.js';

export type Canonical = Map<string, string>;

/**
 * Keys never compared: padding; per-bit expansions whose names depend on the field length; the
 * duration tshark derives from start and end (those two are compared, and an exporter rounds them
 * separately per encoding); tshark's own annotations (_ws.*: expert info, malformed markers).
 */
const IGNORED = [/^cflow\.padding$/, /^cflow\.tcpflags\./, /^cflow\.template_frame$/, /^cflow\.timedelta$/, /^_ws\./];

/**
 * One element, two tshark names depending on how it was encoded. Applied to both sides, so either
 * name compares equal to the other.
 */
const ALIASES: Record<string, string> = {
  // IPFIX reduced-size encodings
  'cflow.octets64': 'cflow.octets',
  'cflow.packets64': 'cflow.packets',
  'cflow.tcpflags16': 'cflow.tcpflags',
  // v9 FLOW_SAMPLER_ID (48) longer than IANA's 1-octet samplerId becomes PSAMP selectorId (302)
  // (mappings/netflow-v9.yaml)
  'cflow.selector_id': 'cflow.sampler_id',
  // Cisco NSEL NF_F_USERNAME (40000) becomes userName (371) (mappings/netflow-v9-cisco.yaml)
  'cflow.aaa_username': 'cflow.user_name',
};

/** tshark's name for an enterprise-specific element of a PEN it does not know. */
const PRIVATE_ENTRY = 'cflow.enterprise_private_entry';
/** Canonical key of those values: compared by value, whatever input field they came from (see compareRecords). */
export const PRIVATE = '@private';

/**
 * A v9 option scope field as tshark shows it (scope_system/cache/template are raw bytes) → the IPFIX
 * scope element the gateway maps it to (mappings/netflow-v9.yaml `scopes`) under tshark's name for
 * that element, with the value as tshark prints that element. Null: the field is left out (a
 * zero-length scope, which the gateway drops).
 */
export function v9ScopeToIpfix(key: string, value: string): [string, string] | null {
  const bytes = value === '' ? [] : value.split(':').map((h) => parseInt(h, 16));
  const int = () => (bytes.length ? BigInt('0x' + value.replace(/:/g, '')).toString() : '0');
  switch (key) {
    case 'cflow.scope_system':
      if (bytes.length === 0) return null;
      if (bytes.length === 4) return ['cflow.exporter_addr', bytes.join('.')]; // exporterIPv4Address (130)
      if (bytes.length === 16) return ['cflow.exporter_addr_v6', ipv6Text(bytes)]; // exporterIPv6Address (131)
      return ['cflow.flow_exporter', int()]; // exportingProcessId (144)
    case 'cflow.scope_interface':
      return ['cflow.inputint', value]; // ingressInterface (10)
    case 'cflow.scope_linecard':
      return ['cflow.scope_linecard', value]; // lineCardId (141): tshark keeps the name
    case 'cflow.scope_cache':
      return bytes.length ? ['cflow.mp_id', int()] : null; // meteringProcessId (143)
    case 'cflow.scope_template':
      return bytes.length ? ['cflow.template_id', int()] : null; // templateId (145)
    default:
      return [key, value];
  }
}

/** RFC 5952 text of an IPv6 address (the WHATWG URL parser serializes it that way, as tshark does). */
function ipv6Text(bytes: number[]): string {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const ABS_TIME = /^(\w{3}) +(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?: UTC)?$/;

/** tshark's absolute time text ("Jan  1, 2024 00:00:16.955000000 UTC", run with TZ=UTC) to ms since the epoch. */
export function absTimeToMs(text: string): number {
  const m = text.match(ABS_TIME);
  if (!m || MONTHS[m[1]!] === undefined) throw new Error(`not a tshark absolute time: ${text}`);
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  return Date.UTC(Number(m[3]), MONTHS[m[1]!]!, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) + ms;
}

/**
 * v5/v9 sysUptime-relative time (tshark prints seconds) to absolute ms (docs/netflow.md "Timestamps"):
 * exportMs = unix_secs·1000 (+ ⌊unix_nsecs/10^6⌋ for v5), time = exportMs − signed32(sysUptime − t).
 */
export function uptimeToAbsMs(rec: TsharkRecord, relative: string): number {
  if (rec.sysUptimeMs === undefined) throw new Error('record has no sysUptime');
  const exportMs = rec.exportTime * 1000 + (rec.version === 5 ? Math.floor((rec.exportNanos ?? 0) / 1e6) : 0);
  const age = (rec.sysUptimeMs - secondsToMs(relative)) | 0; // signed 32-bit: uptime wrap and skew
  return Math.max(0, exportMs - age);
}

/**
 * Numbers by value: hex ("0x1a") and decimal alike; tshark's raw-bytes rendering ("07:e9") of up to 8
 * octets too, because a field kept under a private enterprise number shows as raw bytes where the
 * input showed the typed number. Applied to both sides.
 */
function canonicalValue(v: string): string {
  if (/^0x[0-9a-f]+$/i.test(v)) return BigInt(v).toString();
  if (/^-?\d+$/.test(v)) return BigInt(v).toString();
  if (/^[0-9a-f]{2}(:[0-9a-f]{2}){0,7}$/i.test(v)) return BigInt('0x' + v.replace(/:/g, '')).toString();
  return v;
}

export interface CanonicalOptions {
  /** Extra key aliases (input tshark name → output tshark name). */
  aliases?: Record<string, string>;
}

/** A record's comparable fields: aliased names, normalized values, absolute times under "@flowStart"/"@flowEnd". */
export function canonical(rec: TsharkRecord, opts: CanonicalOptions = {}): Canonical {
  const out: Canonical = new Map();
  const aliases = { ...ALIASES, ...(opts.aliases ?? {}) };
  for (const [rawKey, raw] of Object.entries(rec.fields)) {
    if (IGNORED.some((re) => re.test(rawKey))) continue;
    let values = Array.isArray(raw) ? raw : [raw];
    let key = aliases[rawKey] ?? rawKey;
    if (rec.version === 9 && rawKey.startsWith('cflow.scope_')) {
      const mapped = values.map((v) => v9ScopeToIpfix(rawKey, v)).filter((m): m is [string, string] => m !== null);
      if (mapped.length === 0) continue;
      key = mapped[0]![0];
      values = mapped.map((m) => m[1]);
    }
    let vals: string[];
    if ((rawKey === 'cflow.timestart' || rawKey === 'cflow.timeend') && (rec.version === 5 || rec.version === 9)) {
      key = rawKey === 'cflow.timestart' ? '@flowStart' : '@flowEnd';
      vals = values.map((v) => String(uptimeToAbsMs(rec, v)));
    } else if (rawKey === 'cflow.abstimestart' || rawKey === 'cflow.abstimeend') {
      key = rawKey === 'cflow.abstimestart' ? '@flowStart' : '@flowEnd';
      // tshark quirk: a v9 FIRST/LAST_SWITCHED of 0 (uptime zero) is shown as an absolute time of
      // 1970-01-01T00:00:00Z instead of a relative 0.000 s
      const uptimeZero = (rec.version === 9 || rec.version === 5) && rec.sysUptimeMs !== undefined;
      vals = values.map((v) => {
        const ms = absTimeToMs(v);
        return String(ms === 0 && uptimeZero ? uptimeToAbsMs(rec, '0') : ms);
      });
    } else {
      vals = values.map(canonicalValue);
    }
    if (rawKey === PRIVATE_ENTRY) key = PRIVATE;
    const prev = out.get(key);
    out.set(key, prev === undefined ? vals.join('|') : `${prev}|${vals.join('|')}`);
  }
  return out;
}

export interface Mismatch {
  /** The input record (its frame number and canonical fields). */
  frame: number;
  input: Record<string, string>;
  /** The closest output record's disagreeing fields: key → [input value, output value or undefined]. */
  closest: Record<string, [string, string | undefined]>;
}

export interface Comparison {
  matched: number;
  unmatched: Mismatch[];
  /** Output records no input record claimed. */
  surplus: number;
}

function signature(c: Canonical, keys: readonly string[]): string | null {
  const parts: string[] = [];
  for (const k of keys) {
    const v = c.get(k);
    if (v === undefined) return null;
    parts.push(`${k}=${v}`);
  }
  return parts.join('\n');
}

/**
 * Match every input record to a distinct output record carrying all of its fields with equal values.
 * `skip` drops input fields from the comparison (by canonical key) where a documented rule says the
 * value changes (none by default).
 */
export function compareRecords(inputs: readonly Canonical[], outputs: readonly Canonical[], frames: readonly number[] = [], skip: readonly string[] = []): Comparison {
  const groups = new Map<string, number[]>();
  inputs.forEach((c, i) => {
    const keys = [...c.keys()].filter((k) => !skip.includes(k)).sort();
    const id = keys.join(',');
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(i);
  });
  const used = new Set<number>();
  let matched = 0;
  const unmatched: Mismatch[] = [];
  for (const [id, members] of groups) {
    const keys = id === '' ? [] : id.split(',');
    const pool = new Map<string, number[]>();
    outputs.forEach((o, j) => {
      const sig = signature(o, keys);
      if (sig === null) return;
      if (!pool.has(sig)) pool.set(sig, []);
      pool.get(sig)!.push(j);
    });
    for (const i of members) {
      const sig = signature(inputs[i]!, keys)!;
      const candidates = pool.get(sig);
      const j = candidates?.find((x) => !used.has(x)) ?? matchWithPrivate(inputs[i]!, keys, outputs, used);
      if (j !== undefined) {
        used.add(j);
        matched++;
        continue;
      }
      unmatched.push({ frame: frames[i] ?? -1, input: Object.fromEntries(keys.map((k) => [k, inputs[i]!.get(k)!])), closest: closestDiff(inputs[i]!, keys, outputs, used) });
    }
  }
  return { matched, unmatched, surplus: outputs.length - used.size };
}

/**
 * Slow path for an input field the gateway kept under its private enterprise number (a v9 type with
 * no IANA equivalent): tshark names it in the input but shows it as an anonymous enterprise entry in
 * the output. Such a field matches when its value is among the output record's private entries
 * (each entry used once); every other field must be equal as usual.
 */
function matchWithPrivate(input: Canonical, keys: readonly string[], outputs: readonly Canonical[], used: Set<number>): number | undefined {
  for (let j = 0; j < outputs.length; j++) {
    if (used.has(j)) continue;
    const o = outputs[j]!;
    const priv = o.get(PRIVATE);
    if (priv === undefined) continue;
    const pool = priv.split('|');
    let ok = true;
    for (const k of keys) {
      const want = input.get(k)!;
      const have = o.get(k);
      if (have !== undefined) {
        if (have !== want) ok = false;
      } else {
        for (const v of want.split('|')) {
          const at = pool.indexOf(v);
          if (at < 0) ok = false;
          else pool.splice(at, 1);
        }
      }
      if (!ok) break;
    }
    if (ok) return j;
  }
  return undefined;
}

function closestDiff(input: Canonical, keys: readonly string[], outputs: readonly Canonical[], used: Set<number>): Record<string, [string, string | undefined]> {
  let best: Canonical | undefined;
  let bestScore = -1;
  outputs.forEach((o, j) => {
    if (used.has(j)) return;
    let score = 0;
    for (const k of keys) if (o.get(k) === input.get(k)) score++;
    if (score > bestScore) {
      bestScore = score;
      best = o;
    }
  });
  const diff: Record<string, [string, string | undefined]> = {};
  for (const k of keys) if (best?.get(k) !== input.get(k)) diff[k] = [input.get(k)!, best?.get(k)];
  return diff;
}

/** A readable failure message for the first few mismatches. */
export function describeMismatches(c: Comparison, limit = 5): string {
  return c.unmatched
    .slice(0, limit)
    .map((m) => `input frame ${m.frame}: no output record equal on all fields; closest differs in ${JSON.stringify(m.closest)}`)
    .join('\n');
}
