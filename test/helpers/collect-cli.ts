// `ipfix-mediator collect --listen URL --json [...]` as a child process (the project's small collector),
// its records as JSON objects, and the gateway's own reading of a capture (`inspect --json`) to compare
// them with.

import { spawn, type ChildProcess } from 'node:child_process';
import { gatewayBin } from './gateway.js';
import { runOk, sleep } from './tools.js';

/** A running `collect` child process and what it has printed. */
export interface CollectProcess {
  child: ChildProcess;
  /** JSON records printed so far. */
  records(): Record<string, unknown>[];
  stderr(): string;
  /** SIGTERM (graceful: SCTP associations SHUT DOWN) or SIGKILL (vanishes); SIGKILL after 5 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface CollectCli extends CollectProcess {
  /** The port collect bound (from its "listening on" line). */
  port: number;
}

/**
 * Spawns `collect --listen URL --json [...extra]`; resolves when its stderr matches `ready` (its
 * "listening on" line), with the match. Bounded: 10 s, and a collect that exits first is a failure.
 */
export async function spawnCollect(url: string, extra: string[], ready: RegExp): Promise<{ collect: CollectProcess; ready: RegExpExecArray }> {
  const child = spawn(process.execPath, [gatewayBin, 'collect', '--listen', url, '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const end = Date.now() + 10_000;
  let m: RegExpExecArray | null = null;
  while (!(m = ready.exec(err)) && child.exitCode === null && Date.now() < end) await sleep(25);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`collect --listen ${url} did not start:\n${err}`);
  }
  const collect: CollectProcess = {
    child,
    records: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
  return { collect, ready: m };
}

/** Starts collect on any listen URL whose "listening on" line ends in host:port. */
export async function startCollectCli(url: string, extra: string[] = []): Promise<CollectCli> {
  const { collect, ready } = await spawnCollect(url, extra, /listening on \w+ \S+?:(\d+)/);
  return { ...collect, port: Number(ready[1]) };
}

/** A record's fields without collect's envelope (exporter, port, ODID, template, export time), keys sorted. */
export function recordFields(r: Record<string, unknown>): string {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(r).sort()) if (!k.startsWith('_')) o[k] = r[k];
  return JSON.stringify(o);
}

/** What `inspect --json` decodes from a capture: the gateway's own reading of its input. */
export async function inspectCapture(pcap: string): Promise<Record<string, unknown>[]> {
  const r = await runOk(process.execPath, [gatewayBin, 'inspect', pcap, '--json'], { timeoutMs: 60_000 });
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
