// Side-by-side benchmark (issue 6): the gateway and the C tools an operator would otherwise run, fed the
// same generated traffic over loopback in the same run.
//
//   node bench/peers.mjs [--protocols v5,v9,sflow] [--receivers gateway,peer] [--seconds 3]
//                        [--rates 100000,200000] [--rates-v5 …] [--rates-v9 …] [--rates-sflow …]
//                        [--exporters 16] [--rmem 67108864] [--stop-after 1] [--tries 2] [--workers N[,M…]]
//                        [--receive recvmmsg|dgram[,…]]
//                        [--sender c|node] [--no-doc]
//
// Per protocol, each receiver in turn (the gateway; nfcapd for NetFlow v5/v9, sfacctd for sFlow, see
// bench/lib/receivers.mjs) is started fresh for every offered rate, gets the warm-up (v9: each exporter's
// Templates; the gateway also the whole traffic once, gently, so its code is compiled and its sessions
// exist: that is counted out through its own metrics), then the traffic at the rate for --seconds from
// every exporter's own 127.0.0.x address. After the send, a 1 s grace, then until the receiver is idle
// (the gateway: its decoded count stops moving; a C peer: its CPU time stops moving). Measured over that
// interval: the receiver's CPU (utime + stime of its processes, /proc/<pid>/stat), records decoded (what
// the receiver itself reports or wrote: the gateway's /metrics, nfdump's flow count of nfcapd's files,
// sfacctd's print output and counter log), the loss against what was sent, the kernel's drops on the
// receiver's socket, and its peak RSS (VmHWM). A step qualifies when the loss is below 0.1 % and the
// receiver was idle right after the grace (backlogMs 0: it kept up, nothing left queued).
//
// The traffic is sent by bench/lib/blast.c (sendmmsg, built with the system's cc on first use, from the
// same source address and port as the warm-up) or, with --sender node or without a C compiler, from this
// process (bench/lib/sender.mjs): a Node send() costs several µs more, taken from the receiver on 2 cores.
//
// --workers N sets the gateway's `workers` key (worker threads); without it the gateway's default applies.
// Several values (--workers 0,2) run the gateway once per value, each its own receiver and table row
// ("gateway workers=2"), each compared with the peer.
// --receive sets the input's `receive` key the same way (recvmmsg: the addon; dgram: node:dgram).
//
// Every receiver gets the same receive buffer: net.core.rmem_max is raised to --rmem for the run (root;
// restored on exit) and each asks for that much (gateway receiveBuffer, nfcapd -B, sfacctd_pipe_size).
//
// Output: one JSON line per step on stdout ({bench: 'peers', …}), then one per protocol and receiver
// ({bench: 'peers-summary', …}), and the table in docs/benchmarks.md and README.md (unless --no-doc). Rates are
// records/s (sFlow: samples/s, each flow or counter sample is one record). A step that does not qualify
// is tried again (--tries 2); the maximum rate is the best of the steps below the first rate that failed
// every try, and the ladder ends there (--stop-after 1).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { traffic } from './lib/traffic.mjs';
import { openSenders, sendGently, offer } from './lib/sender.mjs';
import { available as cSenderAvailable, writePool, blast } from './lib/blast.mjs';
import { RECEIVERS, PEER_OF } from './lib/receivers.mjs';
import { cpuSeconds, treeCpuSeconds, treePeakRssMiB, udpSocket } from './lib/proc.mjs';
import { raiseRmemForRun, keepRmem, rmemMax } from './lib/rmem.mjs';
import { freeUdpPort } from './lib/ports.mjs';
import { machine } from './lib/machine.mjs';
import { writeDocSection, table, README_MD } from './lib/doc.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const list = (s) => s.split(',').filter(Boolean);
const protocols = list(opt('--protocols', 'v5,v9,sflow'));
const receiverNames = list(opt('--receivers', 'gateway,peer'));
const seconds = Number(opt('--seconds', '3'));
const exporters = Number(opt('--exporters', '16'));
const stopAfter = Number(opt('--stop-after', '1'));
const tries = Number(opt('--tries', '2'));
// The gateway once per --workers value and per --receive value: receivers "gateway workers=N receive=R"
// (plain "gateway" without either option).
const workerCounts = list(opt('--workers', ''));
const receiveWays = list(opt('--receive', ''));
const isGateway = (name) => name === 'gateway' || name.startsWith('gateway ');
const gatewayVariants = [];
for (const w of workerCounts.length ? workerCounts : [undefined]) {
  for (const r of receiveWays.length ? receiveWays : [undefined]) {
    const name = ['gateway', w !== undefined ? `workers=${w}` : '', r !== undefined ? `receive=${r}` : ''].filter(Boolean).join(' ');
    if (name === 'gateway') continue;
    RECEIVERS[name] = { ...RECEIVERS.gateway, start: (o) => RECEIVERS.gateway.start({ ...o, workers: w, receive: r }) };
    gatewayVariants.push(name);
  }
}
const expandGateway = (n) => (n === 'gateway' && gatewayVariants.length ? gatewayVariants : [n]);
// The sender: C (sendmmsg, bench/lib/blast.c) unless asked for Node or no C compiler is there.
const cSender = opt('--sender', 'c') === 'c' && cSenderAvailable() !== null;
const writeDoc = !args.includes('--no-doc');
const DEFAULT_RATES = {
  v5: '250000,500000,1000000,1500000,2000000,2500000,3000000,3500000,4000000',
  v9: '250000,500000,1000000,1500000,2000000,2500000,3000000',
  sflow: '100000,200000,300000,400000,600000,800000,1000000,1200000',
};
const ratesFor = (p) => list(opt(`--rates-${p}`, opt('--rates', DEFAULT_RATES[p]))).map(Number);

// The same receive buffer for everyone, as large as the kernel lets this run have.
const rmem = raiseRmemForRun(Number(opt('--rmem', '67108864')));
const buffer = Math.min(Number(opt('--rmem', '67108864')), rmem);

const work = mkdtempSync(join(tmpdir(), 'ipfix-peers-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const host = machine();
console.error(`machine: ${JSON.stringify(host)}; receive buffer ${buffer} (rmem_max ${rmemMax()})`);

/** Polls `probe` every 250 ms after `graceMs` until it moves by at most `tolerance`; returns the extra ms. */
async function settle(probe, tolerance, graceMs = 1000, maxMs = 30000) {
  await sleep(graceMs);
  let backlogMs = 0;
  for (let a = await probe(); backlogMs < maxMs; backlogMs += 250) {
    await sleep(250);
    const b = await probe();
    if (Math.abs(b - a) <= tolerance) break;
    a = b;
  }
  return backlogMs;
}

let stepNo = 0;
/**
 * One receiver, fresh, at one rate: the measurement row. `decodable` is the share of the records it
 * decodes from one slow pass; rate 0 is that slow pass itself (returns the share).
 */
async function step(name, t, rate, decodable = 1) {
  const dir = join(work, `step-${++stepNo}`);
  mkdirSync(dir);
  const port = await freeUdpPort();
  const sourcePort = await freeUdpPort();
  const rmemNow = keepRmem(buffer);
  const watchdog = setTimeout(() => {
    console.error(`step ${name} ${t.protocol} ${rate}/s hung: giving up`);
    process.exit(2);
  }, (seconds + 120) * 1000);
  let r;
  let senders;
  try {
    r = await RECEIVERS[name].start({ port, buffer, dir, protocol: t.protocol });
    senders = await openSenders(t.addresses, port, { sourcePort });
    await sendGently(senders.sockets, t.warmup);
    const live = (await r.decoded()) !== undefined;
    if (live) {
      // The gateway: compiled code and every exporter's session before measuring (counted out below).
      await sendGently(senders.sockets, t.items);
      await settle(r.decoded, 0, 500);
    }
    const pids = r.pids();
    const cpu0 = treeCpuSeconds(pids);
    const drops0 = udpSocket(port)?.drops ?? 0;
    const live0 = live ? await r.decoded() : 0;
    const counters0 = r.counters ? await r.counters() : null;
    if (rate === 0) {
      await sendGently(senders.sockets, t.items);
      await (live ? settle(r.decoded, 0, 500) : settle(() => treeCpuSeconds(pids), 0.02, 500));
      const live1 = live ? await r.decoded() : 0;
      const fin = await r.finish();
      return (live ? live1 - live0 : fin.decoded) / t.items.reduce((n, i) => n + i.records, 0);
    }
    const sent = cSender ? await blast(t.pool, port, rate, seconds, sourcePort) : await offer(senders.sockets, t.items, rate, seconds);
    const backlogMs = live ? await settle(r.decoded, 0) : await settle(() => treeCpuSeconds(pids), 0.02);
    const cpu = treeCpuSeconds(pids) - cpu0;
    const drops = (udpSocket(port)?.drops ?? 0) - drops0;
    const live1 = live ? await r.decoded() : 0;
    // The gateway's own drop counters over the measured interval (and what the warm-up cost, if anything).
    const dropped = {};
    if (counters0) {
      const c1 = await r.counters();
      dropped.datagramsDropped = c1.datagramsDropped - counters0.datagramsDropped;
      dropped.recordsDropped = c1.recordsDropped - counters0.recordsDropped;
      if (counters0.datagramsDropped) dropped.datagramsDroppedInWarmup = counters0.datagramsDropped;
    }
    const peakRss = treePeakRssMiB(pids);
    const fin = await r.finish();
    const decoded = live ? live1 - live0 : fin.decoded;
    const { decoded: _, ...details } = fin;
    const loss = sent.records > 0 ? 1 - decoded / (sent.records * decodable) : 0;
    return {
      bench: 'peers',
      protocol: t.protocol,
      receiver: name,
      offered: rate,
      sent: sent.records,
      sentPerSec: Math.round(sent.records / sent.seconds),
      decoded,
      lossPct: +(loss * 100).toFixed(3),
      rawLossPct: +((1 - decoded / Math.max(sent.records, 1)) * 100).toFixed(3),
      achievedPerSec: Math.round(decoded / sent.seconds),
      cpuSec: +cpu.toFixed(2),
      cpuSecPerMillion: +((cpu / Math.max(decoded, 1)) * 1e6).toFixed(3),
      cpuPct: Math.round((cpu / (sent.seconds + 1 + backlogMs / 1000)) * 100),
      peakRssMiB: +peakRss.toFixed(1),
      kernelDrops: drops,
      rmemMax: rmemNow,
      backlogMs,
      qualifies: loss < 0.001 && backlogMs === 0,
      // The sender (one thread, paying the kernel's loopback delivery too) fell short of the rate:
      // the step shows what the receiver handled, not that it could take more.
      senderLimited: sent.records < 0.97 * rate * sent.seconds,
      sender: cSender ? 'c' : 'node',
      ...details,
      ...dropped,
    };
  } finally {
    clearTimeout(watchdog);
    await senders?.close();
    r?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const summaries = [];
const trafficInfo = {};
const versions = {};
const decodableShare = {};
for (const protocol of protocols) {
  const t = traffic(protocol, { exporters, senders: exporters });
  if (cSender) writePool((t.pool = join(work, `${protocol}.pool`)), t.addresses, t.items);
  trafficInfo[protocol] = t.describe;
  const names = receiverNames.flatMap((n) => (n === 'peer' ? [PEER_OF[protocol]] : expandGateway(n))).filter((n) => RECEIVERS[n]?.protocols.includes(protocol));
  const rows = {};
  for (const name of names) {
    try {
      versions[name] ??= RECEIVERS[name].version();
    } catch (e) {
      console.error(`skip ${name}: not runnable here (${e.message.split('\n')[0]})`);
      continue;
    }
    rows[name] = [];
    // What this receiver makes of the traffic when nothing is lost: one slow pass.
    let decodable;
    try {
      decodable = await step(name, t, 0);
    } catch (e) {
      console.error(`skip ${name} for ${protocol}: its slow pass failed (${e.message ?? e})`);
      delete rows[name];
      continue;
    }
    decodableShare[`${protocol}/${name}`] = decodable;
    console.error(`== ${protocol} ${name}: decodes ${(decodable * 100).toFixed(3)} % of the records of one slow pass`);
    let misses = 0;
    for (const rate of ratesFor(protocol)) {
      // A step that fails is tried again (--tries): on a machine shared with other work one bad second
      // should not end the ladder. The rate's row is its first qualifying try, else its last.
      let row;
      for (let attempt = 1; attempt <= tries && !row?.qualifies; attempt++) {
        console.error(`== ${protocol} ${name} ${rate} records/s for ${seconds} s${attempt > 1 ? ` (try ${attempt})` : ''}`);
        try {
          row = { ...(await step(name, t, rate, decodable)), attempt };
        } catch (e) {
          // A receiver that would not start or stop: said, counted as a try that did not qualify.
          row = { bench: 'peers', protocol, receiver: name, offered: rate, attempt, error: String(e.message ?? e), qualifies: false };
        }
        console.log(JSON.stringify(row));
      }
      if (!row.error) rows[name].push(row);
      misses = row.qualifies ? 0 : misses + 1;
      if (misses >= stopAfter) break;
    }
  }
  // CPU per record compared at one rate: the highest offered rate every receiver kept up with and was
  // offered in full (else the highest they all kept up with, else the lowest they all ran).
  const ran = Object.values(rows).filter((rs) => rs.length);
  const offeredBy = (rs, keep) => new Set(rs.filter(keep).map((r) => r.offered));
  const common = (keep) => ratesFor(protocol).filter((rate) => ran.every((rs) => offeredBy(rs, keep).has(rate)));
  const referenceRate = common((r) => r.qualifies && !r.senderLimited).at(-1) ?? common((r) => r.qualifies).at(-1) ?? common(() => true)[0];
  const peer = PEER_OF[protocol];
  const at = (name) => rows[name]?.find((r) => r.offered === referenceRate);
  for (const [name, rs] of Object.entries(rows)) {
    if (!rs.length) continue;
    // Sustained: only the rates below the first one that failed every try count.
    const firstFail = rs.findIndex((r) => !r.qualifies);
    const ok = (firstFail < 0 ? rs : rs.slice(0, firstFail)).filter((r) => r.qualifies);
    const ref = at(name);
    const s = {
      bench: 'peers-summary',
      protocol,
      receiver: name,
      maxRateBelow0_1pctLoss: ok.length ? Math.max(...ok.map((r) => r.achievedPerSec)) : 0,
      // The best step was as fast as the sender could go: the receiver's real maximum may be higher.
      atSenderLimit: ok.length > 0 && ok.reduce((a, b) => (b.achievedPerSec > a.achievedPerSec ? b : a)).senderLimited,
      referenceRate: referenceRate ?? null,
      referenceAchievedPerSec: ref?.achievedPerSec ?? null,
      cpuSecPerMillion: ref?.cpuSecPerMillion ?? null,
      peakRssMiB: Math.max(...rs.map((r) => r.peakRssMiB)),
      ratesTried: rs.map((r) => r.offered),
      decodedOfSlowPassPct: +(decodableShare[`${protocol}/${name}`] * 100).toFixed(3),
    };
    if (isGateway(name) && at(peer) && ref) s.cpuRatioToPeer = +(ref.cpuSecPerMillion / at(peer).cpuSecPerMillion).toFixed(2);
    summaries.push(s);
    console.log(JSON.stringify(s));
  }
}

if (writeDoc && summaries.length) {
  const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${Math.round(n / 1e3)} K` : String(n));
  const names = { v5: 'NetFlow v5', v9: 'NetFlow v9', sflow: 'sFlow v5' };
  const rowsMd = summaries.map((s) => {
    const ratio = s.cpuRatioToPeer ?? summaries.find((g) => g.protocol === s.protocol && isGateway(g.receiver))?.cpuRatioToPeer;
    return [
      names[s.protocol],
      isGateway(s.receiver) ? `gateway ${versions[s.receiver]}${s.receiver.slice('gateway'.length)}` : `${s.receiver} ${versions[s.receiver]}`,
      s.maxRateBelow0_1pctLoss ? `**${s.atSenderLimit ? '≥ ' : ''}${fmt(s.maxRateBelow0_1pctLoss)}**` : 'none of the rates tried',
      s.cpuSecPerMillion === null ? '–' : `${s.cpuSecPerMillion.toFixed(2)} (at ${fmt(s.referenceAchievedPerSec)}/s)`,
      s.peakRssMiB.toFixed(0),
      isGateway(s.receiver) ? (s.cpuRatioToPeer?.toFixed(2) ?? '–') : ratio === undefined ? '–' : '(1.00)',
    ];
  });
  const shortRun = seconds < 3;
  const md = [
    `Generated by \`npm run bench\` (bench/peers.mjs) on ${host.date}${shortRun ? ` — **a short development run (${seconds} s per step) on a shared machine: noisy, not the reference figures**` : ''}.`,
    '',
    `Machine: ${host.cpu}, ${host.cores} cores, ${host.ramGiB} GiB RAM, ${host.kernel}, Node.js ${host.node.slice(1)}; load average at the start ${host.loadAverage.join(' / ')}. ` +
      `Peers: ${Object.entries(versions)
        .filter(([n]) => !isGateway(n))
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')}. Receive buffer ${buffer} octets for every receiver (net.core.rmem_max ${rmem} for the run). ${seconds} s per step.`,
    '',
    table(['protocol', 'receiver', 'max rate with < 0.1 % loss (records/s)', 'CPU-seconds per million records', 'peak RSS (MiB)', 'CPU per record, gateway / peer'], rowsMd),
    '',
    'Peak RSS is summed over a receiver\'s processes: sfacctd\'s core and print plugin share the plugin pipe (sized like the receive buffer), which counts in both.',
    '',
    `"≥": the sender (${cSender ? 'bench/lib/blast.c, sendmmsg' : 'Node'}, one thread on the same cores, which also pays the kernel\'s loopback delivery) could not offer more, so the receiver\'s maximum is at least that.`,
    '',
    'Traffic: ' +
      Object.entries(trafficInfo)
        .map(([p, d]) => `${names[p]}: ${JSON.stringify(d).replace(/"/g, '').replace(/,/g, ', ')}`)
        .join('; ') +
      '.',
  ].join('\n');
  writeDocSection('peers', md);
  // README quotes the table with the run's date and machine in one line.
  const headline = [
    `${host.date.slice(0, 10)}, ${host.cpu} × ${host.cores} cores, ${seconds} s per step${shortRun ? ' (**short development run on a shared machine: noisy**)' : ''}:`,
    '',
    table(['protocol', 'receiver', 'max rate, < 0.1 % loss', 'CPU-s per million records', 'gateway / peer CPU per record'], rowsMd.map((r) => [r[0], r[1], r[2], r[3], r[5]])),
  ].join('\n');
  writeDocSection('peers-headline', headline, README_MD);
  console.error('docs/benchmarks.md and README.md: peers table written');
}
process.exit(0);
