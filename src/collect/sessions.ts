// Exporter sessions of one input and everything they own: templates (with their UDP lifetime, RFC 7011
// §8.4), data sets held while their template is missing, and the per-protocol state of the decoders.
// Expiry runs in sweep(now), driven by one timer of the Collecting Process, so tests can drive time.
//
// Why a Map with timestamps and not node-cache (which the design card names for TTL tables):
// - order: node-cache expires entries from its own check timer (or lazily inside get()), i.e. outside the
//   session's order of events; a sweep over the sessions withdraws in band, between datagrams, and a
//   session end withdraws nothing twice;
// - time: node-cache reads Date.now() itself, so sweep(nowMs) could not drive expiry in tests or replay;
// - cost: measured here (Node 20, 64 templates, 1M ops), node-cache get+ttl (useClones: false) took
//   275-305 ns per lookup-and-refresh, a Map lookup plus timestamp 9-12 ns; the lookup runs per data set.

import { arrivalMs } from './arrival.js';
import type { InputConfig } from '../config/types.js';
import type { RecordSink, SessionEndReason } from '../mediate/sink.js';
import { sameLayout } from '../ipfix/template.js';
import { makeExporterSession, type ExporterSession, type InputProtocol } from './session.js';
import type { SessionState, TemplateEntry, TemplateStore } from './decoder.js';
import { DropReason, pendingRecords, recordsDropped, sessionsActive, sessionsEnded, templatesActive, templatesReceived } from '../observe/metrics.js';
import { RateLimitedLog } from '../observe/log.js';
import { bySession, sessionHealth, type SessionHealth } from '../observe/http.js';

interface HeldSet {
  templateId: number;
  set: Buffer;
  exportTime: number;
  records: number;
  heldAt: number;
  replay: (set: Buffer, exportTime: number) => void;
}

class Templates<E extends TemplateEntry> implements TemplateStore<E> {
  readonly entries = new Map<number, { entry: E; refreshed: number; expires: boolean }>();

  constructor(private readonly owner: Session<E>) {}

  get size(): number {
    return this.entries.size;
  }

  get(templateId: number): E | undefined {
    return this.entries.get(templateId)?.entry;
  }

  define(templateId: number, entry: E, expires = true): E {
    const o = this.owner;
    const now = o.table.now();
    templatesReceived.inc(o.table.inputLabel);
    const old = this.entries.get(templateId);
    if (old && (old.entry === entry || sameLayout(old.entry.template, entry.template))) {
      old.refreshed = now;
      return old.entry;
    }
    if (old) o.table.sink.templateWithdrawn(o.session, old.entry.template);
    else templatesActive.inc({ input: o.table.input });
    // Over a reliable transport a template lives as long as its session (RFC 7011 §8.4 is a UDP matter).
    this.entries.set(templateId, { entry, refreshed: now, expires: expires && !o.reliable });
    o.table.sink.templateDefined(o.session, entry.template);
    o.release(templateId);
    return entry;
  }

  withdraw(templateId: number): void {
    const old = this.entries.get(templateId);
    if (!old) return;
    this.entries.delete(templateId);
    templatesActive.dec({ input: this.owner.table.input });
    this.owner.table.sink.templateWithdrawn(this.owner.session, old.entry.template);
  }

  withdrawAll(): void {
    for (const id of [...this.entries.keys()]) this.withdraw(id);
  }

  expire(now: number, lifetimeMs: number): void {
    for (const [id, t] of this.entries) if (t.expires && now - t.refreshed > lifetimeMs) this.withdraw(id);
  }
}

class Session<E extends TemplateEntry = TemplateEntry> implements SessionState<E> {
  readonly templates: Templates<E>;
  protocolState: unknown = undefined;
  lastSeen: number;
  /** ms from the previous datagram to the latest one (restart evidence: an exporter cannot have booted before its last packet). */
  silence = 0;
  /** Carried by a TCP/TLS connection or SCTP association: ends with it, not by sessionTimeout. */
  reliable = false;
  private held: HeldSet[] = [];

  constructor(
    readonly table: SessionTable,
    readonly session: ExporterSession,
  ) {
    this.templates = new Templates<E>(this);
    this.lastSeen = table.now();
  }

  hold(templateId: number, set: Buffer, exportTime: number, recordHint: number, replay: (set: Buffer, exportTime: number) => void): void {
    const t = this.table;
    if (t.config.pendingLimit === 0 || t.config.pendingTimeout === 0) {
      t.dropHeld(this.session, templateId, recordHint, DropReason.noTemplate, 'no template for this data set and holding is disabled');
      return;
    }
    if (this.held.length >= t.config.pendingLimit) {
      const oldest = this.held.shift()!;
      pendingRecords.dec({ input: t.input });
      t.dropHeld(this.session, oldest.templateId, oldest.records, DropReason.pendingOverflow, `more than ${t.config.pendingLimit} data sets waiting for templates; the oldest is dropped`);
    }
    this.held.push({ templateId, set: Buffer.from(set), exportTime, records: recordHint, heldAt: t.now(), replay });
    pendingRecords.inc({ input: t.input });
  }

  /** Decode the sets held for a template that has just been defined, in arrival order. */
  release(templateId: number): void {
    if (this.held.length === 0) return;
    const ready = this.held.filter((h) => h.templateId === templateId);
    if (ready.length === 0) return;
    this.held = this.held.filter((h) => h.templateId !== templateId);
    pendingRecords.dec({ input: this.table.input }, ready.length);
    for (const h of ready) h.replay(h.set, h.exportTime);
  }

  expireHeld(now: number): void {
    const limit = this.table.config.pendingTimeout * 1000;
    while (this.held.length && now - this.held[0]!.heldAt > limit) {
      const h = this.held.shift()!;
      pendingRecords.dec({ input: this.table.input });
      this.table.dropHeld(this.session, h.templateId, h.records, DropReason.noTemplate, `template ${h.templateId} did not arrive within ${this.table.config.pendingTimeout} s`);
    }
  }

  restart(evidence: string): SessionState<E> {
    return this.table.restart(this, evidence) as unknown as SessionState<E>;
  }

  dropAllHeld(): void {
    for (const h of this.held) {
      pendingRecords.dec({ input: this.table.input });
      this.table.dropHeld(this.session, h.templateId, h.records, DropReason.noTemplate, 'session ended before the template arrived');
    }
    this.held = [];
  }
}

const PROTOCOL_INDEX: Record<InputProtocol, number> = { netflow5: 0, netflow9: 1, ipfix: 2, sflow: 3 };

/** (protocol, port, observation domain) as one exact number below 2^50, so a lookup builds no string. */
function sessionNumber(protocol: InputProtocol, port: number, observationDomainId: number): number {
  return (PROTOCOL_INDEX[protocol] * 0x10000 + port) * 0x100000000 + (observationDomainId >>> 0);
}

/**
 * The sessions of one exporter address by (protocol, port, ODID) number, and the one found last: an exporter
 * (an sFlow agent, a router) usually sends for one or two sessions, so get() mostly compares one number
 * instead of hashing a key that is no small integer (measured in the gateway: the Map lookup here was 1-2 %
 * of its CPU, most of it cache misses on the hash table).
 */
class AddressSessions extends Map<number, Session> {
  last: Session | undefined = undefined;
  lastKey = -1;
}

export class SessionTable {
  /** Exporter address → (protocol, port, ODID) number → session. */
  private readonly byAddress = new Map<string, AddressSessions>();
  private count = 0;
  private readonly warn = new RateLimitedLog();
  readonly input: string;
  readonly inputLabel: { input: string };

  constructor(
    readonly config: InputConfig,
    readonly sink: RecordSink,
    readonly now: () => number = arrivalMs,
  ) {
    this.input = config.name;
    this.inputLabel = { input: config.name };
  }

  get size(): number {
    return this.count;
  }

  get<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, observationDomainId: number, reliable = false): SessionState<E> {
    const n = sessionNumber(protocol, port, observationDomainId);
    let at = this.byAddress.get(address);
    let s: Session | undefined;
    if (at !== undefined) {
      if (at.lastKey === n) s = at.last;
      else if ((s = at.get(n)) !== undefined) {
        at.last = s;
        at.lastKey = n;
      }
    }
    if (!s) {
      if (!at) this.byAddress.set(address, (at = new AddressSessions()));
      s = new Session(this, makeExporterSession(this.input, protocol, address, port, observationDomainId));
      s.reliable = reliable;
      at.set(n, s);
      at.last = s;
      at.lastKey = n;
      this.count++;
      sessionsActive.inc(this.inputLabel);
      this.sink.sessionStarted(s.session);
    } else {
      const t = this.now();
      s.silence = t - s.lastSeen;
      s.lastSeen = t;
    }
    return s as unknown as SessionState<E>;
  }

  /** Session timeouts, template lifetimes and held-set timeouts, as of `now`. */
  sweep(now = this.now()): void {
    const sessionLimit = this.config.sessionTimeout * 1000;
    const templateLimit = this.config.templateTimeout * 1000;
    for (const [address, at] of this.byAddress) {
      for (const [n, s] of at) {
        if (!s.reliable && now - s.lastSeen > sessionLimit) {
          this.end(address, at, n, s, 'timeout');
          continue;
        }
        s.expireHeld(now);
        s.templates.expire(now, templateLimit);
      }
    }
  }

  /**
   * A sink that joins late (an output added by a config reload) learns every live session and its
   * templates, in the order a new session would have told it, before the next datagram is decoded.
   */
  announceTo(sink: RecordSink): void {
    for (const at of this.byAddress.values()) {
      for (const s of at.values()) {
        sink.sessionStarted(s.session);
        for (const t of s.templates.entries.values()) sink.templateDefined(s.session, t.entry.template);
      }
    }
  }

  /** Every live session and the IDs of its templates, in /health's order. */
  health(): SessionHealth[] {
    const out: SessionHealth[] = [];
    for (const at of this.byAddress.values()) for (const s of at.values()) out.push(sessionHealth(s.session, [...s.templates.entries.values()].map((t) => t.entry.template)));
    return out.sort(bySession);
  }

  /** End every session (input stopping). */
  endAll(reason: SessionEndReason): void {
    for (const [address, at] of this.byAddress) for (const [n, s] of at) this.end(address, at, n, s, reason);
  }

  /** End every session of one Transport Session (a TCP/TLS connection or SCTP association from address:port). */
  endPeer(address: string, port: number, reason: SessionEndReason): void {
    const at = this.byAddress.get(address);
    if (!at) return;
    for (const [n, s] of at) if (s.session.port === port) this.end(address, at, n, s, reason);
  }

  /** The exporter behind `s` restarted: `s` ends ('restart') and a fresh session takes its key. */
  restart(s: Session, evidence: string): Session {
    const e = s.session;
    this.warn.warn(`restart|${e.address}`, { input: this.input, exporter: e.address, port: e.port, odid: e.observationDomainId, evidence }, 'exporter restarted: its session ends (templates withdrawn downstream) and a new one starts');
    const n = sessionNumber(e.protocol, e.port, e.observationDomainId);
    const at = this.byAddress.get(e.address);
    if (at?.get(n) === s) this.end(e.address, at, n, s, 'restart');
    return this.get(e.protocol, e.address, e.port, e.observationDomainId, s.reliable) as unknown as Session;
  }

  private end(address: string, at: AddressSessions, n: number, s: Session, reason: SessionEndReason): void {
    at.delete(n);
    if (at.last === s) {
      at.last = undefined;
      at.lastKey = -1;
    }
    if (at.size === 0) this.byAddress.delete(address);
    this.count--;
    s.dropAllHeld();
    templatesActive.dec(this.inputLabel, s.templates.size);
    sessionsActive.dec(this.inputLabel);
    sessionsEnded.inc({ input: this.input, reason });
    // The session end carries its templates with it: downstream withdraws what it derived from them.
    this.sink.sessionEnded(s.session, reason);
  }

  dropHeld(session: ExporterSession, templateId: number, records: number, reason: string, message: string): void {
    recordsDropped.inc({ stage: this.input, reason }, records);
    this.warn.warn(`${reason}|${session.address}`, { input: this.input, exporter: session.address, odid: session.observationDomainId, templateId, records }, message);
  }
}
