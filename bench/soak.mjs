// Soak (issue 6): the gateway under steady load for a long time, watched for memory growth.
//
//   node bench/soak.mjs [--protocol v5|v9|sflow] [--rate N] [--fraction 0.8] [--minutes 10]
//                       [--sample-seconds 10] [--exporters 16] [--rmem 67108864] [--workers N]
//                       [--sender c|node] [--no-doc]
//   npm run soak -- --rate 2000000
//
// Offers `fraction` × `rate` records/s (the rate defaults to issue 6's target for the protocol: pass the
// maximum rate the side-by-side benchmark measured instead) of the side-by-side traffic
// (bench/lib/traffic.mjs) to a fresh gateway with IPFIX file output (files rotate, two kept) for
// `minutes`. Every `sample-seconds` it records the gateway's RSS (/proc), its V8 heap (every isolate:
// main thread and workers, reported by bench/lib/heap-probe.mjs preloaded with --import), the records it
// decoded and its CPU time. Growth is reported as the mean of the first minute against the mean of the
// last (a quarter of the run each when shorter than four minutes) and as the least-squares slope over
// the samples after the first window (the warm-up: buffers, JIT, sessions filling). One JSON line per
// sample ({bench: 'soak-sample'}), a summary line ({bench: 'soak'}), and a line in docs/benchmarks.md.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { traffic } from './lib/traffic.mjs';
import { openSenders, sendGently, offer } from './lib/sender.mjs';
import { available as cSenderAvailable, writePool, blast } from './lib/blast.mjs';
import { writeGatewayConfig, startGateway, COUNTERS } from './lib/gateway.mjs';
import { cpuSeconds, rssMiB, peakRssMiB, udpSocket } from './lib/proc.mjs';
import { raiseRmemForRun } from './lib/rmem.mjs';
import { freeUdpPort, freeTcpPort } from './lib/ports.mjs';
import { machine } from './lib/machine.mjs';
import { writeDocSection } from './lib/doc.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const protocol = opt('--protocol', 'v5');
const TARGETS = { v5: 2_500_000, v9: 2_000_000, sflow: 800_000 };
const rate = Number(opt('--rate', TARGETS[protocol]));
const fraction = Number(opt('--fraction', '0.8'));
const minutes = Number(opt('--minutes', '10'));
const sampleSeconds = Number(opt('--sample-seconds', '10'));
const offered = Math.round(rate * fraction);
const rmemWanted = Number(opt('--rmem', '67108864'));
const buffer = Math.min(rmemWanted, raiseRmemForRun(rmemWanted));

const dir = mkdtempSync(join(tmpdir(), 'ipfix-soak-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const host = machine();
const port = await freeUdpPort();
const metricsPort = await freeTcpPort();
const heapFile = join(dir, 'heap.jsonl');
const workers = opt('--workers', '');
writeGatewayConfig(join(dir, 'gateway.yaml'), { inPort: port, outputUrl: `file://${dir}/out/flows.ipfix`, metricsPort, receiveBuffer: buffer, extra: workers ? `workers: ${Number(workers)}\n` : '' });
const gw = startGateway(join(dir, 'gateway.yaml'), metricsPort, {
  nodeArgs: ['--import', resolve(import.meta.dirname, 'lib/heap-probe.mjs')],
  env: { ...process.env, BENCH_HEAP_FILE: heapFile, BENCH_HEAP_INTERVAL_MS: String(Math.min(1000, sampleSeconds * 500)) },
});
await gw.metric(COUNTERS.decoded);

const t = traffic(protocol, { exporters: Number(opt('--exporters', '16')), senders: Number(opt('--exporters', '16')) });
const sourcePort = await freeUdpPort();
const senders = await openSenders(t.addresses, port, { sourcePort });
// The C sender (as in bench/peers.mjs) unless --sender node or no C compiler.
const cSender = opt('--sender', 'c') === 'c' && cSenderAvailable() !== null;
const pool = join(dir, 'traffic.pool');
if (cSender) writePool(pool, t.addresses, t.items);
await sendGently(senders.sockets, t.warmup);

/** The V8 heap of every isolate now: the latest line each thread wrote, summed. */
function heapMiB() {
  let text = '';
  try {
    text = readFileSync(heapFile, 'utf8');
  } catch {
    return NaN;
  }
  const last = new Map();
  for (const line of text.trimEnd().split('\n').slice(-200)) {
    if (!line) continue;
    const m = JSON.parse(line);
    last.set(m.threadId, m);
  }
  let used = 0;
  for (const m of last.values()) used += m.heapUsed;
  return used / 2 ** 20;
}

console.error(`soak: ${protocol} at ${offered} records/s (${fraction} × ${rate}) for ${minutes} min, sampling every ${sampleSeconds} s`);
const samples = [];
const start = Date.now();
const cpu0 = cpuSeconds(gw.pid);
const decoded0 = await gw.metric(COUNTERS.decoded);
const drops0 = udpSocket(port)?.drops ?? 0;
let sampling = Promise.resolve();
const timer = setInterval(() => {
  sampling = sampling.then(async () => {
    const s = {
      bench: 'soak-sample',
      t: +((Date.now() - start) / 1000).toFixed(1),
      rssMiB: +rssMiB(gw.pid).toFixed(1),
      heapUsedMiB: +heapMiB().toFixed(1),
      decoded: (await gw.metric(COUNTERS.decoded)) - decoded0,
      cpuSec: +(cpuSeconds(gw.pid) - cpu0).toFixed(2),
      kernelDrops: (udpSocket(port)?.drops ?? 0) - drops0,
    };
    samples.push(s);
    console.log(JSON.stringify(s));
  });
}, sampleSeconds * 1000);
const sent = cSender ? await blast(pool, port, offered, minutes * 60, sourcePort) : await offer(senders.sockets, t.items, offered, minutes * 60);
clearInterval(timer);
await sampling;
// What is still queued in the receive buffer is late, not lost: until the decoded count stops moving.
for (let a = -1, b = await gw.metric(COUNTERS.decoded), waited = 0; a !== b && waited < 30000; waited += 500) {
  await sleep(500);
  [a, b] = [b, await gw.metric(COUNTERS.decoded)];
}
const decoded = (await gw.metric(COUNTERS.decoded)) - decoded0;
const cpu = cpuSeconds(gw.pid) - cpu0;
const kernelDrops = (udpSocket(port)?.drops ?? 0) - drops0;
const peak = peakRssMiB(gw.pid);
await gw.shutdown();
await senders.close();

/** Mean of `key` over samples with t in [from, to). */
const mean = (key, from, to) => {
  const xs = samples.filter((s) => s.t >= from && s.t < to).map((s) => s[key]);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
};
/** Least-squares slope of `key` per minute over samples from `from` seconds on. */
function slope(key, from) {
  const pts = samples.filter((s) => s.t >= from && Number.isFinite(s[key]));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, s) => a + s.t, 0) / pts.length;
  const my = pts.reduce((a, s) => a + s[key], 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const s of pts) {
    num += (s.t - mx) * (s[key] - my);
    den += (s.t - mx) ** 2;
  }
  return (num / den) * 60;
}
const total = minutes * 60;
// At least one sample in each window, however short the run.
const windowS = Math.max(Math.min(60, total / 4), samples.length ? samples[0].t + 0.1 : 0);
const round = (x, d = 1) => (Number.isFinite(x) ? +x.toFixed(d) : null);
const summary = {
  bench: 'soak',
  protocol,
  offeredPerSec: offered,
  fraction,
  rate,
  minutes,
  sampleSeconds,
  samples: samples.length,
  sent: sent.records,
  decoded,
  lossPct: +((1 - decoded / Math.max(sent.records, 1)) * 100).toFixed(3),
  // Datagrams the kernel dropped because the gateway's receive buffer was full.
  kernelDrops,
  cpuSecPerMillion: +((cpu / Math.max(decoded, 1)) * 1e6).toFixed(3),
  windowSeconds: windowS,
  rssFirstMiB: round(mean('rssMiB', 0, windowS)),
  rssLastMiB: round(mean('rssMiB', Math.min(total - windowS, samples.at(-1)?.t ?? 0), Infinity)),
  rssSlopeMiBPerMin: round(slope('rssMiB', windowS), 2),
  heapFirstMiB: round(mean('heapUsedMiB', 0, windowS)),
  heapLastMiB: round(mean('heapUsedMiB', Math.min(total - windowS, samples.at(-1)?.t ?? 0), Infinity)),
  heapSlopeMiBPerMin: round(slope('heapUsedMiB', windowS), 2),
  peakRssMiB: round(peak),
  receiveBuffer: buffer,
  workers: workers || 'default',
  sender: cSender ? 'c' : 'node',
  machine: host,
};
console.log(JSON.stringify(summary));

if (!args.includes('--no-doc')) {
  const names = { v5: 'NetFlow v5', v9: 'NetFlow v9', sflow: 'sFlow v5' };
  const short = minutes < 10 ? ` — **a short development run (${minutes} min) on a shared machine, not the reference soak**` : '';
  // A run with workers has a line of its own (workers change the CPU per record, see docs/workers.md).
  writeDocSection(
    workers ? `soak-${protocol}-workers${Number(workers)}` : `soak-${protocol}`,
    `- ${names[protocol]}${workers ? `, workers ${Number(workers)}` : ''}, ${host.date}${short}: ${offered.toLocaleString('en')} records/s (${fraction} × ${rate.toLocaleString('en')}) for ${minutes} min, ` +
      `loss ${summary.lossPct} % (${kernelDrops} datagrams dropped by the kernel, receive buffer full), ${summary.cpuSecPerMillion} CPU-s per million records. RSS ${summary.rssFirstMiB} → ${summary.rssLastMiB} MiB ` +
      `(first vs last ${windowS} s; slope after the first window ${summary.rssSlopeMiBPerMin} MiB/min; peak ${summary.peakRssMiB} MiB), V8 heap (all isolates) ` +
      `${summary.heapFirstMiB} → ${summary.heapLastMiB} MiB (slope ${summary.heapSlopeMiBPerMin} MiB/min). Load average at the start ${host.loadAverage.join(' / ')}.`,
  );
  console.error('docs/benchmarks.md: soak line written');
}
process.exit(0);
