// A worker thread that dies while events it sent back wait for another worker's earlier batch (the replay
// order, sharded-input.ts): those events are still replayed, in their turn, and only then do its sessions
// end. Deterministic: the workers run test/pipeline/fixtures/held-worker.mjs, the real worker.js whose
// 'events' messages a test can hold back, so the other worker's batch stays unanswered for as long as the
// test needs. A ShardedInput in this process, a real UDP socket, NetFlow v5 datagrams from the corpus.
// Build first: npm run build.

import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { metricsText } from '../../src/observe/metrics.js';
import { MAX_BATCHES_IN_FLIGHT, ShardedInput, workerUrl } from '../../src/pipeline/sharded-input.js';
import { shardOf } from '../../src/pipeline/shard.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { corpusDir } from '../helpers/tools.js';
import { until } from '../helpers/wait-for.js';

const built = existsSync(fileURLToPath(workerUrl()));
const heldWorker = new URL('./fixtures/held-worker.mjs', import.meta.url);
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };
/** akvorado's NetFlow v5 datagram: 29 records, engine type 0, engine id 3. */
const v5 = udpPayloads(join(corpusDir, 'nf5/akvorado__nfv5.pcap'))[0]!.payload;

const sockets: dgram.Socket[] = [];
const channel = new BroadcastChannel('held-worker');
afterAll(() => {
  for (const s of sockets) s.close();
  channel.close();
});
async function sender(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}
async function scraped(name: string, labels: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe.skipIf(!built)('a worker thread that dies with events waiting for their turn', () => {
  it('replays them after the earlier batch of the other worker, then ends its sessions', async () => {
    const events: string[] = [];
    let victimRecords = 0;
    const candidates = Array.from({ length: 60 }, (_, i) => `127.0.6.${i + 1}`);
    const victim = candidates.find((a) => shardOf(a, 2) === 0)!;
    const survivor = candidates.find((a) => shardOf(a, 2) === 1)!;
    const sink: RecordSink = {
      sessionStarted: (s) => events.push(`started ${s.address}`),
      templateDefined: (s, t) => events.push(`defined ${s.address} ${t.id}`),
      templateWithdrawn: (s, t) => events.push(`withdrawn ${s.address} ${t.id}`),
      records: (s, _t, _b, _start, _end, count) => {
        events.push(`records ${s.address} ${count}`);
        if (s.address === victim) victimRecords += count;
      },
      sessionEnded: (s, reason) => events.push(`ended ${s.address} ${reason}`),
    };
    const config: InputConfig = { name: `order${process.pid}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 8 << 20, receive: 'dgram' };
    const si = new ShardedInput(config, sink, options, 2, 'warn', MAX_BATCHES_IN_FLIGHT, heldWorker);
    await si.start();
    try {
      const received = () => scraped('ipfix_mediator_packets_received_total', `input="${config.name}",protocol="netflow5"`);
      // The survivor's worker (shard 1) keeps its answers back.
      const holding = new Promise<void>((r) => (channel.onmessage = (e) => (e as MessageEvent).data.holding === 1 && r()));
      channel.postMessage({ hold: 1 });
      await holding;
      const [s, v] = [await sender(survivor), await sender(victim)];

      // 1. The survivor's datagram first: its batch is decoded (counted) but not answered.
      s.send(v5, si.port, '127.0.0.1');
      await until('the survivor decoded', async () => (await received()) === 1);
      // 2. Then the victim's: decoded and answered; a scrape's answer comes after the events on the same
      // port, so once its count is in, its events are here — waiting behind the survivor's batch.
      v.send(v5, si.port, '127.0.0.1');
      await until('the victim decoded', async () => (await received()) === 2);
      expect(events).toEqual([]);

      // 3. The victim's thread ends. Nothing of its was lost; its events still wait, and so does its session's end.
      const dying = si.threads()[0]!;
      await dying.terminate();
      await until('a new worker for shard 0', () => si.threads()[0] !== undefined && si.threads()[0] !== dying, 10_000);
      expect(events).toEqual([]);
      expect(await scraped('ipfix_mediator_packets_dropped_total', `input="${config.name}",reason="worker_exited"`)).toBe(0);

      // 4. The survivor answers: its batch, then the victim's, then the victim's session ends.
      channel.postMessage({ release: 1 });
      await until('the victim\'s session ended', () => events.includes(`ended ${victim} shutdown`));
      expect(events).toEqual([`started ${survivor}`, `defined ${survivor} 256`, `records ${survivor} 29`, `started ${victim}`, `defined ${victim} 256`, `records ${victim} 29`, `ended ${victim} shutdown`]);
      expect(victimRecords).toBe(29);
      expect(await scraped('ipfix_mediator_exporter_sessions_ended_total', `input="${config.name}",reason="worker_exited"`)).toBe(1);
      expect(si.exporterSessions().map((x) => x.exporter)).toEqual([survivor]);

      // 5. The victim's next datagram: a new session in the new worker.
      v.send(v5, si.port, '127.0.0.1');
      await until('the victim again', () => events.length === 10);
      expect(events.slice(7)).toEqual([`started ${victim}`, `defined ${victim} 256`, `records ${victim} 29`]);
      expect(si.exporterSessions().map((x) => x.exporter).sort()).toEqual([survivor, victim].sort());
    } finally {
      await si.stop();
    }
  }, 30_000);
});
