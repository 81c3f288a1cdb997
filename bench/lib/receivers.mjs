// The receivers the side-by-side benchmark drives in turn, behind one interface:
//
//   const r = await RECEIVERS[name].start({ port, buffer, dir, protocol });
//   r.pids()            the processes whose CPU and memory count (sfacctd: core and plugin)
//   await r.decoded()   records decoded so far, when the receiver can tell while running (the gateway),
//                       else undefined
//   await r.counters?.() the gateway's drop counters (bench/lib/gateway.mjs COUNTERS), others have none
//   await r.finish()    stops it and returns { decoded, ...details } counted from what it wrote
//
// gateway: `bin/ipfix-mediator run`, protocol auto, IPFIX files out (decode + store, as nfcapd does);
//   decoded = its own records_received_total.
// nfcapd (NetFlow v5/v9): `nfcapd -w DIR -b 127.0.0.1 -p PORT -B BUFFER`, stopped with SIGTERM;
//   decoded = the flows `nfdump -R DIR -I` finds in the files it wrote.
// sfacctd (sFlow): the print plugin aggregating by agent address (peer_src_ip) and counter samples logged
//   to sfacctd_counter_file; stopped with SIGINT (the plugin writes its cache on the way out);
//   decoded = the PACKETS column summed (one per flow sample: no renormalisation) + the generic interface
//   counter records logged (one per counter sample in this traffic). Why print and this aggregate: the
//   core process decodes every sample in full whatever the plugin keeps (headers included), the print
//   plugin's cache then costs least with few keys, and nothing is written until the end, so sfacctd
//   spends less per sample than any configuration that stores every flow: the comparison is the hardest
//   one for the gateway, which converts and stores every sample.
//
// Every receiver gets the same socket receive buffer (`buffer`, capped by net.core.rmem_max).

import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeGatewayConfig, startGateway, COUNTERS } from './gateway.mjs';
import { freeTcpPort } from './ports.mjs';
import { alive, processTree, udpSocket } from './proc.mjs';

/** Waits until something is bound to 127.0.0.1:port (up to `ms`). */
export async function listening(port, ms = 15000, isAlive = () => true) {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (udpSocket(port)) return;
    if (!isAlive()) throw new Error(`receiver exited before binding port ${port}`);
    await sleep(50);
  }
  throw new Error(`nothing bound to 127.0.0.1:${port} after ${ms} ms`);
}

/** A C peer in its own process group, killed (group and all) if this process exits first. */
function spawnPeer(cmd, args, logPath) {
  const p = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (b) => {
    if (stderr.length < 65536) stderr += b;
  });
  const kill = () => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  };
  process.on('exit', kill);
  p.on('exit', () => {
    process.off('exit', kill);
    if (logPath) writeFileSync(logPath, stderr);
  });
  return { p, kill, stderr: () => stderr };
}

/** Sends `signal` to a peer's group and waits for every one of `pids` to go (SIGKILL after `ms`). */
async function stopGroup(peer, pids, signal, ms = 15000) {
  try {
    process.kill(-peer.p.pid, signal);
  } catch {}
  const end = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > end) {
      peer.kill();
      throw new Error(`${peer.p.spawnfile} did not stop within ${ms} ms`);
    }
    await sleep(50);
  }
}

/** The flow count of nfcapd files (nfdump -I). Exported for the tests. */
export function nfdumpFlows(dir) {
  const text = execFileSync('nfdump', ['-R', dir, '-I'], { encoding: 'utf8' });
  const m = /^Flows: (\d+)$/m.exec(text);
  if (!m) throw new Error(`nfdump -I gave no flow count: ${text.slice(0, 200)}`);
  return Number(m[1]);
}

/** What sfacctd decoded: flow samples from its print files' PACKETS, counter samples from its counter log. */
export function sfacctdCounts(dir) {
  let flowSamples = 0;
  for (const name of readdirSync(dir).filter((n) => n.startsWith('print-') && n.endsWith('.csv'))) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    const header = lines[0].split(',');
    const col = header.indexOf('PACKETS');
    if (col < 0) throw new Error(`${name}: no PACKETS column`);
    for (const line of lines.slice(1)) if (line) flowSamples += Number(line.split(',')[col]);
  }
  let counterSamples = 0;
  try {
    for (const line of readFileSync(join(dir, 'counters.json'), 'utf8').split('\n')) if (line.includes('"sflow_cnt_generic"')) counterSamples++;
  } catch {}
  return { flowSamples, counterSamples };
}

export const RECEIVERS = {
  gateway: {
    protocols: ['v5', 'v9', 'sflow'],
    version: () => JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    async start({ port, buffer, dir, workers, receive }) {
      const metricsPort = await freeTcpPort();
      const config = join(dir, 'gateway.yaml');
      const extra = workers ? `workers: ${Number(workers)}\n` : '';
      writeGatewayConfig(config, { inPort: port, outputUrl: `file://${dir}/out/flows.ipfix`, metricsPort, receiveBuffer: buffer, receive, extra });
      const gw = startGateway(config, metricsPort);
      await listening(port, 15000, () => gw.proc.exitCode === null);
      await gw.metric(COUNTERS.decoded);
      return {
        pid: gw.pid,
        pids: () => [gw.pid],
        decoded: () => gw.metric(COUNTERS.decoded),
        counters: () => gw.counters(),
        async finish() {
          const decoded = await gw.metric(COUNTERS.decoded);
          await gw.shutdown();
          return { decoded };
        },
        kill: () => gw.proc.kill('SIGKILL'),
      };
    },
  },

  nfcapd: {
    protocols: ['v5', 'v9'],
    version: () => /Version: (\S+)/.exec(execFileSync('nfcapd', ['-V'], { encoding: 'utf8' }))?.[1] ?? '?',
    async start({ port, buffer, dir }) {
      const flows = join(dir, 'flows');
      mkdirSync(flows);
      const peer = spawnPeer('nfcapd', ['-w', flows, '-b', '127.0.0.1', '-p', String(port), '-B', String(buffer)], join(dir, 'nfcapd.log'));
      await listening(port, 15000, () => peer.p.exitCode === null);
      return {
        pid: peer.p.pid,
        pids: () => processTree(peer.p.pid),
        decoded: async () => undefined,
        async finish() {
          await stopGroup(peer, [peer.p.pid], 'SIGTERM');
          return { decoded: nfdumpFlows(flows) };
        },
        kill: peer.kill,
      };
    },
  },

  sfacctd: {
    protocols: ['sflow'],
    version: () => /sfacctd (\S+)/.exec(execFileSync('sfacctd', ['-V'], { encoding: 'utf8' }))?.[1] ?? '?',
    async start({ port, buffer, dir }) {
      const conf = join(dir, 'sfacctd.conf');
      writeFileSync(
        conf,
        `daemonize: false
sfacctd_ip: 127.0.0.1
sfacctd_port: ${port}
sfacctd_pipe_size: ${buffer}
sfacctd_renormalize: false
sfacctd_counter_file: ${dir}/counters.json
plugins: print[p]
aggregate[p]: peer_src_ip
print_output[p]: csv
print_output_file[p]: ${dir}/print-%s.csv
print_refresh_time[p]: 86400
plugin_pipe_size[p]: ${buffer}
plugin_buffer_size[p]: 65536
logfile: ${dir}/sfacctd.log
`,
      );
      const peer = spawnPeer('sfacctd', ['-f', conf], join(dir, 'sfacctd.stderr'));
      await listening(port, 15000, () => peer.p.exitCode === null);
      // The plugin is forked after the socket is bound: wait for it before counting its CPU.
      let pids = [peer.p.pid];
      for (let i = 0; i < 100 && pids.length < 2; i++) {
        await sleep(50);
        pids = processTree(peer.p.pid);
      }
      return {
        pid: peer.p.pid,
        pids: () => pids,
        decoded: async () => undefined,
        async finish() {
          await stopGroup(peer, pids, 'SIGINT');
          const c = sfacctdCounts(dir);
          return { decoded: c.flowSamples + c.counterSamples, ...c };
        },
        kill: peer.kill,
      };
    },
  },
};

/** The peer each protocol is compared with. */
export const PEER_OF = { v5: 'nfcapd', v9: 'nfcapd', sflow: 'sfacctd' };
