// A Collecting Process (RFC 7011 terms): one configured input — its socket, its exporter sessions and
// one decoder per protocol — turning datagrams into in-band sink events. Nothing a decoder does with bad
// bytes can stop the process or reach another exporter's session.

import type { InputConfig } from '../config/types.js';
import { parseListenUrl } from '../config/load.js';
import type { RecordSink } from '../mediate/sink.js';
import type { DecodeContext, DecodeFn, DecoderOptions, SessionState, TemplateEntry } from './decoder.js';
import type { ExporterSession, InputProtocol } from './session.js';
import { SessionTable } from './sessions.js';
import type { SessionHealth } from '../observe/http.js';
import { dispatch } from './dispatch.js';
import { viewOf } from '../pipeline/datagram-batch.js';
import { DECODERS } from './protocols.js';
import { listenUdp, type UdpListener } from './listener.js';
import { StreamListener, type RefusedReason } from './stream-listener.js';
import { SctpInput } from './sctp-input.js';
import { parseSctpUrl } from '../transport/sctp-options.js';
import { TransportSession, type TransportPeer, type TransportSessionHost } from './transport-session.js';
import { AllowList } from './allow-list.js';
import { ExporterRateLimit } from './rate-limit.js';
import { TlsCredentials } from '../transport/tls-credentials.js';
import { DropReason, onScrape, bytesReceived, connectionsAccepted, connectionsActive, connectionsRefused, packetsDropped, packetsReceived, recordsDropped, recordsReceived, type DropReasonValue } from '../observe/metrics.js';
import { RateLimitedLog, log } from '../observe/log.js';

// Session ends must reach reliable outputs within one second of sessionTimeout (docs/collecting.md): a
// session is found expired at the first sweep after its timeout, so sweeps run four times a second.
const SWEEP_INTERVAL_MS = 250;

// Counts per datagram are summed in plain numbers and handed to prom-client on every scrape, sweep and
// stop: measured here (prom-client 15) an inc() costs ~450 ns, a child from labels() no less (it re-hashes
// its labels per call), and three per datagram were most of the framework's own cost per datagram.
const COUNTED: readonly (InputProtocol | 'unknown')[] = ['netflow5', 'netflow9', 'ipfix', 'sflow', 'unknown'];
const UNKNOWN = 4;
const INDEX: Record<InputProtocol, number> = { netflow5: 0, netflow9: 1, ipfix: 2, sflow: 3 };

export class CollectingProcess {
  private readonly sessions: SessionTable;
  private readonly decoders = new Map<InputProtocol, DecodeFn>();
  private readonly context: DecodeContext;
  private readonly warn = new RateLimitedLog();
  /** Metric label sets, made once, indexed like COUNTED. */
  private readonly labels: ReadonlyArray<{ input: string; protocol: string }>;
  private readonly inputLabel: { input: string };
  private readonly packetsIn = new Float64Array(COUNTED.length);
  private readonly recordsIn = new Float64Array(COUNTED.length);
  private octetsIn = 0;
  private readonly unhookScrape: () => void;
  private socket?: UdpListener;
  private timer?: NodeJS.Timeout;
  /** tcp:// and tls:// inputs: the listener and its open Transport Sessions (RFC 7011 §10). */
  private listener?: StreamListener;
  private sctp?: SctpInput;
  private readonly transportSessions = new Set<TransportSession>();
  private readonly host: TransportSessionHost;
  private readonly allow?: AllowList;
  private readonly limit?: ExporterRateLimit;
  private droppedNotAllowed = 0;
  private droppedRateLimited = 0;

  constructor(
    readonly config: InputConfig,
    sink: RecordSink,
    options: DecoderOptions,
    now: () => number = Date.now,
  ) {
    this.sessions = new SessionTable(config, sink, now);
    this.labels = COUNTED.map((protocol) => ({ input: config.name, protocol }));
    this.inputLabel = { input: config.name };
    this.unhookScrape = onScrape(() => this.flushCounts());
    const recordsIn = this.recordsIn;
    for (const [protocol, factory] of Object.entries(DECODERS)) this.decoders.set(protocol as InputProtocol, factory(options));
    const input = config.name;
    const sessions = this.sessions;
    const warn = this.warn;
    const drop = (reason: DropReasonValue, detail: { session?: ExporterSession; offset?: number; templateId?: number; message: string }, records: number, exporter: string | undefined): void => {
      if (records > 0) recordsDropped.inc({ stage: input, reason }, records);
      else packetsDropped.inc({ input, reason });
      const s = detail.session;
      warn.warn(
        `${reason}|${exporter ?? ''}`,
        { input, reason, exporter, address: s?.address, odid: s?.observationDomainId, templateId: detail.templateId, offset: detail.offset, records },
        detail.message,
      );
    };
    if (config.allow) this.allow = new AllowList(config.allow);
    if (config.rateLimit) this.limit = new ExporterRateLimit(config.rateLimit);
    const transportSessions = this.transportSessions;
    this.host = {
      input,
      sink,
      session: (protocol, address, port, odid) => sessions.get(protocol, address, port, odid, true),
      decode: (ctx, messages, address, port) => {
        this.octetsIn += messages.length;
        this.decodeWith(ctx, messages, 0, messages.length, address, port);
      },
      drop,
      counted: (protocol, records) => (recordsIn[INDEX[protocol]] += records),
      endPeer: (address, port, reason) => sessions.endPeer(address, port, reason),
      closed: (ts) => {
        if (transportSessions.delete(ts)) connectionsActive.dec(this.inputLabel);
        log.info({ input, exporter: ts.identity, address: ts.address, port: ts.port, transport: ts.transport, messages: ts.received }, 'exporter Transport Session closed');
      },
    };
    this.context = {
      input,
      sink,
      transport: 'udp',
      session<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, odid: number): SessionState<E> {
        return sessions.get<E>(protocol, address, port, odid);
      },
      drop(reason: DropReasonValue, detail: { session?: ExporterSession; offset?: number; templateId?: number; message: string }, records = 0): void {
        drop(reason, detail, records, detail.session?.address);
      },
      counted(protocol: InputProtocol, records: number): void {
        recordsIn[INDEX[protocol]] += records;
      },
    };
  }

  /** Bound port (after start). */
  get port(): number {
    if (this.listener) return this.listener.port;
    if (this.sctp) return this.sctp.port;
    return this.socket ? this.socket.port : 0;
  }

  /**
   * A Transport Session on a reliable transport begins (a TCP/TLS connection or SCTP association from an
   * exporter): feed it whole IPFIX messages, close it when the connection ends (see transport-session.ts).
   */
  openTransportSession(peer: TransportPeer): TransportSession {
    const ts = new TransportSession(this.host, peer);
    this.transportSessions.add(ts);
    connectionsAccepted.inc(this.inputLabel);
    connectionsActive.inc(this.inputLabel);
    log.info({ input: this.config.name, exporter: ts.identity, address: peer.address, port: peer.port, transport: peer.transport }, 'exporter Transport Session opened');
    return ts;
  }

  /** Open Transport Sessions (TCP/TLS/SCTP), for /health. */
  connections(): { exporter: string; address: string; port: number; transport: string; since: string; messages: number }[] {
    return [...this.transportSessions].map((t) => ({ exporter: t.identity, address: t.address, port: t.port, transport: t.transport, since: new Date(t.openedAt).toISOString(), messages: t.received }));
  }

  /** Is `address` in the allow list (or is there none)? Counts and logs a refusal. */
  admits(address: string): boolean {
    return !this.allow || this.allow.admits(address);
  }

  /** A connection refused before it became a Transport Session (allow list, TLS handshake) or closed as not IPFIX. */
  private refused(reason: RefusedReason, address: string, detail: string): void {
    connectionsRefused.inc({ input: this.config.name, reason });
    this.warn.warn(`refused|${reason}|${address}`, { input: this.config.name, reason, address }, detail);
  }

  /** An output added by a config reload learns the live sessions and templates (sessions.ts announceTo). */
  announceTo(sink: RecordSink): void {
    this.sessions.announceTo(sink);
  }

  /** Live exporter sessions and their Template IDs, sorted (for /health). */
  exporterSessions(): SessionHealth[] {
    return this.sessions.health();
  }

  /** tls:// inputs: read ca/cert/key again; established connections keep theirs. False: the old ones stay. */
  reloadCertificates(): boolean {
    return this.listener ? this.listener.reloadCertificates() : true;
  }

  async start(): Promise<void> {
    const at = parseListenUrl(this.config.listen);
    if (!at) throw new Error(`input ${this.config.name}: cannot listen on ${this.config.listen}`);
    if (at.scheme === 'tcp' || at.scheme === 'tls') {
      const c = this.config;
      this.listener = await StreamListener.listen({
        input: c.name,
        at,
        credentials: at.scheme === 'tls' ? new TlsCredentials({ ca: c.ca ?? '', cert: c.cert ?? '', key: c.key ?? '' }, `input ${c.name}`) : undefined,
        admits: (address) => this.admits(address),
        open: (peer) => this.openTransportSession(peer),
        refused: (reason, address, detail) => this.refused(reason, address, detail),
      });
    } else if (at.scheme === 'sctp') {
      const url = parseSctpUrl(this.config.listen, 'listen');
      if (typeof url === 'string') throw new Error(`input ${this.config.name}: ${url}`);
      this.sctp = await SctpInput.listen({
        input: this.config.name,
        at,
        options: url.options,
        admits: (address) => this.admits(address),
        open: (peer) => this.openTransportSession(peer),
        refused: (reason, address, detail) => this.refused(reason, address, detail),
      });
    } else this.socket = await listenUdp(this.config.name, at, this.config.receiveBuffer, (b, s, e, a, p) => this.receive(b, s, e, a, p), { receive: this.config.receive });
    this.timer = setInterval(() => {
      // A downstream bug surfacing in a withdrawal or session end must not kill the process from a timer.
      try {
        this.sweep();
      } catch (err) {
        this.warn.warn('sweep_error', { input: this.config.name, err }, 'expiry sweep failed');
      }
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
    log.info({ input: this.config.name, listen: this.config.listen, protocol: this.config.protocol, port: this.port }, 'input listening');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) await s.close();
    this.sessions.endAll('shutdown');
    const l = this.listener;
    this.listener = undefined;
    if (l) await l.close();
    const sctp = this.sctp;
    this.sctp = undefined;
    if (sctp) await sctp.close();
    this.flushCounts();
    this.unhookScrape();
  }

  sweep(nowMs?: number): void {
    this.flushCounts();
    this.sessions.sweep(nowMs);
    this.limit?.sweep(nowMs ?? Date.now());
  }

  /** Hand the datagrams, octets and records counted since the last flush to prom-client. */
  private flushCounts(): void {
    for (let i = 0; i < COUNTED.length; i++) {
      if (this.packetsIn[i]! > 0) packetsReceived.inc(this.labels[i]!, this.packetsIn[i]!);
      if (this.recordsIn[i]! > 0) recordsReceived.inc(this.labels[i]!, this.recordsIn[i]!);
      this.packetsIn[i] = 0;
      this.recordsIn[i] = 0;
    }
    if (this.octetsIn > 0) bytesReceived.inc(this.inputLabel, this.octetsIn);
    this.octetsIn = 0;
    if (this.droppedNotAllowed > 0) packetsDropped.inc({ input: this.config.name, reason: DropReason.notAllowed }, this.droppedNotAllowed);
    if (this.droppedRateLimited > 0) packetsDropped.inc({ input: this.config.name, reason: DropReason.rateLimited }, this.droppedRateLimited);
    this.droppedNotAllowed = 0;
    this.droppedRateLimited = 0;
  }

  /**
   * A datagram, bytes[start, end), from the input's UDP socket (or, in a worker thread, from its own socket of
   * the input's group): counted, checked against the allow list, decoded.
   */
  receive(bytes: Buffer, start: number, end: number, address: string, port: number): void {
    this.octetsIn += end - start;
    if (this.allow && !this.allow.admits(address)) {
      // RFC 6183 §9: only configured exporters; counted in a plain number (flushCounts), logged rate-limited.
      this.packetsIn[UNKNOWN]++;
      this.droppedNotAllowed++;
      this.warn.warn(`not_allowed|${address}`, { input: this.config.name, reason: DropReason.notAllowed, exporter: address, port }, 'datagram from a source outside the allow list dropped');
      return;
    }
    this.decodeWith(this.context, bytes, start, end, address, port);
  }

  private recordsTotal(): number {
    const r = this.recordsIn;
    return r[0]! + r[1]! + r[2]! + r[3]! + r[4]!;
  }

  /** Decode one datagram, bytes[start, end), as if it had been received from address:port. */
  feed(bytes: Buffer, address: string, port: number, start = 0, end = bytes.length): void {
    this.decodeWith(this.context, bytes, start, end, address, port);
  }

  /** Dispatch, rate limit, decode bytes[start, end) with `ctx` (the input's UDP context or a Transport
   *  Session's). */
  private decodeWith(ctx: DecodeContext, bytes: Buffer, start: number, end: number, address: string, port: number): void {
    const limit = this.limit;
    let before = 0;
    if (limit) {
      if (!limit.admit(address, Date.now())) {
        this.packetsIn[UNKNOWN]++;
        this.droppedRateLimited++;
        this.warn.warn(`rate_limited|${address}`, { input: this.config.name, reason: DropReason.rateLimited, exporter: address, port }, 'exporter above its rate limit: datagram dropped');
        return;
      }
      if (limit.countsRecords) before = this.recordsTotal();
    }
    const d = dispatch(bytes, start, end, this.config.protocol);
    if (typeof d !== 'string') {
      this.packetsIn[UNKNOWN]++;
      ctx.drop(d.reason, { message: `${address}:${port}: ${d.message}` });
      return;
    }
    this.packetsIn[INDEX[d]]++;
    const decode = this.decoders.get(d);
    if (!decode) return; // dispatch never returns a protocol without a decoder
    try {
      // A decoder that reads the range where it lies gets it; the others a view of their own.
      if (decode.range) decode.range(ctx, bytes, start, end, address, port);
      else decode(ctx, viewOf(bytes, start, end), address, port);
      if (limit?.countsRecords) limit.charge(this.recordsTotal() - before);
    } catch (err) {
      // A decoder bug must not take the gateway down: count it, log it, go on with the next datagram.
      packetsDropped.inc({ input: this.config.name, reason: DropReason.decoderError });
      this.warn.warn(`decoder_error|${address}`, { input: this.config.name, exporter: address, protocol: d, err }, 'decoder failed on a datagram');
    }
  }
}
