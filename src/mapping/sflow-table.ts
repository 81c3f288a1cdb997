// The sFlow mapping table (mappings/sflow.yaml): which facts of the flow view (src/collect/sflow/view.ts)
// and of the counter view (counter-view.ts) become which Information Elements, in which order. The
// decoder builds one template per combination of fact groups a sample carries from these columns.
//
// Elements of mappings/sflow-elements.yaml (facts no IANA element describes) are exported under the
// configured `mapping.sflow.enterprise` PEN, so a collector can be set up with the number it wants.

import { join } from 'node:path';
import { VARLEN } from '../ipfix/constants.js';
import type { FieldSpecifier } from '../ipfix/template.js';
import type { InformationElement, Registry } from '../model/types.js';
import type { SflowMappingConfig } from '../config/types.js';
import { Group, VARIABLE, VIEW_FIELDS, type GroupName } from '../collect/sflow/view.js';
import { COUNTER_FIELDS, CounterGroup, type CounterGroupName } from '../collect/sflow/counter-view.js';
import { lengthFits } from './elements.js';
import { MappingSource, type KeyPath } from './source.js';

export const SFLOW_TABLE_FILE = 'sflow.yaml';
/** The PEN mappings/sflow-elements.yaml declares; those elements go out under the configured PEN instead. */
export const SFLOW_ELEMENTS_PEN = 4294967293;

export interface SflowColumn {
  /** View field name. */
  readonly field: string;
  /** The group bits that must all be set in a sample's mask for this column to be in its template. */
  readonly group: number;
  /** Offset and length in the view; length VARLEN for a variable-length fact (appended after fixed ones). */
  readonly offset: number;
  readonly length: number;
  readonly spec: FieldSpecifier;
  readonly ie: InformationElement;
}

export interface SflowTable {
  readonly file: string;
  /** Flow sample columns: fixed ones in table order, then variable-length ones in table order. */
  readonly flow: readonly SflowColumn[];
  /** Counter sample columns; the first `counterScope` are the options template's scope fields. */
  readonly counters: readonly SflowColumn[];
  readonly counterScope: number;
}

const FLOW_KEYS = ['field', 'ie', 'note'] as const;
const COUNTER_KEYS = ['field', 'ie', 'scope', 'note'] as const;

export function loadSflowTable(registry: Registry, dir: string, options: SflowMappingConfig): SflowTable {
  return parseSflowTable(registry, MappingSource.read(join(dir, SFLOW_TABLE_FILE)), options);
}

export function parseSflowTable(registry: Registry, src: MappingSource, options: SflowMappingConfig): SflowTable {
  src.onlyKeys([], ['format', 'flow', 'counters']);
  if (src.get(['format']) !== 'sflow') src.fail(['format'], 'expected "sflow"');

  const element = (p: KeyPath, length: number): { ie: InformationElement; spec: FieldSpecifier } => {
    const name = src.get(p);
    if (typeof name !== 'string') src.fail(p, 'expected an Information Element name');
    const ie = registry.byName(name);
    if (!ie) src.fail(p, `unknown Information Element "${name}" (not in mappings/*-elements.yaml)`);
    if (!lengthFits(ie.dataType, length)) {
      src.fail(p, `${name} is ${ie.dataType}: ${length === VARLEN ? 'a variable-length value' : `${length} octets`} is not a valid encoding of it`);
    }
    const enterprise = ie.enterprise === SFLOW_ELEMENTS_PEN ? options.enterprise : ie.enterprise;
    return { ie, spec: Object.freeze({ id: ie.id, enterprise, length }) };
  };

  const fixed: SflowColumn[] = [];
  const variable: SflowColumn[] = [];
  src.list(['flow']).forEach((_, i) => {
    const p = ['flow', i];
    src.onlyKeys(p, FLOW_KEYS);
    const field = src.string([...p, 'field']);
    const f = VIEW_FIELDS.get(field);
    const v = VARIABLE.find(([n]) => n === field);
    if (!f && !v) src.fail([...p, 'field'], `unknown flow view field "${field}"; known: ${[...VIEW_FIELDS.keys(), ...VARIABLE.map(([n]) => n)].join(', ')}`);
    if (field === 'headerBytes' && !options.headerSection) return; // mapping.sflow.headerSection is off
    const length = f ? f.length : VARLEN;
    const group = f ? f.bits : Group[v![1] as GroupName];
    const { ie, spec } = element([...p, 'ie'], length);
    (f ? fixed : variable).push(Object.freeze({ field, group, offset: f ? f.offset : -1, length, spec, ie }));
  });
  if (fixed.length === 0) src.fail(['flow'], 'no fixed-length field: flow records would be empty');

  const counters: SflowColumn[] = [];
  let counterScope = 0;
  src.list(['counters']).forEach((_, i) => {
    const p = ['counters', i];
    src.onlyKeys(p, COUNTER_KEYS);
    const field = src.string([...p, 'field']);
    const f = COUNTER_FIELDS.get(field);
    if (!f) src.fail([...p, 'field'], `unknown counter view field "${field}"; known: ${[...COUNTER_FIELDS.keys()].join(', ')}`);
    const scope = src.get([...p, 'scope']) === true;
    if (scope && counters.length !== counterScope) src.fail([...p, 'scope'], 'scope fields must come first');
    if (scope && f.group !== 'sample') src.fail([...p, 'scope'], 'only fields of every counter sample (group "sample") can be scope fields');
    if (scope) counterScope++;
    const { ie, spec } = element([...p, 'ie'], f.length);
    counters.push(Object.freeze({ field, group: CounterGroup[f.group as CounterGroupName], offset: f.offset, length: f.length, spec, ie }));
  });
  if (counterScope === 0) src.fail(['counters'], 'the counter options template needs at least one scope field (scope: true), e.g. the data source index');

  return Object.freeze({ file: src.file, flow: Object.freeze([...fixed, ...variable]), counters: Object.freeze(counters), counterScope });
}
