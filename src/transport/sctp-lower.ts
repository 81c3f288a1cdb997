// The lower layer an sctp:// URL asks for: RFC 6951 UDP encapsulation (a UDP socket of the URL's
// address family), or SCTP straight over IPv4/IPv6 through the stack's raw-IP layer.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostPort } from '../config/load.js';
import { openUdpEncapsulation, type LowerLayer } from './sctp/index.js';
import { openRawIp } from './sctp/raw-ip.js';
import type { SctpUrlOptions } from './sctp-options.js';

/** An IP address for the URL's host (names resolved in the URL's family: IPv6 only in brackets). */
export async function resolveHost(at: HostPort): Promise<string> {
  if (isIP(at.host)) return at.host;
  const r = await lookup(at.host, { family: at.family });
  return r.address;
}

export interface OpenedLowerLayer {
  lower: LowerLayer;
  /** UDP encapsulation: the local UDP port bound (the one picked when 0 was asked for). */
  udpPort?: number;
}

/**
 * Open the lower layer. `bindAddress`/`udpPort` are local: a listener binds the URL's address and
 * its udpPort; an output binds the wildcard of the collector's family and its localUdpPort.
 * Rejects with a message that names the remedy.
 */
export async function openLowerLayer(o: SctpUrlOptions, family: 4 | 6, bindAddress: string | undefined, udpPort: number): Promise<OpenedLowerLayer> {
  if (o.encapsulation === 'udp') {
    const lower = await openUdpEncapsulation({ port: udpPort, address: bindAddress, type: family === 6 ? 'udp6' : 'udp4', receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    return { lower, udpPort: lower.local.udpPort };
  }
  // Raw IP: needs CAP_NET_RAW and no kernel SCTP; the stack's RawIpError says which remedy applies.
  const wildcard = bindAddress === undefined || bindAddress === '0.0.0.0' || bindAddress === '::';
  const lower = await openRawIp({ family, address: wildcard ? undefined : bindAddress, receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  return { lower };
}
