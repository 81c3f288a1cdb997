// The four-way handshake's chunks (RFC 9260 §5.1): INIT and INIT ACK built from an endpoint's
// settings, the stream counts negotiated (§5.1.1: each side's outbound streams are capped by the
// other's MIS), PR-SCTP support announced and detected (RFC 3758 §3.3), and an INIT checked for
// the values it must not carry (§3.3.2: zero Initiate Tag, zero OS or MIS).

import { type InitAckChunk, type InitChunk, ChunkType } from './chunk.js';
import { type StateCookie, makeCookie } from './cookie.js';
import { type Parameter, ParameterType } from './parameter.js';

/** The parameters we put in INIT and INIT ACK besides the cookie: PR-SCTP (RFC 3758 §3.3). */
function ourParameters(): Parameter[] {
  return [{ type: ParameterType.FORWARD_TSN_SUPPORTED }, { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [ChunkType.FORWARD_TSN] }];
}

export function makeInit(initiateTag: number, aRwnd: number, outboundStreams: number, maxInboundStreams: number, initialTsn: number): InitChunk {
  return { type: ChunkType.INIT, initiateTag, aRwnd, outboundStreams, inboundStreams: maxInboundStreams, initialTsn, params: ourParameters() };
}

/** Whether the peer's INIT or INIT ACK says it accepts FORWARD TSN. */
export function peerSupportsForwardTsn(c: InitChunk | InitAckChunk): boolean {
  for (const p of c.params) {
    if (p.type === ParameterType.FORWARD_TSN_SUPPORTED) return true;
    if (p.type === ParameterType.SUPPORTED_EXTENSIONS && p.chunkTypes.includes(ChunkType.FORWARD_TSN)) return true;
  }
  return false;
}

/** The State Cookie parameter of an INIT ACK, or null. */
export function stateCookieOf(c: InitAckChunk): Uint8Array | null {
  for (const p of c.params) if (p.type === ParameterType.STATE_COOKIE) return p.cookie;
  return null;
}

/** Why an INIT must be refused (§3.3.2), or null when it is acceptable. */
export function initProblem(c: InitChunk): string | null {
  if (c.initiateTag === 0) return 'Initiate Tag 0';
  if (c.outboundStreams === 0) return 'zero outbound streams';
  if (c.inboundStreams === 0) return 'zero inbound streams';
  return null;
}

export interface InitAckSettings {
  /** Our Initiate Tag (a new one, or the one of our own INIT in a collision, §5.2.1). */
  localTag: number;
  localInitialTsn: number;
  aRwnd: number;
  /** What we would like: our OS and MIS. */
  outboundStreams: number;
  maxInboundStreams: number;
  localPort: number;
  remotePort: number;
  localTieTag: number;
  peerTieTag: number;
  now: number;
  cookieLifetime: number;
  secret: Uint8Array;
}

/** The INIT ACK answering `init`, its State Cookie holding the association to be (§5.1.3). */
export function makeInitAck(init: InitChunk, s: InitAckSettings): InitAckChunk {
  const cookie: StateCookie = {
    created: s.now,
    lifetime: s.cookieLifetime,
    localTag: s.localTag,
    peerTag: init.initiateTag,
    localInitialTsn: s.localInitialTsn,
    peerInitialTsn: init.initialTsn,
    peerRwnd: init.aRwnd,
    outboundStreams: Math.min(s.outboundStreams, init.inboundStreams),
    inboundStreams: Math.min(init.outboundStreams, s.maxInboundStreams),
    localPort: s.localPort,
    remotePort: s.remotePort,
    localTieTag: s.localTieTag,
    peerTieTag: s.peerTieTag,
    peerForwardTsn: peerSupportsForwardTsn(init),
  };
  return {
    type: ChunkType.INIT_ACK,
    initiateTag: s.localTag,
    aRwnd: s.aRwnd,
    outboundStreams: s.outboundStreams,
    inboundStreams: s.maxInboundStreams,
    initialTsn: s.localInitialTsn,
    params: [{ type: ParameterType.STATE_COOKIE, cookie: makeCookie(cookie, s.secret) }, ...ourParameters()],
  };
}
