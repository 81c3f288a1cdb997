// The UDP socket of an input. The receive buffer is what stands between a burst and loss (Node reads in
// one thread), so it is sized from the config and checked against what the kernel actually granted.
//
// Two ways to read it (the input's `receive` key, docs/collecting.md "UDP socket and receive buffer"):
// - recvmmsg: the project's addon (native/udp-receiver) drains the socket with recvmmsg(2) into one batch
//   buffer and calls back once per batch; each datagram is handed on as a range of the batch, with no
//   object made for it (the batch lies where the sFlow decoder reads datagrams in place). It also
//   reads the socket's kernel drop counter (SO_MEMINFO sk_drops: datagrams dropped for want of receive
//   buffer), counted as receive_buffer_full.
// - dgram: node:dgram, one callback per datagram with what dgram allocates for it (a Buffer, rinfo, the
//   address string). Used when the addon could not be built.

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { Logger } from 'pino';
import type { HostPort } from '../config/load.js';
import type { UdpReceive } from '../config/types.js';
import { DatagramReader, type DatagramHandler } from '../pipeline/datagram-batch.js';
import { DropReason, onScrape, packetsDropped, udpReceiveErrors } from '../observe/metrics.js';
import { log, RateLimitedLog } from '../observe/log.js';
import { RECEIVE_AREA_OCTETS, releaseReceiveArea, takeReceiveArea } from './sflow/plan-memory.js';

export type { DatagramHandler };

/** A bound UDP socket delivering datagrams to its handler. */
export interface UdpListener {
  /** How it reads: the recvmmsg addon or node:dgram. */
  readonly receive: 'recvmmsg' | 'dgram';
  readonly port: number;
  setRecvBufferSize(size: number): void;
  /** What SO_RCVBUF reads back (Linux: twice the granted size, see grantedReceiveBuffer). */
  getRecvBufferSize(): number;
  close(): Promise<void>;
}

export interface ListenOptions {
  receive?: UdpReceive;
  logger?: Logger;
}

export async function listenUdp(input: string, at: HostPort, receiveBuffer: number, onDatagram: DatagramHandler, options: ListenOptions = {}): Promise<UdpListener> {
  const logger = options.logger ?? log;
  const want = options.receive ?? 'auto';
  let listener: UdpListener;
  if (want === 'dgram') listener = await listenDgram(input, at, onDatagram, logger);
  else {
    const addon = loadUdpReceiver();
    if ('unavailable' in addon) {
      if (want === 'recvmmsg') throw new Error(`input ${input}: receive: recvmmsg, but ${addon.unavailable}`);
      reportFallbackOnce(logger, input, addon.unavailable);
      listener = await listenDgram(input, at, onDatagram, logger);
    } else listener = await listenRecvmmsg(addon, input, at, onDatagram, logger);
  }
  applyReceiveBuffer(input, listener, receiveBuffer, logger);
  return listener;
}

/**
 * Ask for `requested` octets of receive buffer, read back what the kernel granted and warn with the
 * remedy when it capped the request. Returns the granted size.
 */
export function applyReceiveBuffer(input: string, socket: Pick<UdpListener, 'setRecvBufferSize' | 'getRecvBufferSize'>, requested: number, logger: Logger = log): number {
  try {
    socket.setRecvBufferSize(requested);
  } catch (err) {
    logger.warn({ input, err }, 'could not set the UDP receive buffer size');
  }
  const granted = grantedReceiveBuffer(socket.getRecvBufferSize());
  if (granted < requested) {
    logger.warn(
      { input, requested, granted },
      `the kernel capped the UDP receive buffer; bursts may be lost. Raise the cap: sysctl -w net.core.rmem_max=${requested}`,
    );
  }
  return granted;
}

/** Linux reports twice the size it granted (SO_RCVBUF counts its bookkeeping overhead, socket(7)). */
export function grantedReceiveBuffer(reported: number): number {
  return process.platform === 'linux' ? Math.floor(reported / 2) : reported;
}

async function listenDgram(input: string, at: HostPort, onDatagram: DatagramHandler, logger: Logger): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: at.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  socket.on('message', (msg, rinfo) => onDatagram(msg, 0, msg.length, rinfo.address, rinfo.port));
  socket.on('error', (err) => logger.error({ input, err }, 'UDP socket error'));
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      // e.g. EADDRINUSE: give the descriptor back, the caller decides what to do.
      try {
        socket.close();
      } catch {
        // already closed by dgram
      }
      reject(err);
    };
    socket.once('error', failed);
    socket.bind(at.port, at.host, () => {
      socket.off('error', failed);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    receive: 'dgram',
    port: socket.address().port,
    setRecvBufferSize: (size) => socket.setRecvBufferSize(size),
    getRecvBufferSize: () => socket.getRecvBufferSize(),
    close: () => {
      if (closing) return closing;
      return (closing = new Promise<void>((r) => socket.close(() => r())));
    },
  };
}

// ---- the recvmmsg addon ----

/** native/udp-receiver's functions (src/udp_receiver.c). Descriptors are process-wide numbers. */
export interface UdpReceiverAddon {
  socket(family: 4 | 6, address: string, port: number, reusePort: boolean): number;
  closeSocket(fd: number): void;
  /**
   * The SO_REUSEPORT group of `fd` picks its socket by hash(exporter) % shards, in bind order: the exporter
   * is the sFlow agent address (byAgent) or else the source address.
   */
  shardBy(fd: number, shards: number, byAgent: boolean): void;
  /**
   * Polls `fd` from the calling thread's loop, packing datagrams into `batch` (datagram-batch.ts layout).
   * `taken[0]` (shared memory) counts the datagrams taken from the socket, before JavaScript sees them.
   * `onError` hears the errno of a failed recvmmsg(2) or poll (nothing waiting is not a failure).
   */
  open(fd: number, batch: Uint8Array, onBatch: (count: number) => void, taken?: Float64Array, onError?: (errno: number) => void): object;
  close(receiver: object): void;
  /** Stops (true) or resumes polling. */
  pause(receiver: object, paused: boolean): void;
  receiveBuffer(fd: number, size: number): number;
  port(fd: number): number;
  /** The socket's sk_drops: a u32 that wraps; -1 unknown. */
  drops(fd: number): number;
  /** Datagrams dropped so far for being larger than any UDP payload fits (never, in practice). */
  truncated(receiver: object): number;
}

/**
 * The batch the addon fills (a receive area's size): large enough for one datagram of the largest UDP
 * payload and, at sFlow's ~1,400 octets, for ~180 datagrams (more than the 64 one recvmmsg call returns).
 */
const BATCH_BYTES = RECEIVE_AREA_OCTETS;

let loaded: UdpReceiverAddon | { unavailable: string } | undefined;

export function loadUdpReceiver(): UdpReceiverAddon | { unavailable: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { unavailable: 'the recvmmsg receiver is Linux only' });
  try {
    const require = createRequire(import.meta.url);
    loaded = require('ipfix-mediator-udp-receiver') as UdpReceiverAddon;
  } catch (err) {
    loaded = { unavailable: `the udp-receiver addon is not built (${(err as Error).message.split('\n')[0]}): run npm ci with a C compiler, make and python3 installed` };
  }
  return loaded;
}

let fallbackReported = false;
function reportFallbackOnce(logger: Logger, input: string, why: string): void {
  if (fallbackReported) return;
  fallbackReported = true;
  logger.warn({ input }, `UDP inputs receive through node:dgram, one datagram per call (slower): ${why}`);
}

/** The receive buffer of an addon socket, as applyReceiveBuffer sets and reads it. */
export function socketReceiveBuffer(addon: UdpReceiverAddon, fd: number): Pick<UdpListener, 'setRecvBufferSize' | 'getRecvBufferSize'> {
  return { setRecvBufferSize: (size) => void addon.receiveBuffer(fd, size), getRecvBufferSize: () => addon.receiveBuffer(fd, 0) };
}

/** Numeric address to bind (the addon takes no names). */
export async function bindAddress(at: HostPort): Promise<string> {
  return isIP(at.host) ? at.host : (await lookup(at.host, { family: at.family })).address;
}

/**
 * Polls `fd` from this thread: every datagram reaches `onDatagram` as a range of the batch (valid during the
 * call). Truncated datagrams (none fit a 65,536-octet slot) are counted as `truncated` drops of `input` at
 * every scrape, failed receives as they happen (receiveFailed). `stop` ends it (the descriptor stays open);
 * `pause` holds reading for backpressure. `taken`: see UdpReceiverAddon.open.
 */
export function receiveFrom(addon: UdpReceiverAddon, fd: number, input: string, onDatagram: DatagramHandler, taken?: Float64Array, logger: Logger = log): { stop(): void; pause(paused: boolean): void } {
  // In a receive area of the thread's plan memory, where the sFlow decoder decodes a datagram without
  // copying it first (sflow/plan-memory.ts); a buffer of its own when none is left.
  const area = takeReceiveArea();
  const batch = area ?? Buffer.alloc(BATCH_BYTES);
  const reader = new DatagramReader();
  const warnings = new RateLimitedLog(logger);
  const receiver = addon.open(fd, batch, () => void reader.read(batch, onDatagram), taken, (errno) => receiveFailed(input, errno, warnings));
  const label = { input, reason: DropReason.truncated };
  let truncatedSeen = 0;
  let closed = false;
  const flush = (): void => {
    if (closed) return;
    const truncated = addon.truncated(receiver);
    if (truncated > truncatedSeen) packetsDropped.inc(label, truncated - truncatedSeen);
    truncatedSeen = truncated;
  };
  const unhook = onScrape(flush);
  return {
    stop: () => {
      if (closed) return;
      flush();
      closed = true;
      unhook();
      addon.close(receiver);
      if (area) releaseReceiveArea(area);
    },
    pause: (paused) => {
      if (!closed) addon.pause(receiver, paused);
    },
  };
}

/**
 * A receive on an input's socket failed (the addon's onError): counted by error code and logged, rate
 * limited. Whatever waits in the socket stays there and is read at its next readiness.
 */
function receiveFailed(input: string, errno: number, warnings: RateLimitedLog): void {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `errno ${errno}`;
  }
  udpReceiveErrors.inc({ input, code });
  warnings.warn(`receive|${input}|${code}`, { input, code }, 'UDP receive failed');
}

/**
 * Counts the kernel's drops at `fd` (sk_drops) as `receive_buffer_full` drops of `input` at every scrape.
 * Returns what stops counting (after a last count).
 */
export function countKernelDrops(addon: UdpReceiverAddon, fd: number, input: string): () => void {
  const label = { input, reason: DropReason.receiveBufferFull };
  let seen = Math.max(0, addon.drops(fd));
  let stopped = false;
  const flush = (): void => {
    if (stopped) return;
    const drops = addon.drops(fd);
    if (drops < 0) return;
    const n = (drops - seen + 2 ** 32) % 2 ** 32;
    if (n > 0) packetsDropped.inc(label, n);
    seen = drops;
  };
  const unhook = onScrape(flush);
  return () => {
    flush();
    stopped = true;
    unhook();
  };
}

async function listenRecvmmsg(addon: UdpReceiverAddon, input: string, at: HostPort, onDatagram: DatagramHandler, logger: Logger): Promise<UdpListener> {
  const fd = addon.socket(at.family, await bindAddress(at), at.port, false);
  const stopCounting = countKernelDrops(addon, fd, input);
  const receiving = receiveFrom(addon, fd, input, onDatagram, undefined, logger);
  let closed = false;
  return {
    receive: 'recvmmsg',
    port: addon.port(fd),
    ...socketReceiveBuffer(addon, fd),
    close: async () => {
      if (closed) return;
      closed = true;
      receiving.stop();
      stopCounting();
      addon.closeSocket(fd);
    },
  };
}
