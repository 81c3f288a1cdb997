// SCTP benchmark: 1,400-octet IPFIX messages from this process to another over loopback through the
// project's own SCTP stack (dist/transport/sctp), UDP encapsulation (RFC 6951) by default.
//
//   npm run build && node bench/sctp.mjs [--loss 0.02] [--seconds 10] [--streams 1] [--mtu 1452]
//                                        [--lower udp|raw] [--seed 1] [--rto-min MS] [--connected]
//
// This process is the sender: it connects to the receiver (bench/lib/sctp-receiver.mjs, forked), sends
// a Template Set message per stream and then data messages as fast as the association takes them
// (send() until it returns false, then wait for 'drain'), for --seconds, then waits until everything
// is acknowledged and shuts the association down. It samples stats() every 20 ms for the cwnd
// trajectory. The receiver checks every message (framing, each ODID's sequence numbers exactly in
// order, so any loss or duplicate shows) and reports progress; messages/s is what the receiver got
// between its first and last message. CPU-seconds per message come from each process's own
// process.cpuUsage() over the association's life.
//
// --loss R drops a seeded random share R of the packets each process sends (bench/lib/sctp-lossy.mjs),
// i.e. R loss each way. The run FAILS (exit 1) on any sequence error, a message count short of what
// was sent, or a stall: no delivery progress for 15 s while data is outstanding.
// --connected (an experiment) gives the sender a connected UDP socket instead of the stack's
// UdpEncapsulation, to measure Node's per-send address handling.
// Targets (issue 4): ≥ 20,000 messages/s at no loss; ≥ 2,000 messages/s exactly once at 2 % loss.

import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectedUdpEncapsulation } from './lib/sctp-connected-udp.mjs';
import { DroppingLowerLayer } from './lib/sctp-lossy.mjs';
import { MESSAGE_LENGTH, RECORDS_PER_MESSAGE, dataMessage, templateMessage } from './lib/sctp-ipfix.mjs';
import { args, opt, openRawIp, sctp } from './lib/sctp-stack.mjs';

const loss = Number(opt('--loss', '0'));
const seconds = Number(opt('--seconds', '10'));
const streams = Number(opt('--streams', '1'));
const mtu = Number(opt('--mtu', '1452'));
const lowerKind = opt('--lower', 'udp');
const seed = Number(opt('--seed', '1'));
/** RTO.Min for both ends (ms); default the stack's (RFC 9260 §16: 1,000 ms). */
const rtoMin = opt('--rto-min', '');
/** Experiment: the sender's UDP socket connected to the receiver (bench/lib/sctp-connected-udp.mjs). */
const connected = args.includes('--connected');
const STALL_MS = 15_000;
const DRAIN_LIMIT_MS = 120_000;
const log = (...a) => console.error(...a);

if (lowerKind === 'raw') {
  // raw IP needs the raw-socket addon, root or CAP_NET_RAW and no kernel SCTP: say why not and skip
  let why = typeof openRawIp !== 'function' ? 'raw IP lower layer not present in dist/transport/sctp' : null;
  if (!why) {
    try {
      (await openRawIp({ address: '127.0.0.2' })).close();
    } catch (e) {
      why = e.message;
    }
  }
  if (why) {
    log(`skipping the raw IP run: ${why}`);
    process.exit(0);
  }
}

// ---- the receiver process
const receiver = fork(resolve(import.meta.dirname, 'lib/sctp-receiver.mjs'), ['--loss', String(loss), '--seed', String(seed), '--mtu', String(mtu), '--lower', lowerKind, ...(rtoMin ? ['--rto-min', rtoMin] : [])], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
let progress = 0;
let longestPause = 0;
let progressAt = performance.now();
let receiverErrors = 0;
let finalReport = null;
const ready = new Promise((resolveReady, rejectReady) => {
  receiver.on('message', (m) => {
    if (m.ready) resolveReady(m.ready);
    if (m.progress !== undefined) {
      if (m.progress !== progress) {
        const now = performance.now();
        if (progress > 0) longestPause = Math.max(longestPause, now - progressAt);
        progressAt = now;
      }
      progress = m.progress;
      receiverErrors = m.errors;
    }
    if (m.final) finalReport = m.final;
  });
  receiver.on('exit', (code) => rejectReady(new Error(`receiver exited (${code})`)));
});
const stopReceiver = () => {
  if (receiver.connected) receiver.send({ exit: true });
  setTimeout(() => receiver.kill('SIGKILL'), 2000).unref();
};
process.on('exit', () => receiver.kill('SIGKILL'));
const peer = await ready;

// ---- this end
let inner;
// raw IP: every raw socket for protocol 132 sees every SCTP packet, so the two ends use different
// loopback addresses and each takes only the packets sent to its own
if (lowerKind === 'raw') inner = await openRawIp({ address: '127.0.0.2', receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
else if (connected) inner = await ConnectedUdpEncapsulation.open({ address: '127.0.0.1', peer: { address: peer.address, udpPort: peer.udpPort }, receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
else inner = await sctp.openUdpEncapsulation({ port: 0, address: '127.0.0.1', receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
const lower = loss > 0 ? new DroppingLowerLayer(inner, { dropRate: loss, seed: seed * 2 }) : inner;
const endpoint = new sctp.SctpEndpoint({ lower, mtu, ...(rtoMin ? { rtoMin: Number(rtoMin), rtoInitial: Math.max(Number(rtoMin), 1000) } : {}) });
const association = await endpoint.connect({
  remote: { address: peer.address, udpPort: peer.udpPort },
  remotePort: peer.sctpPort,
  outboundStreams: streams,
});
let downReason = null; // an association lost before we shut it down ourselves
let shuttingDown = false;
association.on('down', (reason, detail) => {
  if (!shuttingDown) downReason = { reason, detail };
});
const cpu0 = process.cpuUsage();
const t0 = performance.now();

// cwnd trajectory: a sample every 20 ms
const samples = [];
const sample = () => {
  const s = association.stats();
  samples.push({ t: Math.round(performance.now() - t0), cwnd: s.cwnd, ssthresh: s.ssthresh, flight: s.flightSize, rto: s.rto, srtt: s.srtt, retrans: s.retransmissions, buffered: s.bufferedAmount, peerRwnd: s.peerRwnd });
};
sample();
const sampler = setInterval(sample, 20);

// ---- send: templates, then data until the deadline, respecting backpressure
const exportTime = Math.floor(Date.now() / 1000);
for (let s = 0; s < streams; s++) association.send(templateMessage(s, exportTime), { stream: s });
const sequence = new Uint32Array(streams);
let sent = 0;
const deadline = t0 + seconds * 1000;
let sendingDone;
const allQueued = new Promise((r) => (sendingDone = r));
function pump() {
  while (performance.now() < deadline) {
    const stream = sent % streams;
    const ok = association.send(dataMessage(stream, sequence[stream], exportTime), { stream });
    sequence[stream] = (sequence[stream] + RECORDS_PER_MESSAGE) >>> 0;
    sent++;
    if (!ok) return; // 'drain' calls pump again
    if ((sent & 255) === 0) return void setImmediate(pump); // let SACKs in even if send() never pushes back
  }
  sendingDone();
}
association.on('drain', pump);
// a stall while sending shows as no 'drain' and no delivery progress: give up on it after STALL_MS
let stalled = false;
const watchdog = setInterval(() => {
  if (progress < sent && performance.now() - progressAt > STALL_MS) {
    stalled = true;
    sendingDone();
  }
}, 100);
pump();
await allQueued;
const tQueued = performance.now();

// ---- wait until everything is acknowledged and delivered (or a stall / limit)
for (; !stalled; ) {
  const s = association.stats();
  const now = performance.now();
  if (progress >= sent && s.flightSize === 0 && s.bufferedAmount === 0) break;
  if (downReason) break;
  if (now - progressAt > STALL_MS) {
    stalled = true;
    break;
  }
  if (now - tQueued > DRAIN_LIMIT_MS) break;
  await sleep(20);
}
const tDone = performance.now();
clearInterval(watchdog);
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
sample();
const senderStats = association.stats();
let shutdownOk = false;
if (!downReason && !stalled) {
  shuttingDown = true;
  shutdownOk = await Promise.race([association.shutdown().then(() => true, () => false), sleep(10_000).then(() => false)]);
}
receiver.send({ finish: true });
for (let i = 0; i < 100 && !finalReport; i++) await sleep(20);
stopReceiver();
endpoint.close();

// ---- report
const r = finalReport ?? {};
const delivered = r.dataMessages ?? progress;
const rate = r.seconds > 0 ? delivered / r.seconds : 0;
const ok = !stalled && !downReason && delivered === sent && (r.errors ?? receiverErrors) === 0 && r.templateMessages === streams;
const traj = trajectory(samples);
const result = {
  bench: 'sctp',
  lower: lowerKind === 'raw' ? 'raw-ip' : connected ? 'udp-encapsulation (sender connected)' : 'udp-encapsulation',
  loss,
  seed,
  streams,
  mtu,
  rtoMin: rtoMin ? Number(rtoMin) : 'default',
  messageOctets: MESSAGE_LENGTH,
  seconds,
  sent,
  delivered,
  sequenceErrors: r.errors ?? receiverErrors,
  firstErrors: r.firstErrors ?? [],
  messagesPerSecond: Math.round(rate),
  megabitsPerSecond: +((rate * MESSAGE_LENGTH * 8) / 1e6).toFixed(1),
  drainMs: Math.round(tDone - tQueued),
  longestPauseMs: Math.round(longestPause),
  stalled,
  down: downReason,
  shutdownOk,
  senderCpuSecondsPerMessage: (cpu.user + cpu.system) / 1e6 / Math.max(1, sent),
  receiverCpuSecondsPerMessage: ((r.cpuUser ?? 0) + (r.cpuSystem ?? 0)) / Math.max(1, delivered),
  senderCpu: { user: cpu.user / 1e6, system: cpu.system / 1e6, wallSeconds: (tDone - t0) / 1000 },
  receiverCpu: { user: r.cpuUser, system: r.cpuSystem },
  retransmissions: senderStats.retransmissions,
  fastRetransmits: senderStats.fastRetransmits,
  t3Expiries: senderStats.t3Expiries,
  abandoned: senderStats.abandonedMessages,
  packetsSent: senderStats.packetsSent,
  packetsReceived: senderStats.packetsReceived,
  droppedBySender: lower === inner ? 0 : lower.stats.dropped,
  droppedByReceiver: r.dropped ?? 0,
  receiverEndpointDrops: r.endpointDrops,
  senderEndpointDrops: endpoint.drops,
  cwnd: traj,
  machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`,
  ok,
};
log(summary(result));
console.log(JSON.stringify(result));
process.exitCode = ok ? 0 : 1;

/** The cwnd story in a few numbers and ~24 points: slow start, where it first backed off, congestion avoidance. */
function trajectory(ss) {
  const first = ss[0];
  let peak = 0;
  let reductions = 0;
  let firstReductionAt = null;
  let slowStartEnd = null;
  for (let i = 1; i < ss.length; i++) {
    const a = ss[i - 1];
    const b = ss[i];
    peak = Math.max(peak, b.cwnd);
    if (b.cwnd < a.cwnd) {
      reductions++;
      firstReductionAt ??= b.t;
    }
    if (slowStartEnd === null && b.cwnd >= b.ssthresh) slowStartEnd = b.t;
  }
  // every sample where cwnd or ssthresh changed (the first 40), then ~16 evenly spaced ones
  const changes = ss.filter((s, i) => i === 0 || s.cwnd !== ss[i - 1].cwnd || s.ssthresh !== ss[i - 1].ssthresh).slice(0, 40);
  const step = Math.max(1, Math.floor(ss.length / 16));
  const picked = new Set([...changes, ...ss.filter((_, i) => i % step === 0 || i === ss.length - 1)]);
  const points = ss.filter((s) => picked.has(s)).map((s) => [s.t, s.cwnd, s.ssthresh, s.flight, s.buffered, s.peerRwnd, s.retrans, s.rto]);
  return { initial: first?.cwnd, initialSsthresh: first?.ssthresh, peak, final: ss.at(-1)?.cwnd, reductions, firstReductionAtMs: firstReductionAt, cwndReachedSsthreshAtMs: slowStartEnd, points: { columns: ["ms", "cwnd", "ssthresh", "flight", "buffered", "peerRwnd", "retransmissions", "rto"], rows: points } };
}

function summary(x) {
  const lines = [
    `SCTP ${x.lower}, ${x.messageOctets}-octet IPFIX messages, ${x.streams} stream(s), loss ${x.loss * 100}% each way, mtu ${x.mtu}: ${x.ok ? 'OK' : 'FAILED'}`,
    `  sent ${x.sent}, delivered ${x.delivered} (sequence errors ${x.sequenceErrors}), ${x.messagesPerSecond} messages/s (${x.megabitsPerSecond} Mbit/s of messages)`,
    `  CPU per message: sender ${(x.senderCpuSecondsPerMessage * 1e6).toFixed(1)} µs, receiver ${(x.receiverCpuSecondsPerMessage * 1e6).toFixed(1)} µs`,
    `  retransmissions ${x.retransmissions} (fast ${x.fastRetransmits}, T3 expiries ${x.t3Expiries}), abandoned ${x.abandoned}, dropped by link ${x.droppedBySender}/${x.droppedByReceiver}`,
    `  cwnd: initial ${x.cwnd.initial}, peak ${x.cwnd.peak}, final ${x.cwnd.final}, reductions ${x.cwnd.reductions} (first at ${x.cwnd.firstReductionAtMs} ms), ssthresh reached at ${x.cwnd.cwndReachedSsthreshAtMs} ms`,
    `  drain ${x.drainMs} ms, longest pause in delivery ${x.longestPauseMs} ms${x.stalled ? ' STALLED' : ''}${x.down ? ` DOWN ${JSON.stringify(x.down)}` : ''}, shutdown ${x.shutdownOk ? 'ok' : 'not completed'}`,
    `  ${x.cwnd.points.rows.map((p) => `${p[0]}ms:${p[1]}`).join(' ')}`,
  ];
  if (x.firstErrors.length) lines.push(`  first errors: ${x.firstErrors.join('; ')}`);
  return lines.join('\n');
}
