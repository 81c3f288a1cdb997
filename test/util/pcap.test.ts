import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { readPcap, udpPayloads } from '../../src/util/pcap.js';
import { formatIPv6 } from '../../src/util/address.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');

describe('pcap reader', () => {
  // Datagram counts and ports as listed in the corpus README.
  it.each([
    ['nf5/akvorado__nfv5.pcap', 1, 9990],
    ['nf5/logstash-dat__generic.pcap', 12, 2055],
    ['nf5/overflowd__netflow_4M.pcap', 2709, 9500],
    ['nf9/pmacct__101-NFv9-CISCO.pcap', 40, 9991],
    ['ipfix/pmacct__400-IPFIX-CISCO-SRv6.pcap', 583, 9991],
    ['ipfix/pmacct__112-IPFIX-CISCO-options.pcap', 21, 9991], // Linux cooked capture (SLL)
    ['sflow/oxyflow__sflow.pcap', 1503, 6343],
  ])('%s has %i UDP datagrams to port %i', (file, count, port) => {
    const pkts = udpPayloads(resolve(corpus, file));
    expect(pkts.length).toBe(count);
    expect(new Set(pkts.map((p) => p.dstPort))).toEqual(new Set([port]));
  });

  it('reads the v5 header of the first overflowd datagram', () => {
    const [p] = udpPayloads(resolve(corpus, 'nf5/overflowd__netflow_4M.pcap'));
    expect(p!.src).toBe('122.166.4.242');
    expect(p!.payload.readUInt16BE(0)).toBe(5);
    const count = p!.payload.readUInt16BE(2);
    expect(p!.payload.length).toBe(24 + 48 * count);
  });

  it('gives the SCTP packets of the IPFIX-over-SCTP capture', () => {
    const pkts = readPcap(resolve(corpus, 'synthetic/ipfix-over-sctp_4739_cisco.pcap'));
    expect(pkts.length).toBe(16);
    expect(pkts.every((p) => p.transport === 'sctp')).toBe(true);
    expect(pkts.some((p) => p.dstPort === 4739)).toBe(true);
  });

  it('formats IPv6 addresses per RFC 5952', () => {
    const b = Buffer.from('20010db8000000000000000000000001', 'hex');
    expect(formatIPv6(b, 0)).toBe('2001:db8::1');
    expect(formatIPv6(Buffer.from('20010db8000000010000000000000001', 'hex'), 0)).toBe('2001:db8:0:1::1');
    expect(formatIPv6(Buffer.alloc(16), 0)).toBe('::');
  });
});
