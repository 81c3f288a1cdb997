// A UDP input whose decoding runs in worker threads (config `workers` > 0). The main thread keeps the socket
// and the allow list; every datagram goes, by its exporter (shard.ts: the sFlow agent, else the source
// address), to one worker, where a Collecting Process without a socket owns that exporter's sessions and
// templates (worker.ts). Datagrams
// travel in shared batches (datagram-batch.ts), flushed when full or at the end of the I/O turn; the
// worker's in-band sink events come back as event batches (event-channel.ts) that are replayed, in order,
// into the real sink (the OutputSet).
//
// Backpressure: a worker has at most MAX_BATCHES_IN_FLIGHT datagram batches out (a batch is out until the
// events it produced have been replayed here); beyond that datagrams are dropped and counted
// (packets_dropped_total{reason="worker_backlog"}), never queued without bound.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InputConfig } from '../config/types.js';
import { parseListenUrl } from '../config/load.js';
import type { DecoderOptions } from '../collect/decoder.js';
import { DECODERS } from '../collect/protocols.js';
import { listenUdp, type UdpListener } from '../collect/listener.js';
import { AllowList } from '../collect/allow-list.js';
import type { RecordSink } from '../mediate/sink.js';
import { DropReason, addThreadMetrics, bytesReceived, onScrape, packetsDropped, packetsReceived, type MetricsJson } from '../observe/metrics.js';
import { RateLimitedLog, log } from '../observe/log.js';
import { DATAGRAM_BATCH_BYTES, DatagramBatch } from './datagram-batch.js';
import { EVENTS_START, EventReader } from './event-channel.js';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.js';
import { retireMetrics } from './retired-metrics.js';
import { shardOf, shardOfDatagram } from './shard.js';

/**
 * Datagram batches a worker may hold at once (decoding, or their events not yet replayed): 64 MiB per worker
 * at most, as much as a socket's receive buffer. A batch is sent at the end of every I/O turn, so under a
 * light load batches hold few datagrams each: the count, not their size, is what runs out first.
 */
export const MAX_BATCHES_IN_FLIGHT = 1024;
/** A scrape waits this long for a worker's metrics before using the last ones it sent. */
const METRICS_TIMEOUT_MS = 2000;
/** A stopping worker has this long to end its sessions and send its last events. */
const STOP_TIMEOUT_MS = 3000;

/** What the gateway runs an input as: a CollectingProcess (main thread) or a ShardedInput. */
export interface InputProcess {
  readonly config: InputConfig;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  announceTo(sink: RecordSink): void;
  reloadCertificates(): boolean;
  connections(): { exporter: string; address: string; port: number; transport: string; since: string; messages: number }[];
}

/** The built worker: beside this file in dist/; from src/ (vitest runs TypeScript) the one in dist/ too. */
export function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/pipeline/worker.js', import.meta.url);
}

/** One worker thread as seen from the main thread: its batches, its mirror of sessions and templates. */
class Shard {
  readonly worker: Worker;
  readonly reader: EventReader;
  inFlight = 0;
  private current?: DatagramBatch;
  private currentSequence = 0;
  private readonly free: ArrayBufferLike[] = [];
  /** Event batches received and not yet replayed to their end (waiting for another worker's turn), in order. */
  private readonly pending: { buffer: Buffer; offset: number }[] = [];
  /** Event batches replayed, going back to the worker with the next datagram batch. */
  private replayed: ArrayBufferLike[] = [];
  private readonly metricsWaiting = new Map<number, (json: MetricsJson) => void>();
  private lastMetrics: MetricsJson = [];
  private nextId = 1;
  private stopped?: (json: MetricsJson) => void;
  stopping = false;
  /** The worker took its config: a later unexpected exit is replaced by a new worker (a failed start is not). */
  started = false;
  /** Settles when the worker took its config (ready) or could not (failed, exited). */
  readonly ready: Promise<void>;

  constructor(
    private readonly owner: ShardedInput,
    readonly index: number,
    setup: WorkerSetup,
  ) {
    this.reader = new EventReader(setup.input.name);
    this.worker = new Worker(workerUrl(), { workerData: setup, name: `${setup.input.name}/${index}` });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          this.started = true;
          resolve();
        }
        else if (m.type === 'failed') reject(new Error(m.message));
        else this.received(m);
      });
      this.worker.once('exit', (code) => {
        reject(new Error(`worker thread exited (${code}) before it was ready`));
        this.owner.exited(this, code);
      });
      this.worker.on('error', (err) => log.error({ input: setup.input.name, shard: index, err }, 'worker thread failed'));
    });
    this.ready.catch(() => undefined);
  }

  /** Appends a datagram to the open batch; false when the worker has too many batches out (dropped). */
  add(datagram: Buffer, address: string, port: number): boolean {
    let b = this.current;
    if (b && !b.fits(address, datagram.length)) {
      this.send();
      b = undefined;
    }
    if (!b) {
      if (this.inFlight >= this.owner.batchesInFlight || this.stopping) return false;
      const need = DatagramBatch.room(address, datagram.length);
      b = this.current = new DatagramBatch(need <= DATAGRAM_BATCH_BYTES ? (this.free.pop() ?? new SharedArrayBuffer(DATAGRAM_BATCH_BYTES)) : new SharedArrayBuffer(need));
      // Numbered when its first datagram arrives: the order the main thread replays batches in.
      this.currentSequence = this.owner.sequence(this);
    }
    b.add(datagram, address, port);
    return true;
  }

  /** Hands the open batch to the worker. */
  send(): void {
    const b = this.current;
    if (!b) return;
    this.current = undefined;
    const buffer = b.seal();
    this.inFlight++;
    const free = this.replayed;
    this.replayed = [];
    this.post({ type: 'datagrams', buffer, free, sequence: this.currentSequence });
  }

  /**
   * Replays what has arrived, up to the mark of a datagram batch whose turn has not come. Returns whether
   * anything was replayed (another worker's batch may have become next).
   */
  drain(sink: RecordSink, pass: (sequence: number) => boolean, failed: (err: unknown) => void): boolean {
    let moved = false;
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      const at = this.reader.replay(p.buffer, sink, p.offset, pass, failed);
      if (at < 0) {
        this.pending.shift();
        this.replayed.push(p.buffer.buffer as ArrayBufferLike);
        moved = true;
        continue;
      }
      if (at !== p.offset) moved = true;
      p.offset = at;
      break;
    }
    return moved;
  }

  /** Event batches received but not replayed to their end. */
  get waiting(): number {
    return this.pending.length;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private received(m: FromWorker): void {
    switch (m.type) {
      case 'events':
        // The datagrams are decoded: their buffers can be filled again. The batches stay counted in flight
        // until their events are replayed (ShardedInput.pass).
        for (const d of m.datagrams) if (d.byteLength === DATAGRAM_BATCH_BYTES) this.free.push(d);
        for (const e of m.events) this.pending.push({ buffer: Buffer.from(e), offset: EVENTS_START });
        this.owner.replay();
        break;
      case 'metrics':
        this.lastMetrics = m.metrics;
        this.metricsWaiting.get(m.id)?.(m.metrics);
        this.metricsWaiting.delete(m.id);
        break;
      case 'stopped':
        this.lastMetrics = m.metrics;
        this.stopped?.(m.metrics);
        break;
    }
  }

  /** The worker's registry as JSON (the last one it sent, if it does not answer in time). */
  metrics(): Promise<MetricsJson> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.metricsWaiting.delete(id);
        resolve(this.lastMetrics);
      }, METRICS_TIMEOUT_MS);
      this.metricsWaiting.set(id, (json) => {
        clearTimeout(timer);
        resolve(json);
      });
      this.post({ type: 'metrics', id });
    });
  }

  logLevel(level: string): void {
    this.post({ type: 'logLevel', level });
  }

  /** Ends the worker's sessions ('shutdown', their events replayed first), then the thread. Returns its last counters. */
  async stop(): Promise<MetricsJson> {
    this.stopping = true;
    this.send();
    const last = await new Promise<MetricsJson>((resolve) => {
      const timer = setTimeout(() => resolve(this.lastMetrics), STOP_TIMEOUT_MS);
      this.stopped = (json) => {
        clearTimeout(timer);
        resolve(json);
      };
      this.post({ type: 'stop' });
    });
    await this.worker.terminate();
    return last;
  }
}

export class ShardedInput implements InputProcess {
  private readonly setup: Omit<WorkerSetup, 'shard'>;
  private readonly shards: Shard[] = [];
  private readonly allow?: AllowList;
  private readonly warn = new RateLimitedLog();
  private socket?: UdpListener;
  private flushQueued = false;
  private octetsIn = 0;
  private droppedNotAllowed = 0;
  private droppedBacklog = 0;
  private readonly unhookScrape: () => void;
  private unhookMetrics?: () => void;
  private closing = false;
  /** Datagram batches sent and not yet replayed, in the order they were received: the replay order. */
  private order: { sequence: number; shard: Shard }[] = [];
  private head = 0;
  private nextSequence = 1;
  /** Stopping: what is left replays without waiting for the order (a worker that did not answer). */
  private unordered = false;
  /** Shard by source address only (not by sFlow agent): see receive. */
  private readonly bySource: boolean;

  constructor(
    readonly config: InputConfig,
    private readonly sink: RecordSink,
    options: DecoderOptions,
    readonly workers: number,
    logLevel: string = log.level,
    /** Datagram batches each worker may hold at once (tests make it small). */
    readonly batchesInFlight: number = MAX_BATCHES_IN_FLIGHT,
  ) {
    // The workers compile their own decoders; compiling them here too makes a mapping table that does not
    // load fail now, in the caller (a reload is rejected before anything changes), not later in a thread.
    for (const factory of Object.values(DECODERS)) factory(options);
    if (config.allow) this.allow = new AllowList(config.allow);
    this.bySource = config.rateLimit !== undefined;
    this.setup = { input: config, mapping: options.mapping, logLevel };
    this.unhookScrape = onScrape(() => this.flushCounts());
  }

  get port(): number {
    return this.socket ? this.socket.port : 0;
  }

  async start(): Promise<void> {
    const at = parseListenUrl(this.config.listen);
    if (!at || at.scheme !== 'udp') throw new Error(`input ${this.config.name}: worker threads serve udp:// inputs only, not ${this.config.listen}`);
    for (let i = 0; i < this.workers; i++) this.shards.push(new Shard(this, i, { ...this.setup, shard: i }));
    this.unhookMetrics = addThreadMetrics(() => Promise.all(this.shards.map((s) => s.metrics())));
    await Promise.all(this.shards.map((s) => s.ready));
    this.socket = await listenUdp(this.config.name, at, this.config.receiveBuffer, (d, a, p) => this.receive(d, a, p), { receive: this.config.receive });
    log.info({ input: this.config.name, listen: this.config.listen, protocol: this.config.protocol, port: this.port, workers: this.workers }, 'input listening');
  }

  async stop(): Promise<void> {
    this.closing = true;
    const s = this.socket;
    this.socket = undefined;
    if (s) await s.close();
    const shards = [...this.shards];
    const finals = await Promise.all(shards.map((shard) => shard.stop()));
    // What is left waits for a worker that did not answer in time: it replays now, and that worker's
    // sessions still end downstream.
    this.unordered = true;
    this.replay();
    for (const shard of shards) shard.reader.endAll(this.sink, 'shutdown');
    this.shards.length = 0;
    this.unhookMetrics?.();
    for (const json of finals) await retireMetrics(json);
    this.flushCounts();
    this.unhookScrape();
  }

  announceTo(sink: RecordSink): void {
    for (const s of this.shards) s.reader.announceTo(sink);
  }

  reloadCertificates(): boolean {
    return true;
  }

  connections(): ReturnType<InputProcess['connections']> {
    return [];
  }

  /** A reload changed logLevel: the workers' loggers follow. */
  logLevel(level: string): void {
    for (const s of this.shards) s.logLevel(level);
  }

  private receive(datagram: Buffer, address: string, port: number): void {
    this.octetsIn += datagram.length;
    if (this.allow && !this.allow.admits(address)) {
      this.droppedNotAllowed++;
      this.warn.warn(`not_allowed|${address}`, { input: this.config.name, reason: DropReason.notAllowed, exporter: address, port }, 'datagram from a source outside the allow list dropped');
      return;
    }
    const n = this.shards.length;
    // A rate limit is per source address: all of a source's datagrams must then meet in one worker.
    const shard = this.bySource ? shardOf(address, n) : shardOfDatagram(datagram, address, n);
    if (!this.shards[shard]!.add(datagram, address, port)) {
      this.droppedBacklog++;
      this.warn.warn('worker_backlog', { input: this.config.name, reason: DropReason.workerBacklog, exporter: address }, 'worker thread busy (too many batches in flight): datagram dropped');
      return;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  /** End of the I/O turn: every open batch goes to its worker. */
  private readonly flush = (): void => {
    this.flushQueued = false;
    for (const s of this.shards) s.send();
  };

  /** The next datagram batch of `shard` gets the next place in the replay order. */
  sequence(shard: Shard): number {
    const sequence = this.nextSequence;
    this.nextSequence = (this.nextSequence + 1) >>> 0;
    this.order.push({ sequence, shard });
    return sequence;
  }

  /**
   * May the events of datagram batch `sequence` be replayed now? Only when every batch received before it
   * has been: the sink sees the exporters' events in the order their datagrams arrived, as without workers
   * (downstream choices such as which exporter's template keeps its Template ID depend on that order).
   */
  private readonly pass = (sequence: number): boolean => {
    const next = this.order[this.head];
    if (this.unordered) {
      if (next?.sequence === sequence) this.advance();
      return true;
    }
    if (next?.sequence !== sequence) return false;
    this.advance();
    return true;
  };

  private advance(): void {
    this.order[this.head]!.shard.inFlight--;
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  private readonly failed = (err: unknown): void => {
    // A downstream bug must not take the input down: that one event is lost, logged.
    this.warn.warn('replay_error', { input: this.config.name, err }, "replaying a worker's event failed");
  };

  /** Replays every worker's events as far as the order allows (called when events arrive). */
  replay(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const s of this.shards) {
        try {
          if (s.drain(this.sink, this.pass, this.failed)) moved = true;
        } catch (err) {
          // Only a malformed event batch (a bug) gets here: that worker's batches leave the order.
          log.error({ input: this.config.name, shard: s.index, err }, "a worker's event batch could not be read");
          this.leaveOrder(s);
          moved = true;
        }
      }
    }
  }

  /** Takes a worker's batches out of the replay order (the worker is gone). */
  private leaveOrder(shard: Shard): void {
    this.order = this.order.slice(this.head).filter((o) => o.shard !== shard);
    this.head = 0;
  }

  /** A worker thread ended without being asked to: its sessions end downstream and a new worker takes its shard. */
  exited(shard: Shard, code: number): void {
    if (shard.stopping || this.closing || !shard.started) return;
    const i = this.shards.indexOf(shard);
    if (i < 0) return;
    log.error({ input: this.config.name, shard: shard.index, code, batchesLost: shard.inFlight }, 'worker thread exited: its exporter sessions end and a new worker starts');
    this.leaveOrder(shard);
    shard.reader.endAll(this.sink, 'shutdown');
    this.shards[i] = new Shard(this, shard.index, { ...this.setup, shard: shard.index });
    this.replay();
  }

  private flushCounts(): void {
    const input = this.config.name;
    if (this.octetsIn > 0) bytesReceived.inc({ input }, this.octetsIn);
    const dropped = this.droppedNotAllowed + this.droppedBacklog;
    // As the Collecting Process counts them: received (protocol unknown, never dispatched), then dropped.
    if (dropped > 0) packetsReceived.inc({ input, protocol: 'unknown' }, dropped);
    if (this.droppedNotAllowed > 0) packetsDropped.inc({ input, reason: DropReason.notAllowed }, this.droppedNotAllowed);
    if (this.droppedBacklog > 0) packetsDropped.inc({ input, reason: DropReason.workerBacklog }, this.droppedBacklog);
    this.octetsIn = 0;
    this.droppedNotAllowed = 0;
    this.droppedBacklog = 0;
  }
}
