// The NetFlow v9 mapping tables: mappings/netflow-v9.yaml (the base rules, scope types, sampler fields)
// plus every vendor table mappings/netflow-v9-*.yaml (Cisco NSEL, ntop, ...). Together they answer, for a
// v9 field (type, length) of an incoming template, which IPFIX field it becomes (docs/netflow.md):
//
//   1. length 0                       → left out of the output template
//   2. an explicit `fields` entry     → that IE (first entry whose `length` matches, if it has one)
//   3. type < ianaBelow, or listed in `ianaAligned`
//                                     → the IANA IE with the same number
//   4. inside a vendor `ranges` entry → (enterprise, type + offset)
//   5. otherwise                      → kept under the configured PEN: (netflow9Enterprise, type) for
//                                       types < 32768, (netflow9HighEnterprise, type − 32768) above
//
// Steps 2 and 3 only apply when the length is a valid encoding of the IE's type (a 2-octet samplerId, a
// 9-octet counter, a variable-length address); otherwise the field falls through to the next rule and in
// the end stays under the PEN, as octets, so the output is always valid IPFIX and nothing is dropped.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VARLEN } from '../ipfix/constants.js';
import type { FieldSpecifier } from '../ipfix/template.js';
import type { MappingConfig } from '../config/types.js';
import type { InformationElement, Registry } from '../model/types.js';
import { lengthFits } from './elements.js';
import { MappingSource } from './source.js';
import { TRANSFORMS, type TransformName } from './transforms.js';

export const NETFLOW9_TABLE_FILE = 'netflow-v9.yaml';
const VENDOR_TABLE = /^netflow-v9-[A-Za-z0-9_.-]+\.ya?ml$/;

/** How one v9 field (or scope field) is carried in IPFIX. */
export interface FieldTarget {
  readonly spec: FieldSpecifier;
  /** 'copy' for fixed octets, 'varlen' for variable-length, 'uptime' for a sysUptime time. */
  readonly kind: 'copy' | 'varlen' | 'uptime';
  /** Which rule decided: table entry (file:line), IANA, vendor range or the PEN fallback. */
  readonly rule: 'table' | 'iana' | 'range' | 'pen';
  /** For 'table' and 'range': where the rule is written (file:line). */
  readonly where?: string;
}

interface TableEntry {
  readonly type: number;
  /** Only for fields of exactly this length (undefined: any length). */
  readonly length?: number;
  readonly ie: InformationElement;
  readonly transform?: TransformName;
  readonly where: string;
}

interface RangeEntry {
  readonly from: number;
  readonly to: number;
  readonly enterprise: number;
  readonly offset: number;
  readonly where: string;
}

export interface SamplerFields {
  /** v9 field types carrying the sampler id (FLOW_SAMPLER_ID). */
  readonly id: readonly number[];
  /** ... the 1-in-N interval, first match wins (FLOW_SAMPLER_RANDOM_INTERVAL, SAMPLING_INTERVAL). */
  readonly interval: readonly number[];
  /** ... the mode / algorithm (FLOW_SAMPLER_MODE, SAMPLING_ALGORITHM): 1 deterministic, 2 random. */
  readonly algorithm: readonly number[];
}

export interface Netflow9Table {
  readonly files: readonly string[];
  /** Field (or scope) → IPFIX field, or null for zero-length fields that are left out. */
  mapField(type: number, length: number): FieldTarget | null;
  /** Scope type → IPFIX scope field; null for zero-length; undefined when the scope type has no mapping. */
  mapScope(type: number, length: number): FieldTarget | null | undefined;
  readonly sampler: SamplerFields;
}

const BASE_KEYS = ['format', 'ianaBelow', 'ianaAligned', 'fields', 'ranges', 'scopes', 'sampler'];
const VENDOR_KEYS = ['format', 'vendor', 'ianaAligned', 'fields', 'ranges'];
const ENTRY_KEYS = ['type', 'length', 'ie', 'transform', 'name', 'note'];
const SCOPE_KEYS = ['type', 'length', 'ie', 'name', 'note'];
const RANGE_KEYS = ['from', 'to', 'enterprise', 'offset', 'name', 'note'];

export function loadNetflow9Table(registry: Registry, mapping: Pick<MappingConfig, 'dir' | 'netflow9Enterprise' | 'netflow9HighEnterprise'>): Netflow9Table {
  const base = MappingSource.read(join(mapping.dir, NETFLOW9_TABLE_FILE));
  const vendors = readdirSync(mapping.dir)
    .filter((f) => VENDOR_TABLE.test(f))
    .sort()
    .map((f) => MappingSource.read(join(mapping.dir, f)));
  return buildNetflow9Table(registry, mapping, base, vendors);
}

export function buildNetflow9Table(
  registry: Registry,
  mapping: Pick<MappingConfig, 'netflow9Enterprise' | 'netflow9HighEnterprise'>,
  base: MappingSource,
  vendors: readonly MappingSource[],
): Netflow9Table {
  base.onlyKeys([], BASE_KEYS);
  if (base.get(['format']) !== 'netflow-v9') base.fail(['format'], 'expected "netflow-v9"');
  const ianaBelow = base.integer(['ianaBelow'], 0, 32768, 128);

  const entries = new Map<number, TableEntry[]>();
  const aligned = new Set<number>();
  const ranges: RangeEntry[] = [];
  const where = (src: MappingSource, path: (string | number)[]) => `${src.file}:${src.lineOf(path)}`;

  const element = (src: MappingSource, path: (string | number)[]): InformationElement => {
    const name = src.string(path);
    const ie = registry.byName(name);
    if (!ie) src.fail(path, `unknown Information Element "${name}" (not in the registry, mappings/iana-elements.yaml)`);
    return ie;
  };

  const readTable = (src: MappingSource, vendor: boolean) => {
    if (vendor) {
      src.onlyKeys([], VENDOR_KEYS);
      if (src.get(['format']) !== 'netflow-v9') src.fail(['format'], 'expected "netflow-v9" (a vendor table extends the v9 table)');
    }
    src.list(['ianaAligned'], false).forEach((_, i) => {
      const ie = element(src, ['ianaAligned', i]);
      if (ie.enterprise !== 0) src.fail(['ianaAligned', i], `${ie.name} is not an IANA element`);
      aligned.add(ie.id);
    });
    src.list(['fields'], false).forEach((_, i) => {
      const p = ['fields', i];
      src.onlyKeys(p, ENTRY_KEYS);
      const type = src.integer([...p, 'type'], 1, 65535);
      const length = src.get([...p, 'length']) === undefined ? undefined : src.integer([...p, 'length'], 1, 65535);
      const ie = element(src, [...p, 'ie']);
      const t = src.get([...p, 'transform']);
      let transform: TransformName | undefined;
      if (t !== undefined) {
        if (!TRANSFORMS.includes(t as TransformName)) src.fail([...p, 'transform'], `unknown transform; expected one of ${TRANSFORMS.join(', ')}`);
        transform = t as TransformName;
        if (ie.dataType !== 'dateTimeMilliseconds') src.fail([...p, 'ie'], 'uptime-to-epoch-ms produces a dateTimeMilliseconds element');
      }
      const list = entries.get(type) ?? [];
      if (list.some((e) => e.length === length)) {
        const other = list.find((e) => e.length === length)!;
        src.fail([...p, 'type'], `type ${type}${length === undefined ? '' : ` (length ${length})`} is already mapped at ${other.where}`);
      }
      if (length !== undefined && list.some((e) => e.length === undefined)) {
        src.fail([...p, 'length'], `a length-specific entry must come before the catch-all entry for type ${type}`);
      }
      list.push({ type, length, ie, transform, where: where(src, p) });
      entries.set(type, list);
    });
    src.list(['ranges'], false).forEach((_, i) => {
      const p = ['ranges', i];
      src.onlyKeys(p, RANGE_KEYS);
      const from = src.integer([...p, 'from'], 128, 65535);
      const to = src.integer([...p, 'to'], from, 65535);
      const enterprise = src.integer([...p, 'enterprise'], 1, 0xffffffff);
      const offset = src.integer([...p, 'offset'], -65535, 65535, 0);
      if (from + offset < 0 || to + offset > 0x7fff) src.fail([...p, 'offset'], 'type + offset must give element ids 0..32767');
      for (const r of ranges) {
        if (from <= r.to && to >= r.from) src.fail([...p, 'from'], `range overlaps the one at ${r.where}`);
      }
      ranges.push({ from, to, enterprise, offset, where: where(src, p) });
    });
  };
  readTable(base, false);
  for (const v of vendors) readTable(v, true);

  // Scope types (RFC 3954 §6.1) → IPFIX scope elements.
  const scopes = new Map<number, TableEntry[]>();
  base.list(['scopes']).forEach((_, i) => {
    const p = ['scopes', i];
    base.onlyKeys(p, SCOPE_KEYS);
    const type = base.integer([...p, 'type'], 1, 65535);
    const length = base.get([...p, 'length']) === undefined ? undefined : base.integer([...p, 'length'], 1, 65535);
    const ie = element(base, [...p, 'ie']);
    const list = scopes.get(type) ?? [];
    if (list.some((e) => e.length === length)) base.fail([...p, 'type'], `scope type ${type} is already mapped`);
    list.push({ type, length, ie, where: where(base, p) });
    scopes.set(type, list);
  });

  const typeList = (key: string): number[] =>
    base.list(['sampler', key]).map((_, i) => base.integer(['sampler', key, i], 1, 65535));
  base.onlyKeys(['sampler'], ['id', 'interval', 'algorithm']);
  const sampler: SamplerFields = Object.freeze({ id: typeList('id'), interval: typeList('interval'), algorithm: typeList('algorithm') });

  const pen = (type: number, length: number): FieldTarget =>
    Object.freeze({
      spec: type < 0x8000 ? { id: type, enterprise: mapping.netflow9Enterprise, length } : { id: type - 0x8000, enterprise: mapping.netflow9HighEnterprise, length },
      kind: length === VARLEN ? 'varlen' : 'copy',
      rule: 'pen',
    });

  /** The IE a table entry names, if `length` is a valid encoding of it (after the entry's transform). */
  const fromEntry = (e: TableEntry, length: number): FieldTarget | undefined => {
    if (e.transform === 'uptime-to-epoch-ms') {
      if (length !== 4 && length !== 8) return undefined;
      return { spec: { id: e.ie.id, enterprise: e.ie.enterprise, length: 8 }, kind: 'uptime', rule: 'table', where: e.where };
    }
    if (!lengthFits(e.ie.dataType, length)) return undefined;
    return { spec: { id: e.ie.id, enterprise: e.ie.enterprise, length }, kind: length === VARLEN ? 'varlen' : 'copy', rule: 'table', where: e.where };
  };

  const cache = new Map<number, FieldTarget | null>();
  const mapField = (type: number, length: number): FieldTarget | null => {
    const key = type * 0x10000 + length;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    let out: FieldTarget | null = null;
    if (length !== 0) out = resolve(type, length);
    cache.set(key, out);
    return out;
  };
  const resolve = (type: number, length: number): FieldTarget => {
    for (const e of entries.get(type) ?? []) {
      if (e.length !== undefined && e.length !== length) continue;
      const t = fromEntry(e, length);
      if (t) return Object.freeze(t);
      break; // the matching entry does not fit this length: fall through to the general rules
    }
    if (type < ianaBelow || aligned.has(type)) {
      const ie = registry.get(0, type);
      if (ie && lengthFits(ie.dataType, length)) {
        return Object.freeze({ spec: { id: type, enterprise: 0, length }, kind: length === VARLEN ? 'varlen' : 'copy', rule: 'iana' } as FieldTarget);
      }
    }
    for (const r of ranges) {
      if (type >= r.from && type <= r.to) {
        return Object.freeze({
          spec: { id: type + r.offset, enterprise: r.enterprise, length },
          kind: length === VARLEN ? 'varlen' : 'copy',
          rule: 'range',
          where: r.where,
        } as FieldTarget);
      }
    }
    return pen(type, length);
  };

  const mapScope = (type: number, length: number): FieldTarget | null | undefined => {
    if (length === 0) return null;
    for (const e of scopes.get(type) ?? []) {
      if (e.length !== undefined && e.length !== length) continue;
      const t = fromEntry(e, length);
      if (t) return Object.freeze(t);
    }
    return undefined;
  };

  return Object.freeze({ files: [base.file, ...vendors.map((v) => v.file)], mapField, mapScope, sampler });
}
