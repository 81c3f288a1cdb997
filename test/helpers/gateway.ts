// The gateway as a black box for interop tests: the built executable (`bin/ipfix-mediator`, which
// runs dist/), a config written per test, `run` in the background, `replay` to feed it captures.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readPcap } from '../../src/util/pcap.js';
import { repoRoot, run, sleep, type RunResult } from './tools.js';

export const gatewayBin = join(repoRoot, 'bin/ipfix-mediator');
export const gatewayBuilt = () => existsSync(join(repoRoot, 'dist/cli/main.js'));

/** The pid of the gateway started with this config file (its path is unique to the test), from /proc. */
export function gatewayPid(configPath: string): number {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(configPath)) return Number(p);
    } catch {
      // gone
    }
  }
  throw new Error(`no process runs ${configPath}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for the metrics endpoint). */
export function freeTcpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/** Is a UDP socket bound to 127.0.0.1:port (or 0.0.0.0:port)? Read from /proc/net/udp, not by probing. */
export function udpPortBound(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local && local.endsWith(`:${hex}`)) return true;
    }
  }
  return false;
}

export interface GatewayInput {
  name: string;
  listen: string;
  protocol?: string;
  [key: string]: unknown;
}
export interface GatewayOutput {
  name: string;
  url: string;
  [key: string]: unknown;
}

export interface Gateway {
  configPath: string;
  metricsPort: number;
  /** Sum of a counter over all its label sets, from /metrics. */
  metric(name: string): Promise<number>;
  /** Wait until the inputs have received `datagrams` datagrams in total (bounded), per the gateway's own counter. */
  waitReceived(datagrams: number, timeoutMs?: number): Promise<number>;
  /** SIGTERM (the gateway flushes and exits within 5 s), bounded; returns its exit and logs. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stdout(): string;
  stderr(): string;
}

/**
 * Start `ipfix-mediator run --config FILE` with the given inputs and outputs (written as JSON,
 * which YAML reads), metrics on a free loopback port, and wait until every UDP input is bound.
 */
export async function startGateway(dir: string, inputs: GatewayInput[], outputs: GatewayOutput[], extra: Record<string, unknown> = {}): Promise<Gateway> {
  if (!gatewayBuilt()) throw new Error('dist/cli/main.js is missing: build the gateway first (npx tsc -p tsconfig.json, or npm test)');
  const metricsPort = await freeTcpPort();
  const config = { inputs: inputs.map((i) => ({ protocol: 'auto', ...i })), outputs, metrics: `127.0.0.1:${metricsPort}`, logLevel: 'info', ...extra };
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  const child: ChildProcess = spawn(process.execPath, [gatewayBin, 'run', '--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const udpPorts = inputs.map((i) => i.listen.match(/^udp:\/\/[^/]*:(\d+)/)?.[1]).filter((p): p is string => !!p).map(Number);
  const deadline = Date.now() + 15_000;
  while (!udpPorts.every(udpPortBound)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited at start (${child.exitCode ?? child.signalCode}):\n${out}\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not bind ${udpPorts.join(', ')} within 15 s:\n${out}\n${err}`);
    }
    await sleep(50);
  }

  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  };

  return {
    configPath,
    metricsPort,
    metric,
    async waitReceived(datagrams: number, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      let got = 0;
      for (;;) {
        try {
          got = await metric('ipfix_mediator_packets_received_total');
        } catch {
          // endpoint not answering yet
        }
        if (got >= datagrams || Date.now() > end) return got;
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      return { code: child.exitCode, signal: child.signalCode, stdout: out, stderr: err };
    },
    stdout: () => out,
    stderr: () => err,
  };
}

/** `ipfix-mediator replay PCAP... --to URL --map-exporters` (bounded). */
export function replay(pcaps: string[], to: string, args: string[] = ['--map-exporters'], timeoutMs = 60_000): Promise<RunResult> {
  return run(process.execPath, [gatewayBin, 'replay', ...pcaps, '--to', to, ...args], { timeoutMs });
}

/** Number of UDP datagrams in a capture (what `replay` sends). */
export function udpDatagramCount(pcap: string): number {
  return readPcap(pcap).filter((p) => p.transport === 'udp').length;
}

/** UDP destination ports of a capture, for tshark's decode-as. */
export function udpPorts(pcap: string): number[] {
  return [...new Set(readPcap(pcap).filter((p) => p.transport === 'udp').map((p) => p.dstPort))];
}

/** The files a file:// output wrote into `dir` (rotation may make several), oldest first. */
export function outputFiles(dir: string, suffix = '.ipfix'): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).size > 0)
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs || a.localeCompare(b));
}

/** Split an IPFIX byte stream (file or TCP) into its messages by their length fields. */
export function ipfixMessages(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 16 <= stream.length) {
    const len = stream.readUInt16BE(off + 2);
    if (stream.readUInt16BE(off) !== 10 || len < 16 || off + len > stream.length) break;
    out.push(stream.subarray(off, off + len));
    off += len;
  }
  return out;
}
