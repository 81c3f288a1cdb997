// A worker thread: one Collecting Process without a socket for one UDP input's share of exporters
// (shard.ts). Datagram batches come in from the main thread, every exporter session, template and decoder
// state lives here, and the in-band sink events go back as event batches (event-channel.ts), in order.

import { parentPort, workerData } from 'node:worker_threads';
import { CollectingProcess } from '../collect/collecting-process.js';
import { loadRegistry } from '../model/registry.js';
import { log } from '../observe/log.js';
import { registry as metrics } from '../observe/metrics.js';
import { DatagramReader } from './datagram-batch.js';
import { EVENT_BATCH_BYTES, EventWriter } from './event-channel.js';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.js';

// As the Collecting Process's own timer (collecting-process.ts): session ends within a second of their timeout.
const SWEEP_INTERVAL_MS = 250;

const port = parentPort!;
const setup = workerData as WorkerSetup;
log.level = setup.logLevel;
const post = (m: FromWorker) => port.postMessage(m);

/** Event buffers the main thread gave back. */
const free: ArrayBufferLike[] = [];
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
  post({ type: 'events', events, datagrams });
}

const reader = new DatagramReader();
const feed = (d: Buffer, address: string, p: number) => cp.feed(d, address, p);

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
      for (const b of m.free) if (b.byteLength === EVENT_BATCH_BYTES) free.push(b);
      writer.batch(m.sequence);
      reader.read(m.buffer, feed);
      done.push(m.buffer);
      // Every batch waiting in the port is decoded before the events go (one message for all of them).
      if (!sendQueued) {
        sendQueued = true;
        setImmediate(send);
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
      void cp
        .stop()
        .then(() => send())
        .then(() => metrics.getMetricsAsJSON())
        .then((json) => post({ type: 'stopped', metrics: json }));
      break;
  }
});

post({ type: 'ready' });
