// A UDP input whose decoding runs in worker threads (config `workers` > 0). Each exporter (the sFlow agent,
// else the source address) belongs to one worker, where a Collecting Process owns its sessions and
// templates (worker.ts). Two ways datagrams get there:
// - the workers' own sockets (the recvmmsg addon, receive: auto|recvmmsg): the main thread binds one
//   SO_REUSEPORT socket per worker and the kernel picks the socket by exporter (the addon's BPF program);
//   nothing of a datagram passes through this thread;
// - batches (receive: dgram): the main thread keeps the socket and the allow list, shards every datagram
//   (shard.ts) into shared batches (datagram-batch.ts), flushed when full or at the end of the I/O turn.
// Either way the worker's in-band sink events come back as event batches (event-channel.ts) that are
// replayed, in order, into the real sink (the OutputSet).
//
// Backpressure (batches): a worker has at most MAX_BATCHES_IN_FLIGHT datagram batches out (a batch is out until the
// events it produced have been replayed here); beyond that datagrams are dropped and counted
// (packets_dropped_total{reason="worker_backlog"}), never queued without bound.
//
// A worker thread that dies (exited): the datagrams it had not answered are lost and counted
// (packets_dropped_total{reason="worker_exited"}); the events it did send are replayed in their turn; then
// its exporter sessions end downstream ('shutdown': reliable outputs withdraw their templates) and a new
// worker takes its shard, where the same exporters start new sessions.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InputConfig } from '../config/types.js';
import { parseListenUrl, type HostPort } from '../config/load.js';
import type { DecoderOptions } from '../collect/decoder.js';
import { DECODERS } from '../collect/protocols.js';
import { applyReceiveBuffer, bindAddress, countKernelDrops, listenUdp, loadUdpReceiver, socketReceiveBuffer, type UdpListener } from '../collect/listener.js';
import { AllowList } from '../collect/allow-list.js';
import type { RecordSink } from '../mediate/sink.js';
import { DropReason, addThreadMetrics, bytesReceived, onScrape, packetsDropped, packetsReceived, sessionsEnded, workerThreadExits, type MetricsJson } from '../observe/metrics.js';
import { bySession, type SessionHealth } from '../observe/http.js';
import { RateLimitedLog, log } from '../observe/log.js';
import { DATAGRAM_BATCH_BYTES, DatagramBatch, viewOf } from './datagram-batch.js';
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
  /** Live exporter sessions and their Template IDs, sorted (for /health: inputs[].sessions). */
  exporterSessions(): SessionHealth[];
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
  /** Datagram batches posted and not answered yet (their events not back), oldest first: sequence, datagrams. */
  private readonly unanswered: number[] = [];
  private readonly metricsWaiting = new Map<number, (json: MetricsJson) => void>();
  /** The worker's registry as it last sent it (what a scrape uses when it does not answer; retired when it dies). */
  lastMetrics: MetricsJson = [];
  private nextId = 1;
  private stopped?: (json: MetricsJson) => void;
  stopping = false;
  /** The worker took its config: a later unexpected exit is replaced by a new worker (a failed start is not). */
  started = false;
  /** A replacement worker that could not start: its shard's datagrams are dropped (worker_exited). */
  dead = false;
  /** The worker is gone and what it had not answered is counted lost (abandon). */
  private abandoned = false;
  /** Settles when the worker took its config (ready) or could not (failed, exited). */
  readonly ready: Promise<void>;
  /** Set when the worker reads its own socket (no datagram batches go to it): the datagrams taken from it (the addon's counter) and answered (said in its last events). */
  private read?: Float64Array;
  private answered = 0;

  constructor(
    private readonly owner: ShardedInput,
    readonly index: number,
    setup: WorkerSetup,
    /** Started in place of a worker that died (its failure to start is handled by exited, not by start). */
    readonly replacement = false,
  ) {
    this.reader = new EventReader(setup.input.name);
    if (setup.read) this.read = new Float64Array(setup.read);
    this.worker = new Worker(owner.workerScript, { workerData: setup, name: `${setup.input.name}/${index}` });
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

  /** The worker reads socket `fd` of the input's group from now on (sent once the group is bound). */
  adopt(fd: number): void {
    const taken = new SharedArrayBuffer(8);
    this.read = new Float64Array(taken);
    this.post({ type: 'socket', socket: fd, read: taken });
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
    this.unanswered.push(this.currentSequence, b.count);
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
    // A worker reading its own socket gets no datagram batches to carry these back: they go on their own
    // (and let it read on when it held back for them).
    if (this.read && this.replayed.length > 0) {
      const free = this.replayed;
      this.replayed = [];
      this.post({ type: 'replayed', free });
    }
    return moved;
  }

  /** Event batches received but not replayed to their end. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Forgets the event batches not replayed (one could not be read: a bug). */
  dropPending(): void {
    this.pending.length = 0;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private received(m: FromWorker): void {
    switch (m.type) {
      case 'events':
        // After abandon() (Node delivers a thread's last messages before its exit event, so this is a guard):
        // these batches are counted lost and out of the replay order; their marks would never pass.
        if (this.abandoned) break;
        // The datagrams are decoded: their buffers can be filled again. The batches stay counted in flight
        // until their events are replayed (ShardedInput.pass).
        for (const d of m.datagrams) if (d.byteLength === DATAGRAM_BATCH_BYTES) this.free.push(d);
        // The worker answers its batches in the order they were posted.
        this.unanswered.splice(0, 2 * m.datagrams.length);
        if (m.answered !== undefined) this.answered = m.answered;
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
    // A replacement that never started has no thread to ask (and nothing counted).
    if (this.dead) return Promise.resolve([]);
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

  /**
   * The worker is gone: the datagrams it never answered (posted batches, and the open one) are lost. Returns
   * their count and the batches' sequence numbers (they leave the replay order).
   */
  abandon(): { datagrams: number; sequences: Set<number> } {
    this.abandoned = true;
    const sequences = new Set<number>();
    let datagrams = 0;
    for (let i = 0; i < this.unanswered.length; i += 2) {
      sequences.add(this.unanswered[i]!);
      datagrams += this.unanswered[i + 1]!;
    }
    this.unanswered.length = 0;
    if (this.current) {
      sequences.add(this.currentSequence);
      datagrams += this.current.count;
      this.current = undefined;
    }
    // Reading its own socket: what it read and never answered (what it had not read yet, the next worker reads).
    if (this.read) datagrams += Math.max(0, this.read[0]! - this.answered);
    // A scrape waiting for its counters gets the last ones now (those are retired), not after the timeout.
    for (const settle of this.metricsWaiting.values()) settle(this.lastMetrics);
    this.metricsWaiting.clear();
    return { datagrams, sequences };
  }

  /** Ends the worker's sessions ('shutdown', their events replayed first), then the thread. Returns its last counters. */
  async stop(): Promise<MetricsJson> {
    this.stopping = true;
    if (this.dead) return [];
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
  /** Worker-owned sockets (the recvmmsg addon): one descriptor per shard, bound in shard order; their port. */
  private sockets: number[] = [];
  private socketsPort = 0;
  private stopCountingDrops: (() => void)[] = [];
  private flushQueued = false;
  private octetsIn = 0;
  private droppedNotAllowed = 0;
  private droppedBacklog = 0;
  private droppedExited = 0;
  /** Workers that died with events received but not replayed yet: replayed in their turn, then their sessions end. */
  private readonly draining: Shard[] = [];
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
    /** The worker's script (tests wrap worker.js to hold a worker's answers back). */
    readonly workerScript: URL = workerUrl(),
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
    return this.socket ? this.socket.port : this.socketsPort;
  }

  /** What worker `i` starts with: with worker-owned sockets, its descriptor (a replacement gets the same one). */
  private shardSetup(i: number): WorkerSetup {
    return this.sockets.length > 0 ? { ...this.setup, shard: i, socket: this.sockets[i]!, read: new SharedArrayBuffer(8) } : { ...this.setup, shard: i };
  }

  /**
   * With the recvmmsg addon, one socket per worker, all bound to the input's address and port with
   * SO_REUSEPORT, in shard order, and a BPF program on the group that picks socket hash(exporter) % workers
   * (the sFlow agent, else the source address; the source address alone with a rate limit): each worker
   * reads its own exporters' datagrams and none passes through the main thread. False when the addon is
   * not there (auto) or not wanted (receive: dgram).
   */
  private async openWorkerSockets(at: HostPort): Promise<boolean> {
    if (this.config.receive === 'dgram') return false;
    const addon = loadUdpReceiver();
    if ('unavailable' in addon) {
      if (this.config.receive === 'recvmmsg') throw new Error(`input ${this.config.name}: receive: recvmmsg, but ${addon.unavailable}`);
      return false;
    }
    const address = await bindAddress(at);
    try {
      for (let i = 0; i < this.workers; i++) {
        const fd = addon.socket(at.family, address, i === 0 ? at.port : this.socketsPort, true);
        this.sockets.push(fd);
        if (i === 0) this.socketsPort = addon.port(fd);
        // Each socket has a buffer of its own; the cap is reported once.
        const buffer = socketReceiveBuffer(addon, fd);
        if (i === 0) applyReceiveBuffer(this.config.name, buffer, this.config.receiveBuffer);
        else buffer.setRecvBufferSize(this.config.receiveBuffer);
        this.stopCountingDrops.push(countKernelDrops(addon, fd, this.config.name));
      }
      addon.shardBy(this.sockets[0]!, this.workers, !this.bySource);
    } catch (err) {
      this.closeWorkerSockets();
      throw err;
    }
    return true;
  }

  private closeWorkerSockets(): void {
    const addon = loadUdpReceiver();
    for (const stop of this.stopCountingDrops.splice(0)) stop();
    if (!('unavailable' in addon)) for (const fd of this.sockets) addon.closeSocket(fd);
    this.sockets = [];
  }

  async start(): Promise<void> {
    const at = parseListenUrl(this.config.listen);
    if (!at || at.scheme !== 'udp') throw new Error(`input ${this.config.name}: worker threads serve udp:// inputs only, not ${this.config.listen}`);
    for (let i = 0; i < this.workers; i++) this.shards.push(new Shard(this, i, this.shardSetup(i)));
    this.unhookMetrics = addThreadMetrics(() => Promise.all(this.shards.map((s) => s.metrics())));
    await Promise.all(this.shards.map((s) => s.ready));
    // Bound only now that every worker is ready to read its socket: a busy machine may take a while to start
    // them, and datagrams waiting meanwhile in sockets nobody reads could overflow them.
    if (await this.openWorkerSockets(at)) for (const s of this.shards) s.adopt(this.sockets[s.index]!);
    else this.socket = await listenUdp(this.config.name, at, this.config.receiveBuffer, (b, s, e, a, p) => this.receive(viewOf(b, s, e), a, p), { receive: this.config.receive });
    log.info({ input: this.config.name, listen: this.config.listen, protocol: this.config.protocol, port: this.port, workers: this.workers }, 'input listening');
  }

  async stop(): Promise<void> {
    this.closing = true;
    const s = this.socket;
    this.socket = undefined;
    if (s) await s.close();
    const shards = [...this.shards];
    const finals = await Promise.all(shards.map((shard) => shard.stop()));
    this.closeWorkerSockets();
    // What is left waits for a worker that did not answer in time: it replays now, and that worker's
    // sessions still end downstream.
    this.unordered = true;
    this.replay();
    for (const shard of shards) shard.reader.endAll(this.sink, 'shutdown');
    for (const shard of this.draining.splice(0)) this.endSessions(shard);
    this.shards.length = 0;
    this.unhookMetrics?.();
    for (const json of finals) await retireMetrics(json);
    this.flushCounts();
    this.unhookScrape();
  }

  announceTo(sink: RecordSink): void {
    for (const s of this.draining) s.reader.announceTo(sink);
    for (const s of this.shards) s.reader.announceTo(sink);
  }

  /**
   * From the main thread's mirror: the sessions the outputs have been told of (each worker's events replayed),
   * with their live templates. Not asked of the workers: /health answers at once, and even when a worker is
   * stuck or gone, what downstream holds (a dead worker's sessions until they are ended here).
   */
  exporterSessions(): SessionHealth[] {
    const out: SessionHealth[] = [];
    for (const s of this.draining) out.push(...s.reader.health());
    for (const s of this.shards) out.push(...s.reader.health());
    return out.sort(bySession);
  }

  /** The live sessions of each worker, by shard (tests find where the kernel's program put an exporter). */
  sessionsByShard(): SessionHealth[][] {
    return this.shards.map((s) => s.reader.health().sort(bySession));
  }

  /** The worker threads by shard, undefined for one still starting (tests end one with terminate() to see what exited does). */
  threads(): readonly (Worker | undefined)[] {
    return this.shards.map((s) => (s.started ? s.worker : undefined));
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
    const s = this.shards[shard]!;
    if (s.dead) {
      this.droppedExited++;
      this.warn.warn('worker_exited', { input: this.config.name, reason: DropReason.workerExited, exporter: address, shard }, 'the worker thread of this exporter could not be restarted: datagram dropped');
      return;
    }
    if (!s.add(datagram, address, port)) {
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
      // A dead worker's batches all came before its replacement's: its events, and then its sessions' end, go first.
      for (let i = 0; i < this.draining.length; i++) {
        const s = this.draining[i]!;
        try {
          if (s.drain(this.sink, this.pass, this.failed)) moved = true;
        } catch (err) {
          log.error({ input: this.config.name, shard: s.index, err }, "a worker's event batch could not be read");
          this.leaveOrder(s);
          s.dropPending();
        }
        if (s.waiting === 0) {
          this.draining.splice(i--, 1);
          this.endSessions(s);
          moved = true;
        }
      }
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

  /** Takes a worker's batches (all of them, or those of `only`) out of the replay order (they will never be answered). */
  private leaveOrder(shard: Shard, only?: Set<number>): void {
    this.order = this.order.slice(this.head).filter((o) => o.shard !== shard || (only !== undefined && !only.has(o.sequence)));
    this.head = 0;
  }

  /** A dead worker's sessions end downstream ('shutdown': reliable outputs withdraw their templates). */
  private endSessions(shard: Shard): void {
    const n = shard.reader.sessionCount;
    shard.reader.endAll(this.sink, 'shutdown', this.failed);
    // The worker that counted its sessions is gone: they are counted ended here.
    if (n > 0) sessionsEnded.inc({ input: this.config.name, reason: 'worker_exited' }, n);
    log.warn({ input: this.config.name, shard: shard.index, sessions: n }, 'the exporter sessions of the exited worker thread ended (outputs withdraw their templates)');
  }

  /**
   * A worker thread ended without being asked to (a crash, an out-of-memory abort, terminate()). What it had
   * not answered is lost and counted (worker_exited); what it did send is replayed in its turn, then its
   * sessions end downstream; a new worker takes its shard, where the same exporters start new sessions (a
   * NetFlow v9 or IPFIX exporter's data waits for its next template there, as after a restart).
   */
  exited(shard: Shard, code: number): void {
    if (shard.stopping || this.closing) return;
    const i = this.shards.indexOf(shard);
    if (i < 0 || (!shard.started && !shard.replacement)) return; // a first start that fails is start()'s error
    const input = this.config.name;
    workerThreadExits.inc({ input });
    const lost = shard.abandon();
    this.droppedExited += lost.datagrams;
    this.leaveOrder(shard, lost.sequences);
    // Its counters as last reported stay in the scrape (counters never go back); its gauges go with its sessions.
    void retireMetrics(shard.lastMetrics);
    if (!shard.started) {
      // A replacement that could not start (e.g. the mapping tables no longer load): no new attempt, which
      // could only loop; the shard's datagrams are dropped and counted until the input restarts.
      shard.dead = true;
      log.error({ input, shard: shard.index, code, datagramsLost: lost.datagrams }, 'replacement worker thread could not start: the datagrams of its exporters are dropped (worker_exited) until the input restarts');
      this.replay();
      return;
    }
    log.error(
      { input, shard: shard.index, code, datagramsLost: lost.datagrams, eventBatchesWaiting: shard.waiting },
      'worker thread exited: the datagrams it had not decoded are lost (worker_exited), its exporter sessions end and a new worker takes its shard',
    );
    this.shards[i] = new Shard(this, shard.index, this.shardSetup(shard.index), true);
    this.draining.push(shard);
    this.replay();
  }

  private flushCounts(): void {
    const input = this.config.name;
    if (this.octetsIn > 0) bytesReceived.inc({ input }, this.octetsIn);
    const dropped = this.droppedNotAllowed + this.droppedBacklog + this.droppedExited;
    // As the Collecting Process counts them: received (protocol unknown, never dispatched), then dropped.
    if (dropped > 0) packetsReceived.inc({ input, protocol: 'unknown' }, dropped);
    if (this.droppedNotAllowed > 0) packetsDropped.inc({ input, reason: DropReason.notAllowed }, this.droppedNotAllowed);
    if (this.droppedBacklog > 0) packetsDropped.inc({ input, reason: DropReason.workerBacklog }, this.droppedBacklog);
    if (this.droppedExited > 0) packetsDropped.inc({ input, reason: DropReason.workerExited }, this.droppedExited);
    this.octetsIn = 0;
    this.droppedNotAllowed = 0;
    this.droppedBacklog = 0;
    this.droppedExited = 0;
  }
}
