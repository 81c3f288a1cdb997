// What an SCTP association needs from the layer under it: send a packet to a peer, hear packets
// from peers. Implemented by UDP encapsulation (RFC 6951, udp-encap.ts), by the in-memory LossyLink
// for tests (lossy-link.ts) and, later, by raw IPv4/IPv6.

/** A peer as the lower layer knows it. */
export interface Remote {
  address: string;
  /**
   * The peer's UDP encapsulation port (RFC 6951): where to send to, and on receipt the UDP source
   * port of the datagram, which RFC 6951 §5.4 says to remember per association and use for replies.
   * 0 on raw IP.
   */
  udpPort: number;
}

/**
 * Called for each received packet. `packet[0, length)` is the SCTP packet and stays valid after
 * the call (the lower layer never reuses it), so decoded views into it may be kept. `remote` is
 * likewise the receiver's to keep.
 */
export type PacketHandler = (packet: Uint8Array, length: number, remote: Remote) => void;

export interface LowerLayer {
  /**
   * Send packet[0, length) to `remote`. The lower layer copies what it needs before returning, so
   * the caller may reuse its buffer at once. Never throws for network errors: they are counted.
   */
  send(packet: Uint8Array, length: number, remote: Remote): void;
  /** Set the one receiver of incoming packets (a later call replaces it). */
  onPacket(cb: PacketHandler): void;
  /** Stop sending and receiving; idempotent. */
  close(): void;
}
