// The NetFlow v5 mapping table (mappings/netflow-v5.yaml): where each field of the fixed 48-octet v5 record
// and of the 24-octet header goes in the IPFIX record, by Information Element name. Loading it yields the
// record layout the plan compiler takes and the Template every v5 session announces.

import { join } from 'node:path';
import { VARLEN } from '../ipfix/constants.js';
import type { FieldSpecifier } from '../ipfix/template.js';
import type { Registry } from '../model/types.js';
import { lengthFits } from './elements.js';
import { op, type FieldOp, type RecordLayout } from './plan.js';
import { MappingSource } from './source.js';
import { TRANSFORMS } from './transforms.js';

export const NETFLOW5_TABLE_FILE = 'netflow-v5.yaml';
export const NETFLOW5_HEADER_LENGTH = 24;
export const NETFLOW5_RECORD_LENGTH = 48;

export interface Netflow5Table {
  readonly file: string;
  readonly layout: RecordLayout;
  /** The outgoing Template's fields, in the order the layout's ops write them. */
  readonly fields: readonly FieldSpecifier[];
  /** Per output field, the v5 field name it came from (for docs, logs and tests). */
  readonly sources: readonly string[];
}

const FIELD_KEYS = ['field', 'from', 'offset', 'length', 'ie', 'transform', 'mask', 'shift', 'outLength', 'note'] as const;

export function loadNetflow5Table(registry: Registry, dir: string): Netflow5Table {
  return parseNetflow5Table(registry, MappingSource.read(join(dir, NETFLOW5_TABLE_FILE)));
}

export function parseNetflow5Table(registry: Registry, src: MappingSource): Netflow5Table {
  src.onlyKeys([], ['format', 'fields']);
  if (src.get(['format']) !== 'netflow-v5') src.fail(['format'], 'expected "netflow-v5"');
  const entries = src.list(['fields']);

  // Record fields become the layout's inputs (sorted by offset, gaps filled), header fields are read in place.
  interface Entry {
    index: number;
    name: string;
    header: boolean;
    offset: number;
    length: number;
  }
  const all: Entry[] = [];
  entries.forEach((_, i) => {
    const p = ['fields', i];
    src.onlyKeys(p, FIELD_KEYS);
    const from = src.string([...p, 'from'], 'record');
    if (from !== 'record' && from !== 'header') src.fail([...p, 'from'], 'expected "record" or "header"');
    const header = from === 'header';
    const limit = header ? NETFLOW5_HEADER_LENGTH : NETFLOW5_RECORD_LENGTH;
    const offset = src.integer([...p, 'offset'], 0, limit - 1);
    const length = src.integer([...p, 'length'], 1, limit - offset);
    all.push({ index: i, name: src.string([...p, 'field']), header, offset, length });
  });

  const record = all.filter((e) => !e.header).sort((a, b) => a.offset - b.offset);
  const inputs: number[] = [];
  const inputOf = new Map<number, number>(); // entry index → input index
  let at = 0;
  for (const e of record) {
    if (e.offset < at) src.fail(['fields', e.index, 'offset'], `field "${e.name}" overlaps the field before it (octets ${e.offset}..${e.offset + e.length - 1})`);
    if (e.offset > at) inputs.push(e.offset - at); // an unnamed gap: read past, not exported
    inputOf.set(e.index, inputs.length);
    inputs.push(e.length);
    at = e.offset + e.length;
  }
  if (at < NETFLOW5_RECORD_LENGTH) inputs.push(NETFLOW5_RECORD_LENGTH - at);

  const ops: FieldOp[] = [];
  const fields: FieldSpecifier[] = [];
  const sources: string[] = [];
  for (const e of all) {
    const p = ['fields', e.index];
    const ieName = src.get([...p, 'ie']);
    if (ieName === undefined) continue; // documented but not exported (padding)
    if (typeof ieName !== 'string') src.fail([...p, 'ie'], 'expected an Information Element name');
    const ie = registry.byName(ieName);
    if (!ie) src.fail([...p, 'ie'], `unknown Information Element "${ieName}" (not in the registry, mappings/iana-elements.yaml)`);
    const transform = src.get([...p, 'transform']);
    const hasBits = src.get([...p, 'mask']) !== undefined || src.get([...p, 'shift']) !== undefined;
    let kind: FieldOp['kind'] = 'copy';
    let outLength = e.length;
    let mask = 0;
    let shift = 0;
    if (transform !== undefined) {
      if (!TRANSFORMS.includes(transform as (typeof TRANSFORMS)[number])) src.fail([...p, 'transform'], `unknown transform; expected one of ${TRANSFORMS.join(', ')}`);
      if (e.length !== 4) src.fail([...p, 'length'], 'uptime-to-epoch-ms reads a 4-octet sysUptime time');
      if (hasBits) src.fail([...p, 'mask'], 'mask/shift cannot be combined with a transform');
      kind = 'uptime';
      outLength = 8;
    } else if (hasBits) {
      if (e.length > 4) src.fail([...p, 'length'], 'mask/shift work on fields of 1..4 octets');
      kind = 'bits';
      mask = src.integer([...p, 'mask'], 1, 0xffffffff, 0xffffffff);
      shift = src.integer([...p, 'shift'], 0, 31, 0);
      outLength = src.integer([...p, 'outLength'], 1, 4, e.length);
    } else {
      outLength = src.integer([...p, 'outLength'], e.length, 8, e.length);
    }
    if (!lengthFits(ie.dataType, outLength)) {
      src.fail([...p, 'ie'], `${ieName} is ${ie.dataType}: ${outLength} octets is not a valid encoding of it`);
    }
    ops.push(e.header ? op(kind, 'header', e.offset, e.length, outLength, mask, shift) : op(kind, 'record', inputOf.get(e.index)!, e.length, outLength, mask, shift));
    fields.push({ id: ie.id, enterprise: ie.enterprise, length: outLength === VARLEN ? VARLEN : outLength });
    sources.push(e.name);
  }
  if (ops.length === 0) src.fail(['fields'], 'no field has an "ie": the output would be empty');
  return Object.freeze({ file: src.file, layout: Object.freeze({ inputs, ops }), fields, sources });
}
