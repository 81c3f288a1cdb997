// Data Records as plain objects, for the edges that need them (collect --json, inspect): IE names as keys,
// values by abstract data type (RFC 7011 §6). Never used on the forwarding path.

import { VARLEN } from './constants.js';
import type { Template } from './template.js';
import type { Registry } from '../model/types.js';
import { formatIPv4, formatIPv6, formatMac } from '../util/address.js';

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970), for dateTimeMicro/Nanoseconds. */
const NTP_UNIX_OFFSET = 2208988800;

/** Record framing lives with the reader; re-exported here for the edges that render what they frame. */
export { recordEnd } from './reader.js';

/** The record at buf[start, end) as an object; a repeated IE becomes an array of its values. */
export function renderRecord(t: Template, buf: Buffer, start: number, end: number, registry: Registry): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let o = start;
  for (const f of t.fields) {
    let len = f.length;
    if (len === VARLEN) {
      if (o >= end) break;
      len = buf[o]!;
      o++;
      if (len === 255) {
        if (o + 2 > end) break;
        len = buf.readUInt16BE(o);
        o += 2;
      }
    }
    if (o + len > end) break;
    const ie = registry.get(f.enterprise, f.id);
    const name = ie ? ie.name : f.enterprise ? `e${f.enterprise}id${f.id}` : `id${f.id}`;
    const value = renderValue(ie?.dataType, buf, o, len);
    // Rendered values are never arrays themselves, so an array here always means "repeated IE".
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
    o += len;
  }
  return out;
}

function unsigned(buf: Buffer, o: number, len: number): number | string {
  if (len <= 6) return len === 0 ? 0 : buf.readUIntBE(o, len);
  let v = 0n;
  for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(buf[o + i]!);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function signed(buf: Buffer, o: number, len: number): number | string {
  if (len <= 6) return len === 0 ? 0 : buf.readIntBE(o, len);
  let v = 0n;
  for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(buf[o + i]!);
  v = BigInt.asIntN(len * 8, v);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** NTP-format timestamp (RFC 7011 §6.1.9/10): seconds since 1900 and a binary fraction. */
function ntpIso(buf: Buffer, o: number, micro: boolean): string {
  const secs = buf.readUInt32BE(o) - NTP_UNIX_OFFSET;
  let frac = buf.readUInt32BE(o + 4);
  if (micro) frac = (frac & 0xfffff800) >>> 0; // §6.1.9: the 11 lowest bits are not significant
  const nanos = Math.floor((frac / 4294967296) * 1e9);
  const base = new Date(secs * 1000);
  if (Number.isNaN(base.getTime())) return `${secs}.${nanos}`;
  return base.toISOString().replace(/\.\d{3}Z$/, `.${String(nanos).padStart(9, '0').slice(0, micro ? 6 : 9)}Z`);
}

export function renderValue(type: string | undefined, buf: Buffer, o: number, len: number): unknown {
  switch (type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      return unsigned(buf, o, len);
    case 'signed8':
    case 'signed16':
    case 'signed32':
    case 'signed64':
      return signed(buf, o, len);
    case 'float32':
      return len === 4 ? buf.readFloatBE(o) : hex(buf, o, len);
    case 'float64':
      return len === 8 ? buf.readDoubleBE(o) : len === 4 ? buf.readFloatBE(o) : hex(buf, o, len);
    case 'boolean':
      return len === 1 && (buf[o] === 1 || buf[o] === 2) ? buf[o] === 1 : hex(buf, o, len);
    case 'ipv4Address':
      return len === 4 ? formatIPv4(buf, o) : hex(buf, o, len);
    case 'ipv6Address':
      return len === 16 ? formatIPv6(buf, o) : hex(buf, o, len);
    case 'macAddress':
      return len === 6 ? formatMac(buf, o) : hex(buf, o, len);
    case 'string':
      return buf.toString('utf8', o, o + len);
    case 'dateTimeSeconds':
      return len === 4 ? iso(buf.readUInt32BE(o) * 1000) : hex(buf, o, len);
    case 'dateTimeMilliseconds': {
      const v = unsigned(buf, o, len);
      return typeof v === 'number' ? iso(v) : v;
    }
    case 'dateTimeMicroseconds':
      return len === 8 ? ntpIso(buf, o, true) : hex(buf, o, len);
    case 'dateTimeNanoseconds':
      return len === 8 ? ntpIso(buf, o, false) : hex(buf, o, len);
    default:
      // octetArray, structured data (RFC 6313) and IEs the registry does not know.
      return type === undefined && len > 0 && len <= 8 ? unsigned(buf, o, len) : hex(buf, o, len);
  }
}

function hex(buf: Buffer, o: number, len: number): string {
  return buf.toString('hex', o, o + len);
}
