// Datagrams decoded where they lie: a receiver's batch in a receive area of the plan memory
// (src/collect/sflow/plan-memory.ts) is read by the sFlow decoder in place, without the copy to its datagram
// area. Held to the copying decoder octet for octet, on every sFlow capture of the corpus, on malformed and on
// 5,000 mutated datagrams (their drops and the offsets they name), and checked to happen only inside a
// reader's batch.

import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DropReasonValue } from '../../../src/observe/metrics.js';
import { buildSflowDecoder, type PlanUse } from '../../../src/collect/sflow/decode.js';
import { PLAN_MEMORY, RECEIVE_AREA_OCTETS, releaseReceiveArea, takeReceiveArea } from '../../../src/collect/sflow/plan-memory.js';
import { DatagramBatch, DatagramReader } from '../../../src/pipeline/datagram-batch.js';
import { udpPayloads } from '../../../src/util/pcap.js';
import { mappingConfig, mutate, prng, RecordingContext, testRegistry } from '../../mapping/harness.js';
import { corpusDatagrams } from './datagrams.js';
// @ts-expect-error plain JavaScript module of the benchmark harness, no type declarations
import { sflowDatagrams } from '../../../bench/lib/sflow-gen.mjs';

const reg = testRegistry();
const corpus = resolve(import.meta.dirname, '../../../../shared/corpus/sflow');

/** A RecordingContext that keeps the offset each drop names too. */
class OffsetContext extends RecordingContext {
  readonly offsets: (number | undefined)[] = [];
  override drop(reason: DropReasonValue, detail: { templateId?: number; offset?: number; message: string }, records = 0): void {
    this.offsets.push(detail.offset);
    super.drop(reason, detail, records);
  }
}

const use = (): PlanUse => ({ enabled: true, wasm: true, samples: 0, staged: 0, walked: 0, inPlace: 0 });

/** What a context got, comparable: every sink event with its octets, every drop with its offset. */
function outcome(ctx: OffsetContext) {
  return {
    records: ctx.records.map((r) => [r.template.id, r.count, r.bytes.toString('hex')]),
    drops: ctx.drops.map((d, i) => [d.reason, d.records, d.message, ctx.offsets[i]]),
    counted: ctx.counts.get('sflow') ?? 0,
  };
}

/** The copying decoder's outcome: each datagram a Buffer of its own. */
function copied(datagrams: Buffer[]) {
  const plans = use();
  const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig }, undefined, plans);
  const ctx = new OffsetContext();
  for (const d of datagrams) decode(ctx, d, '192.0.2.9', 6343);
  return { ...outcome(ctx), plans };
}

/** The outcome of the datagrams packed into batches in receive areas, as a receiver leaves them, and handed
 *  on by a DatagramReader as the Collecting Process does (the decoder's range entry). */
function inPlace(datagrams: Buffer[], areas: Buffer[]) {
  const GAP = 8;
  const plans = use();
  const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig }, undefined, plans);
  const ctx = new OffsetContext();
  const reader = new DatagramReader();
  let area = 0;
  let used = 0;
  let batches = 0;
  for (let i = 0; i < datagrams.length; ) {
    const batch = new DatagramBatch(new ArrayBuffer(RECEIVE_AREA_OCTETS - GAP));
    while (i < datagrams.length && batch.fits('192.0.2.9', datagrams[i]!.length)) batch.add(datagrams[i++]!, '192.0.2.9', 6343);
    const buffer = batch.seal();
    // The batch's octets: as many as its header says it used.
    const sealed = new Uint8Array(buffer, 0, new DataView(buffer).getUint32(4, true));
    if (used + GAP + sealed.length > RECEIVE_AREA_OCTETS) {
      area = (area + 1) % areas.length;
      used = 0;
    }
    // Leave other octets before it: a batch starts anywhere in its area.
    used += GAP;
    const at = areas[area]!.subarray(used, used + sealed.length);
    at.set(sealed);
    used += sealed.length;
    reader.read(at, (b, s, e, address, port) => decode.range!(ctx, b, s, e, address, port));
    batches++;
  }
  return { ...outcome(ctx), plans, batches };
}

describe('sFlow datagrams decoded in place', () => {
  let areas: Buffer[] = [];

  beforeEach(() => {
    // One arrival time for both ways of decoding: records carry it.
    vi.spyOn(Date, 'now').mockReturnValue(1_795_000_000_000);
    areas = [takeReceiveArea()!, takeReceiveArea()!];
    expect(areas.every((a) => a !== null && a.buffer === PLAN_MEMORY.memory!.buffer)).toBe(true);
  });

  afterEach(() => {
    for (const a of areas) releaseReceiveArea(a);
    vi.restoreAllMocks();
  });

  const captures = readdirSync(corpus).filter((f) => f.endsWith('.pcap'));

  it.each(captures)('%s: the same records, drops and counts as the copying decoder', (capture) => {
    const datagrams = udpPayloads(resolve(corpus, capture)).map((p) => p.payload);
    const want = copied(datagrams);
    const got = inPlace(datagrams, areas);
    expect(want.counted).toBeGreaterThan(0);
    expect(got.records).toEqual(want.records);
    expect(got.drops).toEqual(want.drops);
    expect(got.counted).toBe(want.counted);
    expect(got.plans.inPlace).toBe(datagrams.length);
    expect(want.plans.inPlace).toBe(0);
    // The walk and the plans ran on the datagrams where they lay.
    expect(got.plans.walked).toBe(want.plans.walked);
  });

  it('malformed datagrams: the same drops, at the same offsets in the datagram', () => {
    // Cut and corrupted copies of generated fleet datagrams: truncated samples, bad lengths and versions.
    const fleet: Buffer[] = sflowDatagrams(60);
    const bad: Buffer[] = [];
    fleet.forEach((d, i) => {
      if (i % 3 === 0) bad.push(d.subarray(0, Math.max(20, d.length - 1 - (i * 37) % 300)));
      else if (i % 3 === 1) {
        const c = Buffer.from(d);
        // A sample's length (the first sample's, after the 28-octet IPv4 header) running past the datagram.
        c.writeUInt32BE(0xffff, 32);
        bad.push(c);
      } else {
        // A raw packet header record whose header_length runs past it: that sample alone is dropped, at the
        // offset of the field.
        const c = Buffer.from(d);
        for (let r = 28; r + 24 <= c.length; r += 4) {
          const length = c.readUInt32BE(r + 4);
          if (c.readUInt32BE(r) === 1 && length >= 16 && length < 400 && c.readUInt32BE(r + 8) === 1) {
            c.writeUInt32BE(0xffff, r + 20);
            break;
          }
        }
        bad.push(c);
      }
    });
    const want = copied(bad);
    const got = inPlace(bad, areas);
    expect(want.drops.length).toBeGreaterThan(30);
    expect(want.drops.some((d) => typeof d[3] === 'number' && d[3] > 0)).toBe(true);
    expect(want.drops.filter((d) => String(d[2]).includes('header_length')).length).toBeGreaterThanOrEqual(5);
    expect(got.drops).toEqual(want.drops);
    expect(got.records).toEqual(want.records);
    expect(got.plans.inPlace).toBe(bad.length);
  });

  it('5,000 mutated datagrams, each after its original: the same records, drops and offsets (a read past a datagram would see the next one in place)', () => {
    const rnd = prng(11);
    const originals = [...corpusDatagrams(), ...(sflowDatagrams(300) as Buffer[])];
    const mutated: Buffer[] = [];
    // Each mutation after its original, so the layouts are planned and walked when the mutations come.
    for (let i = 0; i < 5000; i++) {
      const d = originals[i % originals.length]!;
      mutated.push(d, mutate(d, rnd));
    }
    const want = copied(mutated);
    const got = inPlace(mutated, areas);
    expect(want.drops.length).toBeGreaterThan(500);
    expect(want.plans.walked).toBeGreaterThan(10_000);
    expect(got.drops).toEqual(want.drops);
    expect(got.records).toEqual(want.records);
    expect(got.counted).toBe(want.counted);
    expect(got.plans.inPlace).toBe(mutated.length);
  });

  it('a datagram of a receive area handed on outside a reader batch is copied first', () => {
    const [d] = sflowDatagrams(1) as Buffer[];
    const want = copied([d!]);
    const plans = use();
    const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig }, undefined, plans);
    const ctx = new OffsetContext();
    const at = areas[0]!.subarray(100, 100 + d!.length);
    at.set(d!);
    decode(ctx, at, '192.0.2.9', 6343);
    decode.range!(ctx, areas[0]!, 100, 100 + d!.length, '192.0.2.9', 6343);
    expect(plans.inPlace).toBe(0);
    expect(outcome(ctx).records).toEqual([...want.records, ...want.records]);
  });

  it('receive areas run out, and come back when released', () => {
    const taken: Buffer[] = [];
    for (let a = takeReceiveArea(); a !== null; a = takeReceiveArea()) taken.push(a);
    expect(taken.length).toBeGreaterThan(8);
    expect(new Set(taken.map((a) => a.byteOffset)).size).toBe(taken.length);
    releaseReceiveArea(taken[3]!);
    const again = takeReceiveArea();
    expect(again?.byteOffset).toBe(taken[3]!.byteOffset);
    for (const a of taken) releaseReceiveArea(a);
  });
});
