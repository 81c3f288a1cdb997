// What the main thread and a worker thread say to each other (worker.ts, sharded-input.ts). Batches are
// SharedArrayBuffers: posting one copies nothing, and ownership is by protocol (the side that posted a
// batch leaves it alone until it comes back to be reused). Not transferred ArrayBuffers: a transfer
// detaches the sender's buffer, and the first detach in a thread makes V8 add a detach check to every
// typed-array and DataView access of that thread from then on (measured: the sFlow decoder 10-30 % slower
// per sample after one detach).

import type { InputConfig, MappingConfig } from '../config/types.js';
import type { MetricsJson } from '../observe/metrics.js';

/** What a worker is started with (workerData): the input it serves and the mapping settings its decoders compile. */
export interface WorkerSetup {
  readonly input: InputConfig;
  readonly mapping: MappingConfig;
  readonly logLevel: string;
  /** Index of this worker among the input's (for logs). */
  readonly shard: number;
  /**
   * A descriptor of the input's SO_REUSEPORT group (the recvmmsg addon, listener.ts) that this worker reads
   * itself: the kernel hands it its exporters' datagrams and none pass through the main thread. Given to a
   * replacement worker; the first workers get theirs in a 'socket' message once they are ready (the group is
   * bound only then, so nothing waits in a socket no thread reads). Absent: the main thread receives and
   * sends datagram batches, or the 'socket' message comes.
   */
  readonly socket?: number;
  /**
   * With `socket`: a Float64Array(1) over this buffer where the addon counts the datagrams it took from the
   * socket (before JavaScript sees them); each events message says how many of them were answered, so a
   * worker that dies leaves an exact count of what it took and never answered (worker_exited).
   */
  readonly read?: SharedArrayBuffer;
}

export type ToWorker =
  /**
   * A sealed DatagramBatch to decode (it comes back with the events it produced, behind a mark with its
   * `sequence`: the main thread replays the batches of all workers in the order they were received), and the
   * event batches the main thread has replayed since the last one, for reuse (one message per I/O turn).
   */
  | { readonly type: 'datagrams'; readonly buffer: ArrayBufferLike; readonly free: ArrayBufferLike[]; readonly sequence: number }
  /** Read this socket from now on (WorkerSetup `socket` and `read`, sent once the input's group is bound). */
  | { readonly type: 'socket'; readonly socket: number; readonly read: SharedArrayBuffer }
  /** A worker reading its own socket: event batches the main thread has replayed (for reuse, and its backpressure). */
  | { readonly type: 'replayed'; readonly free: ArrayBufferLike[] }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'logLevel'; readonly level: string }
  /** End every session ('shutdown'), send the last events and metrics, then wait to be terminated. */
  | { readonly type: 'stop' };

export type FromWorker =
  /** Registry loaded, decoders compiled: the worker takes datagrams. */
  | { readonly type: 'ready' }
  /** Failed to start (e.g. the mapping tables did not load). */
  | { readonly type: 'failed'; readonly message: string }
  /**
   * Event batches in order, and the datagram batches they came from, returned (none for a sweep's events).
   * The worker answers every datagram batch the main thread's I/O turn delivered in one message.
   * `answered` (reading its own socket): datagrams taken from it so far, all decoded into these events or earlier ones.
   */
  | { readonly type: 'events'; readonly events: ArrayBufferLike[]; readonly datagrams: ArrayBufferLike[]; readonly answered?: number }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricsJson }
  /** After 'stop': the last events were sent before this; the final counters. */
  | { readonly type: 'stopped'; readonly metrics: MetricsJson };
