// An SCTP endpoint (RFC 9260 §2.3) over one lower layer: it checks every arriving packet (CRC32c,
// framing), hands it to its association by verification tag or by (remote address, UDP port,
// remote port, local port), starts associations (connect, and a valid COOKIE ECHO on a port it
// listens on), and answers out-of-the-blue packets as §8.4 says, but only for ports it owns
// (listened on, or used by one of its associations): on raw IP other processes' ports are not ours
// to ABORT. Every packet dropped before reaching an association is counted by reason.

import { randomFillSync } from 'node:crypto';
import { type AssociationConfig, type AssociationHost, SctpAssociation } from './association.js';
import { type Chunk, ChunkType, type InitChunk } from './chunk.js';
import { openCookie } from './cookie.js';
import { CauseCode } from './error-cause.js';
import { initProblem, makeInitAck } from './handshake.js';
import { type LinkClock, realClock } from './lossy-link.js';
import type { LowerLayer, Remote } from './lower-layer.js';
import { PacketReader, encodePacket } from './packet.js';
import { RtoEstimator } from './rto.js';
import { SctpError } from './sctp-error.js';

export interface EndpointOptions {
  /** The endpoint takes ownership (close() closes it). */
  lower: LowerLayer;
  /** Virtual clock in tests; real time by default. */
  clock?: LinkClock;
  /** State-cookie HMAC key; 32 random octets by default. */
  secret?: Uint8Array;
  /** Valid.Cookie.Life, ms; default 60000. */
  cookieLifetime?: number;
  /** RTO.Initial / RTO.Min / RTO.Max, ms; RFC 9260 §16 defaults 1000 / 1000 / 60000. */
  rtoInitial?: number;
  rtoMin?: number;
  rtoMax?: number;
  /** Max.Init.Retransmits; default 8. */
  maxInitRetransmits?: number;
  /** Association.Max.Retrans; default 10. */
  associationMaxRetrans?: number;
  /** Path.Max.Retrans; default 5. With one path the smaller of the two decides (see docs/sctp.md). */
  pathMaxRetrans?: number;
  /** HB.interval, ms; default 30000. */
  heartbeatInterval?: number;
  /** Delayed SACK, ms; default 200. */
  delayedAckTime?: number;
  /** a_rwnd advertised, octets; default 1 MiB. */
  receiveWindow?: number;
  /** Largest SCTP packet sent (common header + chunks), octets; default 1232 (IPv6's 1280 minimum MTU less IPv6 and UDP headers). */
  mtu?: number;
  /** Addition: send() returns false above this many queued octets; 'drain' once half of it is gone. Default 1 MiB. */
  sendHighWaterMark?: number;
  /** Sees every out-of-the-blue packet and what was done about it (tests, metrics). */
  onOutOfTheBlue?: (info: OutOfTheBlue) => void;
  /** Addition: take part in PR-SCTP (RFC 3758); default true. Off, `ttl` only drops messages not yet sent. */
  forwardTsn?: boolean;
}

/** An out-of-the-blue packet (§8.4): no association matched it. */
export interface OutOfTheBlue {
  remote: Remote;
  srcPort: number;
  dstPort: number;
  verificationTag: number;
  /** Type of the first chunk. */
  chunkType: number;
  /** What the endpoint did. */
  action: 'init-ack' | 'association' | 'abort' | 'shutdown-complete' | 'stale-cookie-error' | 'discard';
}

export interface ListenOptions {
  /** OS we offer; default 10. */
  outboundStreams?: number;
  /** MIS; default 65535. */
  maxInboundStreams?: number;
}

export interface ConnectOptions {
  remote: Remote;
  remotePort: number;
  /** 0 or undefined: an ephemeral port. */
  localPort?: number;
  /** OS, default 10. */
  outboundStreams?: number;
  /** MIS, default 65535. */
  maxInboundStreams?: number;
}

interface Listener {
  onAssociation: (a: SctpAssociation) => void;
  outboundStreams: number;
  maxInboundStreams: number;
}

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW;

function peerKey(address: string, udpPort: number, remotePort: number, localPort: number): string {
  return `${address}|${udpPort}|${remotePort}|${localPort}`;
}

export class SctpEndpoint implements AssociationHost {
  /** Packets dropped before or at an association, by reason (decode error codes, 'out-of-the-blue', 'bad-verification-tag', ...). */
  readonly drops: Record<string, number> = {};
  /** The last exception our own packet handling threw (counted in drops['internal-error']); for diagnosis. */
  lastInternalError: unknown = null;
  /** @internal */
  readonly config: AssociationConfig;
  /** @internal */
  readonly packetBuffer: Uint8Array;
  private readonly lower: LowerLayer;
  private readonly reader = new PacketReader();
  private readonly listeners = new Map<number, Listener>();
  private readonly byTag = new Map<number, SctpAssociation>();
  private readonly byPeer = new Map<string, SctpAssociation>();
  /** Local port → associations using it. */
  private readonly portUse = new Map<number, number>();
  private readonly onOutOfTheBlue: ((info: OutOfTheBlue) => void) | null;
  private readonly randomPool = new Uint32Array(64);
  private randomLeft = 0;
  private isClosed = false;

  constructor(opts: EndpointOptions) {
    this.lower = opts.lower;
    const secret = opts.secret ?? randomFillSync(new Uint8Array(32));
    const mtu = opts.mtu ?? 1232;
    if (!(mtu >= 128 && mtu <= 65535)) throw new RangeError(`SCTP mtu ${mtu} must lie in [128, 65535]`);
    this.config = {
      clock: opts.clock ?? realClock,
      secret,
      cookieLifetime: opts.cookieLifetime ?? 60000,
      rtoInitial: opts.rtoInitial ?? 1000,
      rtoMin: opts.rtoMin ?? 1000,
      rtoMax: opts.rtoMax ?? 60000,
      maxInitRetransmits: opts.maxInitRetransmits ?? 8,
      associationMaxRetrans: opts.associationMaxRetrans ?? 10,
      pathMaxRetrans: opts.pathMaxRetrans ?? 5,
      heartbeatInterval: opts.heartbeatInterval ?? 30000,
      delayedAckTime: opts.delayedAckTime ?? 200,
      receiveWindow: opts.receiveWindow ?? 1 << 20,
      mtu,
      sendHighWaterMark: opts.sendHighWaterMark ?? 1 << 20,
      forwardTsn: opts.forwardTsn ?? true,
    };
    new RtoEstimator({ initial: this.config.rtoInitial, min: this.config.rtoMin, max: this.config.rtoMax }); // throws RangeError now rather than at the first association
    this.packetBuffer = new Uint8Array(Math.max(mtu, 2048));
    this.onOutOfTheBlue = opts.onOutOfTheBlue ?? null;
    this.lower.onPacket((packet, length, remote) => this.receive(packet, length, remote));
  }

  /**
   * Accept associations on `port`. An INIT to a port nobody listens on is answered with ABORT only
   * when this endpoint owns the port (it has associations on it); otherwise it is ignored.
   */
  listen(port: number, onAssociation: (a: SctpAssociation) => void, opts: ListenOptions = {}): void {
    if (this.isClosed) throw new SctpError('closed', 'SCTP endpoint is closed');
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new RangeError(`SCTP port ${port} must lie in [1, 65535]`);
    if (this.listeners.has(port)) throw new Error(`SCTP port ${port} is already listened on`);
    this.listeners.set(port, { onAssociation, outboundStreams: opts.outboundStreams ?? 10, maxInboundStreams: opts.maxInboundStreams ?? 65535 });
  }

  /** Stop accepting new associations on `port` (existing ones go on). */
  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  /** Start an association; resolves on COMMUNICATION UP, rejects with SctpError. */
  connect(opts: ConnectOptions): Promise<SctpAssociation> {
    if (this.isClosed) return Promise.reject(new SctpError('closed', 'SCTP endpoint is closed'));
    const os = opts.outboundStreams ?? 10;
    const mis = opts.maxInboundStreams ?? 65535;
    if (!(os >= 1 && os <= 65535 && mis >= 1 && mis <= 65535)) return Promise.reject(new RangeError(`SCTP streams: OS ${os} and MIS ${mis} must lie in [1, 65535]`));
    const remote: Remote = { address: opts.remote.address, udpPort: opts.remote.udpPort };
    let localPort = opts.localPort ?? 0;
    if (localPort === 0) localPort = this.ephemeralPort(remote, opts.remotePort);
    if (this.byPeer.has(peerKey(remote.address, remote.udpPort, opts.remotePort, localPort)))
      return Promise.reject(new Error(`SCTP: an association from port ${localPort} to ${remote.address} port ${opts.remotePort} exists already`));
    const a = new SctpAssociation(this, remote, localPort, opts.remotePort, os, mis);
    const p = a.start(); // sets the local tag
    this.register(a);
    return p;
  }

  /** ABORT every association and close the lower layer. */
  close(): void {
    if (this.isClosed) return;
    for (const a of [...this.byPeer.values()]) {
      if (a.peerTag !== 0) this.sendChunk(a.localPort, a.remotePort, a.peerTag, { type: ChunkType.ABORT, tBit: false, causes: [] }, a.remote);
      a.close('closed', 'the endpoint closed');
    }
    this.isClosed = true;
    this.listeners.clear();
    this.lower.close();
  }

  /** Live associations. */
  get associations(): SctpAssociation[] {
    return [...this.byPeer.values()];
  }

  // ------------------------------------------------------------------ AssociationHost

  /** @internal */
  send(packet: Uint8Array, length: number, remote: Remote): void {
    if (!this.isClosed) this.lower.send(packet, length, remote);
  }

  /** @internal */
  random32(): number {
    for (;;) {
      if (this.randomLeft === 0) {
        randomFillSync(this.randomPool);
        this.randomLeft = this.randomPool.length;
      }
      const v = this.randomPool[--this.randomLeft]!;
      if (v !== 0) return v;
    }
  }

  /** @internal */
  retag(a: SctpAssociation, oldTag: number): void {
    if (this.byTag.get(oldTag) === a) this.byTag.delete(oldTag);
    this.byTag.set(a.localTag, a);
  }

  /** @internal */
  closed(a: SctpAssociation): void {
    if (this.byTag.get(a.localTag) === a) this.byTag.delete(a.localTag);
    const k = peerKey(a.remote.address, a.remote.udpPort, a.remotePort, a.localPort);
    if (this.byPeer.get(k) === a) {
      this.byPeer.delete(k);
      const n = (this.portUse.get(a.localPort) ?? 1) - 1;
      if (n > 0) this.portUse.set(a.localPort, n);
      else this.portUse.delete(a.localPort);
    }
  }

  /** @internal */
  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  // ------------------------------------------------------------------ receiving

  private receive(packet: Uint8Array, length: number, remote: Remote): void {
    if (this.isClosed) return;
    try {
      this.dispatch(packet, length, remote);
    } catch (e) {
      // a bug of ours, never the peer's bytes' fault: counted and kept, the endpoint goes on
      this.drop('internal-error');
      this.lastInternalError = e;
    }
  }

  private dispatch(packet: Uint8Array, length: number, remote: Remote): void {
    const r = this.reader;
    const e = r.open(packet, 0, length);
    if (e) {
      this.drop(e.code);
      return;
    }
    // the common case: our tag in the packet names the association (no allocation)
    let a = this.byTag.get(r.verificationTag);
    if (a && (a.remotePort !== r.srcPort || a.localPort !== r.dstPort || a.remote.address !== remote.address)) a = undefined;
    if (!a) a = this.byPeer.get(peerKey(remote.address, remote.udpPort, r.srcPort, r.dstPort));
    if (a) {
      const oldUdp = a.remote.udpPort;
      a.handlePacket(r, remote);
      if (a.remote.udpPort !== oldUdp) this.rekey(a, oldUdp);
      return;
    }
    this.outOfTheBlue(r, remote);
  }

  /** The peer's UDP port moved (RFC 6951 §5.4, after the tag checked out): file the association anew. */
  private rekey(a: SctpAssociation, oldUdp: number): void {
    const old = peerKey(a.remote.address, oldUdp, a.remotePort, a.localPort);
    if (this.byPeer.get(old) === a) this.byPeer.delete(old);
    this.byPeer.set(peerKey(a.remote.address, a.remote.udpPort, a.remotePort, a.localPort), a);
  }

  /** §8.4: a packet no association claims. */
  private outOfTheBlue(r: PacketReader, remote: Remote): void {
    const tag = r.verificationTag;
    const srcPort = r.srcPort;
    const dstPort = r.dstPort;
    const owned = this.listeners.has(dstPort) || this.portUse.has(dstPort);
    let sawAbort = false;
    let sawShutdownAck = false;
    let sawDiscard = false;
    let firstType = -1;
    const first = r.next() ? r.chunkType : -1;
    firstType = first;
    const report = (action: OutOfTheBlue['action']) => {
      this.onOutOfTheBlue?.({ remote: { address: remote.address, udpPort: remote.udpPort }, srcPort, dstPort, verificationTag: tag, chunkType: firstType, action });
    };
    if (first === ChunkType.INIT) {
      const listener = this.listeners.get(dstPort);
      if (r.chunkCount !== 1 || tag !== 0) {
        this.drop('bad-bundling');
        report('discard');
        return;
      }
      const d = r.decodeChunk();
      if (!d.ok || d.value.type !== ChunkType.INIT) {
        this.drop(d.ok ? 'malformed' : d.error.code);
        report('discard');
        return;
      }
      const init = d.value;
      const problem = initProblem(init);
      if (problem || !listener) {
        if (!owned || init.initiateTag === 0) {
          this.drop(listener ? 'bad-init' : 'unowned-port');
          report('discard');
          return;
        }
        // §8.4 rule 3 / §3.3.2: ABORT carrying the INIT's Initiate Tag, T bit clear
        this.drop(listener ? 'bad-init' : 'no-listener');
        const causes = problem ? [{ code: CauseCode.INVALID_MANDATORY_PARAMETER } as const] : [];
        this.sendChunk(dstPort, srcPort, init.initiateTag, { type: ChunkType.ABORT, tBit: false, causes }, remote);
        report('abort');
        return;
      }
      this.answerInit(init, listener, remote, srcPort, dstPort);
      report('init-ack');
      return;
    }
    if (first === ChunkType.COOKIE_ECHO) {
      const listener = this.listeners.get(dstPort);
      if (listener) {
        const outcome = this.acceptCookie(r, remote, listener);
        report(outcome);
        return;
      }
    }
    // scan the rest for the chunks that decide the answer (rules 2, 5, 6, 7)
    if (first >= 0) {
      do {
        const t = r.chunkType;
        if (t === ChunkType.ABORT) sawAbort = true;
        else if (t === ChunkType.SHUTDOWN_ACK) sawShutdownAck = true;
        else if (t === ChunkType.SHUTDOWN_COMPLETE || t === ChunkType.COOKIE_ACK || t === ChunkType.ERROR) sawDiscard = true;
      } while (r.next());
    }
    this.drop('out-of-the-blue');
    if (sawAbort || sawDiscard || !owned) {
      report('discard');
      return;
    }
    if (sawShutdownAck) {
      // rule 5: SHUTDOWN COMPLETE, T bit set, the packet's tag reflected
      this.sendChunk(dstPort, srcPort, tag, { type: ChunkType.SHUTDOWN_COMPLETE, tBit: true }, remote);
      report('shutdown-complete');
      return;
    }
    // rule 8: ABORT, T bit set, the packet's tag reflected
    this.sendChunk(dstPort, srcPort, tag, { type: ChunkType.ABORT, tBit: true, causes: [] }, remote);
    report('abort');
  }

  /** §5.1.3: INIT ACK with a State Cookie; no state kept. */
  private answerInit(init: InitChunk, l: Listener, remote: Remote, srcPort: number, dstPort: number): void {
    const ack = makeInitAck(init, {
      localTag: this.random32(),
      localInitialTsn: this.random32(),
      aRwnd: this.config.receiveWindow,
      outboundStreams: l.outboundStreams,
      maxInboundStreams: l.maxInboundStreams,
      localPort: dstPort,
      remotePort: srcPort,
      localTieTag: 0,
      peerTieTag: 0,
      now: this.config.clock.now(),
      cookieLifetime: this.config.cookieLifetime,
      secret: this.config.secret,
      forwardTsn: this.config.forwardTsn,
    });
    this.sendChunk(dstPort, srcPort, init.initiateTag, ack, remote);
  }

  /** §5.1.5: a COOKIE ECHO with no association: check it, then create the association. */
  private acceptCookie(r: PacketReader, remote: Remote, l: Listener): OutOfTheBlue['action'] {
    const d = r.decodeChunk();
    if (!d.ok || d.value.type !== ChunkType.COOKIE_ECHO) {
      this.drop(d.ok ? 'malformed' : d.error.code);
      return 'discard';
    }
    const check = openCookie(d.value.cookie, this.config.secret, this.config.clock.now());
    if (!check.ok) {
      this.drop(check.reason);
      if (check.reason === 'stale-cookie' && check.cookie.localTag === r.verificationTag) {
        this.sendChunk(r.dstPort, r.srcPort, check.cookie.peerTag, { type: ChunkType.ERROR, causes: [{ code: CauseCode.STALE_COOKIE, staleness: check.stalenessUs }] }, remote);
        return 'stale-cookie-error';
      }
      return 'discard';
    }
    const k = check.cookie;
    if (k.localTag !== r.verificationTag || k.localPort !== r.dstPort || k.remotePort !== r.srcPort) {
      this.drop('bad-verification-tag');
      return 'discard';
    }
    if (this.byTag.has(k.localTag)) {
      this.drop('cookie-mismatch');
      return 'discard';
    }
    const a = new SctpAssociation(this, { address: remote.address, udpPort: remote.udpPort }, k.localPort, k.remotePort, l.outboundStreams, l.maxInboundStreams);
    a.accept(k);
    this.register(a);
    l.onAssociation(a);
    a.continuePacket(r);
    return 'association';
  }

  // ------------------------------------------------------------------ helpers

  private register(a: SctpAssociation): void {
    this.byTag.set(a.localTag, a);
    this.byPeer.set(peerKey(a.remote.address, a.remote.udpPort, a.remotePort, a.localPort), a);
    this.portUse.set(a.localPort, (this.portUse.get(a.localPort) ?? 0) + 1);
  }

  private ephemeralPort(remote: Remote, remotePort: number): number {
    const start = this.random32() % EPHEMERAL_COUNT;
    for (let i = 0; i < EPHEMERAL_COUNT; i++) {
      const port = EPHEMERAL_LOW + ((start + i) % EPHEMERAL_COUNT);
      if (this.listeners.has(port) || this.portUse.has(port)) continue;
      if (this.byPeer.has(peerKey(remote.address, remote.udpPort, remotePort, port))) continue;
      return port;
    }
    throw new SctpError('closed', 'SCTP: no ephemeral port left');
  }

  private sendChunk(srcPort: number, dstPort: number, verificationTag: number, c: Chunk, remote: Remote): void {
    const b = this.packetBuffer;
    const n = encodePacket(b, 0, { srcPort, dstPort, verificationTag }, [c]);
    this.send(b, n, remote);
  }
}

