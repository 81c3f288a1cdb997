// The State Cookie (RFC 9260 §5.1.3): everything a listening endpoint needs to create the
// association, handed to the peer in INIT ACK and back in COOKIE ECHO, so the listener keeps no
// state for half-open associations (the SYN-flood defence). Signed with HMAC-SHA256 under the
// endpoint's secret key; carries its creation time and lifetime (Valid.Cookie.Life), so a late
// echo is answered with a Stale Cookie error (§5.1.5 step 3) and a forged one is ignored.
//
// Layout (network order):
//   0 version (1)   1 flags (bit 0: the peer supports FORWARD TSN)   2 reserved (2)
//   4 created, ms (float64)   12 lifetime, ms   16 local tag   20 peer tag
//  24 local Initial TSN   28 peer Initial TSN   32 peer a_rwnd
//  36 outbound streams   38 inbound streams (both negotiated)   40 local port   42 remote port
//  44 local tie-tag   48 peer tie-tag   52 HMAC-SHA256 of octets 0-51 (32 octets)

import { createHmac, timingSafeEqual } from 'node:crypto';
import { put16, put32, u16, u32 } from './wire.js';

export const COOKIE_LENGTH = 84;
const SIGNED = 52;
const VERSION = 1;

export interface StateCookie {
  /** Creation time (ms, the endpoint's clock). */
  created: number;
  /** Lifetime from creation (ms). */
  lifetime: number;
  /** The listener's Verification Tag for the association (its INIT ACK's Initiate Tag). */
  localTag: number;
  /** The peer's Verification Tag (its INIT's Initiate Tag). */
  peerTag: number;
  localInitialTsn: number;
  peerInitialTsn: number;
  peerRwnd: number;
  /** Negotiated: min(our OS, the peer's MIS). */
  outboundStreams: number;
  /** Negotiated: min(the peer's OS, our MIS). */
  inboundStreams: number;
  localPort: number;
  remotePort: number;
  /** Tie-tags (§5.2.2): nonces of an existing association the INIT arrived on, 0 otherwise. */
  localTieTag: number;
  peerTieTag: number;
  peerForwardTsn: boolean;
}

export type CookieCheck = { ok: true; cookie: StateCookie } | { ok: false; reason: 'bad-cookie' } | { ok: false; reason: 'stale-cookie'; cookie: StateCookie; stalenessUs: number };

function mac(secret: Uint8Array, b: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(b.subarray(0, SIGNED)).digest();
}

/** Encode and sign a cookie. */
export function makeCookie(c: StateCookie, secret: Uint8Array): Uint8Array {
  const b = new Uint8Array(COOKIE_LENGTH);
  const v = new DataView(b.buffer);
  b[0] = VERSION;
  b[1] = c.peerForwardTsn ? 1 : 0;
  v.setFloat64(4, c.created);
  put32(b, 12, c.lifetime);
  put32(b, 16, c.localTag);
  put32(b, 20, c.peerTag);
  put32(b, 24, c.localInitialTsn);
  put32(b, 28, c.peerInitialTsn);
  put32(b, 32, c.peerRwnd);
  put16(b, 36, c.outboundStreams);
  put16(b, 38, c.inboundStreams);
  put16(b, 40, c.localPort);
  put16(b, 42, c.remotePort);
  put32(b, 44, c.localTieTag);
  put32(b, 48, c.peerTieTag);
  b.set(mac(secret, b), SIGNED);
  return b;
}

/**
 * Check a received cookie (§5.1.5 steps 1-3): signature first (a cookie that is not ours is
 * 'bad-cookie' and gets no answer), then age at `now`.
 */
export function openCookie(b: Uint8Array, secret: Uint8Array, now: number): CookieCheck {
  if (b.length !== COOKIE_LENGTH || b[0] !== VERSION) return { ok: false, reason: 'bad-cookie' };
  const expected = mac(secret, b);
  if (!timingSafeEqual(expected, b.subarray(SIGNED, COOKIE_LENGTH))) return { ok: false, reason: 'bad-cookie' };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cookie: StateCookie = {
    created: v.getFloat64(4),
    lifetime: u32(b, 12),
    localTag: u32(b, 16),
    peerTag: u32(b, 20),
    localInitialTsn: u32(b, 24),
    peerInitialTsn: u32(b, 28),
    peerRwnd: u32(b, 32),
    outboundStreams: u16(b, 36),
    inboundStreams: u16(b, 38),
    localPort: u16(b, 40),
    remotePort: u16(b, 42),
    localTieTag: u32(b, 44),
    peerTieTag: u32(b, 48),
    peerForwardTsn: (b[1]! & 1) !== 0,
  };
  const age = now - cookie.created;
  if (age > cookie.lifetime) return { ok: false, reason: 'stale-cookie', cookie, stalenessUs: Math.min(0xffffffff, Math.round((age - cookie.lifetime) * 1000)) };
  return { ok: true, cookie };
}
