// sFlow's discard reasons → IPFIX forwardingStatus (IE 89, RFC 7270 §4.12: two status bits, six reason
// bits). sFlow reports a discarded packet with output format 1 and a reason code: 0..255 are ICMP
// Destination Unreachable codes (RFC 792, RFC 1812), 256 and up sFlow's own (sFlow v5 §4.1, and the
// drop reasons added with the dropped-packet extension). The raw code is exported beside it
// (sflowDiscardReason) so nothing is lost where the mapping has to generalise.

/** Status "Forwarded", reason unknown. */
export const FORWARDED = 0x40;
/** Status "Consumed", reason "Terminate for us": the packet went to the agent's own stack (ifIndex "local"). */
export const CONSUMED_FOR_US = 0xc3;

const Dropped = {
  unknown: 0x80,
  aclDeny: 0x81,
  aclDrop: 0x82,
  unroutable: 0x83,
  adjacency: 0x84,
  fragmentationAndDfSet: 0x85,
  badHeaderChecksum: 0x86,
  badTotalLength: 0x87,
  badHeaderLength: 0x88,
  badTtl: 0x89,
  policer: 0x8a,
  wred: 0x8b,
  rpf: 0x8c,
  forUs: 0x8d,
  badOutputInterface: 0x8e,
  hardware: 0x8f,
} as const;

/** sFlow discard code → forwardingStatus (a code not here: DROPPED_UNKNOWN). */
export const BY_CODE: ReadonlyMap<number, number> = new Map<number, number>([
  [0, Dropped.unroutable], // net unreachable
  [1, Dropped.unroutable], // host unreachable
  [4, Dropped.fragmentationAndDfSet], // fragmentation needed and DF set
  [5, Dropped.unroutable], // source route failed
  [6, Dropped.unroutable], // destination network unknown
  [7, Dropped.unroutable], // destination host unknown
  [9, Dropped.aclDeny], // destination network administratively prohibited
  [10, Dropped.aclDeny], // destination host administratively prohibited
  [11, Dropped.unroutable], // network unreachable for ToS
  [12, Dropped.unroutable], // host unreachable for ToS
  [13, Dropped.aclDeny], // communication administratively prohibited
  [256, Dropped.unknown],
  [257, Dropped.badTtl], // TTL exceeded
  [258, Dropped.aclDrop], // ACL
  [260, Dropped.wred], // RED
  [261, Dropped.policer], // traffic shaping / rate limiting
  [262, Dropped.fragmentationAndDfSet], // packet too big for a protocol that cannot fragment
  [269, Dropped.unroutable], // blackhole route
  [275, Dropped.badHeaderLength], // IP header corrupted
  [279, Dropped.adjacency], // unresolved neighbour
  [280, Dropped.rpf], // multicast reverse path forwarding
  [281, Dropped.unroutable], // non-routable packet
  [301, Dropped.badOutputInterface], // egress VLAN filter
  [302, Dropped.rpf], // unicast reverse path forwarding
]);

export const DROPPED_UNKNOWN = Dropped.unknown;

export function forwardingStatusOfDiscard(code: number): number {
  return BY_CODE.get(code) ?? DROPPED_UNKNOWN;
}
