// IPFIX over SCTP (RFC 7011 §10.2): one association is one Transport Session. Each outgoing
// Observation Domain has its stream (ODID mod the negotiated outbound streams), so Templates travel
// on the same stream as the Data Sets that use them and one domain's loss never holds up another's.
// Messages with a Template Set or a withdrawal (set IDs 2 and 3) are sent fully reliable and ordered;
// messages of Data Sets only may carry a PR-SCTP lifetime (RFC 3758, the URL's ttl), still ordered.
// The association is kept up in the background with exponential backoff, like tcp://; every new
// association (and a peer restart) starts a new Transport Session: templates again, sequence numbers
// from zero.

import type { HostPort } from '../config/load.js';
import type { Transport } from './transport.js';
import { SctpEndpoint, type DownReason, type SctpAssociation } from './sctp/index.js';
import { openLowerLayer, resolveHost } from './sctp-lower.js';
import { stackSettings, type SctpUrlOptions } from './sctp-options.js';
import { RateLimitedLog, log } from '../observe/log.js';
import { queueDepth, reconnects, sctpAbandoned, sctpCwnd, sctpLostAtRestart, sctpRetransmissions, sctpRto, transportUp } from '../observe/metrics.js';

const MESSAGE_HEADER = 16;
const TEMPLATE_SET = 2;
const OPTIONS_TEMPLATE_SET = 3;
/** How often the queue and association gauges are refreshed (stats() builds an object). */
const QUEUE_SAMPLE_MS = 1000;

/** True when the message holds Data Sets only: no Template, Options Template or withdrawal set. */
export function onlyDataSets(m: Uint8Array): boolean {
  const end = m.length;
  let o = MESSAGE_HEADER;
  while (o + 4 <= end) {
    const id = (m[o]! << 8) | m[o + 1]!;
    if (id === TEMPLATE_SET || id === OPTIONS_TEMPLATE_SET) return false;
    const len = (m[o + 2]! << 8) | m[o + 3]!;
    if (len < 4) return false; // not a message we built: never risk a template on a lossy send
    o += len;
  }
  return true;
}

/** The stream of an outgoing Observation Domain: ODID (offset 12 of the message header) mod streams. */
export function streamOf(m: Uint8Array, streams: number): number {
  const odid = ((m[12]! << 24) | (m[13]! << 16) | (m[14]! << 8) | m[15]!) >>> 0;
  return odid % streams;
}

export class SctpTransport implements Transport {
  readonly reliable = true;
  readonly refreshesTemplates = false;
  readonly maxMessage: number;
  private endpoint?: SctpEndpoint;
  private association?: SctpAssociation;
  private up = false;
  private closing = false;
  private backoff: number;
  private timer?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  /** Octets handed to the association since it last said it was above its high-water mark. */
  private blockedBytes = 0;
  private blocked = false;
  /** stats().retransmissions of the current association already added to the metric. */
  private retransmissionsSeen = 0;
  private streams = 1;
  private onSession: () => void = () => {};
  private readonly collector: string;
  private readonly labels: { output: string };
  /** Abandonments come in bursts under loss: one line a second at most (the metric counts them all). */
  private readonly abandonLog = new RateLimitedLog(log, 1);
  /** Counted for tests and the log: associations that came up, and why the last one went down. */
  associations = 0;
  /** Messages handed back through onReturned (or lost without it) because their association went down. */
  returnedMessages = 0;
  onReturned?: (messages: Buffer[]) => void;
  lastDown?: { reason: DownReason | 'init-failed'; detail?: string };

  constructor(
    private readonly output: string,
    private readonly to: HostPort,
    private readonly options: SctpUrlOptions,
    private readonly reconnectMin: number,
    private readonly reconnectMax: number,
    private readonly queueLimit: number,
  ) {
    this.backoff = reconnectMin;
    this.maxMessage = options.messageSize;
    this.labels = { output };
    const host = to.family === 6 ? `[${to.host}]` : to.host;
    this.collector = options.encapsulation === 'udp' ? `${host}:${to.port} (SCTP over UDP port ${options.udpPort})` : `${host}:${to.port}`;
  }

  async start(onSession: () => void): Promise<void> {
    this.onSession = onSession;
    transportUp.set(this.labels, 0);
    // A lower layer that cannot open (port taken, no raw-socket privilege) is a configuration fault:
    // say so at start instead of retrying forever.
    const { lower } = await openLowerLayer(this.options, this.to.family, undefined, this.options.localUdpPort);
    this.endpoint = new SctpEndpoint({ lower, ...stackSettings(this.options) });
    this.sampler = setInterval(() => this.sampleQueue(), QUEUE_SAMPLE_MS);
    this.sampler.unref();
    this.connect();
  }

  private connect(): void {
    if (this.closing || !this.endpoint) return;
    reconnects.inc(this.labels);
    const endpoint = this.endpoint;
    resolveHost(this.to)
      .then((address) =>
        endpoint.connect({
          remote: { address, udpPort: this.options.encapsulation === 'udp' ? this.options.udpPort : 0 },
          remotePort: this.to.port,
          outboundStreams: this.options.streams,
        }),
      )
      .then(
        (a) => this.established(a),
        (err: Error & { code?: string }) => {
          // SctpError codes: init-failed (nobody answered INIT), aborted (the collector refused), closed
          if (this.closing) return;
          this.lastDown = { reason: 'init-failed', detail: err.message };
          log.warn({ output: this.output, collector: this.collector, code: err.code, err: err.message, retryInSeconds: this.backoff }, 'SCTP association could not be established; retrying');
          this.retry();
        },
      );
  }

  private established(a: SctpAssociation): void {
    if (this.closing) {
      a.abort('exporter closing');
      return;
    }
    this.association = a;
    this.up = true;
    this.associations++;
    this.blocked = false;
    this.blockedBytes = 0;
    this.streams = a.outboundStreams;
    this.retransmissionsSeen = 0;
    this.backoff = this.reconnectMin;
    transportUp.set(this.labels, 1);
    queueDepth.set(this.labels, 0);
    a.on('drain', () => {
      if (a !== this.association) return;
      this.blocked = false;
      this.blockedBytes = 0;
      this.sampleQueue();
    });
    a.on('abandoned', (count) => {
      sctpAbandoned.inc(this.labels, count);
      this.abandonLog.warn('abandoned', { output: this.output, messages: count, ttl: this.options.ttl }, 'SCTP: data messages abandoned after their PR-SCTP lifetime (RFC 3758)');
    });
    a.on('restart', (lost) => {
      if (a !== this.association) return;
      // The collector restarted (RFC 9260 §5.2.2): it knows no templates, so a new Transport Session.
      // What was in flight to its old incarnation is gone with it: counted, not silently lost.
      if (lost) sctpLostAtRestart.inc(this.labels, lost);
      log.warn({ output: this.output, collector: this.collector, messagesLost: lost }, 'SCTP peer restarted; announcing templates again');
      this.blocked = false;
      this.blockedBytes = 0;
      this.onSession();
    });
    a.on('down', (reason, detail) => this.lost(a, reason, detail));
    log.info({ output: this.output, collector: this.collector, streams: a.outboundStreams, ttl: this.options.ttl }, 'SCTP association up');
    // A new Transport Session: templates again, sequence numbers from zero.
    this.onSession();
  }

  private lost(a: SctpAssociation, reason: DownReason, detail?: string): void {
    if (a !== this.association) return;
    this.sampleQueue(); // the last retransmissions of this association
    this.association = undefined;
    this.up = false;
    this.lastDown = { reason, detail };
    this.giveBack(a);
    transportUp.set(this.labels, 0);
    queueDepth.set(this.labels, 0);
    if (this.closing) return;
    const what = reason === 'comm-lost' ? 'collector unreachable (COMM_LOST)' : reason === 'abort' ? 'collector aborted the association' : reason === 'shutdown' ? 'collector shut the association down' : 'association closed';
    log.warn({ output: this.output, collector: this.collector, reason, detail, retryInSeconds: this.backoff }, `SCTP association down: ${what}; reconnecting`);
    this.retry();
  }

  /** What the collector never acknowledged goes back to the user (the OutputQueue), never silently away. */
  private giveBack(a: SctpAssociation): void {
    const back = a.takeUnacknowledged() as Buffer[]; // the Buffers send() was given
    if (back.length === 0) return;
    this.returnedMessages += back.length;
    if (this.onReturned) this.onReturned(back);
    else log.warn({ output: this.output, collector: this.collector, messages: back.length }, 'SCTP association down: messages the collector did not acknowledge are lost');
  }

  private retry(): void {
    if (this.closing) return;
    this.timer = setTimeout(() => this.connect(), this.backoff * 1000);
    this.timer.unref();
    this.backoff = Math.min(this.backoff * 2, this.reconnectMax);
  }

  private sampleQueue(): void {
    const a = this.association;
    if (!a || !this.up) return;
    const s = a.stats();
    queueDepth.set(this.labels, s.bufferedAmount);
    sctpRto.set(this.labels, s.rto);
    sctpCwnd.set(this.labels, s.cwnd);
    // the association counts from its start; the metric counts for the life of the output
    if (s.retransmissions > this.retransmissionsSeen) sctpRetransmissions.inc(this.labels, s.retransmissions - this.retransmissionsSeen);
    this.retransmissionsSeen = s.retransmissions;
  }

  isUp(): boolean {
    return this.up;
  }

  send(message: Buffer): true | { reason: string } {
    const a = this.association;
    if (!a || !this.up) return { reason: 'transport_down' };
    if (this.blocked && this.blockedBytes + message.length > this.queueLimit) return { reason: 'queue_full' };
    const reliable = this.options.ttl === 0 || !onlyDataSets(message);
    let accepted: boolean;
    try {
      accepted = a.send(message, { stream: streamOf(message, this.streams), ordered: true, ttl: reliable ? 0 : this.options.ttl });
    } catch {
      // Not ESTABLISHED any more (the 'down' event is on its way).
      return { reason: 'transport_down' };
    }
    if (!accepted) this.blocked = true;
    if (this.blocked) this.blockedBytes += message.length;
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.sampler) clearInterval(this.sampler);
    const a = this.association;
    if (a && this.up) {
      // Graceful SHUTDOWN delivers what is queued (the withdrawals the Exporting Process just sent).
      await Promise.race([a.shutdown().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 1500).unref())]);
    }
    this.up = false;
    this.association = undefined;
    transportUp.set(this.labels, 0);
    this.endpoint?.close();
    this.endpoint = undefined;
  }
}
