// The SCTP listener of an input (RFC 7011 §10.2): every association from an exporter is one Transport
// Session, and SCTP hands over whole IPFIX messages (no framing). An association from a source outside
// the input's allow list is aborted before its first message is read; a message that is not one whole
// IPFIX message aborts its association (counted as not_ipfix). An exporter that restarts (RFC 9260
// §5.2.2, an INIT on a live association) starts a new Transport Session: its old templates are gone.

import type { HostPort } from '../config/load.js';
import type { TransportPeer, TransportSession } from './transport-session.js';
import type { RefusedReason } from './stream-listener.js';
import { SctpListener, type SctpPeer } from '../transport/sctp-listener.js';
import type { SctpUrlOptions } from '../transport/sctp-options.js';

export interface SctpInputOptions {
  input: string;
  at: HostPort;
  options: SctpUrlOptions;
  /** False refuses the association (allow list). */
  admits(address: string): boolean;
  open(peer: TransportPeer): TransportSession;
  refused(reason: RefusedReason, address: string, detail: string): void;
}

export class SctpInput {
  private readonly sessions = new Map<SctpPeer, TransportSession>();

  private constructor(
    private readonly o: SctpInputOptions,
    private listener?: SctpListener,
  ) {}

  static async listen(o: SctpInputOptions): Promise<SctpInput> {
    const input = new SctpInput(o);
    input.listener = await SctpListener.open(o.at, o.options, {
      opened: (peer) => input.opened(peer),
      message: (peer, data, stream) => input.message(peer, data, stream),
      restarted: (peer) => {
        input.sessions.get(peer)?.close('restart');
        input.opened(peer);
      },
      closed: (peer) => {
        input.sessions.get(peer)?.close('closed');
        input.sessions.delete(peer);
      },
    });
    return input;
  }

  /** The SCTP port listened on. */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** UDP encapsulation: the local UDP port (useful when the URL asked for 0). */
  get udpPort(): number | undefined {
    return this.listener?.udpPort;
  }

  private opened(peer: SctpPeer): void {
    if (!this.o.admits(peer.address)) {
      this.o.refused('not_allowed', peer.address, `${peer.address} (SCTP port ${peer.port}) is not in the allow list; association aborted`);
      peer.association.abort('not in the allow list');
      return;
    }
    this.sessions.set(peer, this.o.open({ transport: 'sctp', address: peer.address, port: peer.port }));
  }

  private message(peer: SctpPeer, data: Buffer, stream: number): void {
    const ts = this.sessions.get(peer);
    if (!ts) return; // refused at setup; the ABORT is on its way
    if (!ts.message(data, stream)) {
      this.o.refused('not_ipfix', peer.address, `${ts.identity}: a message on stream ${stream} is not one whole IPFIX message; association aborted`);
      this.sessions.delete(peer);
      ts.close('closed');
      peer.association.abort('not IPFIX');
    }
  }

  /** End every Transport Session, shut the associations down (bounded), stop listening. */
  async close(): Promise<void> {
    // The input is stopping: its sessions end as 'shutdown' (not as 'closed' by the SHUTDOWNs below).
    for (const ts of this.sessions.values()) ts.close('shutdown');
    this.sessions.clear();
    const l = this.listener;
    this.listener = undefined;
    if (l) await l.close();
  }
}
