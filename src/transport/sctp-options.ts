// The query part of an sctp:// URL, for the output (`outputs[].url`) and for listening (`collect
// --listen`, `inputs[].listen`). One parser for both, so config validation and the transports agree
// on every name, default and range. Timer and retransmission names are the stack's own
// (RFC 9260 §16 protocol parameters), so a bound such as "a dead collector is reported within N s"
// can be set in the URL.

import { parseHostPortUrl, nearest, type HostPort } from '../config/load.js';
import type { EndpointOptions } from './sctp/endpoint.js';

/** RFC 6951 §5.1: the registered UDP port for SCTP over UDP ("sctp-tunneling"). */
export const SCTP_UDP_PORT = 9899;
/** Outbound streams asked for when the URL does not say (RFC 7011 §10.2: one per Observation Domain). */
export const DEFAULT_STREAMS = 16;

export type SctpRole = 'output' | 'listen';

/**
 * The stack's own settings a URL may give (RFC 9260 §16 timers and limits, and the largest packet);
 * undefined keeps the stack's defaults. `mtu` defaults to 1232, which fits any IPv6 path; 1452 suits a
 * 1500-octet IPv4 path with UDP encapsulation and carries a 1,400-octet IPFIX message in one DATA chunk
 * instead of two.
 */
const STACK_KEYS = ['rtoInitial', 'rtoMin', 'rtoMax', 'maxInitRetransmits', 'associationMaxRetrans', 'pathMaxRetrans', 'heartbeatInterval', 'mtu'] as const;
type StackSettings = Pick<EndpointOptions, (typeof STACK_KEYS)[number]>;

export interface SctpUrlOptions extends StackSettings {
  /** 'udp': RFC 6951 UDP encapsulation; 'none': SCTP straight over IP (raw socket). */
  encapsulation: 'udp' | 'none';
  /**
   * Output: the collector's UDP encapsulation port (default 9899). Listen: the local UDP port to bind
   * (default 9899; 0 picks a free one).
   */
  udpPort: number;
  /** Output: the local UDP port (default 0, ephemeral). */
  localUdpPort: number;
  /** Output: outbound streams requested (the peer may grant fewer; default 16). Listen: inbound streams accepted (default 65535). */
  streams: number;
  /** Output: PR-SCTP lifetime in ms for messages that carry only Data Sets (RFC 3758); 0: fully reliable. */
  ttl: number;
  /** Output: largest IPFIX message in octets (default 65535); with ttl, smaller messages lose fewer records when one is abandoned. */
  messageSize: number;
}

interface Spec {
  min: number;
  max: number;
  roles: SctpRole[];
  what: string;
}

// [name, lowest, highest, roles, meaning]
const NUMERIC: Record<string, Spec> = {
  udpPort: { min: 0, max: 65535, roles: ['output', 'listen'], what: 'UDP encapsulation port' },
  localUdpPort: { min: 0, max: 65535, roles: ['output'], what: 'local UDP port' },
  streams: { min: 1, max: 65535, roles: ['output', 'listen'], what: 'number of streams' },
  ttl: { min: 0, max: 3_600_000, roles: ['output'], what: 'PR-SCTP lifetime in ms' },
  messageSize: { min: 512, max: 65535, roles: ['output'], what: 'largest IPFIX message in octets' },
  rtoInitial: { min: 10, max: 600_000, roles: ['output', 'listen'], what: 'RTO.Initial in ms' },
  rtoMin: { min: 10, max: 600_000, roles: ['output', 'listen'], what: 'RTO.Min in ms' },
  rtoMax: { min: 10, max: 600_000, roles: ['output', 'listen'], what: 'RTO.Max in ms' },
  maxInitRetransmits: { min: 0, max: 100, roles: ['output', 'listen'], what: 'Max.Init.Retransmits' },
  associationMaxRetrans: { min: 1, max: 100, roles: ['output', 'listen'], what: 'Association.Max.Retrans' },
  pathMaxRetrans: { min: 1, max: 100, roles: ['output', 'listen'], what: 'Path.Max.Retrans' },
  heartbeatInterval: { min: 100, max: 3_600_000, roles: ['output', 'listen'], what: 'HB.interval in ms' },
  mtu: { min: 512, max: 65507, roles: ['output', 'listen'], what: 'largest SCTP packet in octets' },
};
const KEYS = ['encapsulation', ...Object.keys(NUMERIC)];

export interface SctpUrl {
  at: HostPort;
  options: SctpUrlOptions;
}

/** Parse `sctp://HOST:PORT[?k=v&...]`; a string says what is wrong (and how to write it right). */
export function parseSctpUrl(url: string, role: SctpRole): SctpUrl | string {
  const at = parseHostPortUrl(url);
  if (!at || at.scheme !== 'sctp') return `"${url}" must be sctp://HOST:PORT[?encapsulation=udp&...] (IPv6: sctp://[ADDR]:PORT)`;
  const q = url.indexOf('?');
  const given = new Map<string, string>();
  if (q >= 0) {
    for (const part of url.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? '' : part.slice(eq + 1);
      if (!KEYS.includes(k)) {
        const near = nearest(k, KEYS);
        return `unknown sctp:// option "${k}"${near ? ` — did you mean "${near}"?` : ''} (known: ${KEYS.filter((x) => x === 'encapsulation' || NUMERIC[x]!.roles.includes(role)).join(', ')})`;
      }
      if (k !== 'encapsulation' && !NUMERIC[k]!.roles.includes(role)) return `sctp:// option "${k}" applies to outputs only`;
      if (given.has(k)) return `sctp:// option "${k}" is given twice`;
      given.set(k, v);
    }
  }
  const enc = given.get('encapsulation') ?? 'none';
  if (enc !== 'udp' && enc !== 'none') return `sctp:// option encapsulation must be "udp" (RFC 6951 SCTP over UDP) or "none" (SCTP over IP), not "${enc}"`;
  const options: SctpUrlOptions = {
    encapsulation: enc,
    udpPort: SCTP_UDP_PORT,
    localUdpPort: 0,
    streams: role === 'output' ? DEFAULT_STREAMS : 65535,
    ttl: 0,
    messageSize: 65535,
  };
  for (const [k, v] of given) {
    if (k === 'encapsulation') continue;
    const spec = NUMERIC[k]!;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) return `sctp:// option ${k} (${spec.what}) must be an integer from ${spec.min} to ${spec.max}, not "${v}"`;
    if ((k === 'udpPort' || k === 'localUdpPort') && enc !== 'udp') return `sctp:// option ${k} needs encapsulation=udp`;
    if (k === 'udpPort' && role === 'output' && n === 0) return 'sctp:// option udpPort (the collector\'s UDP encapsulation port) must be from 1 to 65535';
    (options as unknown as Record<string, number>)[k] = n;
  }
  if (options.rtoMin !== undefined && options.rtoMax !== undefined && options.rtoMax < options.rtoMin) return `sctp:// option rtoMax (${options.rtoMax}) must not be below rtoMin (${options.rtoMin})`;
  return { at, options };
}

/** The stack's timer, limit and packet-size settings the URL gave (only those), for SctpEndpoint's options. */
export function stackSettings(o: SctpUrlOptions): StackSettings {
  const out: Record<string, number> = {};
  for (const k of STACK_KEYS) {
    if (o[k] !== undefined) out[k] = o[k];
  }
  return out;
}
