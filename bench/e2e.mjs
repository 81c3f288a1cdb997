// End-to-end benchmark: the real gateway process (`bin/ipfix-mediator run`, input protocol auto), NetFlow
// v5 or v9 or sFlow v5 in over loopback UDP, IPFIX out to files or over loopback UDP to a counting sink.
// For each offered rate it measures the records the gateway decoded (its own /metrics), the loss against
// what was sent, what reached the output, and the gateway's CPU time. Reports the highest rate with
// < 0.1 % loss.
//
//   node bench/e2e.mjs [v5|v9|sflow] [--output file|udp] [--rates 500000,1000000,...] [--seconds 3]
//                      [--rmem 67108864]
//
// --output file (default) stores IPFIX files like nfcapd/sfacctd store their own, the reference figures'
// setup; --output udp re-exports to a counting UDP sink. Rates are records/s: for sFlow, samples/s (each
// flow or counter sample becomes one IPFIX record). sFlow traffic is bench/lib/sflow-gen.mjs: 64 agents
// (72 exporter sessions), ~6 samples per datagram. For sFlow the records that reached the output are
// counted too (the IPFIX files read back, or the UDP sink's messages parsed): records carrying an sFlow
// enterprise element, so the original-exporter options records are not counted as samples.
//
// The kernel's net.core.rmem_max caps the receive buffer the gateway asks for (64 MiB): raise it
// (sysctl -w net.core.rmem_max=67108864) as an operator would, or bursts are lost. --rmem N raises it
// to N for the run (root only) and puts the old value back on exit.

import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { v5Datagrams, v9Datagrams, recordsIn } from './lib/netflow-gen.mjs';
import { sflowDatagrams, samplesIn, describe } from './lib/sflow-gen.mjs';
import { ipfixCounter, ipfixDirCounter } from './lib/ipfix-count.mjs';
import { cpuSeconds, rssMiB } from './lib/proc.mjs';
import { raiseRmemForRun, rmemMax } from './lib/rmem.mjs';
import { offer } from './lib/sender.mjs';
import { writeGatewayConfig, startGateway, COUNTERS } from './lib/gateway.mjs';

const args = process.argv.slice(2);
const protocol = args.find((a) => a === 'v5' || a === 'v9' || a === 'sflow') ?? 'v5';
const sflow = protocol === 'sflow';
/** The PEN the gateway exports sFlow's own elements under (mapping.sflow.enterprise default). */
const SFLOW_PEN = 4294967293;
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const defaultRates = { v5: '500000,1000000,1500000,2000000,2500000', v9: '500000,1000000,1500000,2000000', sflow: '50000,100000,150000,200000,300000,500000' };
const rates = opt('--rates', defaultRates[protocol])
  .split(',')
  .map(Number);
const seconds = Number(opt('--seconds', '3'));
const outputKind = opt('--output', 'file');

// Kernel receive buffer cap: raised for the run only when asked, and restored however the run ends.
raiseRmemForRun(Number(opt('--rmem', '0')));

const basePort = 20000 + Math.floor(Math.random() * 20000);
const inPort = basePort;
const sinkPort = basePort + 1;
const metricsPort = basePort + 2;

const dir = mkdtempSync(join(tmpdir(), 'ipfix-bench-'));
const configPath = join(dir, 'bench.yaml');
writeGatewayConfig(configPath, {
  inPort,
  outputUrl: outputKind === 'udp' ? `udp://127.0.0.1:${sinkPort}` : `file://${dir}/out/flows.ipfix`,
  metricsPort,
  keep: sflow ? 1000 : 2,
});

// The counting sink: IPFIX messages and the records they carry would need decoding; count messages and bytes.
const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
let sinkMessages = 0;
let sinkBytes = 0;
// sFlow: the sink also counts the records of each message (cheap: set headers and record lengths).
const sinkRecords = sflow && outputKind === 'udp' ? ipfixCounter(SFLOW_PEN) : null;
sink.on('message', (m) => {
  sinkMessages++;
  sinkBytes += m.length;
  sinkRecords?.message(m);
});
// File output: the files read back after each step (closed files deleted once read).
const fileRecords = sflow && outputKind === 'file' ? ipfixDirCounter(join(dir, 'out'), SFLOW_PEN, { removeRead: true }) : null;
const outputSamples = () => (sinkRecords ? sinkRecords.marked : fileRecords ? fileRecords().marked : NaN);
await new Promise((r) => sink.bind(sinkPort, '127.0.0.1', r));

const gw = startGateway(configPath, metricsPort);
const { metric, counters, stop } = gw;

const pool = sflow ? sflowDatagrams(8000) : protocol === 'v5' ? v5Datagrams(2000) : v9Datagrams(2000, { templateEvery: 2000 });
// Records each datagram carries (sFlow: samples, which vary per datagram), and the mean.
const recordsOf = pool.map((d, i) => (sflow ? samplesIn(d) : i === 0 && protocol === 'v9' ? 0 : recordsIn(d)));
const perDatagram = sflow ? recordsOf.reduce((a, b) => a + b, 0) / pool.length : recordsIn(pool[1]);
const sender = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
await new Promise((r) => sender.bind(0, '127.0.0.1', r));
sender.connect(inPort, '127.0.0.1');
await new Promise((r) => sender.once('connect', r));
await metric('ipfix_mediator_records_received_total'); // wait for the gateway
// v9: make sure the template is known before measuring.
sender.send(pool[0]);
await sleep(200);
// sFlow: every agent's sessions and templates created, and the decoder's code warm, before measuring.
if (sflow) {
  for (let i = 0; i < pool.length; i++) {
    sender.send(pool[i]);
    if (i % 50 === 49) await sleep(1);
  }
  // Until the gateway has worked through the warm-up (its decoded count stops moving).
  let last = -1;
  for (let n = await metric('ipfix_mediator_records_received_total'); n !== last; n = await metric('ipfix_mediator_records_received_total')) {
    last = n;
    await sleep(500);
  }
}

// The timed run sends the pool round and round (bench/lib/sender.mjs); NetFlow pools skip their first
// datagram (v9: the template-only one the warm-up sent) as before.
const items = pool.map((datagram, i) => ({ exporter: 0, datagram, records: recordsOf[i] })).slice(sflow ? 0 : 1);

const rows = [];
let out0 = sflow ? outputSamples() : 0;
for (const rate of rates) {
  const c0 = await counters();
  const before = c0.decoded;
  const cpu0 = cpuSeconds(gw.pid);
  const sink0 = sinkMessages;
  const { records, datagrams: sent } = await offer([sender], items, rate, seconds);
  // A 1 s grace, then until the decoded count stops moving: what is still queued in the receive buffer
  // then was not lost, only late. A step whose count still moved after the grace did not keep up
  // (backlogMs > 0): over a longer run its backlog would overflow the buffer, so it does not qualify.
  await sleep(1000);
  let backlogMs = 0;
  for (let n = await metric(COUNTERS.decoded), m; backlogMs < 20000; n = m) {
    await sleep(250);
    m = await metric(COUNTERS.decoded);
    if (m === n) break;
    backlogMs += 250;
  }
  const c1 = await counters();
  const after = c1.decoded;
  const cpu = cpuSeconds(gw.pid) - cpu0;
  const got = after - before;
  const loss = records > 0 ? 1 - got / records : 0;
  const extra = {};
  if (sflow) {
    const out1 = outputSamples();
    extra.datagramsSent = sent;
    extra.datagramsReceived = c1.datagrams - c0.datagrams;
    extra.datagramsDropped = c1.datagramsDropped - c0.datagramsDropped;
    extra.agentSequenceGaps = c1.sflowLost - c0.sflowLost;
    extra.recordsDroppedAtOutput = c1.recordsDropped - c0.recordsDropped;
    extra.outputSampleRecords = out1 - out0;
    extra.outputLossPct = records > 0 ? +((1 - (out1 - out0) / records) * 100).toFixed(3) : 0;
    out0 = out1;
  }
  rows.push({
    offered: rate,
    sent: records,
    decoded: got,
    lossPct: +(loss * 100).toFixed(3),
    achievedPerSec: Math.round(got / seconds),
    cpuSecPerMillion: +((cpu / Math.max(got, 1)) * 1e6).toFixed(3),
    gatewayCpuPct: Math.round((cpu / (seconds + 1 + backlogMs / 1000)) * 100),
    sinkMessages: sinkMessages - sink0,
    rssMiB: +rssMiB(gw.pid).toFixed(1),
    backlogMs,
    ...extra,
  });
  console.error(JSON.stringify(rows.at(-1)));
}

// sFlow: loss is judged at both ends, decoded (gateway metrics) and written out (records read back).
const ok = rows.filter((r) => r.lossPct < 0.1 && r.backlogMs === 0 && !(r.outputLossPct >= 0.1));
const best = ok.length ? ok.reduce((a, b) => (b.achievedPerSec > a.achievedPerSec ? b : a)) : undefined;
console.log(
  JSON.stringify(
    {
      bench: `e2e-${protocol}-${outputKind}`,
      rmemMax: String(rmemMax()),
      recordsPerDatagram: +perDatagram.toFixed(2),
      ...(sflow ? { traffic: describe(pool) } : {}),
      seconds,
      rows,
      maxRateBelow0_1pctLoss: best?.achievedPerSec ?? 0,
      sinkBytes,
    },
    null,
    1,
  ),
);
stop();
sender.close();
sink.close();
await sleep(300);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
