// End-to-end benchmark: the real gateway process (`bin/ipfix-mediator run`), NetFlow v5 or v9 in over
// loopback UDP, IPFIX out over loopback UDP to a counting sink. For each offered rate it measures the
// records the gateway decoded (its own /metrics), the loss against what was sent, the IPFIX messages that
// reached the sink, and the gateway's CPU time. Reports the highest rate with < 0.1 % loss.
//
//   node bench/e2e.mjs [v5|v9] [--output file|udp] [--rates 500000,1000000,...] [--seconds 3]
//
// --output file (default) stores IPFIX files like nfcapd stores its own, the reference figure's setup;
// --output udp re-exports to a counting UDP sink. The kernel's net.core.rmem_max caps the receive
// buffer: raise it (sysctl -w net.core.rmem_max=67108864) as an operator would, or bursts are lost.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { v5Datagrams, v9Datagrams, recordsIn } from './lib/netflow-gen.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const protocol = args.find((a) => a === 'v5' || a === 'v9') ?? 'v5';
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const rates = opt('--rates', protocol === 'v5' ? '500000,1000000,1500000,2000000,2500000' : '500000,1000000,1500000,2000000')
  .split(',')
  .map(Number);
const seconds = Number(opt('--seconds', '3'));
const outputKind = opt('--output', 'file');

const basePort = 20000 + Math.floor(Math.random() * 20000);
const inPort = basePort;
const sinkPort = basePort + 1;
const metricsPort = basePort + 2;

const dir = mkdtempSync(join(tmpdir(), 'ipfix-bench-'));
const configPath = join(dir, 'bench.yaml');
writeFileSync(
  configPath,
  `inputs:
  - name: bench
    listen: udp://127.0.0.1:${inPort}
    protocol: auto
    sessionTimeout: 300
    receiveBuffer: 67108864
outputs:
  - name: sink
    url: ${outputKind === 'udp' ? `udp://127.0.0.1:${sinkPort}` : `file://${dir}/out/flows.ipfix`}
    rotate: { maxBytes: 268435456, interval: 3600, keep: 2 }
metrics: 127.0.0.1:${metricsPort}
logLevel: warn
`,
);

// The counting sink: IPFIX messages and the records they carry would need decoding; count messages and bytes.
const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
let sinkMessages = 0;
let sinkBytes = 0;
sink.on('message', (m) => {
  sinkMessages++;
  sinkBytes += m.length;
});
await new Promise((r) => sink.bind(sinkPort, '127.0.0.1', r));

const gw = spawn(process.execPath, [join(root, 'bin/ipfix-mediator'), 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
const stop = () => gw.kill('SIGTERM');
process.on('exit', stop);

async function metric(name) {
  for (let i = 0; i < 50; i++) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
      return sum;
    } catch {
      await sleep(100);
    }
  }
  throw new Error('gateway metrics endpoint did not answer');
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100/s)
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const pool = protocol === 'v5' ? v5Datagrams(2000) : v9Datagrams(2000, { templateEvery: 2000 });
const perDatagram = recordsIn(pool[1]);
const sender = dgram.createSocket({ type: 'udp4', sendBufferSize: 8 << 20 });
await new Promise((r) => sender.bind(0, '127.0.0.1', r));
sender.connect(inPort, '127.0.0.1');
await new Promise((r) => sender.once('connect', r));
await metric('ipfix_mediator_records_received_total'); // wait for the gateway
// v9: make sure the template is known before measuring.
sender.send(pool[0]);
await sleep(200);

/** Sends datagrams at `rate` records/s for `seconds`, in 1 ms slices; returns datagrams and records sent. */
async function offer(rate) {
  const perMs = rate / perDatagram / 1000;
  const start = process.hrtime.bigint();
  const endNs = BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  let records = 0;
  let i = 1;
  for (;;) {
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= endNs) break;
    const due = Math.floor((Number(elapsed) / 1e6) * perMs);
    while (sent < due) {
      sender.send(pool[i]);
      records += perDatagram;
      sent++;
      i = i + 1 < pool.length ? i + 1 : 1;
    }
    await new Promise((r) => setImmediate(r));
  }
  return { sent, records };
}

const rows = [];
for (const rate of rates) {
  const before = await metric('ipfix_mediator_records_received_total');
  const cpu0 = cpuSeconds(gw.pid);
  const sink0 = sinkMessages;
  const { records } = await offer(rate);
  await sleep(1000);
  const after = await metric('ipfix_mediator_records_received_total');
  const cpu = cpuSeconds(gw.pid) - cpu0;
  const got = after - before;
  const loss = records > 0 ? 1 - got / records : 0;
  rows.push({
    offered: rate,
    sent: records,
    decoded: got,
    lossPct: +(loss * 100).toFixed(3),
    achievedPerSec: Math.round(got / seconds),
    cpuSecPerMillion: +((cpu / Math.max(got, 1)) * 1e6).toFixed(3),
    gatewayCpuPct: Math.round((cpu / (seconds + 1)) * 100),
    sinkMessages: sinkMessages - sink0,
    rssMiB: +rssMiB(gw.pid).toFixed(1),
  });
  console.error(JSON.stringify(rows.at(-1)));
}

const ok = rows.filter((r) => r.lossPct < 0.1);
const best = ok.length ? ok.reduce((a, b) => (b.achievedPerSec > a.achievedPerSec ? b : a)) : undefined;
console.log(JSON.stringify({ bench: `e2e-${protocol}-${outputKind}`, rmemMax: readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim(), recordsPerDatagram: perDatagram, seconds, rows, maxRateBelow0_1pctLoss: best?.achievedPerSec ?? 0, sinkBytes }, null, 1));
stop();
sender.close();
sink.close();
await sleep(300);
process.exit(0);
