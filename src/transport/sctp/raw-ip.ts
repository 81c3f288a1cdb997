// SCTP straight over IP (RFC 9260 §1: IP protocol number 132), through raw sockets from the
// `raw-socket` addon (an optional dependency: it is compiled at install time). A raw socket for
// protocol 132 receives EVERY SCTP packet that reaches the host, whatever its ports: this layer hands
// them all up, and the endpoint above keeps those for ports it owns (and must never answer the
// others, which may belong to another process doing the same).
//
// IPv4 raw sockets deliver the IP header with the packet (we check it and strip it by its IHL);
// IPv6 raw sockets deliver only the payload (the kernel has removed the header and any extension
// headers), and the peer's address comes from recvfrom.
//
// The addon has no bind(). A local address is honoured as follows: IPv4 packets to other
// destinations are dropped (the header says where each went), and packets are sent with our own IP
// header (IP_HDRINCL) carrying that address as the source; IPv6 reception is limited to the
// interface holding the address (SO_BINDTODEVICE), and the kernel picks the source address.
//
// We drive the addon's native socket (`socket.wrap`) rather than its queueing wrapper: sendto is
// called synchronously, so the kernel has copied the packet when send() returns (no copy or queue of
// ours), and packets are received straight into large arenas, handed up as views that stay valid
// (no per-packet copy). Both rely on raw-socket 1.8's internals, which is why the dependency is
// pinned to ~1.8 and open() checks their shape.

import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { type KernelSctpPaths, KERNEL_SCTP_PATHS, kernelSctpEvidence, kernelSctpRefusal } from './kernel-sctp.js';
import type { LowerLayer, PacketHandler, Remote } from './lower-layer.js';

/** IP protocol number of SCTP. */
export const IPPROTO_SCTP = 132;

/** The largest IPv4 datagram, or IPv6 payload without jumbograms, plus one: a receive never truncates. */
const MAX_RECEIVE = 65536;
/** Packets are received into arenas this big, each packet after the last, so none is ever overwritten. */
const ARENA_SIZE = 1 << 20;
const IPV4_HEADER_LENGTH = 20;
/** Packets read per readable event at most. */
const MAX_RECEIVES_PER_EVENT = 256;
/** Distinct peer addresses whose Remote object is kept for reuse (a bound on the cache, not on peers). */
const REMOTE_CACHE_LIMIT = 4096;

export interface RawIpOptions {
  /** 4 or 6; default from `address`, else 4. One socket serves one family. */
  family?: 4 | 6;
  /** Local address: only packets to it are taken (IPv4) or only those arriving on its interface (IPv6). Default: any. */
  address?: string;
  /** SO_RCVBUF in octets (the kernel caps it at net.core.rmem_max). */
  receiveBufferSize?: number;
  /** SO_SNDBUF in octets (capped at net.core.wmem_max). */
  sendBufferSize?: number;
  /** Where to look for a kernel SCTP stack (tests); default the real /proc and /sys paths. */
  kernelSctpPaths?: KernelSctpPaths;
}

export interface RawIpStats {
  packetsIn: number;
  octetsIn: number;
  packetsOut: number;
  octetsOut: number;
  /** IPv4 datagrams whose header does not hold together (version, IHL, total length, protocol). */
  droppedBadIpHeader: number;
  /** IPv4 datagrams to another local address than the one this layer is bound to. */
  droppedOtherAddress: number;
  /** Failed receives (reported by the socket). */
  receiveErrors: number;
  /** Failed sends: unreachable, a full socket buffer (the packet is lost, as in a network; SCTP retransmits), a bad address. */
  sendErrors: number;
  /** Packets refused for their size (EMSGSIZE: above the interface MTU, or beyond what IP can carry). */
  sendTooBig: number;
}

export type RawIpErrorCode = 'addon-missing' | 'permission' | 'kernel-sctp' | 'address' | 'socket';

/** Why raw mode could not start; `message` says what to do about it. */
export class RawIpError extends Error {
  constructor(
    readonly code: RawIpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RawIpError';
  }
}

// The parts of raw-socket 1.8 this layer uses.
interface NativeSocket {
  recv(buffer: Uint8Array, cb: (buffer: Uint8Array, bytes: number, source: string) => void): unknown;
  send(buffer: Uint8Array, offset: number, length: number, address: string, cb: (bytes: number) => void): unknown;
  removeAllListeners(event: string): unknown;
  on(event: string, cb: () => void): unknown;
}
interface AddonSocket {
  wrap: NativeSocket;
  setOption(level: number, option: number, value: number | Uint8Array, length?: number): void;
  on(event: 'error', cb: (e: Error) => void): unknown;
  close(): unknown;
}
export interface RawSocketAddon {
  createSocket(opts: { protocol: number; addressFamily: number }): AddonSocket;
  AddressFamily: { IPv4: number; IPv6: number };
  SocketLevel: Record<string, number>;
  SocketOption: Record<string, number>;
}

const INSTALL_HINT =
  'install the build tools (Debian: apt-get install g++ make python3) and reinstall (npm ci), ' +
  'or use SCTP over UDP (RFC 6951) instead: add `?encapsulation=udp` to the sctp:// URL';

const addons = new Map<string, RawSocketAddon>();

/**
 * Load the raw-socket addon (lazily: only raw mode needs it, and it may not have been built).
 * Throws RawIpError('addon-missing') naming the remedies.
 */
export function loadRawSocket(specifier = 'raw-socket'): RawSocketAddon {
  const cached = addons.get(specifier);
  if (cached) return cached;
  let addon: RawSocketAddon;
  try {
    addon = createRequire(import.meta.url)(specifier) as RawSocketAddon;
  } catch (e) {
    throw new RawIpError(
      'addon-missing',
      `SCTP over raw IP needs the optional native addon ${specifier}, which is not installed or did not build ` +
        `(${(e as Error).message.split('\n')[0]}): ${INSTALL_HINT}`,
    );
  }
  if (typeof addon.createSocket !== 'function' || !addon.SocketOption || !addon.SocketLevel)
    throw new RawIpError('addon-missing', `${specifier} is not the raw-socket 1.8 addon this layer was written for: reinstall (npm ci), or ${INSTALL_HINT.slice(INSTALL_HINT.indexOf('use SCTP'))}`);
  addons.set(specifier, addon);
  return addon;
}

/** a.b.c.d to a 32-bit number without allocating; -1 when it is not dotted-quad text. */
export function parseIPv4(s: string): number {
  let value = 0;
  let part = -1;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (part < 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = -1;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      part = part < 0 ? c - 0x30 : part * 10 + (c - 0x30);
      if (part > 255) return -1;
    } else return -1;
  }
  if (part < 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/** RFC 5952 text of an IPv6 address (lower case, zeros compressed), so two spellings compare equal. */
function canonicalIPv6(address: string): string {
  const scope = address.indexOf('%');
  return new URL(`http://[${scope < 0 ? address : address.slice(0, scope)}]/`).hostname;
}

/**
 * Where the SCTP packet starts in an IPv4 datagram as a raw socket delivers it (header included), or
 * -1 when the header does not hold together: version 4, IHL at least 5 words and within what was
 * received, Total Length equal to what was received (the kernel hands up whole, reassembled
 * datagrams), protocol 132.
 */
export function sctpOffsetInIPv4(d: Uint8Array, received: number): number {
  if (received < IPV4_HEADER_LENGTH || received > d.length || d[0]! >> 4 !== 4) return -1;
  const ihl = (d[0]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LENGTH || ihl > received) return -1;
  if (((d[2]! << 8) | d[3]!) !== received || d[9] !== IPPROTO_SCTP) return -1;
  return ihl;
}

/** The interface that holds `address`, or null when no interface of this host does. */
function interfaceOf(address: string, family: 4 | 6): string | null {
  // Linux routes all of 127.0.0.0/8 to the loopback interface, though it lists only 127.0.0.1
  if (family === 4 && parseIPv4(address) >>> 24 === 127) return 'lo';
  const want = family === 6 ? canonicalIPv6(address) : address;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if ((a.family === 'IPv6') === (family === 6) && (family === 6 ? canonicalIPv6(a.address) : a.address) === want) return name;
    }
  }
  return null;
}

function noop(): void {}

export class RawIpLowerLayer implements LowerLayer {
  readonly stats: RawIpStats = {
    packetsIn: 0,
    octetsIn: 0,
    packetsOut: 0,
    octetsOut: 0,
    droppedBadIpHeader: 0,
    droppedOtherAddress: 0,
    receiveErrors: 0,
    sendErrors: 0,
    sendTooBig: 0,
  };
  private handler: PacketHandler | null = null;
  private errorHandler: ((e: Error) => void) | null = null;
  private closed = false;
  private readonly native: NativeSocket;
  private arena: Buffer = Buffer.allocUnsafeSlow(ARENA_SIZE);
  private arenaUsed = 0;
  private readonly remotes = new Map<string, Remote>();
  /** IPv4 bound address as a number (the destination packets must carry), -1 when unbound or IPv6. */
  private readonly boundV4: number;
  /** IPv4 bound: the datagram we send, our IP header followed by the SCTP packet. */
  private readonly datagram: Buffer | null;
  /** The last destination checked to be an address of our family (sending to one peer costs one check). */
  private lastDestination = '';

  private constructor(
    private readonly socket: AddonSocket,
    /** 4 or 6 */
    readonly family: 4 | 6,
    /** The local address given, or the wildcard (0.0.0.0 / ::). */
    readonly localAddress: string,
    /** The interface reception is limited to (IPv6 bound), else null. */
    readonly device: string | null,
  ) {
    this.native = socket.wrap;
    const bound = family === 4 ? parseIPv4(localAddress) : -1;
    this.boundV4 = bound > 0 ? bound : -1;
    this.datagram = this.boundV4 >= 0 ? Buffer.alloc(MAX_RECEIVE - 1) : null;
    if (this.datagram) {
      const d = this.datagram;
      d[0] = 0x45; // version 4, IHL 5 (no options)
      d[6] = 0x40; // Don't Fragment: SCTP sizes its packets to the path MTU (RFC 9260 §7.3)
      d[8] = 64; // TTL
      d[9] = IPPROTO_SCTP;
      d.writeUInt32BE(this.boundV4, 12);
      // total length, identification and header checksum are left 0: the kernel fills them in
    }
    // take reception over from the addon's wrapper, which reuses one buffer for every packet
    this.native.removeAllListeners('recvReady');
    this.native.on('recvReady', this.onReadable);
    socket.on('error', (e) => {
      // the wrapper closes the socket after a poll error: the layer is closed from here on (the
      // native socket would otherwise reopen itself, unpolled, on the next send)
      this.stats.receiveErrors++;
      this.closed = true;
      this.handler = null;
      this.errorHandler?.(e);
    });
  }

  /**
   * Open a raw socket for SCTP (IP protocol 132). Rejects with a RawIpError naming the remedy when
   * the kernel has SCTP, the addon is missing, privileges are lacking (root or CAP_NET_RAW), or the
   * local address is not one of this host's.
   */
  static async open(opts: RawIpOptions = {}): Promise<RawIpLowerLayer> {
    let family: 4 | 6 = opts.family ?? 4;
    if (opts.address !== undefined) {
      const f = isIPv4(opts.address) ? 4 : isIPv6(opts.address) ? 6 : 0;
      if (f === 0) throw new RawIpError('address', `SCTP over raw IP: local address ${JSON.stringify(opts.address)} is not an IPv4 or IPv6 address`);
      if (opts.family !== undefined && opts.family !== f) throw new RawIpError('address', `SCTP over raw IP: local address ${opts.address} is not IPv${opts.family}`);
      family = f;
    }
    const evidence = kernelSctpEvidence(opts.kernelSctpPaths ?? KERNEL_SCTP_PATHS);
    if (evidence !== null) throw new RawIpError('kernel-sctp', kernelSctpRefusal(evidence));
    const addon = loadRawSocket();

    const wildcard = family === 4 ? '0.0.0.0' : '::';
    const localAddress = opts.address ?? wildcard;
    const isWildcard = family === 4 ? parseIPv4(localAddress) === 0 : /^[0:]+$/.test(localAddress);
    let device: string | null = null;
    if (!isWildcard) {
      const name = interfaceOf(localAddress, family);
      if (name === null) throw new RawIpError('address', `SCTP over raw IP: ${localAddress} is not an address of this host (no interface holds it)`);
      if (family === 6) device = name;
    }

    let socket: AddonSocket;
    try {
      socket = addon.createSocket({ protocol: IPPROTO_SCTP, addressFamily: family === 4 ? addon.AddressFamily.IPv4 : addon.AddressFamily.IPv6 });
    } catch (e) {
      const m = (e as Error).message;
      if (/not permitted|permission denied/i.test(m))
        throw new RawIpError(
          'permission',
          `SCTP over raw IP: cannot open a raw IPv${family} socket (${m}): it needs root or the CAP_NET_RAW capability ` +
            '(e.g. `setcap cap_net_raw+ep $(readlink -f $(which node))`, or AmbientCapabilities=CAP_NET_RAW in a systemd unit); ' +
            'or use SCTP over UDP (RFC 6951), which needs no privilege: add `?encapsulation=udp` to the sctp:// URL',
        );
      throw new RawIpError('socket', `SCTP over raw IP: cannot open a raw IPv${family} socket: ${m}`);
    }
    if (typeof socket.wrap?.recv !== 'function' || typeof socket.wrap.send !== 'function' || typeof socket.wrap.removeAllListeners !== 'function') {
      socket.close();
      throw new RawIpError('addon-missing', 'SCTP over raw IP: the installed raw-socket is not the 1.8 series this layer drives (socket.wrap.recv/send): reinstall with npm ci');
    }
    try {
      const { SocketLevel: L, SocketOption: O } = addon;
      if (opts.receiveBufferSize) socket.setOption(L.SOL_SOCKET!, O.SO_RCVBUF!, opts.receiveBufferSize);
      if (opts.sendBufferSize) socket.setOption(L.SOL_SOCKET!, O.SO_SNDBUF!, opts.sendBufferSize);
      if (family === 4 && !isWildcard) socket.setOption(L.IPPROTO_IP!, O.IP_HDRINCL!, 1);
      if (device !== null) {
        const name = Buffer.from(`${device}\0`, 'latin1');
        socket.setOption(L.SOL_SOCKET!, O.SO_BINDTODEVICE!, name, name.length);
      }
    } catch (e) {
      socket.close();
      throw new RawIpError('socket', `SCTP over raw IP: cannot set up the raw socket: ${(e as Error).message}`);
    }
    return new RawIpLowerLayer(socket, family, localAddress, device);
  }

  /**
   * Drain the socket: uv_poll says readable once per event-loop turn, so one packet per event would
   * cap reception at the loop's turn rate. Read until the socket is empty (the addon throws EAGAIN,
   * one exception per event) or a bound is reached (so a flood cannot starve timers and sends).
   */
  private readonly onReadable = (): void => {
    // (never recv once closed: the addon's recv and send reopen a closed socket)
    for (let i = 0; i < MAX_RECEIVES_PER_EVENT && !this.closed; i++) {
      if (this.arena.length - this.arenaUsed < MAX_RECEIVE) {
        // a fresh arena when the room left could not hold any packet; the old one lives while views into it do
        this.arena = Buffer.allocUnsafeSlow(ARENA_SIZE);
        this.arenaUsed = 0;
      }
      try {
        this.native.recv(this.arena.subarray(this.arenaUsed, this.arenaUsed + MAX_RECEIVE), this.onDatagram);
      } catch (e) {
        if (!/temporarily unavailable|would block/i.test((e as Error).message)) {
          this.stats.receiveErrors++;
          this.errorHandler?.(e as Error);
        }
        return;
      }
    }
  };

  /** Called synchronously from recv with the view it was given. */
  private readonly onDatagram = (buf: Uint8Array, n: number, source: string): void => {
    let start = 0;
    if (this.family === 4) {
      start = sctpOffsetInIPv4(buf, n);
      if (start < 0) {
        this.stats.droppedBadIpHeader++;
        return;
      }
      if (this.boundV4 >= 0 && ((buf[16]! << 24) | (buf[17]! << 16) | (buf[18]! << 8) | buf[19]!) >>> 0 !== this.boundV4) {
        this.stats.droppedOtherAddress++;
        return;
      }
    }
    // the octets stay the receiver's: the next packet goes after them (8-aligned, so CRC32c reads aligned words)
    this.arenaUsed += (n + 7) & ~7;
    this.stats.packetsIn++;
    this.stats.octetsIn += n - start;
    const h = this.handler;
    if (h) h(buf.subarray(start, n), n - start, this.remoteFor(source));
  };

  /** One frozen Remote per peer address, reused (the source string is the addon's own allocation). */
  private remoteFor(address: string): Remote {
    let r = this.remotes.get(address);
    if (r === undefined) {
      if (this.remotes.size >= REMOTE_CACHE_LIMIT) this.remotes.clear();
      r = Object.freeze({ address, udpPort: 0 });
      this.remotes.set(address, r);
    }
    return r;
  }

  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (this.closed) return;
    const address = remote.address;
    if (address !== this.lastDestination) {
      if (this.family === 4 ? parseIPv4(address) < 0 : !isIPv6(address)) {
        this.stats.sendErrors++;
        this.errorHandler?.(new Error(`SCTP over raw IPv${this.family}: cannot send to ${JSON.stringify(address)}: not an IPv${this.family} address`));
        return;
      }
      this.lastDestination = address;
    }
    const d = this.datagram;
    if (d !== null) {
      // our own IPv4 header, so the source is the bound address
      if (length > d.length - IPV4_HEADER_LENGTH) {
        this.stats.sendTooBig++;
        return;
      }
      d.writeUInt32BE(parseIPv4(address), 16);
      d.set(length === packet.length ? packet : packet.subarray(0, length), IPV4_HEADER_LENGTH);
      this.transmit(d, IPV4_HEADER_LENGTH + length, address, length);
    } else this.transmit(packet, length, address, length);
  }

  /** sendto, synchronously: when it returns the kernel holds its own copy. */
  private transmit(buf: Uint8Array, length: number, address: string, sctpLength: number): void {
    try {
      this.native.send(buf, 0, length, address, noop);
      this.stats.packetsOut++;
      this.stats.octetsOut += sctpLength;
    } catch (e) {
      if (/message too long/i.test((e as Error).message)) this.stats.sendTooBig++;
      else this.stats.sendErrors++;
      this.errorHandler?.(e as Error);
    }
  }

  onPacket(cb: PacketHandler): void {
    this.handler = cb;
  }

  /** Told about socket errors (they are also counted in stats); never thrown. */
  onError(cb: (e: Error) => void): void {
    this.errorHandler = cb;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.socket.close();
  }
}

/** Open SCTP over raw IP (see RawIpLowerLayer.open). */
export function openRawIp(opts: RawIpOptions = {}): Promise<RawIpLowerLayer> {
  return RawIpLowerLayer.open(opts);
}
