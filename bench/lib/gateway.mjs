// The real gateway process for benchmarks: `bin/ipfix-mediator run` on a generated config (one UDP input,
// protocol auto, one output), and its own /metrics read back as the count of what it decoded.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = resolve(import.meta.dirname, '../..');

/** Gateway counters benchmarks judge loss by (each summed over its labels). */
export const COUNTERS = {
  decoded: 'ipfix_mediator_records_received_total',
  datagrams: 'ipfix_mediator_packets_received_total',
  datagramsDropped: 'ipfix_mediator_packets_dropped_total',
  recordsDropped: 'ipfix_mediator_records_dropped_total',
  recordsSent: 'ipfix_mediator_records_sent_total',
  sflowLost: 'ipfix_mediator_sflow_datagrams_lost_total',
};

/**
 * Writes the benchmark config: input on udp://127.0.0.1:inPort, `outputUrl` (a file:// or udp:// URL),
 * metrics on 127.0.0.1:metricsPort, the receive buffer every receiver in a comparison gets, and how the
 * input reads its socket (`receive`: auto, recvmmsg or dgram).
 */
export function writeGatewayConfig(path, { inPort, outputUrl, metricsPort, receiveBuffer = 67108864, receive = 'auto', keep = 2, extra = '' }) {
  writeFileSync(
    path,
    `inputs:
  - name: bench
    listen: udp://127.0.0.1:${inPort}
    protocol: auto
    sessionTimeout: 300
    receiveBuffer: ${receiveBuffer}
    receive: ${receive}
outputs:
  - name: sink
    url: ${outputUrl}
    rotate: { maxBytes: 268435456, interval: 3600, keep: ${keep} }
metrics: 127.0.0.1:${metricsPort}
logLevel: warn
${extra}`,
  );
}

/**
 * Starts the gateway on `configPath` (stderr passed through, `nodeArgs` before the script, e.g. a
 * --import preload). Killed when this process exits. `metric(name)` sums a metric over its labels and
 * waits (up to 5 s) for the endpoint to answer. BENCH_GATEWAY_NODE_ARGS adds Node options to every gateway
 * a benchmark starts (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": NODE_OPTIONS refuses --cpu-prof).
 */
export function startGateway(configPath, metricsPort, { nodeArgs = [], env = process.env } = {}) {
  const extraArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...extraArgs, ...nodeArgs, join(root, 'bin/ipfix-mediator'), 'run', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  const stop = () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGTERM');
  process.on('exit', stop);
  const exited = new Promise((r) => proc.once('exit', r));
  exited.then(() => process.off('exit', stop));

  async function metric(name) {
    for (let i = 0; i < 50; i++) {
      if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode})`);
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

  async function counters() {
    const c = {};
    for (const [k, name] of Object.entries(COUNTERS)) c[k] = await metric(name);
    return c;
  }

  /** SIGTERM, then SIGKILL after `ms` if it has not gone. */
  async function shutdown(ms = 5000) {
    stop();
    const t = setTimeout(() => proc.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(t);
  }

  return { proc, pid: proc.pid, metric, counters, stop, shutdown };
}
