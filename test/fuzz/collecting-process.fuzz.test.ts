// 120,000 mutated corpus datagrams (NetFlow v5, v9 and IPFIX) through one real Collecting Process with
// every decoder: nothing escapes, every record handed downstream is whole, every problem is counted under
// a known reason, and a clean datagram from another exporter still decodes exactly afterwards.

import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { recordEnd } from '../../src/ipfix/render.js';
import { loadRegistry, DEFAULT_MAPPINGS_DIR } from '../../src/model/registry.js';
import { DropReason, registry as metrics } from '../../src/observe/metrics.js';
import { log } from '../../src/observe/log.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { mutate, prng } from '../mapping/harness.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const CASES = 120_000;

async function total(name: string, labels: Record<string, string>): Promise<Map<string, number>> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  const out = new Map<string, number>();
  for (const v of m?.values ?? []) {
    if (!Object.entries(labels).every(([k, x]) => v.labels[k] === x)) continue;
    const r = String(v.labels.reason);
    out.set(r, (out.get(r) ?? 0) + v.value);
  }
  return out;
}

describe('fuzz: every decoder behind one Collecting Process', () => {
  it(`${CASES.toLocaleString('en')} mutated datagrams: no escape, whole records, known reasons, other exporters unharmed`, async () => {
    const seeds: Buffer[] = [];
    for (const dir of ['nf5', 'nf9', 'ipfix']) {
      for (const f of readdirSync(resolve(corpus, dir))) {
        // Big captures contribute their first datagrams only, so every file weighs about the same.
        for (const p of udpPayloads(resolve(corpus, dir, f)).slice(0, 40)) seeds.push(p.payload);
      }
    }
    let records = 0;
    let broken = 0;
    const sink: RecordSink = {
      sessionStarted() {},
      templateDefined() {},
      templateWithdrawn() {},
      sessionEnded() {},
      records(_s, t, buf, start, end, count) {
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
    const cp = new CollectingProcess(input, sink, { registry: loadRegistry(), mapping: { dir: DEFAULT_MAPPINGS_DIR, netflow9Enterprise: 4294967294, netflow9HighEnterprise: 4294967295 } });
    const rnd = prng(20261123);
    try {
      for (let i = 0; i < CASES; i++) {
        const seed = seeds[Math.floor(rnd() * seeds.length)]!;
        // A handful of fuzzing exporters, so mutated templates pile up in shared sessions.
        cp.feed(mutate(seed, rnd), `10.0.0.${1 + (i % 7)}`, 2055);
      }
      cp.sweep(Date.now() + 3_600_000);
    } finally {
      log.level = level;
    }
    expect(broken).toBe(0);
    expect(records).toBeGreaterThan(0);
    const known = new Set<string>([...Object.values(DropReason)]);
    const dropped = new Map([...(await total('ipfix_mediator_packets_dropped_total', { input: 'fuzz' })), ...(await total('ipfix_mediator_records_dropped_total', { stage: 'fuzz' }))]);
    expect(dropped.size).toBeGreaterThan(4); // the mutations really do reach many checks
    expect([...dropped.keys()].filter((r) => !known.has(r))).toEqual([]);
    expect(dropped.get(DropReason.decoderError) ?? 0).toBe(0);

    // A clean exporter after all that: its v5 datagram decodes to exactly its 29 records.
    records = 0;
    const [clean] = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'));
    cp.feed(clean!.payload, '192.0.2.200', 9990);
    expect(records).toBe(29);
    await cp.stop();
  });
});
