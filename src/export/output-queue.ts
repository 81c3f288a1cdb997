// The queue in front of a reliable output's transport (RFC 6183 §5.3: an Intermediate/Exporting Process
// must not silently lose what it received). The Exporting Process writes one continuous message stream
// into it and never sees the collector come and go; the queue maps that stream onto Transport Sessions:
//
// - while the transport is up and nothing waits, a message goes straight out;
// - otherwise it waits in order: a bounded memory queue, then (when configured) a disk spool of RFC 5655
//   IPFIX files, bounded too; when the last tier is full the policy (drop-newest or drop-oldest) drops
//   messages with counters — keeping their Template Sets, so later records stay decodable;
// - when a Transport Session starts (reconnect, failover), it first announces every Template the next
//   message relies on (read back from the stream itself, see template-state.ts), then replays what waits
//   in order, then live messages follow;
// - Sequence Numbers are stamped here, at sending: per Observation Domain, the Data Records sent before this
//   message in this Transport Session (RFC 7011 §3.1), so replayed and live messages number correctly.
//
// What a transport accepted but its collector never read when the session died (socket buffers, data in
// flight) is beyond any IPFIX exporter's knowledge over TCP and is not replayed (docs/export.md). A
// transport that knows what its peer acknowledged (sctp://) hands the rest back (Transport.onReturned):
// they go back to the front of the queue and are sent again after the next preamble. The preamble announces
// the Templates as they are after them, which is what they need as long as none of them withdraws one
// (over a reliable transport a Template ID changes its definition only after a withdrawal, RFC 7011 §8.1,
// so any Template Record among them is identical to the one announced: a harmless repeat, §8). When one
// withdraws, replay would withdraw or redefine out of order: their Data Records are counted dropped
// (association_lost) instead. Delivery is at least once: what the collector's stack received but had
// not yet acknowledged comes again.

import { join } from 'node:path';
import type { Transport } from '../transport/transport.js';
import { TemplateState, templateSetsOnly, withdrawAllMessage } from './template-state.js';
import { SpoolFiles } from './spool-files.js';
import { openSync, writeSync, closeSync, existsSync, readSync, unlinkSync } from 'node:fs';
import { MESSAGE_HEADER_LENGTH } from '../ipfix/constants.js';
import { RateLimitedLog, log } from '../observe/log.js';
import {
  DropReason,
  bytesSent,
  messagesSent,
  queueMemoryBytes,
  queueMessages,
  recordsDropped,
  recordsQueued,
  recordsReplayed,
  recordsSent,
  recordsSpooled,
  spoolBytes,
} from '../observe/metrics.js';

export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

export interface QueueSettings {
  /** Octets of messages kept in memory. */
  memoryBytes: number;
  policy: OverflowPolicy;
  /** Disk spool: directory and octets; absent: memory only. */
  spool?: { dir: string; maxBytes: number };
  /** Seconds close() may spend sending what waits. */
  drainTimeout: number;
}

interface Item {
  buf: Buffer;
  records: number;
}

/** An output name as part of a file name. */
function fileTag(output: string): string {
  return output.replace(/[^\w.-]+/g, '_');
}

/** Octets one pump turn hands to the transport before yielding to the event loop (inputs keep reading). */
const PUMP_BYTES = 1 << 20;
const PUMP_INTERVAL_MS = 20;

export class OutputQueue implements Transport {
  readonly reliable: boolean;
  readonly refreshesTemplates: boolean;
  readonly maxMessage: number;

  /** Template state of the stream up to the next message to send. */
  private readonly sent = new TemplateState();
  /** Data Records sent per Observation Domain in the current Transport Session. */
  private readonly sequence = new Map<number, number>();
  private preambleDue = true;
  /** What drop-oldest kept of dropped messages (their Template Sets): older than everything else waiting. */
  private readonly front: Item[] = [];
  private readonly spool?: SpoolFiles;
  private memory: Item[] = [];
  private memoryHead = 0;
  private memoryBytes = 0;
  private timer?: NodeJS.Timeout;
  private pumping = false;
  private pumpScheduled = false;
  private closed = false;
  private readonly returnLog = new RateLimitedLog(log, 1);

  private readonly messagesOut;
  private readonly bytesOut;
  private readonly recordsOut;
  private readonly queued;
  private readonly spooled;
  private readonly replayed;
  private readonly gaugeMemory;
  private readonly gaugeMessages;
  private readonly gaugeSpool;

  constructor(
    readonly output: string,
    private readonly inner: Transport,
    private readonly settings: QueueSettings,
  ) {
    this.reliable = inner.reliable;
    this.refreshesTemplates = inner.refreshesTemplates;
    this.maxMessage = inner.maxMessage;
    const l = { output };
    this.messagesOut = messagesSent.labels(l);
    this.bytesOut = bytesSent.labels(l);
    this.recordsOut = recordsSent.labels(l);
    this.queued = recordsQueued.labels(l);
    this.spooled = recordsSpooled.labels(l);
    this.replayed = recordsReplayed.labels(l);
    this.gaugeMemory = queueMemoryBytes.labels(l);
    this.gaugeMessages = queueMessages.labels(l);
    this.gaugeSpool = spoolBytes.labels(l);
    if (settings.spool) {
      const tag = fileTag(output);
      const left = SpoolFiles.leftovers(settings.spool.dir, tag).sort();
      const fileBytes = Math.max(1 << 16, Math.min(8 << 20, Math.floor(settings.spool.maxBytes / 8)));
      this.spool = new SpoolFiles(settings.spool.dir, fileBytes, tag);
      for (const f of left.filter((x) => x.startsWith(`unsent-${tag}-`))) this.adopt(join(settings.spool.dir, f));
      const stale = left.filter((x) => !x.startsWith(`unsent-${tag}-`));
      // Spool files of a run that did not stop cleanly lack the Templates sent before them: not replayable.
      if (stale.length) log.warn({ output, dir: settings.spool.dir, files: stale.length }, 'spool files of an earlier run that did not stop cleanly are left alone (not self-contained, not replayed)');
    }
    if (inner.reliable) inner.onReturned = (messages) => this.returned(messages);
    this.gaugeSpool.set(0);
    this.gaugeMemory.set(0);
    this.gaugeMessages.set(0);
  }

  /**
   * What an earlier run left unsent (its unsent file: Templates first, self-contained) goes out before
   * anything of this run, followed by the withdrawal of all its Templates (RFC 7011 §8.1: Template IDs 2
   * and 3), because this run allocates ODIDs and Template IDs afresh. The file is read message by message
   * into the spool and deleted.
   */
  private adopt(path: string): void {
    const state = new TemplateState();
    let messages = 0;
    let records = 0;
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      const head = Buffer.alloc(MESSAGE_HEADER_LENGTH);
      for (let pos = 0; ; ) {
        const n = readSync(fd, head, 0, MESSAGE_HEADER_LENGTH, pos);
        if (n === 0) break;
        const len = head.readUInt16BE(2);
        if (n < MESSAGE_HEADER_LENGTH || head.readUInt16BE(0) !== 10 || len < MESSAGE_HEADER_LENGTH) {
          log.warn({ output: this.output, file: path, offset: pos }, 'unsent file of an earlier run ends in something that is not an IPFIX message; the rest is skipped');
          break;
        }
        const m = Buffer.allocUnsafe(len);
        if (readSync(fd, m, 0, len, pos) < len) {
          log.warn({ output: this.output, file: path, offset: pos }, 'unsent file of an earlier run ends in a truncated message; it is skipped');
          break;
        }
        const r = state.apply(m, true);
        this.spool!.append(m, r);
        messages++;
        records += r;
        pos += len;
      }
    } catch (e) {
      log.error({ output: this.output, file: path, err: (e as Error).message }, 'cannot read the unsent file of an earlier run');
      return;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    const now = Math.floor(Date.now() / 1000);
    for (const k of state.definedKinds()) this.spool!.append(withdrawAllMessage(k.odid, k.templates, k.options, now), 0);
    unlinkSync(path);
    if (records) this.queued.inc(records);
    log.info({ output: this.output, file: path, messages, records }, 'records an earlier run left unsent go out first, then its templates are withdrawn');
  }

  /** The Exporting Process sees one Transport Session for the life of the queue. */
  async start(onSession: () => void): Promise<void> {
    onSession();
    this.timer = setInterval(() => this.pump(), PUMP_INTERVAL_MS);
    this.timer.unref();
    await this.inner.start(() => this.newSession());
  }

  /** A new Transport Session below: Templates again first, Sequence Numbers from zero. */
  private newSession(): void {
    this.sequence.clear();
    this.preambleDue = true;
    this.pump();
  }

  isUp(): boolean {
    return !this.closed;
  }

  /** The transport below (a failover group, tests). */
  get below(): Transport {
    return this.inner;
  }

  /** Is the transport below up (for failover groups and health)? */
  transportUp(): boolean {
    return this.inner.isUp();
  }

  /** Octets waiting in the spool on disk. */
  get spoolBytes(): number {
    return this.spool?.bytes ?? 0;
  }

  /** Messages and Data Records waiting (all tiers). */
  get waiting(): { messages: number; records: number } {
    let records = this.spool?.records ?? 0;
    for (const it of this.front) records += it.records;
    for (let i = this.memoryHead; i < this.memory.length; i++) records += this.memory[i]!.records;
    return { messages: this.front.length + (this.spool?.messages ?? 0) + this.memory.length - this.memoryHead, records };
  }

  /**
   * Takes one message of `records` Data Records (the buffer becomes the queue's). Always accepted:
   * what cannot be kept is dropped and counted here.
   */
  send(message: Buffer, records = 0): true | { reason: string } {
    if (this.closed) {
      this.drop(records, DropReason.transportDown);
      return true;
    }
    if (this.idle() && !this.preambleDue && this.inner.isUp() && this.transmit(message, records) === true) return true;
    this.queued.inc(records);
    this.enqueue({ buf: message, records });
    this.schedulePump();
    return true;
  }

  /**
   * Messages the transport sent but its collector never acknowledged (their session died), in send order.
   * Their Data Records are counted by following them once more through the Template state: for Data Sets
   * only that changes nothing but the last Options data, which ends as it was (the last of them is the
   * newest); for Template Sets, re-applying the same definitions and withdrawals in order leaves the same
   * state too.
   */
  private returned(messages: Buffer[]): void {
    let records = 0;
    let withdrawal = false;
    const items: Item[] = [];
    for (const m of messages) {
      const r = this.sent.apply(m, true);
      records += r;
      // one that withdraws a Template, or is not a message we built, is never replayed
      if (this.sent.withdrew || this.sent.malformed) withdrawal = true;
      items.push({ buf: m, records: r });
    }
    if (withdrawal || this.closed) {
      this.drop(records, DropReason.associationLost);
      this.returnLog.warn('lost', { output: this.output, messages: messages.length, records }, 'transport session lost before the collector acknowledged these messages; they withdraw Templates, so they cannot be replayed in order and their records are counted dropped (association_lost)');
      return;
    }
    // older than everything waiting, and older than what drop-oldest kept in front
    this.front.unshift(...items);
    if (records) this.queued.inc(records);
    this.returnLog.warn('replay', { output: this.output, messages: messages.length, records }, 'transport session lost before the collector acknowledged these messages; they are sent again after the reconnect (the collector may see some twice)');
    this.updateGauges();
  }

  private idle(): boolean {
    return this.front.length === 0 && (this.spool?.empty ?? true) && this.memoryHead === this.memory.length;
  }

  /** Stamps the Sequence Number for this Transport Session and hands the message to the transport. */
  private transmit(buf: Buffer, records: number): true | { reason: string } {
    const odid = buf.readUInt32BE(12);
    const seq = this.sequence.get(odid) ?? 0;
    buf.writeUInt32BE(seq, 8);
    const r = this.inner.send(buf);
    if (r !== true) return r;
    this.sequence.set(odid, (seq + records) >>> 0);
    this.sent.apply(buf);
    this.messagesOut.inc();
    this.bytesOut.inc(buf.length);
    if (records) this.recordsOut.inc(records);
    return true;
  }

  private enqueue(it: Item): void {
    const len = it.buf.length;
    if (this.memoryBytes + len > this.settings.memoryBytes) {
      if (this.spool) this.spill();
      if (this.memoryBytes + len > this.settings.memoryBytes) {
        // The last tier is full: the policy decides which records go.
        const reason = this.spool ? DropReason.spoolFull : DropReason.queueFull;
        if (this.settings.policy === 'drop-newest') {
          this.dropKeepingTemplates(it, reason, (kept) => this.pushMemory(kept));
          return;
        }
        while (this.memoryBytes + len > this.settings.memoryBytes && this.memoryHead < this.memory.length) {
          this.dropKeepingTemplates(this.shiftMemory(), reason, (kept) => this.front.push(kept));
        }
      }
    }
    this.pushMemory(it);
  }

  private pushMemory(it: Item): void {
    this.memory.push(it);
    this.memoryBytes += it.buf.length;
  }

  private shiftMemory(): Item {
    const it = this.memory[this.memoryHead]!;
    this.memory[this.memoryHead++] = undefined as unknown as Item;
    this.memoryBytes -= it.buf.length;
    if (this.memoryHead > 1024 && this.memoryHead * 2 > this.memory.length) {
      this.memory = this.memory.slice(this.memoryHead);
      this.memoryHead = 0;
    }
    return it;
  }

  /**
   * Memory full: what is in memory moves to the end of the spool, in order, while it fits; drop-oldest
   * makes room by dropping the oldest spool file, drop-newest leaves the rest in memory.
   */
  private spill(): void {
    const spool = this.spool!;
    const max = this.settings.spool!.maxBytes;
    while (this.memoryHead < this.memory.length) {
      const len = this.memory[this.memoryHead]!.buf.length;
      if (spool.bytes + len > max) {
        if (this.settings.policy === 'drop-newest') return;
        while (spool.bytes + len > max && !spool.empty) {
          for (const old of spool.takeOldestFile()) this.dropKeepingTemplates(old, DropReason.spoolFull, (kept) => this.front.push(kept));
        }
      }
      const it = this.shiftMemory();
      spool.append(it.buf, it.records);
      if (it.records) this.spooled.inc(it.records);
    }
  }

  /** Drops a message's records with a reason; its Template Sets (if any) go on to `keep`. */
  private dropKeepingTemplates(it: Item, reason: string, keep: (kept: Item) => void): void {
    if (it.records) this.drop(it.records, reason);
    const t = templateSetsOnly(it.buf);
    if (t) keep({ buf: t, records: 0 });
  }

  private drop(records: number, reason: string): void {
    if (records === 0) return;
    recordsDropped.inc({ stage: this.output, reason }, records);
  }

  private peek(): Item | undefined {
    if (this.front.length) return this.front[0];
    if (this.spool && !this.spool.empty) return this.spool.peek();
    return this.memoryHead < this.memory.length ? this.memory[this.memoryHead] : undefined;
  }

  private shift(): void {
    if (this.front.length) this.front.shift();
    else if (this.spool && !this.spool.empty) this.spool.shift();
    else if (this.memoryHead < this.memory.length) this.shiftMemory();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.inner.isUp()) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Sends what waits, oldest first, while the transport takes it (bounded per turn). */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      if (!this.inner.isUp()) return;
      if (this.preambleDue) {
        for (const p of this.sent.preamble(this.inner.maxMessage, Math.floor(Date.now() / 1000))) {
          if (this.transmit(p.buf, p.records) !== true) return;
        }
        this.preambleDue = false;
      }
      let budget = PUMP_BYTES;
      while (budget > 0) {
        const it = this.peek();
        if (!it) break;
        if (this.transmit(it.buf, it.records) !== true) return;
        this.shift();
        if (it.records) this.replayed.inc(it.records);
        budget -= it.buf.length;
      }
      if (!this.idle()) this.schedulePump();
    } finally {
      this.pumping = false;
      this.updateGauges();
    }
  }

  private updateGauges(): void {
    this.gaugeMemory.set(this.memoryBytes);
    this.gaugeSpool.set(this.spool?.bytes ?? 0);
    this.gaugeMessages.set(this.front.length + (this.spool?.messages ?? 0) + this.memory.length - this.memoryHead);
  }

  /**
   * Shutdown: sends what waits for at most drainTimeout seconds (transport permitting). What is still
   * waiting then is counted (unsent_at_shutdown) and, with a spool, written to one self-contained IPFIX
   * file in the spool directory (Templates first), which the log names.
   */
  async close(): Promise<void> {
    const deadline = Date.now() + this.settings.drainTimeout * 1000;
    while (!this.idle() && Date.now() < deadline) {
      this.pump();
      if (this.idle()) break;
      await new Promise((r) => setTimeout(r, PUMP_INTERVAL_MS));
    }
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    const left = this.waiting;
    if (left.messages) {
      this.drop(left.records, DropReason.unsentAtShutdown);
      let file: string | undefined;
      if (this.spool) file = this.writeUnsent();
      log.warn({ output: this.output, records: left.records, messages: left.messages, file }, file ? 'records not sent before shutdown are left in the spool directory' : 'records not sent before shutdown are lost');
      this.spool?.clear();
      this.front.length = 0;
      this.memory = [];
      this.memoryHead = 0;
      this.memoryBytes = 0;
    }
    this.updateGauges();
    await this.inner.close();
  }

  /** Everything waiting, Templates first, renumbered as one Transport Session, in one RFC 5655 file. */
  private writeUnsent(): string {
    const base = join(this.settings.spool!.dir, `unsent-${fileTag(this.output)}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`);
    let path = `${base}.ipfix`;
    for (let n = 1; existsSync(path); n++) path = `${base}-${n}.ipfix`;
    const fd = openSync(path, 'w');
    const seq = new Map<number, number>();
    const write = (it: Item) => {
      const odid = it.buf.readUInt32BE(12);
      const s = seq.get(odid) ?? 0;
      it.buf.writeUInt32BE(s, 8);
      seq.set(odid, (s + it.records) >>> 0);
      writeSync(fd, it.buf);
    };
    try {
      for (const p of this.sent.preamble(this.maxMessage, Math.floor(Date.now() / 1000))) write(p);
      for (let it = this.peek(); it; it = this.peek()) {
        write(it);
        this.shift();
      }
    } finally {
      closeSync(fd);
    }
    return path;
  }
}
