// 120,000 mutated corpus datagrams (NetFlow v5, v9 and IPFIX) through one real Collecting Process with
// every decoder of src/collect/protocols.ts: nothing escapes, every record handed downstream is whole,
// datagrams have an observable outcome (decoded, held, or counted under a known drop reason), and
// exporters that send clean datagrams meanwhile — with the same ODIDs and template ids — are unharmed.

import { DEFAULT_MAPPING } from '../../src/config/load.js';
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { recordEnd } from '../../src/ipfix/render.js';
import { loadRegistry } from '../../src/model/registry.js';
import {
  DropReason,
  packetsDropped,
  packetsTrailingOctets,
  pendingRecords,
  recordsDropped,
  recordsReceived,
  registry as metrics,
  templatesReceived,
} from '../../src/observe/metrics.js';
import { log } from '../../src/observe/log.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { prng } from '../mapping/harness.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const CASES = 120_000;

type Rnd = () => number;
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n);

/** Offsets of the length-like fields a decoder trusts: header count/length and every set/flowset length. */
function lengthFields(d: Buffer): number[] {
  if (d.length < 4) return [];
  const version = d.readUInt16BE(0);
  const out = [2]; // v5/v9 record count, IPFIX message length
  const first = version === 10 ? 16 : version === 9 ? 20 : -1;
  if (first < 0) return out;
  for (let o = first; o + 4 <= d.length; ) {
    out.push(o + 2);
    const len = d.readUInt16BE(o + 2);
    if (len < 4) break;
    o += len;
  }
  return out;
}

/** One mutation of the kinds the brief names; the source buffer is never modified. */
function mutateOnce(d: Buffer, rnd: Rnd): Buffer {
  const b = Buffer.from(d);
  if (b.length === 0) return b;
  switch (int(rnd, 6)) {
    case 0: // bit flips
      for (let i = int(rnd, 4) + 1; i > 0; i--) b[int(rnd, b.length)] ^= 1 << int(rnd, 8);
      return b;
    case 1: {
      // byte overwrites with 0x00 or 0xff over a short span
      const v = rnd() < 0.5 ? 0x00 : 0xff;
      const o = int(rnd, b.length);
      b.fill(v, o, Math.min(b.length, o + 1 + int(rnd, 8)));
      return b;
    }
    case 2: // truncation
      return b.subarray(0, int(rnd, b.length));
    case 3: {
      // length-field tweaks: off by one or four, zero, all ones, doubled, halved
      const fields = lengthFields(b);
      if (fields.length === 0) return b;
      const o = fields[int(rnd, fields.length)]!;
      if (o + 2 > b.length) return b;
      const v = b.readUInt16BE(o);
      const tweaks = [v + 1, v - 1, v + 4, v - 4, 0, 3, 0xffff, v * 2, v >> 1];
      b.writeUInt16BE(tweaks[int(rnd, tweaks.length)]! & 0xffff, o);
      return b;
    }
    case 4: {
      // a chunk duplicated in place (repeated sets, records or fields)
      const a = int(rnd, b.length);
      const n = 1 + int(rnd, Math.min(64, b.length - a));
      return Buffer.concat([b.subarray(0, a + n), b.subarray(a, a + n), b.subarray(a + n)]);
    }
    default: {
      // a chunk removed
      const a = int(rnd, b.length);
      const n = 1 + int(rnd, Math.min(64, b.length - a));
      return Buffer.concat([b.subarray(0, a), b.subarray(a + n)]);
    }
  }
}

function mutate(d: Buffer, rnd: Rnd): Buffer {
  let b = mutateOnce(d, rnd);
  if (rnd() < 0.25) b = mutateOnce(b, rnd); // sometimes two faults at once
  return b;
}

async function byReason(name: string, labels: Record<string, string>): Promise<Map<string, number>> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  const out = new Map<string, number>();
  for (const v of m?.values ?? []) {
    if (!Object.entries(labels).every(([k, x]) => v.labels[k] === x)) continue;
    const r = String(v.labels.reason);
    out.set(r, (out.get(r) ?? 0) + v.value);
  }
  return out;
}

/** Calls `seen()` whenever one of the counters a datagram's outcome shows up in moves; returns an undo. */
function watchCounters(seen: () => void): () => void {
  const watched = [packetsDropped, recordsDropped, pendingRecords, recordsReceived, templatesReceived, packetsTrailingOctets] as const;
  const originals = watched.map((m) => m.inc);
  for (const m of watched) {
    const inc = m.inc;
    (m as { inc: (...a: unknown[]) => void }).inc = function (this: unknown, ...a: unknown[]) {
      seen();
      return (inc as (...x: unknown[]) => void).apply(m, a);
    };
  }
  return () => watched.forEach((m, i) => ((m as { inc: unknown }).inc = originals[i]));
}

describe('fuzz: every decoder behind one Collecting Process', () => {
  it(`${CASES.toLocaleString('en')} mutated datagrams: no escape, whole records, outcomes counted under known reasons, other exporters unharmed`, async () => {
    const seeds: Buffer[] = [];
    for (const dir of ['nf5', 'nf9', 'ipfix']) {
      for (const f of readdirSync(resolve(corpus, dir))) {
        // Big captures contribute their first datagrams only, so every file weighs about the same.
        for (const p of udpPayloads(resolve(corpus, dir, f)).slice(0, 40)) seeds.push(p.payload);
      }
    }
    let records = 0;
    let broken = 0;
    let outcome = 0;
    const sink: RecordSink = {
      sessionStarted() {},
      templateDefined() {
        outcome++;
      },
      templateWithdrawn() {
        outcome++;
      },
      sessionEnded() {},
      records(_s, t, buf, start, end, count) {
        outcome++;
        let o = start;
        for (let i = 0; i < count; i++) {
          const e = recordEnd(t, buf, o, end);
          if (e < 0) {
            broken++;
            return;
          }
          o = e;
        }
        if (o !== end) broken++;
        records += count;
      },
    };
    const level = log.level;
    log.level = 'silent';
    const input = { name: 'fuzz', listen: 'udp://127.0.0.1:0', protocol: 'auto' as const, sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 64, receiveBuffer: 1 << 20 };
    const cp = new CollectingProcess(input, sink, { registry: loadRegistry(), mapping: DEFAULT_MAPPING });

    // Two clean exporters learn their templates first. Their captures are among the fuzz seeds, so the
    // fuzzing exporters mutate the very same ODIDs and template ids.
    const clean = [
      { file: 'nf9/akvorado__v9-opts-sampling.pcap', address: '192.0.2.9', records: 0 },
      { file: 'ipfix/akvorado__ipfixprobe-biflow.pcap', address: '192.0.2.10', records: 0 },
    ];
    const dataOnly: Array<{ payload: Buffer; address: string; port: number; records: number }> = [];
    for (const c of clean) {
      const pkts = udpPayloads(resolve(corpus, c.file));
      for (const p of pkts) {
        const before = records;
        cp.feed(p.payload, c.address, p.srcPort);
        c.records += records - before;
      }
      // The last datagram of both captures is data only (its templates came earlier).
      const last = pkts.at(-1)!;
      const before = records;
      cp.feed(last.payload, c.address, last.srcPort);
      dataOnly.push({ payload: last.payload, address: c.address, port: last.srcPort, records: records - before });
    }
    expect(clean.every((c) => c.records > 0)).toBe(true);
    // The data datagrams alone: 4 flow records of template 260, and all 4 biflow records of the capture.
    expect(dataOnly.map((d) => d.records)).toEqual([4, 4]);

    const rnd = prng(20261123);
    let silent = 0;
    const unwatch = watchCounters(() => outcome++);
    try {
      for (let i = 0; i < CASES; i++) {
        const seed = seeds[int(rnd, seeds.length)]!;
        const before = outcome;
        // A handful of fuzzing exporters, so mutated templates pile up in shared sessions.
        cp.feed(mutate(seed, rnd), `10.0.0.${1 + (i % 7)}`, 2055);
        if (outcome === before) silent++;
      }
    } finally {
      unwatch();
      log.level = level;
    }
    expect(broken).toBe(0);
    expect(records).toBeGreaterThan(0);
    // Almost every datagram shows an outcome: records, a template (re)definition, a held set or a counted
    // drop. The rest (about 5% with this seed) are ones the decoders accept as carrying nothing: a v9
    // header followed by fewer than 4 octets whatever its count says, or a data set that, under a mutated
    // redefinition of its template, is too short for one record and so reads as padding (RFC 7011 §3.3.1).
    expect(silent).toBeLessThan(CASES * 0.1);
    const known = new Set<string>([...Object.values(DropReason)]);
    const dropped = new Map([...(await byReason('ipfix_mediator_packets_dropped_total', { input: 'fuzz' })), ...(await byReason('ipfix_mediator_records_dropped_total', { stage: 'fuzz' }))]);
    expect(dropped.size).toBeGreaterThan(4); // the mutations really do reach many checks
    expect([...dropped.keys()].filter((r) => !known.has(r))).toEqual([]);
    expect(dropped.get(DropReason.decoderError) ?? 0).toBe(0);

    // The clean exporters' sessions kept their templates: their data-only datagrams decode as before.
    for (const d of dataOnly) {
      const before = records;
      cp.feed(d.payload, d.address, d.port);
      expect(records - before).toBe(d.records);
    }

    // Expiry over everything the fuzzing left behind must not throw either.
    log.level = 'silent';
    try {
      cp.sweep(Date.now() + 3_600_000);
    } finally {
      log.level = level;
    }

    // A new clean exporter after all that: its v5 datagram decodes to exactly its 29 records.
    records = 0;
    const [v5] = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'));
    cp.feed(v5!.payload, '192.0.2.200', 9990);
    expect(records).toBe(29);
    await cp.stop();
  });
});
