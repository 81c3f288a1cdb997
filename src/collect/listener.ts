// The UDP socket of an input. The receive buffer is what stands between a burst and loss (Node reads in
// one thread), so it is sized from the config and checked against what the kernel actually granted.
//
// Two ways to read it (the input's `receive` key, docs/collecting.md "Receiving UDP"):
// - recvmmsg: the project's addon (native/udp-receiver) drains the socket with recvmmsg(2) into one batch
//   buffer and calls back once per batch; per datagram only a view of the batch is made here. It also
//   reads the socket's kernel drop counter (SO_MEMINFO sk_drops: datagrams dropped for want of receive
//   buffer), counted as receive_buffer_full.
// - dgram: node:dgram, one callback per datagram with what dgram allocates for it (a Buffer, rinfo, the
//   address string). Used when the addon could not be built.

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { HostPort } from '../config/load.js';
import type { UdpReceive } from '../config/types.js';
import { DatagramReader } from '../pipeline/datagram-batch.js';
import { DropReason, onScrape, packetsDropped } from '../observe/metrics.js';
import { log } from '../observe/log.js';

export type DatagramHandler = (datagram: Buffer, address: string, port: number) => void;

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
  /** SO_REUSEPORT (recvmmsg only): several sockets, e.g. one per worker thread, share the port. */
  reusePort?: boolean;
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
    } else listener = await listenRecvmmsg(addon, input, at, onDatagram, options.reusePort ?? false);
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
  socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
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

/** native/udp-receiver's functions (src/udp_receiver.c). */
interface UdpReceiverAddon {
  open(family: 4 | 6, address: string, port: number, reusePort: boolean, batch: Uint8Array, onBatch: (count: number) => void): object;
  close(receiver: object): void;
  receiveBuffer(receiver: object, size: number): number;
  port(receiver: object): number;
  /** datagrams, truncated, recvmmsg calls, kernel drops (sk_drops: a u32 that wraps, -1 unknown), last errno */
  counters(receiver: object, into: Float64Array): void;
}

/**
 * The batch the addon fills: large enough for one datagram of the largest UDP payload and, at sFlow's
 * ~1,400 octets, for ~180 datagrams (more than the 64 one recvmmsg call returns).
 */
const BATCH_BYTES = 256 * 1024;

let loaded: UdpReceiverAddon | { unavailable: string } | undefined;

function loadUdpReceiver(): UdpReceiverAddon | { unavailable: string } {
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

async function listenRecvmmsg(addon: UdpReceiverAddon, input: string, at: HostPort, onDatagram: DatagramHandler, reusePort: boolean): Promise<UdpListener> {
  const address = isIP(at.host) ? at.host : (await lookup(at.host, { family: at.family })).address;
  const batch = Buffer.alloc(BATCH_BYTES);
  const reader = new DatagramReader();
  const buffer = batch.buffer;
  const receiver = addon.open(at.family, address, at.port, reusePort, batch, () => void reader.read(buffer, onDatagram));
  // Kernel drops and truncated datagrams reach the metrics on every scrape, as deltas of the addon's totals.
  const counters = new Float64Array(5);
  const labels = { full: { input, reason: DropReason.receiveBufferFull }, truncated: { input, reason: DropReason.truncated } };
  let overflowSeen = 0;
  let truncatedSeen = 0;
  let closed = false;
  const flush = (): void => {
    if (closed) return;
    addon.counters(receiver, counters);
    const drops = counters[3]!;
    if (drops >= 0) {
      const overflow = (drops - overflowSeen + 2 ** 32) % 2 ** 32;
      if (overflow > 0) packetsDropped.inc(labels.full, overflow);
      overflowSeen = drops;
    }
    if (counters[1]! > truncatedSeen) packetsDropped.inc(labels.truncated, counters[1]! - truncatedSeen);
    truncatedSeen = counters[1]!;
  };
  const unhook = onScrape(flush);
  return {
    receive: 'recvmmsg',
    port: addon.port(receiver),
    setRecvBufferSize: (size) => void addon.receiveBuffer(receiver, size),
    getRecvBufferSize: () => addon.receiveBuffer(receiver, 0),
    close: async () => {
      if (closed) return;
      flush();
      closed = true;
      unhook();
      addon.close(receiver);
    },
  };
}
