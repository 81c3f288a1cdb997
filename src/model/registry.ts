// The Information Element registry, loaded from mappings/*-elements.yaml (iana-elements.yaml is generated
// from the IANA registry; vendors add their own files with their enterprise number). RFC 5103 reverse
// elements (PEN 29305) are derived from the IANA ones rather than listed.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { REVERSE_PEN } from '../ipfix/constants.js';
import type { DataType, InformationElement, Registry } from './types.js';

/** The mappings/ folder shipped with the gateway (same depth from src/model and dist/model). */
export const DEFAULT_MAPPINGS_DIR = resolve(import.meta.dirname, '../../mappings');

const DATA_TYPES: ReadonlySet<string> = new Set<DataType>([
  'octetArray', 'unsigned8', 'unsigned16', 'unsigned32', 'unsigned64', 'signed8', 'signed16', 'signed32',
  'signed64', 'float32', 'float64', 'boolean', 'macAddress', 'string', 'dateTimeSeconds',
  'dateTimeMilliseconds', 'dateTimeMicroseconds', 'dateTimeNanoseconds', 'ipv4Address', 'ipv6Address',
  'basicList', 'subTemplateList', 'subTemplateMultiList',
]);

const key = (enterprise: number, id: number) => enterprise * 65536 + id;

class ElementRegistry implements Registry {
  private readonly byKey = new Map<number, InformationElement>();
  private readonly names = new Map<string, InformationElement>();
  private readonly reverse = new Map<number, InformationElement>();

  add(e: InformationElement): void {
    this.byKey.set(key(e.enterprise, e.id), e);
    if (!this.names.has(e.name)) this.names.set(e.name, e);
  }

  get(enterprise: number, id: number): InformationElement | undefined {
    const e = this.byKey.get(key(enterprise, id));
    if (e || enterprise !== REVERSE_PEN) return e;
    // RFC 5103 §6.1: the reverse of IANA element N is N under PEN 29305, named "reverse" + Name.
    let r = this.reverse.get(id);
    if (!r) {
      const fwd = this.byKey.get(key(0, id));
      if (!fwd) return undefined;
      r = Object.freeze({ ...fwd, enterprise: REVERSE_PEN, name: 'reverse' + fwd.name[0]!.toUpperCase() + fwd.name.slice(1) });
      this.reverse.set(id, r);
    }
    return r;
  }

  byName(name: string): InformationElement | undefined {
    const e = this.names.get(name);
    if (e || !name.startsWith('reverse')) return e;
    const fwd = this.names.get(name[7]!.toLowerCase() + name.slice(8));
    return fwd && fwd.enterprise === 0 ? this.get(REVERSE_PEN, fwd.id) : undefined;
  }

  *all(): Iterable<InformationElement> {
    yield* this.byKey.values();
  }
}

const cache = new Map<string, Registry>();

/** The registry of every `*-elements.yaml` in `dir` (default: the shipped mappings/), IANA first. Cached. */
export function loadRegistry(dir: string = DEFAULT_MAPPINGS_DIR): Registry {
  const abs = resolve(dir);
  const hit = cache.get(abs);
  if (hit) return hit;
  const files = readdirSync(abs)
    .filter((f) => f.endsWith('-elements.yaml'))
    .sort((a, b) => (a === 'iana-elements.yaml' ? -1 : b === 'iana-elements.yaml' ? 1 : a.localeCompare(b)));
  const reg = new ElementRegistry();
  for (const f of files) loadFile(reg, join(abs, f));
  cache.set(abs, reg);
  return reg;
}

function loadFile(reg: ElementRegistry, path: string): void {
  const doc = parse(readFileSync(path, 'utf8')) as { enterprise?: unknown; elements?: unknown };
  const enterprise = Number(doc?.enterprise ?? 0);
  if (!Number.isInteger(enterprise) || enterprise < 0 || enterprise > 0xffffffff) throw new Error(`${path}: enterprise must be a 32-bit number`);
  if (!Array.isArray(doc?.elements)) throw new Error(`${path}: 'elements' must be a list`);
  doc.elements.forEach((raw: Record<string, unknown>, i: number) => {
    const id = Number(raw?.id);
    const name = raw?.name;
    const type = raw?.type;
    if (!Number.isInteger(id) || id < 0 || id > 0x7fff) throw new Error(`${path}: elements[${i}].id must be 0..32767`);
    if (typeof name !== 'string' || !name) throw new Error(`${path}: elements[${i}].name is missing`);
    if (typeof type !== 'string' || !DATA_TYPES.has(type)) throw new Error(`${path}: elements[${i}].type "${String(type)}" is not an RFC 7012 abstract data type`);
    reg.add(
      Object.freeze({
        id,
        enterprise,
        name,
        dataType: type as DataType,
        ...(typeof raw.semantics === 'string' ? { semantics: raw.semantics } : {}),
        ...(typeof raw.units === 'string' ? { units: raw.units } : {}),
        ...(typeof raw.status === 'string' ? { status: raw.status } : {}),
      }),
    );
  });
}
