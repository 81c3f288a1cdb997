// Compiled flow-sample plans (sample-plan.ts) against the general decoder: the same datagrams through a
// decoder with plans and one without must give the same events — sessions, templates, every record's
// octets, every drop — for the benchmark's fleet traffic (with and without scaled counts and the header
// section), every sFlow capture of the corpus, and 20,000 mutations of them. Plans are held to it twice:
// with their moves in WebAssembly (plan-wasm.ts, the default) and all in JavaScript.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildSflowDecoder, type PlanUse } from '../../../src/collect/sflow/decode.js';
import { MAX_PLANS, PlanTable, type SamplePlan } from '../../../src/collect/sflow/sample-plan.js';
import type { SflowMappingConfig } from '../../../src/config/types.js';
import { mappingConfig, mutate, prng, RecordingContext, testRegistry } from '../../mapping/harness.js';
import { corpusDatagrams, flowSamplesOf } from './datagrams.js';
import { datagram, extendedGateway, extendedSwitch, flowSample, frame, rawHeader, sampledEthernet, sampledIp } from './build.js';
// @ts-expect-error plain JavaScript module of the benchmark harness, no type declarations
import { sflowDatagrams } from '../../../bench/lib/sflow-gen.mjs';

const reg = testRegistry();

/** Everything a context saw, as comparable text: events in order, record octets in hex, drops. */
function transcript(ctx: RecordingContext): string[] {
  const out: string[] = [];
  for (const e of ctx.events) {
    if (e.kind === 'records') out.push(`records ${e.session.address}/${e.session.observationDomainId} ${e.template.templateId} ${e.count} ${e.bytes.toString('hex')}`);
    else if (e.kind === 'defined') out.push(`defined ${e.session.address} ${e.template.templateId} ${JSON.stringify(e.template.fields)}`);
    else out.push(`${e.kind} ${e.session.address}`);
  }
  for (const d of ctx.drops) out.push(`drop ${JSON.stringify(d)}`);
  return out;
}

/**
 * Decodes the datagrams with plans (their moves in WebAssembly), with plans all in JavaScript, and without
 * plans; returns the transcripts and how many samples plans took. Both kinds of plan take the same samples,
 * and the WebAssembly ones take all of theirs (no record here is too large for a staging area).
 */
function both(datagrams: readonly Buffer[], sflow: Partial<SflowMappingConfig> = {}) {
  const mapping = { ...mappingConfig, sflow: { ...mappingConfig.sflow, ...sflow } };
  const wasm: PlanUse = { enabled: true, wasm: true, samples: 0, staged: 0, walked: 0, inPlace: 0 };
  const js: PlanUse = { enabled: true, wasm: false, samples: 0, staged: 0, walked: 0, inPlace: 0 };
  const decoders = [wasm, js, { enabled: false, wasm: false, samples: 0, staged: 0, walked: 0, inPlace: 0 }].map((use) => buildSflowDecoder({ registry: reg, mapping }, undefined, use));
  const contexts = decoders.map(() => new RecordingContext());
  for (const d of datagrams) for (let i = 0; i < decoders.length; i++) decoders[i]!(contexts[i]!, d, '192.0.2.7', 6343);
  const [planned, javascript, general] = contexts.map(transcript);
  expect(javascript).toEqual(planned);
  expect(js.samples).toBe(wasm.samples);
  expect(js.staged).toBe(0);
  expect(wasm.staged).toBe(wasm.samples);
  expect(js.walked).toBe(0);
  return { planned: planned!, general: general!, samples: wasm.samples, walked: wasm.walked };
}

/** Flow samples in sFlow v5 datagrams (formats 1 and 3). */
function flowSamples(datagrams: readonly Buffer[]): number {
  return datagrams.reduce((n, d) => n + flowSamplesOf(d).length, 0);
}

describe('compiled flow-sample plans', () => {
  // The datagram's arrival time is a fact of every record: both decoders see the same clock.
  beforeEach(() => {
    vi.spyOn(Date, 'now').mockReturnValue(1_795_000_000_123);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const fleet: Buffer[] = sflowDatagrams(1500);

  it('give the general decoder\'s records for the benchmark fleet, and take nearly every flow sample', () => {
    const r = both(fleet);
    expect(r.planned.length).toBeGreaterThan(1500);
    expect(r.planned).toEqual(r.general);
    // Every layout's first sample goes the general way (it names the shape); so do frames beyond commonChain.
    expect(r.samples).toBeGreaterThan(0.9 * flowSamples(fleet));
    // Nearly all of them without leaving the WebAssembly walk (sample-walk.ts): it stops at a layout's
    // first sample and at counter samples, and goes on after them.
    expect(r.walked).toBeGreaterThan(0.95 * r.samples);
  });

  it('scale counts by the sampling rate as the general decoder does', () => {
    const r = both(fleet, { scaleCounts: true });
    expect(r.planned).toEqual(r.general);
    expect(r.samples).toBeGreaterThan(0.9 * flowSamples(fleet));
    // Scaled counts are products the plan computes in JavaScript: not the walk's.
    expect(r.walked).toBe(0);
  });

  it('hand on a full staging area at the same record as the general decoder (jumbo datagrams)', () => {
    // ~300 samples per 60,000-octet datagram: a template's 8 KiB staging area fills within a datagram, again and again.
    const jumbo: Buffer[] = sflowDatagrams(300, { maxDatagram: 60_000, seed: 11 });
    const r = both(jumbo);
    expect(r.planned).toEqual(r.general);
    // Data Sets of nearly a whole staging area (8,192 octets): areas filled and were handed on mid-datagram.
    const octets = r.general.filter((l) => l.startsWith('records')).map((l) => l.split(' ')[4]!.length / 2);
    expect(Math.max(...octets)).toBeGreaterThan(7800);
    expect(r.samples).toBeGreaterThan(0.9 * flowSamples(jumbo));
    // The walk stops at each full area and JavaScript hands it on.
    expect(r.walked).toBeGreaterThan(0.9 * r.samples);
    expect(r.walked).toBeLessThan(r.samples);
  });

  it('leave samples whose records carry the sampled header to the general decoder', () => {
    const r = both(fleet.slice(0, 300), { headerSection: true });
    expect(r.planned).toEqual(r.general);
    expect(r.samples).toBe(0);
  });

  it('give the general decoder\'s records for every sFlow capture of the corpus', () => {
    const datagrams = corpusDatagrams();
    // Twice: a layout's first sample is decoded the general way, so a capture of one sample (a discard, an
    // expanded sample, multiple output interfaces) meets its plan the second time.
    const r = both([...datagrams, ...datagrams]);
    expect(r.planned).toEqual(r.general);
    expect(r.samples).toBeGreaterThan(flowSamples(datagrams));
  });

  it('decode a header beside sampled Ethernet and IP records as the general decoder does, in either order', () => {
    const f = frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 1, dstPort: 2, ttl: 9 });
    const header = rawHeader({ frameLength: f.frameLength, header: f.bytes });
    const ethernet = sampledEthernet({ length: 1000, src: '02:00:00:00:00:0a', dst: '02:00:00:00:00:0b', type: 0x86dd });
    const ip = sampledIp({ length: 900, protocol: 17, src: '2001:db8::1', dst: '2001:db8::2', srcPort: 7, dstPort: 8 });
    const vlans = extendedSwitch({ inVlan: 5, inPriority: 1, outVlan: 6, outPriority: 2 });
    const samples = [[header, ethernet, ip, vlans], [ethernet, ip, vlans, header], [ip, header, ethernet]].map((records) => flowSample({ records }));
    const d = datagram({ agent: '192.0.2.1', samples });
    const r = both([d, d, d]);
    expect(r.planned).toEqual(r.general);
    expect(r.samples).toBeGreaterThanOrEqual(6);
  });

  it('write AS paths of several segments and long AS paths and communities (3-octet length prefix) as the general decoder does', () => {
    const f = frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, srcPort: 53, dstPort: 5353, ttl: 60 });
    const header = rawHeader({ frameLength: f.frameLength, header: f.bytes });
    const asns = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);
    const gateways = [
      // Three segments (a set between two sequences), a few communities: 1-octet prefixes.
      { path: [{ type: 2, asns: asns(3, 64500) }, { type: 1, asns: asns(2, 64600) }, { type: 2, asns: asns(4, 64700) }], communities: asns(3, 0x10000) },
      // 70 AS numbers (280 octets) in two segments, 70 communities (285 octets): 3-octet prefixes.
      { path: [{ type: 2, asns: asns(40, 65000) }, { type: 2, asns: asns(30, 65100) }], communities: asns(70, 0x20000) },
      // An empty path and no communities.
      { path: [], communities: [] },
    ].map((g) => extendedGateway({ nextHop: '192.0.2.254', as: 64496, srcAs: 64497, srcPeerAs: 64498, localPref: 100, ...g }));
    // Each layout twice: its first sample is decoded the general way.
    const d = datagram({ agent: '192.0.2.1', samples: gateways.flatMap((g) => [g, g]).map((g) => flowSample({ records: [header, g] })) });
    const r = both([d, d]);
    expect(r.planned).toEqual(r.general);
    expect(r.samples).toBeGreaterThanOrEqual(9);
  });

  it('agree with the general decoder on 20,000 mutated datagrams, drops included', () => {
    const sources = [...fleet.slice(0, 500), ...corpusDatagrams().slice(0, 500)];
    const rnd = prng(0x91a7);
    const mutated: Buffer[] = [];
    // Each mutation after its original, so the layout is known (planned) when the mutated copy comes.
    for (let i = 0; i < 10_000; i++) {
      const d = sources[i % sources.length]!;
      mutated.push(d, mutate(d, rnd));
    }
    const r = both(mutated);
    expect(r.planned).toEqual(r.general);
    expect(r.planned.some((l) => l.startsWith('drop'))).toBe(true);
    expect(r.samples).toBeGreaterThan(10_000);
  }, 60_000);

  it('keep plans by layout key: every key of a full table found, none beyond MAX_PLANS kept', () => {
    const table = new PlanTable();
    const rnd = prng(7);
    const keys = new Set<number>();
    while (keys.size < MAX_PLANS + 10) keys.add(Math.floor(rnd() * (1 << 20)));
    const plans = new Map<number, SamplePlan | null>();
    for (const key of keys) {
      const plan = key % 3 === 0 ? null : ({ key } as unknown as SamplePlan);
      table.set(key, plan);
      plans.set(key, plan);
    }
    const kept = [...keys].slice(0, MAX_PLANS);
    for (const key of kept) expect(table.get(key)).toBe(plans.get(key));
    for (const key of [...keys].slice(MAX_PLANS)) expect(table.get(key)).toBeUndefined();
    expect(table.size).toBe(MAX_PLANS);
  });
});
