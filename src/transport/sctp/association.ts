// One SCTP association (RFC 9260): the state machine of §4 from COOKIE-WAIT or a valid COOKIE ECHO
// to CLOSED, over one path. It runs the protocol timers (T1-init, T1-cookie, T3-rtx, T2-shutdown,
// T5-shutdown-guard, delayed SACK, HEARTBEAT), bundles control chunks, SACK, FORWARD TSN and DATA
// into packets of the path MTU, and drives the data-transfer pieces: SendTracker (what is
// outstanding), ReceiveTracker (what arrived, SACK content, reassembly), CongestionControl and
// RtoEstimator. Unexpected INIT and COOKIE ECHO follow §5.2 (collision, peer restart), error
// counters §8.1-§8.3, shutdown §9.2, PR-SCTP RFC 3758.
//
// The endpoint (endpoint.ts) owns the lower layer, demultiplexes packets to associations and
// answers out-of-the-blue packets; an association only ever sees packets the endpoint matched to it.

import { EventEmitter } from 'node:events';
import {
  type AbortChunk,
  type Chunk,
  type CookieEchoChunk,
  type ErrorChunk,
  type ForwardTsnChunk,
  type InitAckChunk,
  type InitChunk,
  type SackChunk,
  ChunkType,
  DATA_HEADER_LENGTH,
  DataFlags,
  T_BIT,
  paddedChunkLength,
  writeChunk,
  writeDataChunk,
} from './chunk.js';
import { CongestionControl } from './congestion.js';
import { type StateCookie, openCookie } from './cookie.js';
import { type ErrorCause, CauseCode } from './error-cause.js';
import { initProblem, makeInit, makeInitAck, peerSupportsForwardTsn, stateCookieOf } from './handshake.js';
import type { LinkClock } from './lossy-link.js';
import type { Remote } from './lower-layer.js';
import { type Parameter, ParameterType } from './parameter.js';
import { COMMON_HEADER_LENGTH, type PacketReader, finishPacket, newDataChunk, writeCommonHeader } from './packet.js';
import { DataResult, ReceiveTracker } from './receive-tracker.js';
import { RtoEstimator } from './rto.js';
import { SctpError, type SctpErrorCode } from './sctp-error.js';
import { SendTracker } from './send-tracker.js';
import { ssnAdd, tsnAdd, tsnLte } from './serial.js';
import { Timer } from './timer.js';
import { u16, u32 } from './wire.js';

/** RFC 9260 §4 state names. */
export const State = {
  CLOSED: 'CLOSED',
  COOKIE_WAIT: 'COOKIE-WAIT',
  COOKIE_ECHOED: 'COOKIE-ECHOED',
  ESTABLISHED: 'ESTABLISHED',
  SHUTDOWN_PENDING: 'SHUTDOWN-PENDING',
  SHUTDOWN_SENT: 'SHUTDOWN-SENT',
  SHUTDOWN_RECEIVED: 'SHUTDOWN-RECEIVED',
  SHUTDOWN_ACK_SENT: 'SHUTDOWN-ACK-SENT',
} as const;
export type State = (typeof State)[keyof typeof State];

export interface SendOptions {
  /** Stream Identifier, < outboundStreams. */
  stream: number;
  /** Ordered delivery (U bit clear); default true. */
  ordered?: boolean;
  /** Payload Protocol Identifier; default 0. */
  ppid?: number;
  /** PR-SCTP timed reliability (RFC 3758): ms after send() when the message is abandoned; 0/undefined = fully reliable. */
  ttl?: number;
}

export type DownReason = 'shutdown' | 'abort' | 'comm-lost' | 'closed';

export interface MessageInfo {
  stream: number;
  ppid: number;
  ordered: boolean;
}

export interface AssociationStats {
  state: string;
  cwnd: number;
  ssthresh: number;
  flightSize: number;
  peerRwnd: number;
  /** ms; NaN before any measurement. */
  srtt: number;
  rto: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  retransmissions: number;
  fastRetransmits: number;
  t3Expiries: number;
  abandonedMessages: number;
  bufferedAmount: number;
  /** Additions: the association error counter (§8.1), heartbeats sent and acknowledged, SACKs sent. */
  errorCount: number;
  heartbeatsSent: number;
  heartbeatAcks: number;
  sacksSent: number;
  /** Messages sent to a peer that then restarted, never acknowledged: lost with it. */
  lostAtRestart: number;
  /** Messages received while nobody listened for 'message', beyond what is held for a first listener (a_rwnd octets): discarded. */
  messagesUnheard: number;
}

/** The endpoint's settings, resolved (defaults applied). */
export interface AssociationConfig {
  clock: LinkClock;
  secret: Uint8Array;
  cookieLifetime: number;
  rtoInitial: number;
  rtoMin: number;
  rtoMax: number;
  maxInitRetransmits: number;
  associationMaxRetrans: number;
  pathMaxRetrans: number;
  heartbeatInterval: number;
  delayedAckTime: number;
  receiveWindow: number;
  /** Largest SCTP packet sent (common header and chunks). */
  mtu: number;
  /** send() returns false while more than this many octets wait to be sent. */
  sendHighWaterMark: number;
  /** Take part in PR-SCTP (RFC 3758): advertise Forward-TSN-Supported, accept FORWARD TSN. */
  forwardTsn: boolean;
}

/** What an association needs from its endpoint. */
export interface AssociationHost {
  readonly config: AssociationConfig;
  /** A packet buffer of config.mtu octets, shared: the lower layer copies on send. */
  readonly packetBuffer: Uint8Array;
  send(packet: Uint8Array, length: number, remote: Remote): void;
  /** A random nonzero 32-bit value (tags, TSNs, nonces). */
  random32(): number;
  /** The association's local tag changed (restart) or it closed: update the demultiplexing tables. */
  retag(a: SctpAssociation, oldTag: number): void;
  closed(a: SctpAssociation): void;
  /** A packet matched to the association but refused (e.g. wrong verification tag). */
  drop(reason: string): void;
}

/** One user message waiting to be sent, or being sent fragment by fragment. */
class PendingMessage {
  /** Octets of `data` already handed to DATA chunks. */
  offset = 0;
  ssn = 0;
  /** The TSN of its last fragment, once wholly handed to DATA chunks. */
  lastTsn = 0;
  constructor(
    readonly id: number,
    readonly data: Uint8Array,
    readonly stream: number,
    readonly unordered: boolean,
    readonly ppid: number,
    readonly abandonAt: number,
  ) {}
}

const EMPTY_GAPS: never[] = [];
const EMPTY_PAYLOAD = new Uint8Array(0);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A readable summary of error causes, for 'down' details. */
function describeCauses(causes: readonly ErrorCause[]): string {
  return causes
    .map((c) => {
      switch (c.code) {
        case CauseCode.USER_INITIATED_ABORT:
          return `user abort: ${textDecoder.decode(c.reason)}`;
        case CauseCode.PROTOCOL_VIOLATION:
          return `protocol violation: ${textDecoder.decode(c.info)}`;
        case CauseCode.STALE_COOKIE:
          return `stale cookie (${c.staleness} µs)`;
        case 'unknown':
          return `cause ${c.causeCode}`;
        default:
          return `cause ${c.code}`;
      }
    })
    .join('; ');
}

export interface SctpAssociation {
  on(event: 'message', cb: (data: Uint8Array, info: MessageInfo) => void): this;
  on(event: 'drain', cb: () => void): this;
  /** `lost`: messages in flight to the peer before it restarted, never acknowledged (an addition to the contract). */
  on(event: 'restart', cb: (lost: number) => void): this;
  on(event: 'abandoned', cb: (count: number) => void): this;
  on(event: 'down', cb: (reason: DownReason, detail?: string) => void): this;
  on(event: 'up', cb: () => void): this;
  once(event: 'message', cb: (data: Uint8Array, info: MessageInfo) => void): this;
  once(event: 'drain', cb: () => void): this;
  once(event: 'restart', cb: (lost: number) => void): this;
  once(event: 'abandoned', cb: (count: number) => void): this;
  once(event: 'down', cb: (reason: DownReason, detail?: string) => void): this;
  once(event: 'up', cb: () => void): this;
}

export class SctpAssociation extends EventEmitter {
  state: State = State.CLOSED;
  /** Our Verification Tag: what the peer puts in every packet it sends us. */
  localTag = 0;
  /** The peer's Verification Tag: what we put in every packet we send. */
  peerTag = 0;
  /** Nonces for restart detection (§5.2.2): echoed back in a restarting peer's cookie. */
  localTieTag = 0;
  peerTieTag = 0;
  outboundStreams = 0;
  inboundStreams = 0;
  /** The peer takes FORWARD TSN (RFC 3758). */
  peerForwardTsn = false;

  private readonly cfg: AssociationConfig;
  private readonly clock: LinkClock;
  private tx: SendTracker | null = null;
  private rx: ReceiveTracker | null = null;
  private cc: CongestionControl;
  private rto: RtoEstimator;
  private localInitialTsn = 0;
  /** What the user asked for at connect (client) or the listener's settings (server). */
  private readonly wantOutbound: number;
  private readonly wantInbound: number;

  // sending
  private queue: PendingMessage[] = [];
  private qHead = 0;
  /** Messages wholly sent whose last TSN the peer's Cumulative TSN Ack has not yet covered, in send order. */
  private unacked: PendingMessage[] = [];
  private unackedHead = 0;
  private nextSsn = new Uint16Array(0);
  private nextMessageId = 1;
  private buffered = 0;
  private aboveHighWater = false;
  /** Control chunks to bundle at the front of the next packet (COOKIE ECHO / COOKIE ACK first). */
  private ctl: Chunk[] = [];
  private sackNow = false;
  private forwardTsnOwed = false;
  /** A fast retransmission is due: one packet goes out whatever cwnd says (§7.2.4 3). */
  private forceOne = false;
  /** DATA came in SHUTDOWN-SENT: SHUTDOWN goes again after this packet. */
  private shutdownAgain = false;
  private readonly sackChunk: SackChunk = ReceiveTracker.newSack();
  private readonly rxSack: SackChunk = ReceiveTracker.newSack();
  private readonly ftsnChunk: ForwardTsnChunk = SendTracker.newForwardTsn();
  private readonly abandonedIds: number[] = [];
  private unsentAbandoned = 0;
  private readonly maxFragment: number;
  /** Octets the receiver holds at most (fragments, ordered messages waiting) before it gives up. */
  private readonly maxHeld: number;

  // receiving
  private readonly dataScratch = newDataChunk();
  private errorCauses: ErrorCause[] = [];

  // timers
  private readonly t1: Timer;
  private readonly t2: Timer;
  private readonly t3: Timer;
  private readonly t5: Timer;
  private readonly sackTimer: Timer;
  private readonly hbTimer: Timer;
  private readonly flushTimer: Timer;
  private initChunk: InitChunk | null = null;
  private cookieEcho: CookieEchoChunk | null = null;
  private initRetransmits = 0;
  /** Association error counter (§8.1) and the one path's (§8.2); with one path they move together. */
  private errorCount = 0;
  private heartbeatOutstanding = false;
  private heartbeatNonce = 0;

  // results
  private connectSettle: { resolve: (a: SctpAssociation) => void; reject: (e: Error) => void } | null = null;
  private shutdownWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private wasUp = false;
  private readonly counters = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    packetsSent: 0,
    packetsReceived: 0,
    heartbeatsSent: 0,
    heartbeatAcks: 0,
    sacksSent: 0,
    lostAtRestart: 0,
    messagesUnheard: 0,
  };

  /** @internal Use SctpEndpoint.connect / listen. */
  constructor(
    private readonly host: AssociationHost,
    /** The peer's address and (UDP encapsulation) port; the port follows the peer (RFC 6951 §5.4). */
    readonly remote: Remote,
    readonly localPort: number,
    readonly remotePort: number,
    wantOutbound: number,
    wantInbound: number,
  ) {
    super();
    this.cfg = host.config;
    this.clock = this.cfg.clock;
    this.wantOutbound = wantOutbound;
    this.wantInbound = wantInbound;
    this.maxFragment = this.cfg.mtu - COMMON_HEADER_LENGTH - DATA_HEADER_LENGTH;
    this.maxHeld = Math.max(4 * this.cfg.receiveWindow, 1 << 20);
    this.rto = this.newRto();
    this.cc = new CongestionControl({ mtu: this.maxFragment, initialSsthresh: this.cfg.receiveWindow });
    this.t1 = new Timer(this.clock, () => this.onT1());
    this.t2 = new Timer(this.clock, () => this.onT2());
    this.t3 = new Timer(this.clock, () => this.onT3());
    this.t5 = new Timer(this.clock, () => this.onT5());
    this.sackTimer = new Timer(this.clock, () => this.onSackTimer());
    this.hbTimer = new Timer(this.clock, () => this.onHeartbeatTimer());
    this.flushTimer = new Timer(this.clock, () => this.transmit());
  }

  // ------------------------------------------------------------------ public API

  /** Octets queued by send() and not yet sent. */
  get bufferedAmount(): number {
    return this.buffered;
  }

  /**
   * Queue one message (fragmented as needed). Returns false when more than the high-water mark
   * waits to be sent (the message is queued all the same; wait for 'drain').
   */
  send(message: Uint8Array, opts: SendOptions): boolean {
    if (this.state !== State.ESTABLISHED) throw new SctpError('closed', `SCTP association is ${this.state}, not ESTABLISHED: cannot send`);
    const stream = opts.stream;
    if (!(Number.isInteger(stream) && stream >= 0 && stream < this.outboundStreams))
      throw new RangeError(`SCTP stream ${stream} is not below the ${this.outboundStreams} outbound streams negotiated`);
    if (message.length === 0) throw new RangeError('SCTP cannot send an empty message (DATA without user data is a protocol error)');
    const ttl = opts.ttl ?? 0;
    const abandonAt = ttl > 0 ? this.clock.now() + ttl : Infinity;
    this.queue.push(new PendingMessage(this.nextMessageId++, message, stream, opts.ordered === false, opts.ppid ?? 0, abandonAt));
    this.buffered += message.length;
    this.flushTimer.ensure(0); // bundle what the caller sends in this turn; never re-enter it
    if (this.buffered > this.cfg.sendHighWaterMark) {
      this.aboveHighWater = true;
      return false;
    }
    return true;
  }

  /**
   * After the association went down: the messages the peer did not acknowledge, in the order they were
   * sent, as the buffers given to send(). A message counts as acknowledged once the Cumulative TSN Ack
   * covers its last fragment (a gap-acknowledged chunk may still be reneged, §6.2.1: not counted); those
   * sent but not covered come first, then those still queued (half sent or not at all). Messages
   * PR-SCTP abandoned are not returned ('abandoned' reported them); nor is data in flight when the peer
   * restarted ('restart' counted it). Empties the association: a second call returns [].
   */
  takeUnacknowledged(): Uint8Array[] {
    if (this.state !== State.CLOSED) throw new SctpError('closed', `SCTP association is ${this.state}: takeUnacknowledged() is for an association that is down`);
    const out: Uint8Array[] = [];
    const tx = this.tx;
    const abandoned = new Set<number>();
    if (tx) {
      for (let t = tsnAdd(tx.cumulativeTsnAck, 1); t !== tx.nextTsn; t = tsnAdd(t, 1)) {
        const c = tx.get(t);
        if (c && c.abandoned) abandoned.add(c.messageId);
      }
    }
    for (let i = this.unackedHead; i < this.unacked.length; i++) {
      const p = this.unacked[i]!;
      if (tx && tsnLte(p.lastTsn, tx.cumulativeTsnAck)) continue;
      if (!abandoned.has(p.id)) out.push(p.data);
    }
    for (let i = this.qHead; i < this.queue.length; i++) {
      const p = this.queue[i]!;
      if (!abandoned.has(p.id)) out.push(p.data);
    }
    this.unacked = [];
    this.unackedHead = 0;
    this.queue = [];
    this.qHead = 0;
    this.buffered = 0;
    return out;
  }

  /** Graceful shutdown (§9.2): queued and outstanding data is delivered first; resolves once closed. */
  shutdown(): Promise<void> {
    if (this.state === State.CLOSED) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.shutdownWaiters.push({ resolve, reject }));
    if (this.state === State.COOKIE_WAIT || this.state === State.COOKIE_ECHOED) {
      this.abort('shutdown before the association was up');
    } else if (this.state === State.ESTABLISHED) {
      this.state = State.SHUTDOWN_PENDING;
      this.flushTimer.ensure(0);
    }
    return p;
  }

  /** ABORT the association (§9.1) with a User-Initiated Abort cause carrying `reason`. */
  abort(reason = ''): void {
    if (this.state === State.CLOSED) return;
    if (this.peerTag !== 0) {
      const causes: ErrorCause[] = [{ code: CauseCode.USER_INITIATED_ABORT, reason: textEncoder.encode(reason).subarray(0, 512) }];
      this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes }, this.peerTag);
    }
    this.close('abort', reason ? `aborted locally: ${reason}` : 'aborted locally');
  }

  stats(): AssociationStats {
    const tx = this.tx;
    const c = this.counters;
    return {
      state: this.state,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      flightSize: tx ? tx.flightSize : 0,
      peerRwnd: tx ? tx.peerRwnd : 0,
      srtt: this.rto.srtt,
      rto: this.rto.rto,
      messagesSent: c.messagesSent,
      messagesReceived: c.messagesReceived,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      packetsSent: c.packetsSent,
      packetsReceived: c.packetsReceived,
      retransmissions: tx ? tx.stats.retransmitted : 0,
      fastRetransmits: tx ? tx.stats.fastRetransmits : 0,
      t3Expiries: tx ? tx.stats.t3Expiries : 0,
      abandonedMessages: (tx ? tx.stats.abandonedMessages : 0) + this.unsentAbandoned,
      bufferedAmount: this.buffered,
      errorCount: this.errorCount,
      heartbeatsSent: c.heartbeatsSent,
      heartbeatAcks: c.heartbeatAcks,
      sacksSent: c.sacksSent,
      lostAtRestart: c.lostAtRestart,
      messagesUnheard: c.messagesUnheard,
    };
  }

  // ------------------------------------------------------------------ setup (called by the endpoint)

  /** @internal Client: send INIT, enter COOKIE-WAIT; settles when the association is up or fails. */
  start(): Promise<SctpAssociation> {
    this.localTag = this.host.random32();
    this.unacked = []; // went to the old peer: counted as lost above, never returned by takeUnacknowledged
    this.unackedHead = 0;
    this.localTieTag = this.host.random32();
    this.peerTieTag = this.host.random32();
    this.localInitialTsn = this.host.random32();
    this.state = State.COOKIE_WAIT;
    this.initChunk = makeInit(this.localTag, this.cfg.receiveWindow, this.wantOutbound, this.wantInbound, this.localInitialTsn, this.cfg.forwardTsn);
    const p = new Promise<SctpAssociation>((resolve, reject) => (this.connectSettle = { resolve, reject }));
    this.sendAlone(this.initChunk, 0);
    this.t1.start(this.rto.rto);
    return p;
  }

  /** @internal Server: the association a valid COOKIE ECHO creates (§5.1.5 step 4), ESTABLISHED, COOKIE ACK queued. */
  accept(cookie: StateCookie): void {
    this.localTieTag = this.host.random32();
    this.peerTieTag = this.host.random32();
    this.establishFromCookie(cookie);
    this.ctl.push({ type: ChunkType.COOKIE_ACK });
    this.up();
  }

  // ------------------------------------------------------------------ receiving

  /** @internal A packet the endpoint matched to this association; the reader is open, no chunk read yet. */
  handlePacket(r: PacketReader, remote: Remote): void {
    if (!r.next()) return;
    const type = r.chunkType;
    const tag = r.verificationTag;
    // §8.5, §8.5.1: the verification tag each kind of packet must carry
    let tagOk: boolean;
    if (type === ChunkType.INIT) tagOk = tag === 0 && r.chunkCount === 1;
    else if (type === ChunkType.COOKIE_ECHO) tagOk = true; // checked against the cookie's own tag
    else if (type === ChunkType.ABORT || type === ChunkType.SHUTDOWN_COMPLETE) tagOk = (r.chunkFlags & T_BIT) !== 0 ? tag === this.peerTag && this.peerTag !== 0 : tag === this.localTag;
    else tagOk = tag === this.localTag;
    if (!tagOk) {
      this.host.drop('bad-verification-tag');
      return;
    }
    if (type !== ChunkType.INIT && type !== ChunkType.COOKIE_ECHO && remote.udpPort !== this.remote.udpPort) this.remote.udpPort = remote.udpPort; // RFC 6951 §5.4
    this.counters.packetsReceived++;
    do {
      if (!this.chunk(r)) break;
    } while (r.next());
    this.afterPacket();
  }

  /**
   * @internal Continue a packet after its first chunk, a COOKIE ECHO the endpoint turned into this
   * association (DATA may be bundled with it).
   */
  continuePacket(r: PacketReader): void {
    this.counters.packetsReceived++;
    while (r.next()) if (!this.chunk(r)) break;
    this.afterPacket();
  }

  /** One chunk; false to stop reading the packet. */
  private chunk(r: PacketReader): boolean {
    if (this.state === State.CLOSED) return false;
    const type = r.chunkType;
    if (type === ChunkType.DATA) return this.onData(r);
    if (type === ChunkType.SACK) {
      const sack = this.readSack(r);
      if (sack === null) {
        this.host.drop('bad-chunk-length');
        return false;
      }
      this.onSack(sack);
      return true;
    }
    const d = r.decodeChunk();
    if (!d.ok) {
      this.host.drop(d.error.code);
      return false;
    }
    const c = d.value;
    switch (c.type) {
      case ChunkType.SACK:
        this.onSack(c);
        return true;
      case ChunkType.INIT:
        this.onInit(c);
        return false;
      case ChunkType.INIT_ACK:
        this.onInitAck(c, r.chunkCount);
        return false;
      case ChunkType.COOKIE_ECHO:
        return this.onCookieEcho(c, r.verificationTag);
      case ChunkType.COOKIE_ACK:
        if (this.state === State.COOKIE_ECHOED) {
          this.t1.stop();
          this.cookieEcho = null;
          this.up();
        }
        return true;
      case ChunkType.HEARTBEAT:
        if (this.peerTag !== 0) this.ctl.push({ type: ChunkType.HEARTBEAT_ACK, info: c.info.slice() });
        return true;
      case ChunkType.HEARTBEAT_ACK:
        this.onHeartbeatAck(c.info);
        return true;
      case ChunkType.ABORT:
        this.onAbort(c);
        return false;
      case ChunkType.SHUTDOWN:
        this.onShutdown(c.cumulativeTsnAck);
        return true;
      case ChunkType.SHUTDOWN_ACK:
        this.onShutdownAck();
        return false;
      case ChunkType.SHUTDOWN_COMPLETE:
        if (this.state === State.SHUTDOWN_ACK_SENT) this.close('shutdown', 'SHUTDOWN COMPLETE received');
        return false;
      case ChunkType.ERROR:
        this.onError(c);
        return true;
      case ChunkType.FORWARD_TSN:
        if (!this.cfg.forwardTsn) {
          // not negotiated: an unknown chunk to us, whose type (11xxxxxx) says skip and report
          if (this.peerTag !== 0) this.ctl.push({ type: ChunkType.ERROR, causes: [{ code: CauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk: r.chunkBytes().slice() }] });
          return true;
        }
        if (this.rx && this.isDataState()) this.rx.forwardTsn(c.newCumulativeTsn, c.streams);
        return true;
      case 'unknown': {
        // §3.2: the two high bits of the type say whether to go on and whether to report
        const report = c.action === 'stop-and-report' || c.action === 'skip-and-report';
        if (report && this.peerTag !== 0) this.ctl.push({ type: ChunkType.ERROR, causes: [{ code: CauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk: r.chunkBytes().slice() }] });
        return c.action === 'skip' || c.action === 'skip-and-report';
      }
      default:
        return true;
    }
  }

  /** A received SACK into a reused object (one arrives every other packet: no allocation). Null when its counts and length disagree. */
  private readSack(r: PacketReader): SackChunk | null {
    const b = r.buf;
    const o = r.chunkOffset;
    const len = r.chunkLength;
    if (len < 16) return null;
    const gaps = u16(b, o + 12);
    const dups = u16(b, o + 14);
    if (len !== 16 + 4 * gaps + 4 * dups) return null;
    const s = this.rxSack;
    s.cumulativeTsnAck = u32(b, o + 4);
    s.aRwnd = u32(b, o + 8);
    const blocks = s.gapAckBlocks;
    for (let i = 0, p = o + 16; i < gaps; i++, p += 4) {
      const g = blocks[i] ?? (blocks[i] = { start: 0, end: 0 });
      g.start = u16(b, p);
      g.end = u16(b, p + 2);
    }
    blocks.length = gaps;
    s.duplicateTsns.length = 0; // not used by the sender
    return s;
  }

  private isDataState(): boolean {
    const s = this.state;
    return s === State.ESTABLISHED || s === State.SHUTDOWN_PENDING || s === State.SHUTDOWN_SENT || s === State.SHUTDOWN_RECEIVED;
  }

  private onData(r: PacketReader): boolean {
    const rx = this.rx;
    if (!rx || !this.isDataState()) return true;
    const d = this.dataScratch;
    const e = r.readData(d);
    if (e) {
      this.host.drop(e.code);
      return false;
    }
    if (d.userData.length === 0) {
      // §6.2: DATA without user data: ABORT with the No User Data cause
      this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes: [{ code: CauseCode.NO_USER_DATA, tsn: d.tsn }] }, this.peerTag);
      this.close('abort', `peer sent DATA TSN ${d.tsn} without user data`);
      return false;
    }
    const res = rx.receive(d.tsn, d.streamId, d.ssn, d.ppid, d.unordered, d.beginning, d.ending, d.immediate, d.userData);
    if (rx.reassembly.bufferedOctets > this.maxHeld) {
      // the next TSN in sequence is always taken (§6.2, so a message larger than the window cannot
      // deadlock): a peer that never ends its message would grow this without bound
      this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes: [{ code: CauseCode.OUT_OF_RESOURCE }] }, this.peerTag);
      this.close('abort', `peer's unfinished messages hold over ${this.maxHeld} octets`);
      return false;
    }
    if (res === DataResult.INVALID_STREAM) this.ctl.push({ type: ChunkType.ERROR, causes: [{ code: CauseCode.INVALID_STREAM_IDENTIFIER, streamId: d.streamId }] });
    else if (res === DataResult.NO_SPACE) this.sackNow = true; // §6.2: say at once what was taken
    if (this.state === State.SHUTDOWN_SENT) {
      // §9.2: each packet with DATA in SHUTDOWN-SENT is answered with SHUTDOWN (after the SACK), T2 restarted
      this.sackNow = true;
      this.shutdownAgain = true;
    }
    return this.state !== State.CLOSED; // delivery may have run user code that closed us
  }

  /** After all chunks of a packet: SACK now or arm the delayed SACK, then send what is due. */
  private afterPacket(): void {
    if (this.state === State.CLOSED) return;
    const rx = this.rx;
    if (rx) {
      const now = this.clock.now();
      rx.packetReceived(now);
      if (rx.shouldSackNow(now)) this.sackNow = true;
      else if (rx.sackPending) this.sackTimer.ensure(Math.max(0, rx.sackDeadline - now));
    }
    this.transmit();
    if (this.shutdownAgain) {
      this.shutdownAgain = false;
      if (this.state === State.SHUTDOWN_SENT) {
        this.sendShutdown();
        this.t2.start(this.rto.rto);
      }
    }
  }

  private readonly deliver = (message: Uint8Array, streamId: number, ppid: number, unordered: boolean): void => {
    this.counters.messagesReceived++;
    this.counters.bytesReceived += message.length;
    const info: MessageInfo = { stream: streamId, ppid, ordered: !unordered };
    // DATA can come with COOKIE ACK, before connect()'s caller had a turn to listen: keep it until someone does
    if (this.heldMessages !== null && this.listenerCount('message') === 0) {
      // bounded: a user that never listens (a sender only) must not make us keep everything
      if (this.heldOctets + message.length <= this.cfg.receiveWindow) {
        this.heldMessages.push(message, info);
        this.heldOctets += message.length;
      } else this.counters.messagesUnheard++;
    } else this.emit('message', message, info);
  };

  /** Messages that arrived before the first 'message' listener: (data, info) pairs; null once one listened. */
  private heldMessages: (Uint8Array | MessageInfo)[] | null = [];
  private heldOctets = 0;

  /** Adding the first 'message' listener hands it, at once and in order, what arrived before. */
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'message' && this.heldMessages !== null) {
      const held = this.heldMessages;
      this.heldMessages = null;
      for (let i = 0; i < held.length; i += 2) this.emit('message', held[i] as Uint8Array, held[i + 1] as MessageInfo);
    }
    return this;
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }

  private onSack(s: SackChunk): void {
    const tx = this.tx;
    if (!tx || !this.isDataState()) return;
    const now = this.clock.now();
    const o = tx.onSack(s.cumulativeTsnAck, s.aRwnd, s.gapAckBlocks, now, this.cc.inFastRecovery);
    if (o.stale || o.invalid) return;
    if (o.cumulativeAdvanced) this.forgetAcknowledged(tx.cumulativeTsnAck);
    if (o.rttSample >= 0) this.rto.measure(o.rttSample);
    this.cc.onSack(o.ackedBytes, o.cumulativeAdvanced, s.cumulativeTsnAck, o.flightSizeBefore, tx.flightSize);
    if (o.ackedBytes > 0 || o.cumulativeAdvanced) this.errorCount = 0; // §8.3: the peer is alive
    if (o.fastRetransmits > 0) {
      this.cc.onFastRetransmit(tx.highestTsnSent);
      this.forceOne = true;
    }
    this.abandonExpired(now);
    if (this.peerForwardTsn && tx.forwardTsnNeeded) this.forwardTsnOwed = true; // RFC 3758 §3.5 C4
    // §6.3.2 R2, R3
    if (tx.outstanding === 0) this.t3.stop();
    else if (o.cumulativeAdvanced) this.t3.start(this.rto.rto);
  }

  private onHeartbeatAck(info: Uint8Array): void {
    if (info.length !== 12) return;
    const v = new DataView(info.buffer, info.byteOffset, 12);
    if (v.getUint32(8) !== this.heartbeatNonce || !this.heartbeatOutstanding) return;
    this.heartbeatOutstanding = false;
    this.counters.heartbeatAcks++;
    this.errorCount = 0;
    this.rto.measure(this.clock.now() - v.getFloat64(0));
  }

  private onAbort(c: AbortChunk): void {
    const detail = describeCauses(c.causes);
    if (this.state === State.COOKIE_WAIT || this.state === State.COOKIE_ECHOED) this.close('abort', `peer refused the association${detail ? `: ${detail}` : ''}`, 'aborted');
    else this.close('abort', `ABORT received${detail ? `: ${detail}` : ''}`);
  }

  private onError(c: ErrorChunk): void {
    for (const cause of c.causes) {
      if (cause.code === CauseCode.STALE_COOKIE && this.state === State.COOKIE_ECHOED) {
        // §5.2.6: start over with a new INIT (counted against Max.Init.Retransmits) asking, with a
        // Cookie Preservative, for the staleness (µs) again as extra lifetime
        this.t1.stop();
        this.cookieEcho = null;
        this.state = State.COOKIE_WAIT;
        if (!this.initChunk) return;
        const increment = Math.min(0xffffffff, Math.ceil((2 * cause.staleness) / 1000));
        const params: Parameter[] = this.initChunk.params.filter((x) => x.type !== ParameterType.COOKIE_PRESERVATIVE);
        params.push({ type: ParameterType.COOKIE_PRESERVATIVE, lifeSpanIncrement: increment });
        this.initChunk = { ...this.initChunk, params };
        if (++this.initRetransmits > this.cfg.maxInitRetransmits) {
          this.close('comm-lost', 'state cookie stale on every try', 'init-failed');
          return;
        }
        this.sendAlone(this.initChunk, 0);
        this.t1.start(this.rto.rto);
        return;
      }
    }
  }

  // ------------------------------------------------------------------ handshake

  private onInitAck(c: InitAckChunk, chunkCount: number): void {
    if (this.state !== State.COOKIE_WAIT || chunkCount !== 1) return; // §5.2.3: otherwise discard
    const cookie = stateCookieOf(c);
    if (c.initiateTag === 0 || c.outboundStreams === 0 || c.inboundStreams === 0 || !cookie) {
      const causes: ErrorCause[] = cookie ? [{ code: CauseCode.INVALID_MANDATORY_PARAMETER }] : [{ code: CauseCode.MISSING_MANDATORY_PARAMETER, missingParameterTypes: [7] }];
      if (c.initiateTag !== 0) this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes }, c.initiateTag);
      this.close('abort', 'invalid INIT ACK', 'init-failed');
      return;
    }
    this.t1.stop();
    this.peerTag = c.initiateTag;
    this.setupData(
      c.initialTsn,
      c.aRwnd,
      Math.min(this.wantOutbound, c.inboundStreams),
      Math.min(c.outboundStreams, this.wantInbound),
      this.cfg.forwardTsn && peerSupportsForwardTsn(c),
    );
    this.cookieEcho = { type: ChunkType.COOKIE_ECHO, cookie: cookie.slice() };
    this.state = State.COOKIE_ECHOED;
    this.initRetransmits = 0;
    this.ctl.push(this.cookieEcho);
    this.t1.start(this.rto.rto);
  }

  /** §5.2.1, §5.2.2: an INIT for an association that exists. */
  private onInit(c: InitChunk): void {
    if (initProblem(c)) return; // the endpoint answers bad INITs for new associations; here just ignore
    const s = this.state;
    if (s === State.SHUTDOWN_ACK_SENT) {
      // §9.2: go on with the shutdown
      this.sendAlone({ type: ChunkType.SHUTDOWN_ACK }, this.peerTag);
      return;
    }
    const collision = s === State.COOKIE_WAIT || s === State.COOKIE_ECHOED;
    // collision: answer with our own INIT's tag and TSN; restart: a new tag, tie-tags of this association
    const ack = makeInitAck(c, {
      localTag: collision ? this.localTag : this.host.random32(),
      localInitialTsn: collision ? this.localInitialTsn : this.host.random32(),
      aRwnd: this.cfg.receiveWindow,
      outboundStreams: this.wantOutbound,
      maxInboundStreams: this.wantInbound,
      localPort: this.localPort,
      remotePort: this.remotePort,
      localTieTag: s === State.COOKIE_WAIT ? 0 : this.localTieTag,
      peerTieTag: s === State.COOKIE_WAIT ? 0 : this.peerTieTag,
      now: this.clock.now(),
      cookieLifetime: this.cfg.cookieLifetime,
      secret: this.cfg.secret,
      forwardTsn: this.cfg.forwardTsn,
    });
    this.sendAlone(ack, c.initiateTag);
  }

  /** §5.2.4 (COOKIE ECHO for an existing association) and §5.1.5. */
  private onCookieEcho(c: CookieEchoChunk, tag: number): boolean {
    const check = openCookie(c.cookie, this.cfg.secret, this.clock.now());
    if (!check.ok) {
      if (check.reason === 'stale-cookie' && check.cookie.localTag === tag) {
        this.sendAlone({ type: ChunkType.ERROR, causes: [{ code: CauseCode.STALE_COOKIE, staleness: check.stalenessUs }] }, check.cookie.peerTag);
      }
      this.host.drop(check.reason);
      return false;
    }
    const k = check.cookie;
    if (tag !== k.localTag || k.localPort !== this.localPort || k.remotePort !== this.remotePort) {
      this.host.drop('bad-verification-tag');
      return false;
    }
    const localMatch = k.localTag === this.localTag;
    const peerMatch = k.peerTag === this.peerTag;
    if (!localMatch && !peerMatch && k.localTieTag === this.localTieTag && k.peerTieTag === this.peerTieTag && k.localTieTag !== 0) {
      // (A) the peer restarted
      if (this.state === State.SHUTDOWN_ACK_SENT) {
        this.sendAlone({ type: ChunkType.SHUTDOWN_ACK }, k.peerTag);
        this.sendAlone({ type: ChunkType.ERROR, causes: [{ code: CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN }] }, k.peerTag);
        return false;
      }
      this.restart(k);
      return true;
    }
    if (localMatch && !peerMatch) {
      // (B) INIT collision: the peer's tags are the ones in the cookie
      if (this.state === State.COOKIE_WAIT || this.state === State.COOKIE_ECHOED) {
        this.t1.stop();
        this.cookieEcho = null;
        this.ctl.length = 0;
        this.establishFromCookie(k);
        this.ctl.push({ type: ChunkType.COOKIE_ACK });
        this.up();
      } else {
        this.peerTag = k.peerTag;
        this.ctl.push({ type: ChunkType.COOKIE_ACK });
      }
      return true;
    }
    if (!localMatch && peerMatch && k.localTieTag === 0 && k.peerTieTag === 0) return false; // (C) a late cookie: discard
    if (localMatch && peerMatch) {
      // (D) a duplicate (our COOKIE ACK was lost), or the collision's second cookie
      if (this.state === State.COOKIE_ECHOED) {
        this.t1.stop();
        this.cookieEcho = null;
        this.ctl.length = 0;
        this.up();
      }
      this.ctl.unshift({ type: ChunkType.COOKIE_ACK });
      return true;
    }
    this.host.drop('cookie-mismatch');
    return false;
  }

  /** §5.2.4 action A: the peer restarted; start over with its new tags and TSNs. */
  private restart(k: StateCookie): void {
    const oldTag = this.localTag;
    this.t3.stop();
    this.t2.stop();
    this.t5.stop();
    this.sackTimer.stop();
    // data in flight went to the old peer: gone (counted). Messages not wholly sent start again from their start.
    let lost = 0;
    const tx = this.tx;
    if (tx) {
      let lastId = -1;
      for (let t = tsnAdd(tx.cumulativeTsnAck, 1); t !== tx.nextTsn; t = tsnAdd(t, 1)) {
        const c = tx.get(t);
        if (!c || c.abandoned || c.messageId === lastId) continue;
        lastId = c.messageId;
        lost++;
      }
    }
    const head = this.queue[this.qHead];
    if (head && head.offset > 0 && lost > 0 && tx && tx.get(tsnAdd(tx.nextTsn, -1))?.messageId === head.id) lost--; // resent whole
    if (head && head.offset > 0) {
      this.buffered += head.offset;
      head.offset = 0;
    }
    this.localTieTag = this.host.random32();
    this.peerTieTag = this.host.random32();
    this.ctl.length = 0;
    this.sackNow = false;
    this.forwardTsnOwed = false;
    this.errorCount = 0;
    this.rto = this.newRto();
    this.cc = new CongestionControl({ mtu: this.maxFragment, initialSsthresh: this.cfg.receiveWindow });
    this.establishFromCookie(k);
    if (this.localTag !== oldTag) this.host.retag(this, oldTag);
    this.state = State.ESTABLISHED;
    this.ctl.push({ type: ChunkType.COOKIE_ACK });
    this.counters.lostAtRestart += lost;
    this.emit('restart', lost);
    this.flushTimer.ensure(0);
  }

  private establishFromCookie(k: StateCookie): void {
    const oldTag = this.localTag;
    this.localTag = k.localTag;
    this.peerTag = k.peerTag;
    this.localInitialTsn = k.localInitialTsn;
    this.setupData(k.peerInitialTsn, k.peerRwnd, k.outboundStreams, k.inboundStreams, k.peerForwardTsn);
    if (oldTag !== 0 && oldTag !== this.localTag) this.host.retag(this, oldTag);
  }

  private setupData(peerInitialTsn: number, peerRwnd: number, outboundStreams: number, inboundStreams: number, peerForwardTsn: boolean): void {
    this.outboundStreams = outboundStreams;
    this.inboundStreams = inboundStreams;
    this.peerForwardTsn = peerForwardTsn;
    this.tx = new SendTracker({ initialTsn: this.localInitialTsn, peerRwnd });
    this.rx = new ReceiveTracker({ initialTsn: peerInitialTsn, inboundStreams, receiveWindow: this.cfg.receiveWindow, deliver: this.deliver, sackDelayMs: this.cfg.delayedAckTime });
    this.nextSsn = new Uint16Array(outboundStreams);
    this.cc.ssthresh = peerRwnd; // §7.2.1: initial ssthresh may be the peer's a_rwnd
  }

  /** COMMUNICATION UP. */
  private up(): void {
    this.state = State.ESTABLISHED;
    this.errorCount = 0;
    this.hbTimer.start(this.cfg.heartbeatInterval + this.rto.rto);
    if (this.wasUp) return;
    this.wasUp = true;
    const settle = this.connectSettle;
    this.connectSettle = null;
    settle?.resolve(this);
    this.emit('up');
  }

  // ------------------------------------------------------------------ shutdown

  private onShutdown(cumulativeTsnAck: number): void {
    const s = this.state;
    if (!this.isDataState() || !this.tx) return;
    // the cumulative ack it carries acknowledges like a SACK's (no gap blocks: only when it moves on)
    if (this.tx.outstanding > 0 && cumulativeTsnAck !== this.tx.cumulativeTsnAck) {
      this.onSack({ type: ChunkType.SACK, cumulativeTsnAck, aRwnd: this.tx.peerRwnd + this.tx.flightSize, gapAckBlocks: EMPTY_GAPS, duplicateTsns: [] });
    }
    if (s === State.SHUTDOWN_SENT) {
      // both sides shut down at once (§9.2): answer with SHUTDOWN ACK
      this.state = State.SHUTDOWN_ACK_SENT;
      this.t2.start(this.rto.rto);
      this.sendAlone({ type: ChunkType.SHUTDOWN_ACK }, this.peerTag);
      return;
    }
    if (s === State.ESTABLISHED || s === State.SHUTDOWN_PENDING) this.state = State.SHUTDOWN_RECEIVED;
    this.checkShutdown();
  }

  private onShutdownAck(): void {
    if (this.state === State.COOKIE_WAIT || this.state === State.COOKIE_ECHOED) {
      // §8.5.1 E: as out of the blue (§8.4 rule 5): SHUTDOWN COMPLETE, T bit, the packet's tag (ours)
      this.sendAlone({ type: ChunkType.SHUTDOWN_COMPLETE, tBit: true }, this.localTag);
      return;
    }
    if (this.state !== State.SHUTDOWN_SENT && this.state !== State.SHUTDOWN_ACK_SENT) return;
    this.sendAlone({ type: ChunkType.SHUTDOWN_COMPLETE, tBit: false }, this.peerTag);
    this.close('shutdown', 'SHUTDOWN ACK received');
  }

  /** Once nothing is left to send or acknowledge: SHUTDOWN (pending) or SHUTDOWN ACK (received). */
  private checkShutdown(): void {
    const tx = this.tx;
    if (!tx || this.qHead < this.queue.length || tx.outstanding > 0) return;
    if (this.state === State.SHUTDOWN_PENDING) {
      this.state = State.SHUTDOWN_SENT;
      this.sendShutdown();
      this.t2.start(this.rto.rto);
      this.t5.start(5 * this.cfg.rtoMax);
    } else if (this.state === State.SHUTDOWN_RECEIVED) {
      this.state = State.SHUTDOWN_ACK_SENT;
      this.sendAlone({ type: ChunkType.SHUTDOWN_ACK }, this.peerTag);
      this.t2.start(this.rto.rto);
    }
  }

  private sendShutdown(): void {
    this.sendAlone({ type: ChunkType.SHUTDOWN, cumulativeTsnAck: this.rx ? this.rx.cumulativeTsn : 0 }, this.peerTag);
  }

  // ------------------------------------------------------------------ timers

  /** T1-init / T1-cookie (§5.1.6 C, D): retransmit with backoff, up to Max.Init.Retransmits. */
  private onT1(): void {
    if (this.state !== State.COOKIE_WAIT && this.state !== State.COOKIE_ECHOED) return;
    if (++this.initRetransmits > this.cfg.maxInitRetransmits) {
      this.close('comm-lost', `no answer to ${this.state === State.COOKIE_WAIT ? 'INIT' : 'COOKIE ECHO'} after ${this.cfg.maxInitRetransmits} retransmissions`, 'init-failed');
      return;
    }
    this.rto.backoff();
    if (this.state === State.COOKIE_WAIT && this.initChunk) this.sendAlone(this.initChunk, 0);
    else if (this.cookieEcho) {
      this.ctl.unshift(this.cookieEcho);
      this.transmit();
    }
    this.t1.start(this.rto.rto);
  }

  /** T3-rtx (§6.3.3): back off, count an error, retransmit what fits in one packet. */
  private onT3(): void {
    const tx = this.tx;
    if (!tx || !this.isDataState()) return;
    const now = this.clock.now();
    this.abandonExpired(now);
    if (tx.outstanding === 0) return;
    tx.onT3Expired(); // E3
    this.cc.onT3Expired(); // E1
    this.rto.backoff(); // E2
    if (this.countError('T3-rtx expired')) return;
    if (this.peerForwardTsn && tx.forwardTsnNeeded) this.forwardTsnOwed = true;
    this.forceOne = true;
    this.transmit();
    if (tx.outstanding > 0) this.t3.ensure(this.rto.rto);
  }

  /** T2-shutdown (§9.2): resend SHUTDOWN or SHUTDOWN ACK. */
  private onT2(): void {
    if (this.state !== State.SHUTDOWN_SENT && this.state !== State.SHUTDOWN_ACK_SENT) return;
    this.rto.backoff();
    if (this.countError('T2-shutdown expired')) return;
    if (this.state === State.SHUTDOWN_SENT) this.sendShutdown();
    else this.sendAlone({ type: ChunkType.SHUTDOWN_ACK }, this.peerTag);
    this.t2.start(this.rto.rto);
  }

  /** T5-shutdown-guard (§9.2): the shutdown took too long; ABORT. */
  private onT5(): void {
    if (this.state === State.CLOSED) return;
    this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes: [] }, this.peerTag);
    this.close('abort', 'T5-shutdown-guard expired');
  }

  private onSackTimer(): void {
    if (this.rx?.sackPending) {
      this.sackNow = true;
      this.transmit();
    }
  }

  /**
   * HEARTBEAT (§8.3): every HB.interval + RTO while nothing is outstanding (T3-rtx watches the
   * peer otherwise); an unanswered heartbeat counts an error and doubles the RTO.
   */
  private onHeartbeatTimer(): void {
    if (!this.isDataState() || this.state === State.SHUTDOWN_SENT) return;
    if (this.tx && this.tx.outstanding > 0) {
      this.heartbeatOutstanding = false;
    } else {
      if (this.heartbeatOutstanding) {
        this.rto.backoff();
        if (this.countError('HEARTBEAT unanswered')) return;
      }
      const info = new Uint8Array(12);
      const v = new DataView(info.buffer);
      v.setFloat64(0, this.clock.now());
      this.heartbeatNonce = this.host.random32();
      v.setUint32(8, this.heartbeatNonce);
      this.heartbeatOutstanding = true;
      this.counters.heartbeatsSent++;
      this.ctl.push({ type: ChunkType.HEARTBEAT, info });
      this.transmit();
    }
    this.hbTimer.start(this.cfg.heartbeatInterval + this.rto.rto);
  }

  /**
   * §8.1, §8.2: one more consecutive failure to reach the peer. With one path the association and
   * path counters move together, so the peer counts as unreachable once either limit is passed
   * (§8.2 warns against Association.Max.Retrans above the paths' Path.Max.Retrans sum). Returns
   * whether the association is now down (COMM_LOST).
   */
  private countError(why: string): boolean {
    this.errorCount++;
    const limit = Math.min(this.cfg.associationMaxRetrans, this.cfg.pathMaxRetrans);
    if (this.errorCount > limit) {
      this.sendAlone({ type: ChunkType.ABORT, tBit: false, causes: [] }, this.peerTag);
      this.close('comm-lost', `${why}: ${this.errorCount} consecutive errors, above the limit of ${limit}`);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ sending

  /** PR-SCTP (RFC 3758 §3.5): give up messages past their lifetime, queued or outstanding. */
  private abandonExpired(now: number): void {
    let n = 0;
    const tx = this.tx;
    if (tx && this.peerForwardTsn) {
      const ids = tx.abandonExpired(now, this.abandonedIds);
      n += ids.length;
      // A message abandoned while half sent: its other fragments never go. They still take one TSN,
      // abandoned at once and never sent, so the Advanced.Peer.Ack.Point passes it and a FORWARD TSN
      // follows even when the fragments already sent get acknowledged: otherwise the receiver would
      // hold the message's first fragments and its SSN for ever.
      const head = this.queue[this.qHead];
      if (head && head.offset > 0 && ids.includes(head.id)) {
        this.buffered -= head.data.length - head.offset;
        this.qHead++;
        tx.send(head.stream, head.unordered ? 0 : head.ssn, head.ppid, DataFlags.ENDING | (head.unordered ? DataFlags.UNORDERED : 0), EMPTY_PAYLOAD, head.id, -Infinity, now);
        tx.stats.sent--; // never sent
        tx.abandonExpired(now, this.abandonedIds);
        tx.stats.abandonedMessages--; // the same message, counted already
      }
    }
    if (n > 0) {
      if (tx!.forwardTsnNeeded) this.forwardTsnOwed = true;
      this.emit('abandoned', n);
    }
  }

  /**
   * Send what is due, packet after packet: control chunks, SACK, FORWARD TSN, retransmissions, then
   * new DATA as cwnd and the peer's rwnd allow (§6.1). One packet goes out regardless of cwnd after
   * a T3-rtx expiry or fast retransmit.
   */
  private transmit(): void {
    if (this.state === State.CLOSED) return;
    this.flushTimer.stop();
    const tx = this.tx;
    const now = this.clock.now();
    const b = this.host.packetBuffer;
    const mtu = this.cfg.mtu;
    const dataState = this.state === State.ESTABLISHED || this.state === State.SHUTDOWN_PENDING || this.state === State.SHUTDOWN_RECEIVED;
    let unsentAbandoned = 0;
    if (tx) this.abandonExpired(now); // free unless a lifetime can have ended (earliestAbandonAt)
    for (;;) {
      let o = writeCommonHeader(b, 0, this.localPort, this.remotePort, this.peerTag);
      const start = o;
      let dataSent = false;
      let restartT3 = false;
      while (this.ctl.length > 0) {
        const size = paddedChunkLength(this.ctl[0]!);
        if (o + size <= mtu) o = writeChunk(b, o, this.ctl.shift()!);
        else if (start + size > mtu) {
          this.ctl.shift(); // can never fit (an echo of a huge HEARTBEAT or unknown chunk): not sent
          this.host.drop('control-chunk-too-big');
        } else break;
      }
      // a SACK that is owed but could wait rides along with DATA now rather than alone later
      if (!this.sackNow && this.rx && this.rx.sackPending && tx && dataState && (tx.retransmitPending > 0 || (this.qHead < this.queue.length && this.cc.window(tx.flightSize) > 0)))
        this.sackNow = true;
      if (this.sackNow && this.rx) {
        this.rx.sack(this.sackChunk);
        if (o + paddedChunkLength(this.sackChunk) <= mtu) {
          o = writeChunk(b, o, this.sackChunk);
          this.sackNow = false;
          this.sackTimer.stop();
          this.counters.sacksSent++;
        }
      }
      if (tx && dataState) {
        if (this.forwardTsnOwed && tx.forwardTsnNeeded) {
          tx.forwardTsn(this.ftsnChunk);
          if (o + paddedChunkLength(this.ftsnChunk) <= mtu) {
            o = writeChunk(b, o, this.ftsnChunk);
            this.forwardTsnOwed = false;
            this.t3.ensure(this.rto.rto); // resent on T3-rtx if lost (RFC 3758 §3.5 C4)
          }
        }
        let budget = this.forceOne ? Infinity : this.cc.window(tx.flightSize);
        // retransmissions first (§6.1), lowest TSN first
        for (let c = tx.nextRetransmission(); c !== null && budget > 0; c = tx.nextRetransmission()) {
          if (o + DATA_HEADER_LENGTH + c.size > mtu) break;
          o = writeDataChunk(b, o, c.flags, c.tsn, c.streamId, c.ssn, c.ppid, c.payload);
          if (c.tsn === tsnAdd(tx.cumulativeTsnAck, 1)) restartT3 = true; // §7.2.4 4: the first outstanding goes again
          tx.retransmitted(c, now);
          budget -= c.size;
          dataSent = true;
        }
        // new data, only once nothing waits for retransmission
        if (tx.retransmitPending === 0) {
          while (budget > 0 && this.qHead < this.queue.length) {
            const p = this.queue[this.qHead]!;
            if (p.offset === 0 && p.abandonAt <= now) {
              // PR-SCTP: expired before any of it went out
              this.qHead++;
              this.buffered -= p.data.length;
              unsentAbandoned++;
              continue;
            }
            const room = mtu - o - DATA_HEADER_LENGTH;
            const remaining = p.data.length - p.offset;
            let len: number;
            if (remaining <= room) len = remaining;
            else if (remaining > this.maxFragment && room >= 256) len = room & ~3; // it is fragmented anyway: fill the packet
            else break;
            // the peer's window (§6.1 A): one chunk may probe a zero window when nothing is in flight
            if (len > tx.peerRwnd && !(tx.flightSize === 0 && !dataSent)) break;
            if (p.offset === 0 && !p.unordered) {
              p.ssn = this.nextSsn[p.stream]!;
              this.nextSsn[p.stream] = ssnAdd(p.ssn, 1);
            }
            const flags = (p.offset === 0 ? DataFlags.BEGINNING : 0) | (p.offset + len === p.data.length ? DataFlags.ENDING : 0) | (p.unordered ? DataFlags.UNORDERED : 0);
            const payload = len === p.data.length ? p.data : p.data.subarray(p.offset, p.offset + len);
            const c = tx.send(p.stream, p.unordered ? 0 : p.ssn, p.ppid, flags, payload, p.id, this.peerForwardTsn ? p.abandonAt : Infinity, now);
            o = writeDataChunk(b, o, flags, c.tsn, c.streamId, c.ssn, c.ppid, payload);
            p.offset += len;
            this.buffered -= len;
            this.counters.bytesSent += len;
            budget -= len;
            dataSent = true;
            if (p.offset === p.data.length) {
              this.qHead++;
              p.lastTsn = c.tsn;
              this.unacked.push(p);
              this.counters.messagesSent++;
            }
          }
        }
      }
      if (o === start) break;
      finishPacket(b, 0, o);
      this.host.send(b, o, this.remote);
      this.counters.packetsSent++;
      this.forceOne = false;
      if (dataSent) {
        this.cc.sent(now);
        if (restartT3) this.t3.start(this.rto.rto);
        else this.t3.ensure(this.rto.rto); // §6.3.2 R1
      }
    }
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    if (unsentAbandoned > 0) {
      this.unsentAbandoned += unsentAbandoned;
      this.emit('abandoned', unsentAbandoned);
    }
    if (this.aboveHighWater && this.buffered <= this.cfg.sendHighWaterMark / 2) {
      this.aboveHighWater = false;
      this.emit('drain');
    }
    if (this.state === State.SHUTDOWN_PENDING || this.state === State.SHUTDOWN_RECEIVED) this.checkShutdown();
  }

  /** A packet with one chunk, now (INIT, ABORT, SHUTDOWN family, INIT ACK, ...). */
  private sendAlone(c: Chunk, verificationTag: number): void {
    const b = this.host.packetBuffer;
    let o = writeCommonHeader(b, 0, this.localPort, this.remotePort, verificationTag);
    o = writeChunk(b, o, c);
    finishPacket(b, 0, o);
    this.host.send(b, o, this.remote);
    this.counters.packetsSent++;
  }

  private newRto(): RtoEstimator {
    return new RtoEstimator({ initial: this.cfg.rtoInitial, min: this.cfg.rtoMin, max: this.cfg.rtoMax });
  }

  // ------------------------------------------------------------------ closing

  /** The Cumulative TSN Ack moved to `cum`: the messages wholly at or below it are delivered. */
  private forgetAcknowledged(cum: number): void {
    const u = this.unacked;
    while (this.unackedHead < u.length && tsnLte(u[this.unackedHead]!.lastTsn, cum)) u[this.unackedHead++] = undefined as unknown as PendingMessage;
    if (this.unackedHead === u.length) {
      u.length = 0;
      this.unackedHead = 0;
    } else if (this.unackedHead > 1024 && this.unackedHead * 2 > u.length) {
      this.unacked = u.slice(this.unackedHead);
      this.unackedHead = 0;
    }
  }

  /** @internal Go to CLOSED: stop every timer, leave the endpoint, tell the user. */
  close(reason: DownReason, detail: string, errorCode?: SctpErrorCode): void {
    if (this.state === State.CLOSED) return;
    this.state = State.CLOSED;
    for (const t of [this.t1, this.t2, this.t3, this.t5, this.sackTimer, this.hbTimer, this.flushTimer]) t.stop();
    this.host.closed(this);
    const settle = this.connectSettle;
    this.connectSettle = null;
    if (settle) settle.reject(new SctpError(errorCode ?? (reason === 'abort' ? 'aborted' : reason === 'comm-lost' ? 'comm-lost' : 'closed'), `SCTP association to ${this.remote.address} port ${this.remotePort}: ${detail}`));
    const waiters = this.shutdownWaiters;
    this.shutdownWaiters = [];
    for (const w of waiters) {
      if (reason === 'shutdown') w.resolve();
      else w.reject(new SctpError(reason === 'comm-lost' ? 'comm-lost' : reason === 'abort' ? 'aborted' : 'closed', `SCTP shutdown did not complete: ${detail}`));
    }
    if (this.wasUp) this.emit('down', reason, detail);
  }
}
