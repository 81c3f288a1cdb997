// sctp:// URL options: defaults, every option read, and config errors that name the key, the line and
// the fix (the same parser serves outputs, inputs and `collect --listen`).

import { describe, expect, it } from 'vitest';
import { configErrors } from '../helpers/config-errors.js';
import { parseSctpUrl, stackSettings } from '../../src/transport/sctp-options.js';

const outputErrors = (url: string): string[] => configErrors(`inputs:\n  - name: r\n    listen: udp://127.0.0.1:2055\noutputs:\n  - name: c\n    url: "${url}"\n`);

describe('sctp:// URL options', () => {
  it('defaults: raw IP, collector UDP port 9899 if encapsulated, 16 streams, fully reliable, stack timers untouched', () => {
    const r = parseSctpUrl('sctp://collector.example:4739', 'output');
    expect(r).toEqual({
      at: { scheme: 'sctp', host: 'collector.example', port: 4739, family: 4 },
      options: { encapsulation: 'none', udpPort: 9899, localUdpPort: 0, streams: 16, ttl: 0, messageSize: 65535 },
    });
    expect(stackSettings((r as Exclude<typeof r, string>).options)).toEqual({});
  });

  it('reads every option, IPv6 in brackets', () => {
    const r = parseSctpUrl(
      'sctp://[::1]:4740?encapsulation=udp&udpPort=19899&localUdpPort=20000&streams=4&ttl=250&messageSize=1200&rtoInitial=300&rtoMin=100&rtoMax=400&maxInitRetransmits=2&associationMaxRetrans=3&pathMaxRetrans=3&heartbeatInterval=500&mtu=1452',
      'output',
    );
    expect(r).toEqual({
      at: { scheme: 'sctp', host: '::1', port: 4740, family: 6 },
      options: { encapsulation: 'udp', udpPort: 19899, localUdpPort: 20000, streams: 4, ttl: 250, messageSize: 1200, rtoInitial: 300, rtoMin: 100, rtoMax: 400, maxInitRetransmits: 2, associationMaxRetrans: 3, pathMaxRetrans: 3, heartbeatInterval: 500, mtu: 1452 },
    });
    expect(stackSettings((r as Exclude<typeof r, string>).options)).toEqual({ rtoInitial: 300, rtoMin: 100, rtoMax: 400, maxInitRetransmits: 2, associationMaxRetrans: 3, pathMaxRetrans: 3, heartbeatInterval: 500, mtu: 1452 });
    // listening: udpPort is the local port, 0 asks for a free one
    expect(parseSctpUrl('sctp://127.0.0.1:4739?encapsulation=udp&udpPort=0', 'listen')).toMatchObject({ options: { encapsulation: 'udp', udpPort: 0 } });
  });

  it('refuses what it cannot honour, saying how to write it', () => {
    expect(parseSctpUrl('sctp://h:4739?encapsulaton=udp', 'output')).toBe(
      'unknown sctp:// option "encapsulaton" — did you mean "encapsulation"? (known: encapsulation, udpPort, localUdpPort, streams, ttl, messageSize, rtoInitial, rtoMin, rtoMax, maxInitRetransmits, associationMaxRetrans, pathMaxRetrans, heartbeatInterval, mtu)',
    );
    expect(parseSctpUrl('sctp://h:4739?encapsulation=tcp', 'output')).toBe('sctp:// option encapsulation must be "udp" (RFC 6951 SCTP over UDP) or "none" (SCTP over IP), not "tcp"');
    expect(parseSctpUrl('sctp://h:4739?udpPort=9900', 'output')).toBe('sctp:// option udpPort needs encapsulation=udp');
    expect(parseSctpUrl('sctp://h:4739?encapsulation=udp&udpPort=0', 'output')).toBe("sctp:// option udpPort (the collector's UDP encapsulation port) must be from 1 to 65535");
    expect(parseSctpUrl('sctp://h:4739?streams=0', 'output')).toBe('sctp:// option streams (number of streams) must be an integer from 1 to 65535, not "0"');
    expect(parseSctpUrl('sctp://h:4739?ttl=-5', 'output')).toBe('sctp:// option ttl (PR-SCTP lifetime in ms) must be an integer from 0 to 3600000, not "-5"');
    expect(parseSctpUrl('sctp://h:4739?ttl=1&ttl=2', 'output')).toBe('sctp:// option "ttl" is given twice');
    expect(parseSctpUrl('sctp://h:4739?ttl=100', 'listen')).toBe('sctp:// option "ttl" applies to outputs only');
    expect(parseSctpUrl('sctp://h:4739?rtoMin=500&rtoMax=200', 'output')).toBe('sctp:// option rtoMax (200) must not be below rtoMin (500)');
    expect(parseSctpUrl('sctp://h', 'output')).toBe('"sctp://h" must be sctp://HOST:PORT[?encapsulation=udp&...] (IPv6: sctp://[ADDR]:PORT)');
  });

  it('config validation reports a bad option at the url key and line', () => {
    expect(outputErrors('sctp://127.0.0.1:4739?encapsulation=udp&streams=8&ttl=500')).toEqual([]);
    expect(outputErrors('sctp://127.0.0.1:4739?encapsulation=udp&stream=8')).toEqual([
      'gw.yaml:6: outputs[0].url: unknown sctp:// option "stream" — did you mean "streams"? (known: encapsulation, udpPort, localUdpPort, streams, ttl, messageSize, rtoInitial, rtoMin, rtoMax, maxInitRetransmits, associationMaxRetrans, pathMaxRetrans, heartbeatInterval, mtu)',
    ]);
  });
});
