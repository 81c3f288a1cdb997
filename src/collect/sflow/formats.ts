// Numbers of the sFlow v5 specification (sflow.org, July 2004) and of the IPFIX encodings the sFlow decoder
// writes, shared by the general decoder (decode.ts) and the compiled sample plans (sample-plan.ts).

/** Sample formats (enterprise 0). */
export const FLOW_SAMPLE = 1;
export const COUNTERS_SAMPLE = 2;
export const FLOW_SAMPLE_EXPANDED = 3;
export const COUNTERS_SAMPLE_EXPANDED = 4;

/** Flow record formats (enterprise 0). */
export const RAW_PACKET_HEADER = 1;
export const SAMPLED_ETHERNET = 2;
export const SAMPLED_IPV4 = 3;
export const SAMPLED_IPV6 = 4;
export const EXTENDED_SWITCH = 1001;
export const EXTENDED_ROUTER = 1002;
export const EXTENDED_GATEWAY = 1003;

/** Counter record formats (enterprise 0). */
export const GENERIC_INTERFACE = 1;
export const ETHERNET_INTERFACE = 2;

/** Interface formats (the top 2 bits of a compact sample's input/output, or the expanded format field). */
export const IF_INDEX = 0;
export const IF_DISCARD = 1;
export const IF_MULTIPLE = 2;
/** ifIndex value meaning "the switch itself" (packet from or to the agent's own stack). */
export const IF_LOCAL = 0x3fffffff;

/** The largest VLAN id and 802.1p priority: an extended switch fact beyond them (agents send 0xFFFFFFFF
 *  for unknown) is left out. */
export const MAX_VLAN = 4095;
export const MAX_PRIORITY = 7;

/** Octets of an sFlow address (next hop) of type 0 (unknown), 1 (IPv4), 2 (IPv6); -1 for another type. */
export function addressLength(type: number): number {
  return type === 1 ? 4 : type === 2 ? 16 : type === 0 ? 0 : -1;
}

/** bgpCommunity (RFC 8549), the element of the communities basicList. */
export const BGP_COMMUNITY_ID = 483;
/** basicList semantic "allOf" (RFC 6313 §4.5.4): every community applies to the route. */
export const ALL_OF = 0x03;
