// Contract between the Collecting Process framework (listener, session table, template store, pending
// sets; src/collect/*.ts) and the per-protocol decoders (src/collect/<protocol>/). A decoder is pure with
// respect to I/O: bytes in, sink calls and counted errors out. It never throws on malformed bytes.

import type { ExporterSession, InputProtocol } from './session.js';
import type { Template } from '../ipfix/template.js';
import type { DropReasonValue } from '../observe/metrics.js';
import type { RecordSink } from '../mediate/sink.js';

/** What a decoder keeps per template: the outgoing IPFIX template plus whatever compiled plan it needs. */
export interface TemplateEntry {
  readonly template: Template;
}

/** Templates of one exporter session, keyed by the incoming Template ID. Owned by the session. */
export interface TemplateStore<E extends TemplateEntry = TemplateEntry> {
  get(templateId: number): E | undefined;
  /**
   * Define or redefine. An identical layout only refreshes the entry's lifetime (returns the existing
   * entry); a different one withdraws the old definition downstream first, then announces the new one,
   * then releases any data sets that were held for this id. `expires: false` for a template the decoder
   * made itself (NetFlow v5, sFlow): it lives as long as its session, not for the UDP template lifetime.
   */
  define(templateId: number, entry: E, expires?: boolean): E;
  /** Withdraw one template (IPFIX withdrawal record). */
  withdraw(templateId: number): void;
  /** Withdraw every template of the session (IPFIX "all templates" withdrawal). */
  withdrawAll(): void;
  readonly size: number;
}

/** One exporter session as a decoder sees it. */
export interface SessionState<E extends TemplateEntry = TemplateEntry> {
  readonly session: ExporterSession;
  readonly templates: TemplateStore<E>;
  /**
   * Hold a data set whose template is not known yet (bytes are copied). When `templates.define` later
   * defines that id, `replay(set)` is called for each held set in arrival order. Held sets expire after the
   * input's pendingTimeout and are dropped with reason no_template; past the per-session bound, the oldest
   * is dropped with reason pending_overflow.
   */
  hold(templateId: number, set: Buffer, exportTime: number, recordHint: number, replay: (set: Buffer, exportTime: number) => void): void;
  /** Free per-protocol state (e.g. v9 sysUptime epoch, last sequence number). */
  protocolState: unknown;
  /**
   * The exporter restarted (src/collect/restart.ts has the evidence): this session ends with reason
   * 'restart' — downstream withdraws everything derived from it — and a fresh one under the same key is
   * returned, with no templates and no protocol state. `evidence` is logged. Optional so that test doubles
   * need not offer it.
   */
  restart?(evidence: string): SessionState<E>;
  /** Milliseconds between the session's previous datagram and this one, by the receive clock (0 for the first). */
  readonly silence?: number;
}

export interface DecodeContext {
  readonly input: string;
  readonly sink: RecordSink;
  /** Session for (protocol, exporter address, port, observation domain); created and announced on first use. */
  session<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, observationDomainId: number): SessionState<E>;
  /** Count and (rate-limited) log a drop. `records` > 0 also counts dropped records; 0 counts a dropped datagram. */
  drop(reason: DropReasonValue, detail: { session?: ExporterSession; offset?: number; templateId?: number; message: string }, records?: number): void;
  /** Transport the bytes arrived on; undefined means UDP (withdrawals are not allowed there, RFC 7011 §8.1). */
  readonly transport?: 'udp' | 'tcp' | 'tls' | 'sctp';
  /** Count decoded records for the input's metrics. */
  counted(protocol: InputProtocol, records: number): void;
}

/** A protocol decoder: one datagram (or one stream message) from one exporter. */
export interface DecodeFn {
  (ctx: DecodeContext, datagram: Buffer, address: string, port: number): void;
  /** The same for the datagram bytes[start, end), by a decoder that reads it where it lies (sFlow: a view
   *  of it would cost an object per datagram). */
  range?: (ctx: DecodeContext, bytes: Buffer, start: number, end: number, address: string, port: number) => void;
}

/** What every decoder factory gets: the IE registry and the mapping settings from the config. */
export interface DecoderOptions {
  readonly registry: import('../model/types.js').Registry;
  readonly mapping: import('../config/types.js').MappingConfig;
}

export type DecoderFactory = (options: DecoderOptions) => DecodeFn;
