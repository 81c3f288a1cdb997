// The four-way handshake's chunks (RFC 9260 §5.1): INIT and INIT ACK built from an endpoint's
// settings, the stream counts negotiated (§5.1.1: each side's outbound streams are capped by the
// other's MIS), PR-SCTP support announced and detected (RFC 3758 §3.3), and an INIT checked for
// the values it must not carry (§3.3.2: zero Initiate Tag, zero OS or MIS).

import { type InitAckChunk, type InitChunk, ChunkType } from './chunk.js';
import { type StateCookie, makeCookie } from './cookie.js';
import { type Parameter, ParameterType } from './parameter.js';

/** The parameters we put in INIT and INIT ACK besides the cookie: PR-SCTP (RFC 3758 §3.3), unless turned off. */
function ourParameters(forwardTsn: boolean): Parameter[] {
  return forwardTsn ? [{ type: ParameterType.FORWARD_TSN_SUPPORTED }, { type: ParameterType.SUPPORTED_EXTENSIONS, chunkTypes: [ChunkType.FORWARD_TSN] }] : [];
}

export function makeInit(initiateTag: number, aRwnd: number, outboundStreams: number, maxInboundStreams: number, initialTsn: number, forwardTsn = true): InitChunk {
  return { type: ChunkType.INIT, initiateTag, aRwnd, outboundStreams, inboundStreams: maxInboundStreams, initialTsn, params: ourParameters(forwardTsn) };
}

/**
 * The INIT's parameters of unknown type whose two high bits ask for a report (§3.2.1: 01 and 11), as
 * the TLVs for an Unrecognized Parameters parameter of the INIT ACK; null when there are none. A
 * parameter with 00 or 01 stops the processing of the ones after it.
 */
export function unrecognizedToReport(c: InitChunk): Uint8Array | null {
  const report: { t: number; v: Uint8Array }[] = [];
  for (const p of c.params) {
    if (p.type !== 'unknown') continue;
    if ((p.action === 'stop-and-report' || p.action === 'skip-and-report') && p.value.length <= 256 && report.length < 8) report.push({ t: p.parameterType, v: p.value }); // bounded: the INIT ACK must fit a packet
    if (p.action === 'stop' || p.action === 'stop-and-report') break;
  }
  if (report.length === 0) return null;
  let n = 0;
  for (const r of report) n += (4 + r.v.length + 3) & ~3;
  const out = new Uint8Array(n);
  let o = 0;
  for (const r of report) {
    out[o] = r.t >>> 8;
    out[o + 1] = r.t & 0xff;
    out[o + 2] = (4 + r.v.length) >>> 8;
    out[o + 3] = (4 + r.v.length) & 0xff;
    out.set(r.v, o + 4);
    o += (4 + r.v.length + 3) & ~3;
  }
  return out;
}

/** Whether the peer's INIT or INIT ACK says it accepts FORWARD TSN. */
export function peerSupportsForwardTsn(c: InitChunk | InitAckChunk): boolean {
  for (const p of c.params) {
    if (p.type === ParameterType.FORWARD_TSN_SUPPORTED) return true;
    if (p.type === ParameterType.SUPPORTED_EXTENSIONS && p.chunkTypes.includes(ChunkType.FORWARD_TSN)) return true;
  }
  return false;
}

/**
 * The extra cookie lifetime a peer asks for after a stale cookie (Cookie Preservative, §5.2.6),
 * granted up to one more Valid.Cookie.Life.
 */
export function cookiePreservative(c: InitChunk, cookieLifetime: number): number {
  for (const p of c.params) if (p.type === ParameterType.COOKIE_PRESERVATIVE) return Math.min(p.lifeSpanIncrement, cookieLifetime);
  return 0;
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
  /** We take part in PR-SCTP (default true). */
  forwardTsn?: boolean;
}

/** The INIT ACK answering `init`, its State Cookie holding the association to be (§5.1.3). */
export function makeInitAck(init: InitChunk, s: InitAckSettings): InitAckChunk {
  const cookie: StateCookie = {
    created: s.now,
    lifetime: s.cookieLifetime + cookiePreservative(init, s.cookieLifetime),
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
    peerForwardTsn: (s.forwardTsn ?? true) && peerSupportsForwardTsn(init),
  };
  const params: Parameter[] = [{ type: ParameterType.STATE_COOKIE, cookie: makeCookie(cookie, s.secret) }, ...ourParameters(s.forwardTsn ?? true)];
  const unrecognized = unrecognizedToReport(init);
  if (unrecognized) params.push({ type: ParameterType.UNRECOGNIZED_PARAMETERS, parameters: unrecognized });
  return {
    type: ChunkType.INIT_ACK,
    initiateTag: s.localTag,
    aRwnd: s.aRwnd,
    outboundStreams: s.outboundStreams,
    inboundStreams: s.maxInboundStreams,
    initialTsn: s.localInitialTsn,
    params,
  };
}
