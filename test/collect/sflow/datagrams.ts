// sFlow datagrams the plan tests share: the corpus captures' payloads, and where a datagram's flow samples are.

import { resolve } from 'node:path';
import { udpPayloads } from '../../../src/util/pcap.js';
import { corpus } from '../../mapping/harness.js';

/** Every sFlow capture of the corpus. */
export const CAPTURES = [
  'akvorado__data-1140.pcap', 'akvorado__data-discard-interface.pcap', 'akvorado__data-encap-vxlan.pcap',
  'akvorado__data-icmpv4.pcap', 'akvorado__data-icmpv6.pcap', 'akvorado__data-local-interface.pcap',
  'akvorado__data-multiple-interfaces.pcap', 'akvorado__data-qinq.pcap', 'akvorado__data-sflow-expanded-sample.pcap',
  'akvorado__data-sflow-ipv4-data.pcap', 'akvorado__data-sflow-raw-ipv4.pcap', 'overflowd__sflow.pcap', 'oxyflow__sflow.pcap',
];

/** The UDP payloads of every capture, in order. */
export function corpusDatagrams(): Buffer[] {
  return CAPTURES.flatMap((f) => udpPayloads(resolve(corpus, 'sflow', f)).map((p) => Buffer.from(p.payload)));
}

/** The flow samples (formats 1 and 3) of a datagram, as far as its lengths hold: [start, end, expanded]. */
export function flowSamplesOf(d: Buffer): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  if (d.length < 28) return out;
  let p = d.readUInt32BE(4) === 2 ? 24 : 12;
  if (d.length < p + 16) return out;
  const count = d.readUInt32BE(p + 12);
  p += 16;
  for (let i = 0; i < count && d.length - p >= 8; i++) {
    const format = d.readUInt32BE(p);
    const length = d.readUInt32BE(p + 4);
    if (length > d.length - p - 8) break;
    if (format === 1 || format === 3) out.push([p + 8, p + 8 + length, format === 3]);
    p += 8 + length;
  }
  return out;
}
