// An Exporting Process (RFC 7011, RFC 6183 §5.3): one per output. It keeps the mapping from every
// incoming (exporter session, ODID, template) to an outgoing (ODID, Template ID), announces templates
// before the data that needs them, withdraws them on reliable transports when their source goes away,
// numbers messages per domain, and packs records into messages as large as the transport allows.

import type { ExporterSession } from '../collect/session.js';
import type { OutputConfig } from '../config/types.js';
import type { RecordSink, SessionEndReason } from '../mediate/sink.js';
import type { Template } from '../ipfix/template.js';
import { recordEnd } from '../ipfix/render.js';
import { OPTIONS_TEMPLATE_SET_ID, TEMPLATE_SET_ID } from '../ipfix/constants.js';
import type { Transport } from '../transport/transport.js';
import { Domain, TemplateIds, type OutTemplate } from './domain.js';
import { DropReason, onScrape, bytesSent, messagesSent, outputDomains, outputTemplates, recordsDropped, recordsSent, templatesSent, withdrawalsSent } from '../observe/metrics.js';
import { RateLimitedLog, log } from '../observe/log.js';
import { OutputQueue, type QueueSettings } from './output-queue.js';
import { FailoverTransport } from './failover.js';

/** Queue settings of a reliable output, with the defaults of docs/config.md. */
export function queueSettings(c: OutputConfig): QueueSettings {
  return {
    memoryBytes: c.queue?.maxBytes ?? 16 << 20,
    policy: c.queue?.policy ?? 'drop-newest',
    spool: c.spool,
    drainTimeout: c.drainTimeout ?? 2,
  };
}

/**
 * Size of the direct-mapped front of the template table (a power of two). Measured on the gateway (perf,
 * sFlow to a file): half of records()'s time was cache misses on the Map's hash table and the objects behind
 * it, the decoder having moved everything else out of the cache between two calls.
 */
const SLOTS = 4096;

/** An exporter's identity in an output: its outgoing Observation Domain is allocated per key. */
const exporterKey = (s: ExporterSession) => `${s.address}|${s.port}|${s.observationDomainId}`;

export class ExportingProcess implements RecordSink {
  readonly name: string;
  private readonly domains = new Map<string, Domain>(); // by exporter identity
  private readonly byTemplate = new Map<number, OutTemplate>(); // by incoming template uid
  /** In front of byTemplate: at 2·(uid mod SLOTS) a template, at the next index its OutTemplate (one cache line). */
  private readonly slots: (Template | OutTemplate | undefined)[] = new Array<undefined>(2 * SLOTS).fill(undefined);
  private readonly bySession = new Map<number, Domain>(); // by exporter session uid
  private readonly liveSessions = new Map<Domain, number>(); // exporter sessions using each domain
  private nextOdid = 1;
  private readonly templateIds = new TemplateIds();
  private flushTimer?: NodeJS.Timeout;
  private lastRefresh = Date.now();
  private readonly warn = new RateLimitedLog();
  // prom-client children looked up once (a labelled inc() hashes its labels on every call).
  private readonly messagesOut;
  private readonly bytesOut;
  private readonly recordsOut;
  private readonly templatesGauge;
  private readonly domainsGauge;
  // What send() handed to an unreliable transport, summed in plain numbers and given to prom-client at
  // scrape time (metrics.ts onScrape): three inc() per message cost ~0.6 us, on UDP ~7 % of a send.
  private sentMessages = 0;
  private sentBytes = 0;
  private sentRecords = 0;
  private readonly unhookScrape: () => void;
  /** Reliable transports: what the Exporting Process writes into (the transport is behind it). */
  readonly queue?: OutputQueue;
  private readonly transport: Transport;
  /** exportTime: keep (RFC 6183 §7): the incoming Export Time of the records in each domain's message. */
  private readonly keepExportTime: boolean;
  private readonly exportTimes = new Map<Domain, number>();

  constructor(
    readonly config: OutputConfig,
    transport: Transport,
  ) {
    this.name = config.name;
    // On reliable transports nothing is dropped while the collector is away: the queue keeps it, replays it
    // in a new Transport Session and numbers it; the Exporting Process sees one session that never ends.
    this.queue = transport.reliable ? new OutputQueue(config.name, transport, queueSettings(config)) : undefined;
    this.transport = this.queue ?? transport;
    this.keepExportTime = config.exportTime === 'keep';
    this.messagesOut = messagesSent.labels({ output: this.name });
    this.bytesOut = bytesSent.labels({ output: this.name });
    this.recordsOut = recordsSent.labels({ output: this.name });
    this.templatesGauge = outputTemplates.labels({ output: this.name });
    this.domainsGauge = outputDomains.labels({ output: this.name });
    this.countState();
    this.unhookScrape = onScrape(() => this.flushCounts());
  }

  /** Hands the messages, octets and records sent since the last flush to prom-client. */
  private flushCounts(): void {
    if (this.sentMessages > 0) this.messagesOut.inc(this.sentMessages);
    if (this.sentBytes > 0) this.bytesOut.inc(this.sentBytes);
    if (this.sentRecords > 0) this.recordsOut.inc(this.sentRecords);
    this.sentMessages = this.sentBytes = this.sentRecords = 0;
  }

  /** output_templates / output_domains, after every change of the mapping (never per record). */
  private countState(): void {
    this.templatesGauge.set(this.byTemplate.size + this.domains.size);
    this.domainsGauge.set(this.domains.size);
  }

  async start(): Promise<void> {
    await this.transport.start(() => this.newTransportSession());
    this.flushTimer = setInterval(() => this.tick(), this.config.flushInterval);
    this.flushTimer.unref();
  }

  /** A new TCP connection or file: everything is announced again and sequence numbers start over. */
  private newTransportSession(): void {
    for (const d of this.domains.values()) {
      const lost = d.discard();
      if (lost) this.dropped(DropReason.transportDown, lost);
      d.sequence = 0;
    }
    this.announceAll();
    this.lastRefresh = Date.now();
  }

  /**
   * Every live template, now: not only ahead of data, because a template may be used only inside
   * structured data (RFC 6313 subTemplate(Multi)List names it) and never head a Data Set of its own.
   */
  private announceAll(): void {
    if (!this.transport.isUp()) return;
    for (const d of this.domains.values()) {
      d.originTemplate.announced = false;
      for (const o of d.templates.values()) o.announced = false;
      for (const o of d.templates.values()) this.announce(d, o);
    }
  }

  private tick(): void {
    if (this.transport.refreshesTemplates && Date.now() - this.lastRefresh >= this.config.templateRefresh * 1000) {
      // RFC 7011 §8.4: over UDP, templates are re-sent periodically; they go out ahead of the next data.
      this.flush();
      this.lastRefresh = Date.now();
      this.announceAll();
    }
    this.flush();
  }

  private domainOf(s: ExporterSession): Domain {
    let d = this.bySession.get(s.uid);
    if (d) return d;
    const key = exporterKey(s);
    d = this.domains.get(key);
    if (!d) {
      d = new Domain(this.nextOdid++, s, this.transport.maxMessage, this.templateIds, this.transport.doneOnReturn === true);
      this.domains.set(key, d);
      log.info({ output: this.name, exporter: s.address, port: s.port, odid: s.observationDomainId, outgoingOdid: d.odid }, 'outgoing observation domain allocated');
      this.countState();
    }
    this.bySession.set(s.uid, d);
    this.liveSessions.set(d, (this.liveSessions.get(d) ?? 0) + 1);
    return d;
  }

  sessionStarted(s: ExporterSession): void {
    this.domainOf(s);
  }

  templateDefined(s: ExporterSession, t: Template): void {
    const d = this.domainOf(s);
    const o = d.add(t, s);
    this.forget(t); // a template told twice: the slot must not keep the first OutTemplate
    this.byTemplate.set(t.uid, o);
    this.countState();
    if (this.transport.isUp()) this.announce(d, o);
  }

  templateWithdrawn(s: ExporterSession, t: Template): void {
    const o = this.byTemplate.get(t.uid);
    if (!o) return;
    this.forget(t);
    o.domain.templates.delete(t.uid);
    this.withdraw(o);
    this.templateIds.release(o.id);
    this.countState();
  }

  sessionEnded(s: ExporterSession, _reason: SessionEndReason): void {
    const d = this.bySession.get(s.uid);
    if (!d) return;
    this.bySession.delete(s.uid);
    for (const o of [...d.templates.values()]) {
      if (o.session?.uid !== s.uid) continue;
      this.forget(o.template);
      d.templates.delete(o.template.uid);
      this.withdraw(o);
      this.templateIds.release(o.id);
    }
    if (d.templates.size === 0) this.withdraw(d.originTemplate);
    this.send(d);
    // The incoming session is gone: its ODID mapping ends with it once no other session of the same
    // exporter uses the domain (RFC 6183 §5.3.2.1). Reliable inputs put the ephemeral source port into
    // the key, so keeping it would add one Domain (and its message buffer) per reconnect.
    const left = (this.liveSessions.get(d) ?? 1) - 1;
    this.liveSessions.set(d, left);
    if (left === 0 && d.templates.size === 0) {
      this.liveSessions.delete(d);
      this.domains.delete(exporterKey(d.origin));
      this.exportTimes.delete(d);
      this.templateIds.release(d.originTemplate.id);
    }
    this.countState();
  }

  /** Template Withdrawal (RFC 7011 §8.1) on reliable transports for a template the collector knows. */
  private withdraw(o: OutTemplate): void {
    if (!this.transport.reliable || !o.announced || !this.transport.isUp()) {
      o.announced = false;
      return;
    }
    const d = o.domain;
    if (!d.fits(o.template.scopeCount > 0 ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID, 4)) this.send(d);
    d.writeWithdrawal(o);
    o.announced = false;
    withdrawalsSent.inc({ output: this.name });
  }

  /**
   * Makes sure the domain's message announces `o` (and the domain's origin options) before data. An
   * announced `o` means the origin was announced before it in this Transport Session: announce() writes the
   * origin first, the origin is withdrawn only once its domain has no template left, and announceAll()
   * resets both; so the origin's (cold) OutTemplate is looked at only when `o` needs announcing.
   */
  private announce(d: Domain, o: OutTemplate): void {
    if (o.announced) return;
    if (!d.originTemplate.announced) {
      const need = Domain.templateSize(d.originTemplate) + d.originRecordSize() + 4;
      if (d.free < need) this.send(d);
      d.writeTemplate(d.originTemplate);
      d.writeOriginRecord();
      templatesSent.inc({ output: this.name });
    }
    if (!o.announced) {
      if (d.free < Domain.templateSize(o)) this.send(d);
      d.writeTemplate(o);
      templatesSent.inc({ output: this.name });
    }
  }

  records(s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    if (!this.transport.isUp()) {
      this.dropped(DropReason.transportDown, count);
      return;
    }
    let o = this.outTemplate(t);
    if (!o) {
      // Defensive: a sink that missed templateDefined still exports correctly.
      this.templateDefined(s, t);
      o = this.outTemplate(t)!;
    }
    const d = o.domain;
    if (this.keepExportTime) this.keepTime(d, exportTime);
    this.announce(d, o);
    // Fast path: the whole batch fits the message being filled.
    if (d.fits(o.id, end - start)) {
      d.writeRecords(o, buf, start, end, count);
      return;
    }
    // Otherwise split at record boundaries across messages.
    let p = start;
    let left = count;
    while (left > 0) {
      const e = recordEnd(t, buf, p, end);
      if (e < 0) break; // decoders hand over whole records only
      if (!d.fits(o.id, e - p)) {
        if (!d.empty) {
          this.send(d);
          this.announce(d, o);
          if (d.fits(o.id, e - p)) continue;
        }
        // Larger than a whole message: it cannot be exported on this transport.
        this.dropped(DropReason.recordTooLarge, 1);
        p = e;
        left--;
        continue;
      }
      let q = e;
      let n = 1;
      while (n < left) {
        const e2 = recordEnd(t, buf, q, end);
        if (e2 < 0 || !d.fits(o.id, e2 - p)) break;
        q = e2;
        n++;
      }
      d.writeRecords(o, buf, p, q, n);
      p = q;
      left -= n;
    }
  }

  /** The OutTemplate of an incoming template: the slot in front of the table, else the table (and fill the slot). */
  private outTemplate(t: Template): OutTemplate | undefined {
    const h = (t.uid & (SLOTS - 1)) << 1;
    const slots = this.slots;
    if (slots[h] === t) return slots[h + 1] as OutTemplate;
    const o = this.byTemplate.get(t.uid);
    if (o) {
      slots[h] = t;
      slots[h + 1] = o;
    }
    return o;
  }

  /** The template leaves the table, and its slot. */
  private forget(t: Template): void {
    this.byTemplate.delete(t.uid);
    const h = (t.uid & (SLOTS - 1)) << 1;
    if (this.slots[h] === t) this.slots[h] = this.slots[h + 1] = undefined;
  }

  /** exportTime: keep — a message carries records of one incoming Export Time: another one starts a new message. */
  private keepTime(d: Domain, exportTime: number): void {
    const t = this.exportTimes.get(d);
    if (t === exportTime) return;
    if (t !== undefined && d.records > 0) this.send(d);
    this.exportTimes.set(d, exportTime);
  }

  private dropped(reason: string, records: number): void {
    recordsDropped.inc({ stage: this.name, reason }, records);
    this.warn.warn(`${reason}`, { output: this.name, reason, records }, 'records dropped at output');
  }

  private send(d: Domain): void {
    // A message without records (templates, withdrawals) is stamped now in either mode.
    const kept = this.keepExportTime && d.records > 0 ? this.exportTimes.get(d) : undefined;
    const m = d.take(kept ?? Math.floor(Date.now() / 1000));
    if (!m) return;
    if (this.queue) {
      this.queue.send(m.message, m.records); // counts what it sends and what it drops
      return;
    }
    const r = this.transport.send(m.message);
    if (r === true) {
      this.sentMessages++;
      this.sentBytes += m.message.length;
      this.sentRecords += m.records;
    } else if (m.records) this.dropped(r.reason, m.records);
  }

  /** Sends every partly filled message now (and starts a new file when one is due). */
  flush(): void {
    for (const d of this.domains.values()) this.send(d);
    if (this.transport.rotateDue?.()) this.transport.rotate!();
  }

  /** State for /health: transport, what waits in the queue and spool, failover members. */
  health(): Record<string, unknown> {
    if (!this.queue) return { transportUp: this.transport.isUp() };
    const below = this.queue.below;
    return {
      transportUp: below.isUp(),
      waiting: this.queue.waiting,
      spoolBytes: this.queue.spoolBytes,
      ...(below instanceof FailoverTransport ? { failover: below.members.map((m, i) => ({ name: m.name, up: m.transport.isUp(), active: i === below.activeMember })) } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.transport.reliable && this.transport.isUp()) {
      for (const d of this.domains.values()) {
        for (const o of d.templates.values()) this.withdraw(o);
        this.withdraw(d.originTemplate);
      }
    }
    for (const d of this.domains.values()) this.send(d);
    await this.transport.close();
    this.flushCounts();
    this.unhookScrape();
  }
}
