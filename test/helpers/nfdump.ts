// nfcapd/nfdump as a second judge: nfcapd collects NetFlow v5/v9 and IPFIX over UDP into nfdump
// files, nfdump prints the flows as CSV. It accepts malformed input silently, so it counts and
// compares flows; it does not judge well-formedness (tshark and ipfixDump do).

import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runOk, sleep, toolPath } from './tools.js';

export interface Nfcapd {
  dir: string;
  port: number;
  /** SIGTERM, wait for nfcapd to write its file and exit (bounded), then return its log. */
  stop(): Promise<string>;
}

/** Start `nfcapd -w DIR -b 127.0.0.1 -p PORT` and wait until it is listening. */
export async function startNfcapd(dir: string, port: number): Promise<Nfcapd> {
  const bin = toolPath('nfcapd');
  if (!bin) throw new Error('nfcapd is not installed (Debian: nfdump)');
  const child: ChildProcess = spawn(bin, ['-w', dir, '-b', '127.0.0.1', '-p', String(port), '-B', String(8 << 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 100 && !/Startup/.test(log) && child.exitCode === null; i++) await sleep(50);
  if (child.exitCode !== null) throw new Error(`nfcapd exited at start:\n${log}`);
  await sleep(200); // "Startup" is logged just before the socket loop
  return {
    dir,
    port,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      return log;
    },
  };
}

export type NfdumpFlow = Record<string, string>;

/** Every flow of every nfcapd file in `dir`, as CSV rows keyed by nfdump's column names (ts, te, sa, da, sp, dp, pr, ipkt, ibyt, ...). */
export async function nfdumpFlows(dir: string): Promise<NfdumpFlow[]> {
  const bin = toolPath('nfdump');
  if (!bin) throw new Error('nfdump is not installed (Debian: nfdump)');
  if (!readdirSync(dir).some((f) => f.startsWith('nfcapd.'))) return [];
  // nfdump prints times in the local zone: pin it
  const env = { ...process.env, TZ: 'UTC' };
  const r = await runOk(bin, ['-R', dir, '-o', 'csv', '-q'], { timeoutMs: 60_000, env });
  const header = (await runOk(bin, ['-R', dir, '-o', 'csv', '-c', '1'], { timeoutMs: 60_000, env })).stdout.split('\n')[0]!.split(',');
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const cols = l.split(',');
      return Object.fromEntries(header.map((h, i) => [h, (cols[i] ?? '').trim()]));
    });
}

/** The files nfcapd wrote. */
export function nfcapdFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('nfcapd.')).map((f) => join(dir, f));
}
