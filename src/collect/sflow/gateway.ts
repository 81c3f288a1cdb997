// The extended gateway record (sFlow v5, flow record enterprise 0 format 1003): next hop; router, source
// and source peer AS; the destination AS path as segments (type, count, AS numbers); communities (count,
// values); local preference. Walked once to check every length and find its parts, for the general
// decoder (decode.ts) and the compiled sample plans (sample-plan.ts) alike; its two variable-length parts
// are written into the record by the same two functions for both.

import { copyShort } from '../../util/octets.js';
import { addressLength, ALL_OF, BGP_COMMUNITY_ID } from './formats.js';

/** Where walkGateway puts what it found, by slot after its `base` in the slot array. */
export const Gateway = {
  /** The router, source and source peer AS numbers (after the next hop). */
  asNumbers: 0,
  /** The first AS path segment. */
  path: 1,
  /** The first and the last AS number of the path, -1 for an empty path. */
  firstAs: 2,
  lastAs: 3,
  /** The communities' count (the values follow it). */
  communities: 4,
  localPref: 5,
  /** How many segments, and how many AS numbers in them all. */
  segments: 6,
  pathLength: 7,
} as const;
export const GATEWAY_SLOTS = 8;

/** walkGateway's answers: 0 the record is whole, else what is wrong with it (GATEWAY_PROBLEMS). */
export const GATEWAY_PROBLEMS = ['', 'bad next-hop address or too short', 'AS path runs past the record', 'AS path segment runs past the record', 'communities run past the record'];

/**
 * Walks the extended gateway record body [b, end) of dv: 0, with its parts in at[base + Gateway.*], or the
 * index of its problem in GATEWAY_PROBLEMS. Reads only inside [b, end).
 */
export function walkGateway(dv: DataView, b: number, end: number, at: Int32Array, base: number): number {
  if (end - b < 4) return 1;
  const hop = addressLength(dv.getUint32(b));
  if (hop < 0 || end - b - 4 < hop) return 1;
  let p = b + 4 + hop;
  if (end - p < 16) return 1;
  at[base + Gateway.asNumbers] = p;
  const segments = dv.getUint32(p + 12);
  p += 16;
  at[base + Gateway.path] = p;
  let asns = 0;
  let first = -1;
  let last = -1;
  for (let s = 0; s < segments; s++) {
    if (end - p < 8) return 2;
    const n = dv.getUint32(p + 4);
    if (n > (end - p - 8) / 4) return 3;
    if (n > 0) {
      if (first < 0) first = p + 8;
      last = p + 8 + 4 * (n - 1);
    }
    asns += n;
    p += 8 + 4 * n;
  }
  if (end - p < 4) return 4;
  const communities = dv.getUint32(p);
  if (communities > (end - p - 8) / 4) return 4;
  at[base + Gateway.firstAs] = first;
  at[base + Gateway.lastAs] = last;
  at[base + Gateway.communities] = p;
  at[base + Gateway.localPref] = p + 4 + 4 * communities;
  at[base + Gateway.segments] = segments;
  at[base + Gateway.pathLength] = asns;
  return 0;
}

/** Writes a variable-length field's length prefix (RFC 7011 §7) at d; returns where its content goes. */
export function varlen(dv: DataView, d: number, length: number): number {
  if (length < 255) {
    dv.setUint8(d, length);
    return d + 1;
  }
  dv.setUint8(d, 255);
  dv.setUint16(d + 1, length);
  return d + 3;
}

/** The communities whose count is at `countAt` of src, as a basicList of bgpCommunity (RFC 8549, RFC 6313
 *  "allOf"), prefix included, at d of dv; returns where it ends. */
export function writeCommunities(src: DataView, countAt: number, dv: DataView, d: number): number {
  const count = src.getUint32(countAt);
  d = varlen(dv, d, 5 + 4 * count);
  dv.setUint8(d, ALL_OF);
  dv.setUint16(d + 1, BGP_COMMUNITY_ID);
  dv.setUint16(d + 3, 4);
  copyShort(src, countAt + 4, dv, d + 5, 4 * count);
  return d + 5 + 4 * count;
}

/** The AS path of `segments` segments from `path` of src, its `asns` AS numbers in path order (sets and
 *  sequences alike) as 4 octets each, prefix included, at d of dv; returns where it ends. */
export function writeAsPath(src: DataView, path: number, segments: number, asns: number, dv: DataView, d: number): number {
  d = varlen(dv, d, 4 * asns);
  for (let s = 0; s < segments; s++) {
    const n = src.getUint32(path + 4);
    copyShort(src, path + 8, dv, d, 4 * n);
    d += 4 * n;
    path += 8 + 4 * n;
  }
  return d;
}
