// Sampler options in PSAMP terms. A v9 options record that names a sampler (FLOW_SAMPLER_ID) and its
// 1-in-N interval (FLOW_SAMPLER_RANDOM_INTERVAL or SAMPLING_INTERVAL) is relayed as it is, and is also
// described by a derived Options Data Record keyed by the sampler id, laid out the way Cisco IOS-XR's own
// IPFIX sampler options are (scope selectorId; RFC 5477 / RFC 5476 parameters):
//
//   selectorId (scope, 8)      the sampler id, zero-extended
//   selectorAlgorithm (2)      1 systematic count-based when the v9 mode is 1 (deterministic),
//                              3 random n-out-of-N otherwise (v9 mode 2, or no mode field: Cisco samplers are random)
//   samplingPacketInterval (4) 1      } 1 packet out of every N, in both
//   samplingPacketSpace (4)    N − 1  } PSAMP parameter pairs, so collectors
//   samplingSize (4)           1      } that read either pair get N
//   samplingPopulation (4)     N      }
//
// So a collector can join flow records (which carry the sampler id as selectorId or samplerId) with the
// sampling rate by sampler id, not only by Observation Domain.

import type { FieldSpecifier } from '../../ipfix/template.js';
import type { Registry } from '../../model/types.js';
import type { SamplerFieldOffsets } from './templates.js';

/**
 * TemplateStore key of the derived sampler Options Template. v9 Template IDs are 16-bit, so a key above
 * 65535 can never collide with one the exporter defines.
 */
export const SAMPLER_TEMPLATE_KEY = 0x10000;
export const SAMPLER_RECORD_LENGTH = 26;

const SAMPLER_ELEMENTS: readonly [string, number][] = [
  ['selectorId', 8],
  ['selectorAlgorithm', 2],
  ['samplingPacketInterval', 4],
  ['samplingPacketSpace', 4],
  ['samplingSize', 4],
  ['samplingPopulation', 4],
];

/** The derived template's fields (first one is the scope), resolved through the registry. */
export function samplerTemplateFields(registry: Registry): FieldSpecifier[] {
  return SAMPLER_ELEMENTS.map(([name, length]) => {
    const ie = registry.byName(name);
    if (!ie) throw new Error(`IE registry lacks ${name}, needed for derived sampler options`);
    return { id: ie.id, enterprise: ie.enterprise, length };
  });
}

function readUint(src: Uint8Array, off: number, len: number): number {
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + src[off + i]!;
  return v;
}

function put32(dst: Uint8Array, off: number, v: number): void {
  dst[off] = v >>> 24;
  dst[off + 1] = v >>> 16;
  dst[off + 2] = v >>> 8;
  dst[off + 3] = v;
}

/**
 * Writes one derived record per options record in src[start, start + n·recordLength) whose interval is
 * non-zero, from dst[0] on. Returns the number of records written.
 */
export function writeSamplerRecords(src: Uint8Array, start: number, n: number, recordLength: number, o: SamplerFieldOffsets, dst: Uint8Array): number {
  let d = 0;
  let written = 0;
  for (let r = 0; r < n; r++) {
    const b = start + r * recordLength;
    const interval = readUint(src, b + o.intervalOffset, o.intervalLength);
    if (interval === 0) continue; // not sampling: nothing to describe
    const mode = o.algorithmOffset >= 0 ? readUint(src, b + o.algorithmOffset, o.algorithmLength) : 2;
    const pad = 8 - o.idLength;
    for (let i = 0; i < pad; i++) dst[d + i] = 0;
    for (let i = 0; i < o.idLength; i++) dst[d + pad + i] = src[b + o.idOffset + i]!;
    const algorithm = mode === 1 ? 1 : 3;
    dst[d + 8] = 0;
    dst[d + 9] = algorithm;
    put32(dst, d + 10, 1);
    put32(dst, d + 14, interval - 1);
    put32(dst, d + 18, 1);
    put32(dst, d + 22, interval);
    d += SAMPLER_RECORD_LENGTH;
    written++;
  }
  return written;
}
