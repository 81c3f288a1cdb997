// Receiving IPFIX over SCTP (RFC 7011 §10.2): an SCTP endpoint listening on the URL's port, over UDP
// encapsulation (RFC 6951, the URL's udpPort, 9899 by default) or raw IP. Each association is one
// Transport Session; SCTP hands over whole messages, so no stream framing is needed. What to do with
// a message and with the end of a session is the caller's (`collect`, the gateway's sctp:// input).

import type { HostPort } from '../config/load.js';
import { SctpEndpoint, type DownReason, type SctpAssociation } from './sctp/index.js';
import { openLowerLayer, resolveHost } from './sctp-lower.js';
import { stackSettings, type SctpUrlOptions } from './sctp-options.js';

/** One association (a Transport Session) as the receiver sees it. */
export interface SctpPeer {
  /** The exporter's IP address and SCTP port: the exporter identity of its messages. */
  readonly address: string;
  readonly port: number;
  readonly association: SctpAssociation;
}

export interface SctpListenerHandlers {
  /** A new association is up (before its first message). */
  opened?(peer: SctpPeer): void;
  /** One whole IPFIX message (fresh octets: the callee may keep them), with its stream. */
  message(peer: SctpPeer, data: Buffer, stream: number): void;
  /** The peer restarted (RFC 9260 §5.2.2): same association, but a new Transport Session (its templates are gone). */
  restarted?(peer: SctpPeer): void;
  /** The association ended (shutdown, abort, COMM_LOST, or our own close). */
  closed?(peer: SctpPeer, reason: DownReason, detail?: string): void;
}

export class SctpListener {
  private readonly peers = new Set<SctpPeer>();
  private closed = false;

  private constructor(
    private readonly endpoint: SctpEndpoint,
    /** The local UDP port of the encapsulation (the URL's udpPort, or the free one picked for 0). */
    readonly udpPort: number | undefined,
    readonly port: number,
  ) {}

  /** Start listening; rejects with a clear message when the lower layer cannot open. */
  static async open(at: HostPort, options: SctpUrlOptions, handlers: SctpListenerHandlers): Promise<SctpListener> {
    const { lower, udpPort } = await openLowerLayer(options, at.family, await resolveHost(at), options.udpPort);
    const endpoint = new SctpEndpoint({ lower, ...stackSettings(options) });
    const listener = new SctpListener(endpoint, udpPort, at.port);
    endpoint.listen(at.port, (association) => listener.accept(association, handlers), { maxInboundStreams: options.streams });
    return listener;
  }

  private accept(association: SctpAssociation, handlers: SctpListenerHandlers): void {
    const peer: SctpPeer = { address: association.remote.address, port: association.remotePort, association };
    this.peers.add(peer);
    // Handlers first: opened() may abort the association (allow list), and its 'down' must be heard.
    association.on('message', (data, info) => handlers.message(peer, Buffer.from(data.buffer, data.byteOffset, data.byteLength), info.stream));
    association.on('restart', () => {
      if (this.peers.has(peer)) handlers.restarted?.(peer);
    });
    association.on('down', (reason, detail) => {
      if (!this.peers.delete(peer)) return;
      handlers.closed?.(peer, reason, detail);
    });
    handlers.opened?.(peer);
  }

  /** Associations up now. */
  get associations(): number {
    return this.peers.size;
  }

  /** Packets the endpoint dropped before any association (bad checksum, out of the blue, ...). */
  get drops(): Record<string, number> {
    return this.endpoint.drops;
  }

  /** Gracefully shut every association down (bounded by graceMs), then close the endpoint (ABORTs the rest; 0: at once). */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (graceMs > 0 && this.peers.size > 0) {
      const all = [...this.peers].map((p) => p.association.shutdown().catch(() => undefined));
      await Promise.race([Promise.all(all), new Promise<void>((r) => setTimeout(r, graceMs).unref())]);
    }
    this.endpoint.close(); // ABORTs what is left; the lower layer lets those sends leave before closing
  }
}
