// A Collecting Process (RFC 7011 terms): one configured input — its socket, its exporter sessions and
// one decoder per protocol — turning datagrams into in-band sink events. Nothing a decoder does with bad
// bytes can stop the process or reach another exporter's session.

import type dgram from 'node:dgram';
import type { InputConfig } from '../config/types.js';
import { parseListenUrl } from '../config/load.js';
import type { RecordSink } from '../mediate/sink.js';
import type { DecodeContext, DecodeFn, DecoderOptions, SessionState, TemplateEntry } from './decoder.js';
import type { ExporterSession, InputProtocol } from './session.js';
import { SessionTable } from './sessions.js';
import { dispatch } from './dispatch.js';
import { DECODERS } from './protocols.js';
import { listenUdp } from './listener.js';
import { DropReason, bytesReceived, packetsDropped, packetsReceived, recordsDropped, recordsReceived, type DropReasonValue } from '../observe/metrics.js';
import { RateLimitedLog, log } from '../observe/log.js';

const SWEEP_INTERVAL_MS = 1000;
const PROTOCOLS: readonly (InputProtocol | 'unknown')[] = ['netflow5', 'netflow9', 'ipfix', 'sflow', 'unknown'];

/** Metric label sets made once per input, so counting a datagram builds no object. */
function labelsByProtocol(input: string): Record<InputProtocol | 'unknown', { input: string; protocol: string }> {
  return Object.fromEntries(PROTOCOLS.map((protocol) => [protocol, { input, protocol }])) as Record<InputProtocol | 'unknown', { input: string; protocol: string }>;
}

export class CollectingProcess {
  private readonly sessions: SessionTable;
  private readonly decoders = new Map<InputProtocol, DecodeFn>();
  private readonly context: DecodeContext;
  private readonly warn = new RateLimitedLog();
  private readonly labels: Record<InputProtocol | 'unknown', { input: string; protocol: string }>;
  private readonly inputLabel: { input: string };
  private socket?: dgram.Socket;
  // prom-client children per label set, looked up once: a labelled inc() hashes its labels every call.
  private readonly bytesIn;
  private readonly packetsIn = new Map<string, { inc(n?: number): void }>();
  private timer?: NodeJS.Timeout;

  constructor(
    readonly config: InputConfig,
    sink: RecordSink,
    options: DecoderOptions,
    now: () => number = Date.now,
  ) {
    this.sessions = new SessionTable(config, sink, now);
    this.bytesIn = bytesReceived.labels({ input: config.name });
    const received = new Map<InputProtocol, { inc(n?: number): void }>();
    const labels = (this.labels = labelsByProtocol(config.name));
    this.inputLabel = { input: config.name };
    for (const [protocol, factory] of Object.entries(DECODERS)) this.decoders.set(protocol as InputProtocol, factory(options));
    const input = config.name;
    const sessions = this.sessions;
    const warn = this.warn;
    this.context = {
      input,
      sink,
      transport: 'udp',
      session<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, odid: number): SessionState<E> {
        return sessions.get<E>(protocol, address, port, odid);
      },
      drop(reason: DropReasonValue, detail: { session?: ExporterSession; offset?: number; templateId?: number; message: string }, records = 0): void {
        if (records > 0) recordsDropped.inc({ stage: input, reason }, records);
        else packetsDropped.inc({ input, reason });
        const s = detail.session;
        warn.warn(
          `${reason}|${s?.address ?? ''}`,
          { input, reason, exporter: s?.address, odid: s?.observationDomainId, templateId: detail.templateId, offset: detail.offset, records },
          detail.message,
        );
      },
      counted(protocol: InputProtocol, records: number): void {
        recordsReceived.inc(labels[protocol], records);
      },
    };
  }

  /** Bound UDP port (after start). */
  get port(): number {
    return this.socket ? this.socket.address().port : 0;
  }

  async start(): Promise<void> {
    const at = parseListenUrl(this.config.listen);
    if (!at) throw new Error(`input ${this.config.name}: cannot listen on ${this.config.listen}`);
    this.socket = await listenUdp(this.config.name, at, this.config.receiveBuffer, (d, a, p) => this.receive(d, a, p));
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
    log.info({ input: this.config.name, listen: this.config.listen, protocol: this.config.protocol, port: this.port }, 'input listening');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    this.sessions.endAll('shutdown');
  }

  sweep(nowMs?: number): void {
    this.sessions.sweep(nowMs);
  }

  private receive(datagram: Buffer, address: string, port: number): void {
    bytesReceived.inc(this.inputLabel, datagram.length);
    this.feed(datagram, address, port);
  }

  /** Decode one datagram as if it had been received from address:port. */
  feed(datagram: Buffer, address: string, port: number): void {
    const d = dispatch(datagram, this.config.protocol);
    if (typeof d !== 'string') {
      packetsReceived.inc(this.labels.unknown);
      this.context.drop(d.reason, { message: `${address}:${port}: ${d.message}` });
      return;
    }
    packetsReceived.inc(this.labels[d]);
    const decode = this.decoders.get(d);
    if (!decode) return; // dispatch never returns a protocol without a decoder
    try {
      decode(this.context, datagram, address, port);
    } catch (err) {
      // A decoder bug must not take the gateway down: count it, log it, go on with the next datagram.
      packetsDropped.inc({ input: this.config.name, reason: DropReason.decoderError });
      this.warn.warn(`decoder_error|${address}`, { input: this.config.name, exporter: address, protocol: d, err }, 'decoder failed on a datagram');
    }
  }
}
