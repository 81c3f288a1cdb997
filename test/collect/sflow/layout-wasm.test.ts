// layoutOf in WebAssembly (layout-wasm.ts, as the walk's module exports it: sample-walk.ts) against
// layoutOf (layout.ts): for every flow sample of the corpus captures, the benchmark fleet and 60,000
// mutations of them (words of the samples set to boundary values, and the fuzz harness's mutations), the
// same key, and when there is a layout, the same slots.

import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../../src/collect/sflow/layout.js';
import { layoutWasm } from '../../../src/collect/sflow/sample-walk.js';
import { MAX_SLOTS, PLAN_MEMORY } from '../../../src/collect/sflow/plan-memory.js';
import { mutate, prng } from '../../mapping/harness.js';
import { corpusDatagrams, flowSamplesOf } from './datagrams.js';
// @ts-expect-error plain JavaScript module of the benchmark harness, no type declarations
import { sflowDatagrams } from '../../../bench/lib/sflow-gen.mjs';

const SENTINEL = -7;

/** Compares both on every flow sample of d; returns [samples with a layout, samples without]. */
function compare(d: Buffer): [number, number] {
  const { bytes: datagram, view: datagramView, slots } = PLAN_MEMORY;
  datagram.set(d);
  let laid = 0;
  let not = 0;
  const js = new Int32Array(MAX_SLOTS);
  for (const [s, end, expanded] of flowSamplesOf(d)) {
    js.fill(SENTINEL);
    slots.fill(SENTINEL);
    const want = layoutOf(datagram, datagramView, s, end, expanded, js);
    const got = layoutWasm!(s, end, expanded ? 1 : 0);
    // expect() only on a difference: it costs more than both layoutOfs.
    if (got !== want || (want >= 0 && slots.some((v, i) => v !== js[i]))) {
      expect(got, `sample at ${s} of ${d.toString('hex')}`).toBe(want);
      expect([...slots]).toEqual([...js]);
    }
    if (want >= 0) laid++;
    else not++;
  }
  return [laid, not];
}

/** The raw packet header records of the flow sample at [s, end): their bodies. */
function rawHeaders(d: Buffer, s: number, end: number, expanded: boolean): number[] {
  const out: number[] = [];
  let r = s + (expanded ? 40 : 28);
  if (end - r < 4) return out;
  const count = d.readUInt32BE(r);
  r += 4;
  for (let j = 0; j < count && end - r >= 8; j++) {
    const length = d.readUInt32BE(r + 4);
    if (d.readUInt32BE(r) === 1 && length >= 16 && end - r - 8 >= length) out.push(r + 8);
    r += 8 + length;
  }
  return out;
}

/**
 * A copy of d with one of its flow samples changed: one 32-bit word set to a boundary value or
 * bit-flipped, or its sampled frame cut short (every header of the chain then ends at every octet).
 */
function mutateSample(d: Buffer, rnd: () => number): Buffer {
  const samples = flowSamplesOf(d);
  const b = Buffer.from(d);
  if (samples.length === 0) return b;
  const [s, end, expanded] = samples[Math.floor(rnd() * samples.length)]!;
  const raw = rawHeaders(d, s, end, expanded);
  if (raw.length > 0 && rnd() < 0.4) {
    const at = raw[0]! + 12;
    b.writeUInt32BE(Math.floor(rnd() * (b.readUInt32BE(at) + 1)), at);
    return b;
  }
  const words = Math.floor((end - s) / 4);
  if (words === 0) return b;
  const at = s + 4 * Math.floor(rnd() * words);
  const values = [0, 1, 2, 3, 4, 7, 8, 9, 12, 14, 16, 20, 40, 1001, 1002, 1003, 0x0800, 0x86dd, 0x8100, 0x45000000, 4095, 4096, 0x3fffffff, 0x40000000, 0x80000000, 0xffffffff];
  if (rnd() < 0.7) b.writeUInt32BE(values[Math.floor(rnd() * values.length)]!, at);
  else b.writeUInt32BE((b.readUInt32BE(at) ^ (1 << Math.floor(rnd() * 32))) >>> 0, at);
  return b;
}

describe('layoutOf in WebAssembly', () => {
  const captured = corpusDatagrams();
  const fleet: Buffer[] = sflowDatagrams(1500);

  it('is there (this runtime has WebAssembly)', () => {
    expect(layoutWasm).not.toBeNull();
  });

  it('gives layoutOf\'s key and slots for every flow sample of the corpus and the benchmark fleet', () => {
    let laid = 0;
    let not = 0;
    for (const d of [...captured, ...fleet]) {
      const [a, b] = compare(d);
      laid += a;
      not += b;
    }
    expect(laid).toBeGreaterThan(5000);
    // Frames beyond the common chain (tunnels, QinQ, options) have no layout.
    expect(not).toBeGreaterThan(0);
  });

  it('gives layoutOf\'s answer on 60,000 mutated datagrams', () => {
    const rnd = prng(0x1a70);
    const sources = [...captured, ...fleet.slice(0, 500)];
    let laid = 0;
    let not = 0;
    for (let i = 0; i < 60_000; i++) {
      const d = sources[i % sources.length]!;
      const [a, b] = compare(i % 3 === 0 ? mutate(d, rnd) : mutateSample(d, rnd));
      laid += a;
      not += b;
    }
    expect(laid).toBeGreaterThan(10_000);
    expect(not).toBeGreaterThan(10_000);
  }, 60_000);
});
