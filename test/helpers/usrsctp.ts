// usrsctp's example programs (Debian libusrsctp-examples, /usr/lib/usrsctp/) as independent SCTP
// peers over UDP encapsulation (RFC 6951) on loopback: start one, know when it answers, read what it
// printed, kill it. Every process started here is remembered so a suite's afterAll can kill what is
// left (killAllUsrsctp), and every wait is bounded.
//
// Command lines (from the programs' sources and usage texts):
//   echo_server    [local_udp_encaps_port [remote_udp_encaps_port]]   SCTP port 7, echoes each message
//                  on the stream and with the PPID it came on
//   discard_server [local_udp_encaps_port [remote_udp_encaps_port]]   SCTP port 9, prints and drops
//   client remote_addr remote_port local_port local_encaps_port remote_encaps_port
//                  connects, sends each line of stdin as a message, prints what it receives
// Without encapsulation ports they would run over raw IP. Their stdout is a pipe here, so they run
// under `stdbuf -oL` or stdio would hold their lines back in 4 KB blocks.
//
// Also here: captureLoopback, dumpcap on lo for an association's UDP ports, stopped only once
// everything sent before stop() is in the file (the judges then read it with tshark).

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants } from 'node:fs';
import { ChunkType, type InitAckChunk } from '../../src/transport/sctp/chunk.js';
import { decodePacket, encodePacket } from '../../src/transport/sctp/packet.js';
import { ParameterType } from '../../src/transport/sctp/parameter.js';
import { openUdpEncapsulation } from '../../src/transport/sctp/udp-encap.js';
import { freeUdpPort, interopRequired, run, sleep, toolPath } from './tools.js';

export const USRSCTP_DIR = '/usr/lib/usrsctp';
/** The SCTP port each server listens on (the classic TCP/UDP service ports). */
export const ECHO_PORT = 7;
export const DISCARD_PORT = 9;

export type UsrsctpProgram = 'echo_server' | 'discard_server' | 'client';

export function usrsctpPath(program: UsrsctpProgram): string {
  return `${USRSCTP_DIR}/${program}`;
}

/**
 * For describe.skipIf(!haveUsrsctp(...)): true when every program is installed; otherwise warns and
 * returns false, or throws under IPFIX_MEDIATOR_INTEROP=required so CI fails instead of testing less.
 */
export function haveUsrsctp(...programs: UsrsctpProgram[]): boolean {
  const missing = programs.filter((p) => {
    try {
      accessSync(usrsctpPath(p), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  const msg = `interop: missing ${missing.map(usrsctpPath).join(', ')} (Debian: apt-get install libusrsctp-examples)`;
  if (interopRequired) throw new Error(`${msg}; IPFIX_MEDIATOR_INTEROP=required`);
  console.warn(`\n*** SKIPPING usrsctp interop: ${msg} ***\n`);
  return false;
}

export interface UsrsctpProcess {
  readonly program: UsrsctpProgram;
  readonly child: ChildProcess;
  /** The UDP port its encapsulation socket is bound to (where to send to reach it). */
  readonly udpPort: number;
  /** Its SCTP port (servers: 7 or 9; the client: its local port). */
  readonly sctpPort: number;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when the output contains `text` (or matches the pattern), rejects after `ms`. */
  waitForOutput(text: string | RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (default) and wait for the exit, at most 5 s. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<UsrsctpProcess>();

/** Kill every usrsctp process this module started that is still running (for afterAll). */
export async function killAllUsrsctp(): Promise<void> {
  for (const c of captures) c.kill('SIGKILL');
  await Promise.all([...live].map((p) => p.kill('SIGKILL')));
}

/** `input`: text for stdin, then end of file; null keeps stdin open (write with child.stdin); undefined: no stdin. */
function launch(program: UsrsctpProgram, args: string[], udpPort: number, sctpPort: number, input?: string | null): UsrsctpProcess {
  const child = spawn('stdbuf', ['-oL', '-eL', usrsctpPath(program), ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      out += `\n[spawn error: ${e.message}]`;
      resolve({ code: null, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const proc: UsrsctpProcess = {
    program,
    child,
    udpPort,
    sctpPort,
    output: () => out,
    exited,
    async waitForOutput(text, ms = 10_000) {
      const t0 = Date.now();
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!seen()) {
        if (Date.now() - t0 > ms) throw new Error(`${program} never printed ${String(text)} within ${ms} ms; it printed:\n${out.slice(-4000)}`);
        await sleep(10);
      }
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, sleep(5000)]);
      live.delete(proc);
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  if (typeof input === 'string') child.stdin!.end(input);
  return proc;
}

/**
 * Send INIT to a usrsctp server from a throwaway UDP socket until it answers with INIT ACK (at most
 * `ms`). An INIT creates no state at the server (RFC 9260 §5.1.3: everything is in the cookie), so
 * the probe leaves nothing behind. Returns the INIT ACK, e.g. to read its parameters.
 */
export async function probeUsrsctp(udpPort: number, sctpPort: number, ms = 10_000): Promise<InitAckChunk> {
  const udp = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
  try {
    let initAck: InitAckChunk | undefined;
    const tag = 0x5eed0001;
    udp.onPacket((p, len) => {
      const r = decodePacket(p, 0, len);
      if (!r.ok || r.value.verificationTag !== tag) return;
      for (const c of r.value.chunks) if (c.type === ChunkType.INIT_ACK) initAck = c;
    });
    const buf = new Uint8Array(256);
    const n = encodePacket(buf, 0, { srcPort: 40000 + (process.pid % 20000), dstPort: sctpPort, verificationTag: 0 }, [
      {
        type: ChunkType.INIT,
        initiateTag: tag,
        aRwnd: 65536,
        outboundStreams: 1,
        inboundStreams: 1,
        initialTsn: 1,
        params: [{ type: ParameterType.SUPPORTED_ADDRESS_TYPES, addressTypes: [5] }],
      },
    ]);
    const t0 = Date.now();
    let last = 0;
    while (!initAck) {
      if (Date.now() - t0 > ms) throw new Error(`usrsctp on UDP port ${udpPort} did not answer INIT within ${ms} ms`);
      if (Date.now() - last > 100) {
        udp.send(buf, n, { address: '127.0.0.1', udpPort });
        last = Date.now();
      }
      await sleep(5);
    }
    return initAck;
  } finally {
    udp.close();
  }
}

export interface ServerOptions {
  /** The UDP encapsulation port of the peer it talks to (its second argument). */
  remoteUdpPort: number;
  /** Its own UDP port; a free ephemeral one by default. */
  udpPort?: number;
  /** Bound on waiting for it to answer INIT (ms, default 10 s). */
  readyMs?: number;
}

/** Start echo_server or discard_server over UDP encapsulation; resolves once it answers INIT. */
export async function startUsrsctpServer(program: 'echo_server' | 'discard_server', opts: ServerOptions): Promise<UsrsctpProcess> {
  const udpPort = opts.udpPort ?? (await freeUdpPort());
  const sctpPort = program === 'echo_server' ? ECHO_PORT : DISCARD_PORT;
  const proc = launch(program, [String(udpPort), String(opts.remoteUdpPort)], udpPort, sctpPort);
  try {
    await Promise.race([
      probeUsrsctp(udpPort, sctpPort, opts.readyMs ?? 10_000),
      proc.exited.then((e) => {
        throw new Error(`${program} exited (${e.code ?? e.signal}) before answering: ${proc.output()}`);
      }),
    ]);
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return proc;
}

export interface ClientOptions {
  remoteAddress: string;
  /** The SCTP port to connect to. */
  remotePort: number;
  /** The peer's UDP encapsulation port. */
  remoteUdpPort: number;
  /** The client's own SCTP port (default 5000 + a little randomness). */
  localPort?: number;
  /** Its own UDP port; a free ephemeral one by default. */
  udpPort?: number;
  /**
   * Sent line by line, one message per line (fgets: each message ends in its newline); after the
   * last line the client shuts the association down. null keeps stdin open: write lines to
   * `child.stdin` and end it (or kill the client) when done.
   */
  input: string | null;
}

/**
 * For describe.skipIf: can dumpcap capture on lo here (root, or dumpcap with CAP_NET_RAW)? Warns and
 * returns false otherwise, or throws under IPFIX_MEDIATOR_INTEROP=required (CI runs as root).
 */
export function canCaptureLoopback(): boolean {
  const dumpcap = toolPath('dumpcap');
  if (dumpcap && (process.getuid?.() === 0 || /cap_net_raw/.test(spawnSync('getcap', [dumpcap], { encoding: 'utf8' }).stdout ?? ''))) return true;
  const msg = dumpcap ? 'dumpcap cannot capture here (not root, no CAP_NET_RAW on dumpcap)' : 'missing dumpcap (Debian: apt-get install tshark)';
  if (interopRequired) throw new Error(`interop: ${msg}; IPFIX_MEDIATOR_INTEROP=required`);
  console.warn(`\n*** SKIPPING capture tests: ${msg} ***\n`);
  return false;
}

export interface LoopbackCapture {
  /**
   * The UDP port of the capture's own marker datagrams (to itself): judges leave them out, e.g.
   * `-Y 'not udp.port == markerPort'`.
   */
  readonly markerPort: number;
  /** Stop once everything sent so far is in the file (see captureLoopback); resolves with what dumpcap printed. */
  stop(): Promise<string>;
}

const captures = new Set<ChildProcess>();

/**
 * dumpcap on lo for the given UDP ports into `file` (pcapng); resolves once it says it is capturing.
 * dumpcap gets packets from the kernel in timed blocks and may drop the last partial block when
 * stopped, so stop() sends marker datagrams (port `markerPort`, also captured) until tshark finds one
 * in the file: everything sent before it is then in too. Killed by killAllUsrsctp as well.
 */
export async function captureLoopback(file: string, udpPorts: number[]): Promise<LoopbackCapture> {
  const marker = createSocket('udp4');
  await new Promise<void>((r) => marker.bind(0, '127.0.0.1', () => r()));
  const markerPort = marker.address().port;
  const filter = [...udpPorts, markerPort].map((p) => `udp port ${p}`).join(' or ');
  const child = spawn('dumpcap', ['-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  captures.add(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  void exited.then(() => captures.delete(child));
  const t0 = Date.now();
  while (!err.includes('File:')) {
    if (child.exitCode !== null || Date.now() - t0 > 10_000) {
      child.kill('SIGKILL');
      marker.close();
      throw new Error(`dumpcap did not start: ${err}`);
    }
    await sleep(20);
  }
  await sleep(200);
  return {
    markerPort,
    async stop() {
      const t1 = Date.now();
      for (;;) {
        marker.send('capture marker', markerPort, '127.0.0.1');
        await sleep(250);
        const seen = await run('tshark', ['-r', file, '-Y', `udp.port == ${markerPort}`, '-T', 'fields', '-e', 'frame.number'], { timeoutMs: 10_000 });
        if (seen.stdout.trim() !== '' || Date.now() - t1 > 10_000) break;
      }
      marker.close();
      child.kill('SIGINT');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return err;
    },
  };
}

/** Start usrsctp's client: it connects, sends each input line as a message, then shuts down. */
export async function startUsrsctpClient(opts: ClientOptions): Promise<UsrsctpProcess> {
  const udpPort = opts.udpPort ?? (await freeUdpPort());
  const localPort = opts.localPort ?? 5000 + Math.floor(Math.random() * 1000);
  return launch('client', [opts.remoteAddress, String(opts.remotePort), String(localPort), String(udpPort), String(opts.remoteUdpPort)], udpPort, localPort, opts.input);
}
