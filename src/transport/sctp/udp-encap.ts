// SCTP over UDP (RFC 6951): each SCTP packet is the payload of one UDP datagram. A server listens
// on the registered port 9899 (sctp-tunneling); a client may use an ephemeral port. The UDP source
// port of what arrives is handed up with the packet: RFC 6951 §5.4 has the association remember it
// as the peer's encapsulation port (the association does that once the verification tag checks out).

import { type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { LowerLayer, PacketHandler, Remote } from './lower-layer.js';

/** The IANA port for SCTP over UDP (RFC 6951 §5.1, "sctp-tunneling"). */
export const SCTP_UDP_ENCAPSULATION_PORT = 9899;

export interface UdpEncapsulationOptions {
  /** Local UDP port; default 9899 (what a server uses); 0 picks an ephemeral one (what a client may use). */
  port?: number;
  /** Local address to bind; default 0.0.0.0, or :: when `type` is udp6. */
  address?: string;
  /** Socket family; default from `address` (udp6 for IPv6 text), else udp4. */
  type?: 'udp4' | 'udp6';
  /** SO_RCVBUF in octets. A bigger buffer rides out bursts (at 1,400-octet packets, 4 MB is ~3,000 packets). */
  receiveBufferSize?: number;
  /** SO_SNDBUF in octets. */
  sendBufferSize?: number;
}

export interface UdpEncapsulationStats {
  packetsIn: number;
  octetsIn: number;
  packetsOut: number;
  octetsOut: number;
  /** Datagrams from UDP source port 0: no port to answer to, so dropped. */
  droppedSourcePortZero: number;
  /** Sends the socket reported as failed (e.g. ICMP port unreachable surfacing as ECONNREFUSED). */
  sendErrors: number;
}

export class UdpEncapsulation implements LowerLayer {
  readonly stats: UdpEncapsulationStats = { packetsIn: 0, octetsIn: 0, packetsOut: 0, octetsOut: 0, droppedSourcePortZero: 0, sendErrors: 0 };
  private handler: PacketHandler | null = null;
  private errorHandler: ((e: Error) => void) | null = null;
  private closed = false;
  /** One callback for every send, so sending makes no closure. */
  private readonly afterSend = (e: Error | null) => {
    if (e) {
      this.stats.sendErrors++;
      this.errorHandler?.(e);
    }
    if (--this.inFlight === 0 && this.closed) this.release();
  };
  /** Sends handed to dgram and not yet done: closing the socket before they are would cancel them. */
  private inFlight = 0;
  private released = false;

  private constructor(
    private readonly socket: Socket,
    /** The bound local address and UDP port. */
    readonly local: Remote,
  ) {
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port === 0) {
        this.stats.droppedSourcePortZero++;
        return;
      }
      this.stats.packetsIn++;
      this.stats.octetsIn += msg.length;
      // msg is a fresh Buffer per datagram: the handler may keep views into it
      this.handler?.(msg, msg.length, { address: rinfo.address, udpPort: rinfo.port });
    });
    socket.on('error', (e) => {
      this.stats.sendErrors++;
      this.errorHandler?.(e);
    });
  }

  /** Bind a UDP socket and start delivering packets. Rejects when the port cannot be bound. */
  static open(opts: UdpEncapsulationOptions = {}): Promise<UdpEncapsulation> {
    const type = opts.type ?? (opts.address !== undefined && isIPv6(opts.address) ? 'udp6' : 'udp4');
    const address = opts.address ?? (type === 'udp6' ? '::' : '0.0.0.0');
    const port = opts.port ?? SCTP_UDP_ENCAPSULATION_PORT;
    const socket = createSocket({ type, reuseAddr: false });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        socket.close();
        reject(new Error(`SCTP over UDP: cannot bind ${address} port ${port}: ${e.message}`));
      };
      socket.once('error', onError);
      socket.bind(port, address, () => {
        socket.off('error', onError);
        if (opts.receiveBufferSize) socket.setRecvBufferSize(opts.receiveBufferSize);
        if (opts.sendBufferSize) socket.setSendBufferSize(opts.sendBufferSize);
        const a = socket.address();
        resolve(new UdpEncapsulation(socket, { address: a.address, udpPort: a.port }));
      });
    });
  }

  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (this.closed) return;
    // dgram may queue the datagram when the socket buffer is full and read it later: copy so the
    // caller can reuse its buffer at once (Buffer.allocUnsafe takes small sizes from a shared slab)
    const copy = Buffer.allocUnsafe(length);
    copy.set(length === packet.length ? packet : packet.subarray(0, length));
    this.stats.packetsOut++;
    this.stats.octetsOut += length;
    this.inFlight++;
    this.socket.send(copy, 0, length, remote.udpPort, remote.address, this.afterSend);
  }

  onPacket(cb: PacketHandler): void {
    this.handler = cb;
  }

  /** Told about socket errors (they are also counted in stats.sendErrors); never thrown. */
  onError(cb: (e: Error) => void): void {
    this.errorHandler = cb;
  }

  /**
   * Stops receiving at once; the socket itself closes once the sends already made have left (dgram
   * resolves the address on a later tick and a close in between cancels them — an endpoint's last
   * ABORTs would never reach the wire), or after 200 ms at the latest.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    if (this.inFlight === 0) this.release();
    else setTimeout(() => this.release(), 200).unref();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.socket.close();
  }
}

/** Bind an RFC 6951 lower layer (see UdpEncapsulation.open). */
export function openUdpEncapsulation(opts: UdpEncapsulationOptions = {}): Promise<UdpEncapsulation> {
  return UdpEncapsulation.open(opts);
}
