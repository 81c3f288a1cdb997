// Real exporters (softflowd, pmacctd's nfprobe/sfprobe) turning a plain traffic capture into flow
// export over UDP to a loopback port, plus a UDP sink/tee that records exactly what they sent.

import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk, sleep, tempDir, toolPath, type RunResult } from './tools.js';

function bin(name: string, pkg: string): string {
  const p = toolPath(name);
  if (!p) throw new Error(`${name} is not installed (Debian: ${pkg})`);
  return p;
}

export interface SoftflowdOptions {
  /** Plain traffic capture to read offline (-r). */
  traffic: string;
  /** Destination UDP port on `host`. */
  port: number;
  host?: string; // default 127.0.0.1
  /** NetFlow version: 5, 9 or 10 (IPFIX). */
  version: 5 | 9 | 10;
  /** More softflowd options, e.g. ['-A', 'milli'] or ['-b'] (never -c: it hangs with -r). */
  args?: string[];
  /** Working directory (softflowd reports the -r argument as its interface name). */
  cwd?: string;
  timeoutMs?: number; // default 30 s
}

/**
 * softflowd reads the capture, exports every flow and exits. Always with -a (packet timestamps;
 * without it, times from a capture are nonsense) and -d (foreground).
 */
export async function runSoftflowd(o: SoftflowdOptions): Promise<RunResult> {
  if ((o.args ?? []).includes('-c')) throw new Error('softflowd -c with -r hangs in accept(); do not pass -c');
  const args = ['-d', '-a', '-r', o.traffic, '-n', `${o.host ?? '127.0.0.1'}:${o.port}`, '-v', String(o.version), ...(o.args ?? [])];
  return runOk(bin('softflowd', 'softflowd'), args, { timeoutMs: o.timeoutMs ?? 30_000, cwd: o.cwd });
}

export interface PmacctdOptions {
  traffic: string;
  port: number;
  host?: string;
  /** nfprobe (NetFlow v5/v9/IPFIX) or sfprobe (sFlow v5). */
  plugin: 'nfprobe' | 'sfprobe';
  /** nfprobe_version: 5, 9 or 10. */
  version?: 5 | 9 | 10;
  /** Further `key: value` configuration lines. */
  config?: string[];
  timeoutMs?: number; // default 30 s
}

/**
 * pmacctd offline (pcap_savefile) with the nfprobe or sfprobe plugin; it exits at the end of the
 * file (it sleeps ~2 s first). Never pcap_savefile_wait with sfprobe: it duplicates samples.
 */
export async function runPmacctd(o: PmacctdOptions): Promise<RunResult> {
  const tmp = tempDir('pmacctd-');
  try {
    const receiver = `${o.host ?? '127.0.0.1'}:${o.port}`;
    const lines = ['daemonize: false', `pcap_savefile: ${o.traffic}`, `plugins: ${o.plugin}`];
    if (o.plugin === 'nfprobe') lines.push(`nfprobe_receiver: ${receiver}`, `nfprobe_version: ${o.version ?? 10}`);
    else lines.push(`sfprobe_receiver: ${receiver}`, 'sfprobe_agentip: 192.0.2.1', 'sfprobe_agentsubid: 1', 'sampling_rate: 1');
    lines.push(...(o.config ?? []));
    const conf = join(tmp.dir, 'pmacctd.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const cmd = bin('pmacctd', 'pmacct');
    const r = await run(cmd, ['-f', conf], { timeoutMs: o.timeoutMs ?? 30_000 });
    // At the end of a capture file the plugin shuts down on its own and the core, racing it, sometimes
    // exits 1 with "no more plugins active": that is pmacctd's normal end, not a failure of the export.
    const normalEnd = r.code === 1 && /Shutting down on user request/.test(r.stderr + r.stdout) && /no more plugins active/.test(r.stderr + r.stdout);
    if (r.timedOut || (r.code !== 0 && !normalEnd)) throw new Error(`${cmd} -f ${conf}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${r.stderr}${r.stdout}`);
    return r;
  } finally {
    tmp.cleanup();
  }
}

export interface UdpRecorder {
  /** The port to send to. */
  port: number;
  /** Every datagram received, in arrival order. */
  datagrams: Buffer[];
  /** Resolve once no datagram has arrived for `quietMs` (bounded by `maxMs`). */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

function recorder(sock: Socket, onDatagram?: (d: Buffer) => void): Promise<UdpRecorder> {
  const datagrams: Buffer[] = [];
  let last = Date.now();
  sock.on('message', (msg) => {
    datagrams.push(msg);
    last = Date.now();
    onDatagram?.(msg);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      try {
        sock.setRecvBufferSize(8 * 1024 * 1024);
      } catch {
        // the kernel may cap it; the exporters here send a few hundred datagrams
      }
      resolve({
        port: sock.address().port,
        datagrams,
        async settle(quietMs = 300, maxMs = 10_000) {
          const start = Date.now();
          last = Math.max(last, start);
          while (Date.now() - last < quietMs && Date.now() - start < maxMs) await sleep(50);
        },
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}

/** A UDP socket on 127.0.0.1 (ephemeral port) recording every datagram. */
export function udpSink(): Promise<UdpRecorder> {
  return recorder(createSocket('udp4'));
}

/**
 * A UDP tee: records every datagram and forwards it to 127.0.0.1:`target` from one fixed socket, so
 * a test knows exactly what an exporter sent to the gateway while the gateway sees one exporter.
 */
export async function udpTee(target: number): Promise<UdpRecorder> {
  const out = createSocket('udp4');
  await new Promise<void>((r) => out.bind(0, '127.0.0.1', () => r()));
  const rec = await recorder(createSocket('udp4'), (d) => out.send(d, target, '127.0.0.1'));
  return {
    ...rec,
    close: async () => {
      await rec.close();
      await new Promise<void>((r) => out.close(() => r()));
    },
  };
}

/** Run an exporter against a fresh UDP sink and return what it sent. */
export async function exportedDatagrams(send: (port: number) => Promise<unknown>): Promise<Buffer[]> {
  const sink = await udpSink();
  try {
    await send(sink.port);
    await sink.settle();
    return sink.datagrams;
  } finally {
    await sink.close();
  }
}
