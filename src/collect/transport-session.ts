// A Transport Session on a reliable transport (RFC 7011 §10): one TCP or TLS connection, or one SCTP
// association, from one Exporter. It starts when the connection opens and ends when it closes; every
// exporter session (ODID) it carried ends with it at once, so downstream withdraws what it derived from
// them and ends their domain mapping. On these transports Template Withdrawals are honoured and templates
// do not expire (RFC 7011 §8, §8.4: the template lifetime is a UDP matter).
//
// Plugging a transport in:
//   const ts = collectingProcess.openTransportSession({ transport: 'sctp', address, port, identity });
//   ts.message(userMessage, stream);   // one whole IPFIX message (SCTP delivers messages whole)
//   ts.close();                        // the association went down
// Byte streams (TCP, TLS) go through a MessageFramer into ts.deliver(), one message at a time.

import type { DecodeContext, SessionState, TemplateEntry } from './decoder.js';
import type { ExporterSession, InputProtocol } from './session.js';
import type { RecordSink, SessionEndReason } from '../mediate/sink.js';
import { IPFIX_VERSION, MESSAGE_HEADER_LENGTH } from '../ipfix/constants.js';
import { DropReason, type DropReasonValue } from '../observe/metrics.js';

export type ReliableTransport = 'tcp' | 'tls' | 'sctp';

export interface TransportPeer {
  readonly transport: ReliableTransport;
  /** Remote IP address: the exporter address of the sessions it carries. */
  readonly address: string;
  readonly port: number;
  /** Who the exporter is: the TLS client certificate's subject, else "address:port". */
  readonly identity?: string;
}

/** What a Transport Session needs from its Collecting Process. */
export interface TransportSessionHost {
  readonly input: string;
  readonly sink: RecordSink;
  /** The exporter session for (protocol, address, port, ODID) on a reliable transport (created on first use). */
  session<E extends TemplateEntry>(protocol: InputProtocol, address: string, port: number, observationDomainId: number): SessionState<E>;
  /** Decode whole IPFIX messages (counted, rate-limited and guarded like a datagram). */
  decode(context: DecodeContext, messages: Buffer, address: string, port: number): void;
  /** Count and log a drop on behalf of `exporter` (the peer's identity). */
  drop(reason: DropReasonValue, detail: { session?: ExporterSession; offset?: number; templateId?: number; message: string }, records: number, exporter: string): void;
  counted(protocol: InputProtocol, records: number): void;
  /** End every exporter session of (address, port) now. */
  endPeer(address: string, port: number, reason: SessionEndReason): void;
  /** The Transport Session is over (bookkeeping: gauges, /health). */
  closed(session: TransportSession): void;
}

export class TransportSession {
  readonly transport: ReliableTransport;
  readonly address: string;
  readonly port: number;
  readonly identity: string;
  readonly openedAt = Date.now();
  /** IPFIX messages received. */
  received = 0;
  private open = true;
  private readonly context: DecodeContext;

  constructor(
    private readonly host: TransportSessionHost,
    peer: TransportPeer,
  ) {
    this.transport = peer.transport;
    this.address = peer.address;
    this.port = peer.port;
    this.identity = peer.identity ?? `${peer.address}:${peer.port}`;
    const identity = this.identity;
    // One decode context per Transport Session: the decoder sees a reliable transport (withdrawals honoured)
    // and its drops are logged under the exporter's identity.
    this.context = {
      input: host.input,
      sink: host.sink,
      transport: peer.transport,
      session: (protocol, address, port, odid) => host.session(protocol, address, port, odid),
      drop: (reason, detail, records = 0) => host.drop(reason, detail, records, identity),
      counted: (protocol, records) => host.counted(protocol, records),
    };
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * One whole IPFIX Message (an SCTP user message; `stream` is informational). Returns false, with the drop
   * counted and logged, when it is not one: the caller should then close the association.
   */
  message(msg: Uint8Array, _stream = 0): boolean {
    if (!this.open) return false;
    const buf = Buffer.isBuffer(msg) ? msg : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
    const bad = notOneMessage(buf);
    if (bad) {
      this.host.drop(bad.reason, { message: `${this.identity}: ${bad.message}` }, 0, this.identity);
      return false;
    }
    this.deliver(buf);
    return true;
  }

  /** One whole message, already framed and checked (a MessageFramer's output). */
  deliver(messages: Buffer): void {
    if (!this.open) return;
    this.received++;
    this.host.decode(this.context, messages, this.address, this.port);
  }

  /** The stream was not IPFIX: count it, log it; the caller closes the connection. */
  refuse(reason: DropReasonValue, message: string): void {
    this.host.drop(reason, { message: `${this.identity}: ${message}; closing the connection` }, 0, this.identity);
  }

  /** The connection or association is gone: every exporter session it carried ends now. */
  close(reason: SessionEndReason = 'closed'): void {
    if (!this.open) return;
    this.open = false;
    this.host.endPeer(this.address, this.port, reason);
    this.host.closed(this);
  }
}

function notOneMessage(buf: Buffer): { reason: DropReasonValue; message: string } | undefined {
  if (buf.length < MESSAGE_HEADER_LENGTH) return { reason: DropReason.truncated, message: `message of ${buf.length} octets, shorter than an IPFIX header` };
  const version = buf.readUInt16BE(0);
  if (version !== IPFIX_VERSION) return { reason: DropReason.badVersion, message: `message with version ${version}, not IPFIX` };
  const length = buf.readUInt16BE(2);
  if (length !== buf.length) return { reason: DropReason.badLength, message: `message Length ${length} but ${buf.length} octets received` };
  return undefined;
}
