// A ShardedInput in this process (src/pipeline/sharded-input.ts) with real worker threads (the built
// dist/pipeline/worker.js: run `npm run build` first) and a real UDP socket: corpus datagrams from several
// source addresses come out of the sink as the same events a main-thread Collecting Process makes; the
// workers' counters reach this process's scrape; a worker with too many batches out makes the main thread
// drop, counted; stopping ends every session ('shutdown') after its last records.

import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig, UdpReceive } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { metricsText } from '../../src/observe/metrics.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { ShardedInput, workerUrl } from '../../src/pipeline/sharded-input.js';
import { shardOf } from '../../src/pipeline/shard.js';
import { DATAGRAM_BATCH_BYTES } from '../../src/pipeline/datagram-batch.js';
import { sleep } from '../helpers/tools.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };
const built = existsSync(fileURLToPath(workerUrl()));
// recvmmsg: each worker reads its own SO_REUSEPORT socket (needs the udp-receiver addon; CI builds it).
const modes: UdpReceive[] = existsSync(resolve(import.meta.dirname, '../../native/udp-receiver/build/Release/udp_receiver.node')) || process.env.IPFIX_MEDIATOR_INTEROP === 'required' ? ['dgram', 'recvmmsg'] : ['dgram'];

let inputSeq = 0;
/** receive: dgram — the main thread receives and posts datagram batches; recvmmsg — each worker reads its own socket. */
function input(receive: UdpReceive = 'dgram'): InputConfig {
  return { name: `sharded${++inputSeq}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 8 << 20, receive };
}

type Ev = unknown[];
function recorder(): { sink: RecordSink; events: Ev[] } {
  const events: Ev[] = [];
  return {
    events,
    sink: {
      sessionStarted: (s) => events.push(['started', s.address, s.port, s.observationDomainId]),
      templateDefined: (s, t) => events.push(['defined', s.address, s.port, s.observationDomainId, t.id, t.fields.length]),
      templateWithdrawn: (s, t) => events.push(['withdrawn', s.address, s.port, s.observationDomainId, t.id]),
      records: (s, t, buf, start, end, count) => events.push(['records', s.address, s.port, s.observationDomainId, t.id, count, buf.toString('hex', start, end)]),
      sessionEnded: (s, reason) => events.push(['ended', s.address, s.port, s.observationDomainId, reason]),
    },
  };
}

/** The events of one exporter (address, and port unless undefined), in order: what a worker must keep exactly. */
const of = (events: Ev[], address: string, port: number | undefined) => events.filter((e) => e[1] === address && (port === undefined || e[2] === port));

const sockets: dgram.Socket[] = [];
afterAll(() => sockets.forEach((s) => s.close()));
async function sender(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

/** A series' value in the scrape (this thread's registry plus the workers'), 0 when absent. */
async function scraped(name: string, labels: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met within the bound');
    await sleep(20);
  }
}

describe.skipIf(!built)('ShardedInput (2 worker threads)', () => {
  it.each(modes)('receive: %s — turns v9 and sFlow datagrams from 6 exporters into the events a main-thread Collecting Process makes, per exporter in order', async (receive) => {
    const nf9 = udpPayloads(resolve(corpus, 'nf9/pmacct__102-NFv9-CISCO-sampling.pcap'));
    // sFlow sessions are keyed by the agent address inside the datagram (v5 header: version, address type,
    // then the IPv4 agent address at offset 8): each of three sources sends one agent's datagrams.
    const oxy = udpPayloads(resolve(corpus, 'sflow/oxyflow__sflow.pcap')).filter((p) => p.payload.readUInt32BE(4) === 1);
    const agentOf = (d: Buffer) => [...d.subarray(8, 12)].join('.');
    const byAgent = new Map<string, Buffer[]>();
    for (const p of oxy) byAgent.set(agentOf(p.payload), [...(byAgent.get(agentOf(p.payload)) ?? []), p.payload]);
    const agents = [...byAgent.entries()].sort((a, b) => b[1].length - a[1].length).slice(0, 3);
    const got = recorder();
    const c = input(receive);
    const si = new ShardedInput(c, got.sink, options, 2, 'warn');
    await si.start();
    const sources = ['127.0.0.41', '127.0.0.42', '127.0.0.43', '127.0.0.44', '127.0.0.45', '127.0.0.46'];
    const senders = await Promise.all(sources.map(sender));
    // What each source sends: v9 from the first three, one sFlow agent each from the others; interleaved.
    const plan = sources.map((_, i) => (i < 3 ? nf9.map((p) => p.payload) : agents[i - 3]![1]));
    const rounds = Math.max(...plan.map((p) => p.length));
    for (let k = 0; k < rounds; k++) {
      for (const [i, s] of senders.entries()) {
        const d = plan[i]![k];
        if (d) await new Promise<void>((r) => s.send(d, si.port, '127.0.0.1', () => r()));
      }
    }
    const sflowSent = plan.slice(3).reduce((n, p) => n + p.length, 0);
    expect(sflowSent).toBeGreaterThan(100);
    await until(async () => (await scraped('ipfix_mediator_packets_received_total', `input="${c.name}",protocol="sflow"`)) === sflowSent);
    expect(await scraped('ipfix_mediator_packets_received_total', `input="${c.name}",protocol="netflow9"`)).toBe(3 * nf9.length);

    // The same datagrams through a Collecting Process on this thread.
    const direct = recorder();
    const cp = new CollectingProcess(input(), direct.sink, options);
    const ports = senders.map((s) => s.address().port);
    for (let k = 0; k < rounds; k++) for (const [i, a] of sources.entries()) if (plan[i]![k]) cp.feed(plan[i]![k]!, a, ports[i]!);
    // Exporters: v9 by source address and port; sFlow by agent address. sFlow stamps records with the time
    // of receipt, and numbers the Template IDs it makes up in the order its decoder meets layouts (per
    // thread): its records are compared by count and length, its templates by field count.
    const exporters: [string, number | undefined][] = [...sources.slice(0, 3).map((a, i) => [a, ports[i]] as [string, number]), ...agents.map(([a]) => [a, undefined] as [string, undefined])];
    const isSflow = (e: Ev) => agents.some(([a]) => a === e[1]);
    const shape = (e: Ev) => (!isSflow(e) ? e : e[0] === 'records' ? [...e.slice(0, 4), e[5], (e[6] as string).length] : e[0] === 'defined' ? [...e.slice(0, 4), e[5]] : e);
    for (const [a, port] of exporters) {
      const mine = of(got.events, a, port).map(shape);
      expect(mine.length).toBeGreaterThan(3);
      expect(mine).toEqual(of(direct.events, a, port).map(shape));
    }

    // A late sink learns every live session; stopping ends them all, after their records.
    const late = recorder();
    si.announceTo(late.sink);
    expect(late.events.filter((e) => e[0] === 'started')).toHaveLength(got.events.filter((e) => e[0] === 'started').length);
    await si.stop();
    await cp.stop();
    for (const [a, port] of exporters) {
      const mine = of(got.events, a, port);
      expect(mine.at(-1)?.[0]).toBe('ended');
      expect(mine.filter((e) => e[0] === 'ended').map((e) => e[4])).toEqual(of(direct.events, a, port).filter((e) => e[0] === 'ended').map((e) => e[4]));
    }
    // The stopped workers' counters stay in the scrape.
    expect(await scraped('ipfix_mediator_packets_received_total', `input="${c.name}",protocol="sflow"`)).toBe(sflowSent);
  }, 60_000);

  it('hands the sink the exporters\' events in the order their datagrams arrived, whichever worker is faster', async () => {
    // Pairs of exporters, the first of each on worker 0, the second on worker 1, the first sending first:
    // the second's worker may well finish first (about half the time), but its session must not start
    // downstream before the first's (downstream choices, like which exporter's template keeps its Template
    // ID, follow this order).
    const v5 = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'))[0]!.payload;
    const addresses = Array.from({ length: 120 }, (_, i) => `127.0.1.${i + 1}`);
    const on = (w: number) => addresses.filter((a) => shardOf(a, 2) === w);
    const pairs = on(0).slice(0, 25).map((a, i) => [a, on(1)[i]!] as const);
    expect(pairs).toHaveLength(25);
    const got = recorder();
    const c = input();
    const si = new ShardedInput(c, got.sink, options, 2, 'warn');
    await si.start();
    const startedCount = () => got.events.filter((e) => e[0] === 'started').length;
    for (const [k, [first, second]] of pairs.entries()) {
      const [x, y] = [await sender(first), await sender(second)];
      // Both datagrams in one go; the pair before them already replayed (so they open new batches, the
      // first's before the second's: the batches' order is the order of their first datagrams).
      x.send(v5, si.port, '127.0.0.1');
      y.send(v5, si.port, '127.0.0.1');
      await until(() => startedCount() === 2 * (k + 1));
    }
    const started = got.events.filter((e) => e[0] === 'started').map((e) => e[1]);
    expect(started).toEqual(pairs.flat());
    await si.stop();
  }, 30_000);

  it('drops and counts (worker_backlog) what a worker with its batches all out cannot take', async () => {
    // One batch in flight, and datagrams so large that four fill a batch: 16 datagrams that wait in the
    // socket together are read in one I/O turn (libuv reads up to 32 per readiness), so the first four go
    // out in one batch and the twelve after it find the worker's only batch still out.
    const v5 = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'))[0]!.payload;
    const big = Buffer.alloc(Math.floor(DATAGRAM_BATCH_BYTES / 4) - 100);
    v5.copy(big); // a v5 datagram with trailing octets: decoded, the rest ignored
    const got = recorder();
    const c = input();
    const si = new ShardedInput(c, got.sink, options, 1, 'silent', 1);
    await si.start();
    const s = await sender('127.0.0.47');
    for (let i = 0; i < 16; i++) s.send(big, si.port, '127.0.0.1');
    const dropped = () => scraped('ipfix_mediator_packets_dropped_total', `input="${c.name}",reason="worker_backlog"`);
    const decoded = () => scraped('ipfix_mediator_packets_received_total', `input="${c.name}",protocol="netflow5"`);
    await until(async () => (await dropped()) + (await decoded()) >= 16);
    expect(await dropped()).toBe(12);
    expect(await decoded()).toBe(4);
    expect(await scraped('ipfix_mediator_records_received_total', `input="${c.name}",protocol="netflow5"`)).toBe(4 * 29);
    expect(got.events.filter((e) => e[0] === 'records').reduce((n, e) => n + (e[5] as number), 0)).toBe(4 * 29);
    await si.stop();
  }, 30_000);

  it.skipIf(!modes.includes('recvmmsg'))('receive: recvmmsg — a worker whose events wait for a blocked main thread stops reading: its socket overflows, and received + receive_buffer_full = sent', async () => {
    const v5 = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'))[0]!.payload;
    let records = 0;
    const sink: RecordSink = { sessionStarted() {}, templateDefined() {}, templateWithdrawn() {}, records: (_s, _t, _b, _st, _e, count) => void (records += count), sessionEnded() {} };
    // A 64 KiB socket buffer: about 40 of these datagrams.
    const c = { ...input('recvmmsg'), receiveBuffer: 64 * 1024 };
    const si = new ShardedInput(c, sink, options, 1, 'silent');
    await si.start();
    const SENT = 3000;
    // spawnSync blocks this thread (the replay) while another process sends: the worker reads and sends
    // events until 64 event batches wait unreplayed, then reads no more until they come back.
    // Paced (10 datagrams a millisecond at most) so that a worker that kept reading would keep up: the loss
    // comes from the worker holding back, not from the sender outrunning it.
    const sender = `const s=require('dgram').createSocket('udp4');const d=Buffer.from('${v5.toString('hex')}','hex');let n=0;const go=()=>{if(n===${SENT})return s.close();n++;s.send(d,${si.port},'127.0.0.1',()=>n%10?go():setTimeout(go,1))};go();`;
    const r = spawnSync(process.execPath, ['-e', sender], { timeout: 20_000 });
    expect(r.status).toBe(0);
    const dropped = () => scraped('ipfix_mediator_packets_dropped_total', `input="${c.name}",reason="receive_buffer_full"`);
    await until(async () => records / 29 + (await dropped()) >= SENT);
    await sleep(200);
    expect(await dropped()).toBeGreaterThan(0);
    expect(records % 29).toBe(0);
    expect(records / 29 + (await dropped())).toBe(SENT);
    await si.stop();
  }, 30_000);
});
