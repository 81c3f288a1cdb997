// The shard function (src/pipeline/shard.ts): one exporter always lands on one worker, whatever its port,
// and the exporters of a loopback replay (127.0.0.x) spread over the workers.

import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { udpPayloads } from '../../src/util/pcap.js';
import { sflowAgentHash, shardOf, shardOfDatagram } from '../../src/pipeline/shard.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');

describe('shardOf', () => {
  it('keeps an address on one worker, in range, for every worker count', () => {
    for (const workers of [1, 2, 3, 8]) {
      for (let i = 1; i <= 252; i++) {
        const a = `127.0.0.${i}`;
        const s = shardOf(a, workers);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(workers);
      }
    }
    expect(shardOf('2001:db8::1', 4)).toBe(shardOf(['2001', 'db8', '', '1'].join(':'), 4));
  });

  it('spreads 252 loopback exporters over 2 and 4 workers (none gets less than a sixth of its share)', () => {
    for (const workers of [2, 4]) {
      const counts = new Array<number>(workers).fill(0);
      for (let i = 1; i <= 252; i++) counts[shardOf(`127.0.0.${i}`, workers)]!++;
      for (const c of counts) expect(c).toBeGreaterThan(252 / workers / 6);
    }
  });

  it('gives the 27 sFlow agents of the oxyflow capture (one source address each) to both of 2 workers', () => {
    // replay --map-exporters sends each original exporter from 127.0.0.2, .3, ...
    const used = new Set(Array.from({ length: 27 }, (_, i) => shardOf(`127.0.0.${i + 2}`, 2)));
    expect(used).toEqual(new Set([0, 1]));
  });

  it('sends an sFlow agent\'s datagrams to one worker whatever their source, and the 27 agents of a capture to both', () => {
    const packets = udpPayloads(resolve(corpus, 'sflow/oxyflow__sflow.pcap')).filter((p) => p.payload.readUInt32BE(4) === 1);
    const byAgent = new Map<string, Set<number>>();
    for (const [i, p] of packets.entries()) {
      const agent = [...p.payload.subarray(8, 12)].join('.');
      // the same agent relayed from changing sources (as through an sFlow replicator)
      const s = shardOfDatagram(p.payload, `127.0.0.${(i % 200) + 1}`, 2);
      byAgent.set(agent, (byAgent.get(agent) ?? new Set()).add(s));
    }
    expect(byAgent.size).toBe(27);
    for (const shards of byAgent.values()) expect(shards.size).toBe(1);
    expect(new Set([...byAgent.values()].flatMap((s) => [...s]))).toEqual(new Set([0, 1]));
  });

  it('shards NetFlow and IPFIX by source address (no sFlow agent in them)', () => {
    for (const capture of ['nf5/akvorado__nfv5.pcap', 'nf9/pmacct__101-NFv9-CISCO.pcap', 'ipfix/pmacct__100-IPFIX-CISCO.pcap']) {
      const d = udpPayloads(resolve(corpus, capture))[0]!.payload;
      expect(sflowAgentHash(d)).toBe(-1);
      for (let i = 1; i <= 20; i++) expect(shardOfDatagram(d, `127.0.0.${i}`, 3)).toBe(shardOf(`127.0.0.${i}`, 3));
    }
  });
});
