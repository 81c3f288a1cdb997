// A worker thread: one Collecting Process for one UDP input's share of exporters. Its datagrams either
// come from its own socket of the input's SO_REUSEPORT group (the recvmmsg addon: the kernel shards by
// exporter) or in batches from the main thread (shard.ts). Every exporter session, template and decoder
// state lives here, and the in-band sink events go back as event batches (event-channel.ts), in order.

import { parentPort, workerData } from 'node:worker_threads';
import { CollectingProcess } from '../collect/collecting-process.js';
import { loadUdpReceiver, receiveFrom } from '../collect/listener.js';
import { loadRegistry } from '../model/registry.js';
import { log } from '../observe/log.js';
import { registry as metrics } from '../observe/metrics.js';
import { DatagramReader } from './datagram-batch.js';
import { EVENT_BATCH_BYTES, EventWriter } from './event-channel.js';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.js';

// As the Collecting Process's own timer (collecting-process.ts): session ends within a second of their timeout.
const SWEEP_INTERVAL_MS = 250;
/**
 * Reading its own socket: event batches (1 MiB each) sent and not yet replayed by the main thread, at most.
 * Beyond it the worker stops reading: the socket's buffer fills, and what overflows it the kernel drops
 * and the main thread counts (receive_buffer_full). Memory stays bounded when the outputs are slower.
 */
const MAX_EVENT_BATCHES_OUT = 64;

const port = parentPort!;
const setup = workerData as WorkerSetup;
log.level = setup.logLevel;
const post = (m: FromWorker) => port.postMessage(m);

/** Event buffers the main thread gave back. */
const free: ArrayBufferLike[] = [];
/** Keeps the given-back event buffers of the standard size for reuse (a larger one was made for one event). */
function recycle(buffers: readonly ArrayBufferLike[]): void {
  for (const b of buffers) if (b.byteLength === EVENT_BATCH_BYTES) free.push(b);
}
const writer = new EventWriter((size) => {
  if (size === EVENT_BATCH_BYTES) {
    const b = free.pop();
    if (b) return b;
  }
  return new SharedArrayBuffer(size);
});

let cp: CollectingProcess;
try {
  cp = new CollectingProcess(setup.input, writer, { registry: loadRegistry(setup.mapping.dir), mapping: setup.mapping });
} catch (e) {
  post({ type: 'failed', message: (e as Error).message });
  throw e;
}

/** Datagram batches decoded since the last send: they go back with the events they produced. */
let done: ArrayBufferLike[] = [];
let sendQueued = false;

/** Sends what the writer holds, with the datagram batches it came from. */
function send(): void {
  sendQueued = false;
  const events = writer.take();
  if (done.length === 0 && events.length === 0) return;
  const datagrams = done;
  done = [];
  post(read ? { type: 'events', events, datagrams, answered: read[0]! } : { type: 'events', events, datagrams });
  if (receiving) {
    eventsOut += events.length;
    if (!paused && eventsOut >= MAX_EVENT_BATCHES_OUT) {
      paused = true;
      receiving.pause(true);
    }
  }
}

// Its own socket: datagrams are decoded as the addon hands them over; their events go at the end of the I/O
// turn (sending them at most once a millisecond instead measured the same CPU per record: v5 0.415 against
// 0.43 CPU-s per million at 3 M/s with workers: 2).
let receiving: ReturnType<typeof receiveFrom> | undefined;
// Datagrams taken from the socket (counted by the addon): all of them decoded whenever send() runs, as
// send never runs inside the addon's callback.
let read: Float64Array | undefined;
let eventsOut = 0;
let paused = false;

/** Reads `fd` (a socket of the input's SO_REUSEPORT group) from now on; `taken`: the addon's count of datagrams taken. */
function receiveOn(fd: number, taken: SharedArrayBuffer): void {
  const addon = loadUdpReceiver();
  if ('unavailable' in addon) throw new Error(addon.unavailable); // the main thread only sends a socket when it loaded the addon
  read = new Float64Array(taken);
  receiving = receiveFrom(addon, fd, setup.input.name, (b, start, end, address, p) => {
    cp.receive(b, start, end, address, p);
    if (!sendQueued) {
      sendQueued = true;
      setImmediate(send);
    }
  }, read);
}

if (setup.socket !== undefined) {
  try {
    receiveOn(setup.socket, setup.read!);
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    throw e;
  }
}

const reader = new DatagramReader();
const feed = (b: Buffer, start: number, end: number, address: string, p: number) => cp.feed(b, address, p, start, end);

const timer = setInterval(() => {
  try {
    cp.sweep();
  } catch (err) {
    log.warn({ input: setup.input.name, shard: setup.shard, err }, 'expiry sweep failed');
  }
  send();
}, SWEEP_INTERVAL_MS);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'datagrams':
      recycle(m.free);
      writer.batch(m.sequence);
      reader.read(Buffer.from(m.buffer), feed);
      done.push(m.buffer);
      // Every batch waiting in the port is decoded before the events go (one message for all of them).
      if (!sendQueued) {
        sendQueued = true;
        setImmediate(send);
      }
      break;
    case 'socket':
      receiveOn(m.socket, m.read);
      break;
    case 'replayed':
      recycle(m.free);
      eventsOut -= m.free.length;
      if (paused && eventsOut < MAX_EVENT_BATCHES_OUT / 2) {
        paused = false;
        receiving?.pause(false);
      }
      break;
    case 'metrics':
      // What the counters say was decoded has reached the main thread before they do.
      if (sendQueued) send();
      void metrics.getMetricsAsJSON().then((json) => post({ type: 'metrics', id: m.id, metrics: json }));
      break;
    case 'logLevel':
      log.level = m.level;
      break;
    case 'stop':
      clearInterval(timer);
      receiving?.stop();
      void cp
        .stop()
        .then(() => send())
        .then(() => metrics.getMetricsAsJSON())
        .then((json) => post({ type: 'stopped', metrics: json }));
      break;
  }
});

post({ type: 'ready' });
