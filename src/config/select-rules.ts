// Values of `select` rules (docs/config.md): unsigned integer ranges and address prefixes, parsed once at
// load time into the shapes src/mediate/select.ts compiles. Each parser returns the value or a message.

import type { AddressPrefix, NumberRange, SelectRule } from './types.js';
import { addressToBytes } from '../collect/session.js';

/** Rule keys: session-level ones and the Information Elements the others read. */
export const SELECT_KEYS = ['exporter', 'odid', 'ingressInterface', 'egressInterface', 'bgpSourceAsNumber', 'bgpDestinationAsNumber', 'sourceAddress', 'destinationAddress'] as const;
export type SelectKey = (typeof SELECT_KEYS)[number];
export const PREFIX_KEYS: readonly SelectKey[] = ['exporter', 'sourceAddress', 'destinationAddress'];

/** 7, "7", or "10-20" (inclusive), 0 … 2^32−1. */
export function parseRange(v: unknown): NumberRange | string {
  const max = 0xffffffff;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= max ? [v, v] : `${v} is not an integer from 0 to ${max}`;
  if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(v);
    if (m) {
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (lo <= hi && hi <= max) return [lo, hi];
    }
  }
  return `${JSON.stringify(v)} is not a number or a range LOW-HIGH (e.g. 10-20)`;
}

/** "192.0.2.0/24", "2001:db8::/32", or an address alone (/32, /128). */
export function parsePrefix(v: unknown): AddressPrefix | string {
  if (typeof v !== 'string') return `${JSON.stringify(v)} is not an address prefix (e.g. 192.0.2.0/24 or 2001:db8::/32)`;
  const m = /^\s*([0-9a-fA-F:.]+)(?:\/(\d{1,3}))?\s*$/.exec(v);
  const bad = `"${v}" is not an address prefix (e.g. 192.0.2.0/24 or 2001:db8::/32)`;
  if (!m) return bad;
  const text = m[1]!;
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(text);
  if (!v4 && !(text.includes(':') && /^[0-9a-fA-F:]+$/.test(text) && (text.match(/::/g)?.length ?? 0) <= 1)) return bad;
  if (v4 && text.split('.').some((p) => Number(p) > 255)) return bad;
  const bytes = [...addressToBytes(text)];
  const max = bytes.length * 8;
  const length = m[2] === undefined ? max : Number(m[2]);
  if (length > max) return `"${v}": prefix length ${length} is longer than ${max}`;
  // Host bits are cleared so that the rule means exactly the network it names.
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { bytes, length };
}

/** One rule from plain values; problems are reported per key. */
export function parseRule(values: Partial<Record<SelectKey, unknown>>, fail: (key: SelectKey, message: string) => void): SelectRule {
  const rule: SelectRule = {};
  for (const k of SELECT_KEYS) {
    const raw = values[k];
    if (raw === undefined) continue;
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) {
      fail(k, 'must name at least one value');
      continue;
    }
    if (PREFIX_KEYS.includes(k)) {
      const out: AddressPrefix[] = [];
      for (const x of list) {
        const p = parsePrefix(x);
        if (typeof p === 'string') fail(k, p);
        else out.push(p);
      }
      (rule as Record<string, unknown>)[k] = out;
    } else {
      const out: NumberRange[] = [];
      for (const x of list) {
        const r = parseRange(x);
        if (typeof r === 'string') fail(k, r);
        else out.push(r);
      }
      (rule as Record<string, unknown>)[k] = out;
    }
  }
  return rule;
}
