// Shared plumbing for tests that drive external tools (exporters and judges nobody here wrote):
// where things are, whether a tool is installed, and running a command with a hard time bound.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { createSocket } from 'node:dgram';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const corpusDir = resolve(repoRoot, '../shared/corpus');
export const pcapsDir = resolve(repoRoot, 'pcaps');

/** Set to "required" (CI does) to make a missing tool fail a test instead of skipping it. */
export const interopRequired = process.env.IPFIX_MEDIATOR_INTEROP === 'required';

/** Debian package that provides each tool, for the message a missing tool produces. */
const PACKAGE: Record<string, string> = {
  tshark: 'tshark',
  dumpcap: 'tshark',
  softflowd: 'softflowd',
  pmacctd: 'pmacct',
  nfacctd: 'pmacct',
  sfacctd: 'pmacct',
  nfcapd: 'nfdump',
  nfdump: 'nfdump',
  ipfixDump: 'libfixbuf-tools',
  tcpreplay: 'tcpreplay',
  openssl: 'openssl',
  ip: 'iproute2',
  unshare: 'util-linux',
  'python3-scapy': 'python3-scapy',
};

const SEARCH_PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const found = new Map<string, string | null>();

/** Absolute path of an executable on PATH (or /usr/sbin, where softflowd and pmacctd live), else null. */
export function toolPath(name: string): string | null {
  if (found.has(name)) return found.get(name)!;
  let hit: string | null = null;
  for (const dir of SEARCH_PATH) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      hit = candidate;
      break;
    } catch {
      // not here
    }
  }
  found.set(name, hit);
  return hit;
}

export function haveTool(name: string): boolean {
  if (name === 'python3-scapy') return haveScapy();
  return toolPath(name) !== null;
}

let scapy: boolean | undefined;
/** Is `import scapy` possible with the Debian python (the pcap regeneration script needs it)? */
export function haveScapy(): boolean {
  scapy ??= spawnSync('/usr/bin/python3', ['-c', 'import scapy'], { stdio: 'ignore' }).status === 0;
  return scapy;
}

/**
 * For `describe.skipIf(!requireOrSkip(...))`: true when every tool is installed ("python3-scapy"
 * checks the Debian python's scapy module). When one is missing
 * it warns loudly and returns false, unless IPFIX_MEDIATOR_INTEROP=required, where it throws so the
 * suite fails instead of silently testing less.
 */
export function requireOrSkip(...tools: string[]): boolean {
  const missing = tools.filter((t) => !haveTool(t));
  if (missing.length === 0) return true;
  const install = [...new Set(missing.map((t) => PACKAGE[t] ?? t))].join(' ');
  const msg = `interop: missing ${missing.join(', ')} (Debian: apt-get install ${install})`;
  if (interopRequired) throw new Error(`${msg}; IPFIX_MEDIATOR_INTEROP=required`);
  console.warn(`\n*** SKIPPING interop tests: ${msg}. Set IPFIX_MEDIATOR_INTEROP=required to fail instead. ***\n`);
  return false;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Kill (SIGKILL) after this many milliseconds. Always bounded; default 60 s. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
}

/** Run a command to completion with a time bound; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like run() but rejects with the command's stderr when it fails or times out. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.timedOut) throw new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs ?? 60_000} ms`);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code ?? r.signal}\n${r.stderr}`);
  return r;
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'ipfix-mediator-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for tools
 * that need a port number on their command line. Different helpers' tests run at the same time, so
 * the kernel's ephemeral allocation is the least clash-prone choice.
 */
export function freeUdpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    s.once('error', rej);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
