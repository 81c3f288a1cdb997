// Fuzz: mutated sFlow datagrams, made from every sFlow datagram of the shared corpus (bit flips, overwritten
// words, truncation, junk, corrupted length and count fields found by walking the XDR structure, splices of
// two datagrams), through one sFlow decoder and, one case in ten, through a real Collecting Process. Nothing
// may throw; every record handed downstream must frame exactly; every datagram must show an outcome
// (records, a counted drop, or counted skips), and the few that show none are classified below.

import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSflowDecoder } from '../../src/collect/sflow/decode.js';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { recordEnd } from '../../src/ipfix/reader.js';
import { DropReason, packetsDropped, sflowSkipped } from '../../src/observe/metrics.js';
import { log } from '../../src/observe/log.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { corpus, mappingConfig, mutate as mutateGeneric, prng, RecordingContext, rows, testRegistry } from '../mapping/harness.js';

const CASES = 120_000;
type Rnd = () => number;
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n);

/** Where the sFlow structure of a datagram lies: offsets of its length and count fields, and sample starts. */
function structure(d: Buffer): { lengths: number[]; samples: number[] } {
  const lengths: number[] = [];
  const samples: number[] = [];
  if (d.length < 28) return { lengths, samples };
  const p0 = d.readUInt32BE(4) === 2 ? 36 : 24;
  if (d.length < p0 + 4) return { lengths, samples };
  lengths.push(p0); // number of samples
  let p = p0 + 4;
  for (let i = d.readUInt32BE(p0); i > 0 && p + 8 <= d.length; i--) {
    samples.push(p);
    const format = d.readUInt32BE(p);
    const len = d.readUInt32BE(p + 4);
    lengths.push(p + 4);
    const s = p + 8;
    const end = s + len;
    if (end > d.length) break;
    // flow sample / expanded: record count after 28 / 40 octets; counter sample / expanded: after 8 / 12
    const countAt = format === 1 ? s + 28 : format === 3 ? s + 40 : format === 2 ? s + 8 : format === 4 ? s + 12 : -1;
    if (countAt >= 0 && countAt + 4 <= end) {
      lengths.push(countAt);
      let r = countAt + 4;
      for (let j = d.readUInt32BE(countAt); j > 0 && r + 8 <= end; j--) {
        lengths.push(r + 4);
        const rf = d.readUInt32BE(r);
        const rl = d.readUInt32BE(r + 4);
        if ((format === 1 || format === 3) && rf === 1 && r + 24 <= end) lengths.push(r + 20); // raw header_length
        if ((format === 1 || format === 3) && rf === 1003 && r + 12 <= end) lengths.push(r + 8); // gateway next-hop type
        r += 8 + rl;
      }
    }
    p = end;
  }
  return { lengths, samples };
}

function mutateOnce(d: Buffer, seeds: Buffer[], rnd: Rnd): Buffer {
  const kind = int(rnd, 8);
  if (kind < 3) return mutateGeneric(d, rnd); // bit flips, 16-bit boundary words, truncation, junk, random span
  const { lengths, samples } = structure(d);
  if (kind < 6 && lengths.length > 0) {
    // a length or count field: off by a little, zero, huge, doubled, halved, random
    const b = Buffer.from(d);
    const o = lengths[int(rnd, lengths.length)]!;
    const v = b.readUInt32BE(o);
    const tweaks = [v + 1, v - 1, v + 4, v - 4, v + 8, 0, 1, 3, 0xffffffff, 0x7fffffff, v * 2, v >>> 1, int(rnd, 0x100000000)];
    b.writeUInt32BE(tweaks[int(rnd, tweaks.length)]! >>> 0, o);
    return b;
  }
  if (kind === 6) {
    // splice: the head of this datagram (cut at a sample boundary or anywhere) with the tail of another
    const other = seeds[int(rnd, seeds.length)]!;
    const os = structure(other).samples;
    const cut = samples.length > 0 && rnd() < 0.7 ? samples[int(rnd, samples.length)]! : int(rnd, d.length);
    const from = os.length > 0 && rnd() < 0.7 ? os[int(rnd, os.length)]! : int(rnd, other.length);
    return Buffer.concat([d.subarray(0, cut), other.subarray(from)]);
  }
  // truncation near a structure boundary
  const at = lengths.length > 0 ? lengths[int(rnd, lengths.length)]! + int(rnd, 12) - 4 : int(rnd, d.length);
  return d.subarray(0, Math.max(0, Math.min(d.length, at)));
}

function mutate(d: Buffer, seeds: Buffer[], rnd: Rnd): Buffer {
  let b = mutateOnce(d, seeds, rnd);
  if (rnd() < 0.25) b = mutateOnce(b, seeds, rnd);
  return b;
}

/** Why a datagram that produced nothing needs to produce nothing (or 'unexplained'). */
function silentBecause(d: Buffer): string {
  const v6 = d.readUInt32BE(4) === 2;
  const n = d.readUInt32BE(v6 ? 36 : 24);
  if (n === 0) return 'no samples announced';
  return 'unexplained';
}

describe('fuzz: sFlow decoder', () => {
  it(`${CASES.toLocaleString('en')} mutated corpus datagrams: no throw, whole records, an outcome for (almost) every datagram`, async () => {
    const reg = testRegistry();
    const dir = resolve(corpus, 'sflow');
    const seeds = readdirSync(dir).flatMap((f) => udpPayloads(resolve(dir, f)).map((p) => p.payload));
    expect(seeds.length).toBe(2514); // 11 akvorado datagrams, 1000 overflowd, 1503 oxyflow

    const decode = buildSflowDecoder({ registry: reg, mapping: { ...mappingConfig, sflow: { ...mappingConfig.sflow, headerSection: true } } });
    // Counted skips reach prom-client when a scrape (or get()) flushes them: watch that.
    let skips = 0;
    const inc = sflowSkipped.inc.bind(sflowSkipped);
    (sflowSkipped as { inc: unknown }).inc = (...a: Parameters<typeof inc>) => {
      skips++;
      return inc(...a);
    };

    // One case in ten through a Collecting Process (dispatch by version, sessions, its own decoders).
    let cpRecords = 0;
    let broken = 0;
    const sink: RecordSink = {
      sessionStarted() {},
      templateDefined() {},
      templateWithdrawn() {},
      sessionEnded() {},
      records(_s, t, buf, start, end, count) {
        let o = start;
        for (let i = 0; i < count && o >= 0; i++) o = recordEnd(t, buf, o, end);
        if (o !== end) broken++;
        cpRecords += count;
      },
    };
    const level = log.level;
    log.level = 'silent';
    const input = { name: 'fuzz-sflow', listen: 'udp://127.0.0.1:0', protocol: 'auto' as const, sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 64, receiveBuffer: 1 << 20 };
    const cp = new CollectingProcess(input, sink, { registry: reg, mapping: mappingConfig });
    const decoderErrors = async () => (await packetsDropped.get()).values.filter((v) => v.labels.input === 'fuzz-sflow' && v.labels.reason === DropReason.decoderError).reduce((n, v) => n + v.value, 0);
    const errorsBefore = await decoderErrors();

    const rnd = prng(6343);
    const started = performance.now();
    let direct = 0;
    let records = 0;
    let drops = 0;
    let silent = 0;
    const silentWhy = new Map<string, number>();
    const unexplained: string[] = [];
    const reasons = new Set<string>();
    try {
      for (let c = 0; c < CASES; ) {
        // one context per 1000 cases: sessions and templates accumulate as on a live input, memory stays bounded
        const ctx = new RecordingContext();
        for (let k = 0; k < 1000 && c < CASES; k++, c++) {
          const seed = seeds[int(rnd, seeds.length)]!;
          const pkt = rnd() < 0.1 ? seed : mutate(seed, seeds, rnd);
          if (c % 10 === 9) {
            cp.feed(pkt, '10.0.0.1', 6343);
            continue;
          }
          direct++;
          const r0 = ctx.records.length;
          const d0 = ctx.drops.length;
          const s0 = skips;
          decode(ctx, pkt, '10.0.0.1', 6343);
          await sflowSkipped.get(); // flushes the decoder's skip counts
          if (ctx.records.length === r0 && ctx.drops.length === d0 && skips === s0) {
            silent++;
            const why = silentBecause(pkt);
            silentWhy.set(why, (silentWhy.get(why) ?? 0) + 1);
            if (why === 'unexplained' && unexplained.length < 5) unexplained.push(pkt.toString('hex'));
          }
        }
        for (const call of ctx.records) {
          // every 20th call decoded field by field (rows() throws unless the octets are exactly `count` records)
          if (records % 20 === 0) expect(rows(reg, call)).toHaveLength(call.count);
          let o = 0;
          for (let i = 0; i < call.count && o >= 0; i++) o = recordEnd(call.template, call.bytes, o, call.bytes.length);
          if (o !== call.bytes.length) broken++;
          records += call.count;
        }
        for (const d of ctx.drops) reasons.add(d.reason);
        drops += ctx.drops.length;
      }
    } finally {
      (sflowSkipped as { inc: unknown }).inc = inc;
      log.level = level;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `sflow fuzz: ${CASES} cases (${direct} direct, ${CASES - direct} via the Collecting Process) in ${seconds.toFixed(1)} s; ${records} records, ${drops} drops (${[...reasons].join(', ')}), ${silent} silent ${JSON.stringify(Object.fromEntries(silentWhy))}; CP records ${cpRecords}`,
    );

    expect(broken).toBe(0);
    expect(await decoderErrors()).toBe(errorsBefore);
    expect(records).toBeGreaterThan(CASES); // most mutations leave most samples readable
    expect(cpRecords).toBeGreaterThan(0);
    // the mutations reach the checks: every reason an sFlow datagram or sample can be dropped for
    for (const r of [DropReason.truncated, DropReason.malformed, DropReason.badVersion]) expect(reasons.has(r), r).toBe(true);
    expect([...reasons].filter((r) => !(Object.values(DropReason) as string[]).includes(r))).toEqual([]);
    // A datagram with no outcome is one whose (mutated) sample count is 0: valid and empty. No other kind.
    expect(unexplained).toEqual([]);
    expect(silent).toBeLessThan(direct * 0.01); // 288 of 108,000 with this seed
    await cp.stop();
  }, 120_000);
});
