// Config keys of output delivery: queue, spool, drainTimeout, failover groups and select rules
// (docs/config.md). Values are checked after loading; every mistake names its file, line and key.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configErrors } from '../helpers/config-errors.js';

const head = `inputs:
  - name: in
    listen: udp://127.0.0.1:2055
outputs:
`;

const errors = (yaml: string): string[] => configErrors(head + yaml, '/etc/gw.yaml');

describe('output delivery config', () => {
  it('reads a failover group with queue, spool and drain time; members named by default', () => {
    const c = parseConfig(
      head +
        `  - name: g
    failover:
      - url: tcp://127.0.0.1:4739
      - url: tcp://[::1]:4740
        name: backup
    queue: { maxBytes: 1048576, policy: drop-oldest }
    spool: { dir: spool/g, maxBytes: 104857600 }
    drainTimeout: 3
`,
      '/etc/gw.yaml',
    );
    const o = c.outputs[0]!;
    expect(o.failover).toEqual([
      { name: 'g/1', url: 'tcp://127.0.0.1:4739' },
      { name: 'backup', url: 'tcp://[::1]:4740' },
    ]);
    expect(o.url).toBe('failover:tcp://127.0.0.1:4739,tcp://[::1]:4740');
    expect(o.queue).toEqual({ maxBytes: 1048576, policy: 'drop-oldest' });
    expect(o.spool).toEqual({ dir: '/etc/spool/g', maxBytes: 104857600 }); // relative to the config file
    expect(o.drainTimeout).toBe(3);
  });

  it('reads select rules: ranges, single values, prefixes with host bits cleared', () => {
    const c = parseConfig(
      head +
        `  - name: f
    url: file:out/x.ipfix
    select:
      - ingressInterface: [1, "10-20"]
        sourceAddress: 10.1.2.3/8
      - exporter: [192.0.2.1, "2001:db8::/32"]
        odid: 5
        bgpDestinationAsNumber: "64512-65534"
`,
      '/etc/gw.yaml',
    );
    expect(c.outputs[0]!.select).toEqual([
      { ingressInterface: [[1, 1], [10, 20]], sourceAddress: [{ bytes: [10, 0, 0, 0], length: 8 }] },
      {
        exporter: [
          { bytes: [192, 0, 2, 1], length: 32 },
          { bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], length: 32 },
        ],
        odid: [[5, 5]],
        bgpDestinationAsNumber: [[64512, 65534]],
      },
    ]);
  });

  it('names the line and key of each mistake', () => {
    const e = errors(`  - name: u
    url: udp://127.0.0.1:9
    spool: { dir: x }
    select:
      - ingresInterface: 3
      - sourceAddress: 10.0.0.300/8
        odid: "a-b"
  - name: g
    url: tcp://127.0.0.1:1
    failover:
      - url: udp://127.0.0.1:2
    queue: { policy: newest }
`);
    expect(e).toContain('/etc/gw.yaml:7: outputs[0].spool: applies to reliable outputs only (tcp://, tls://, sctp://, failover groups); UDP and file outputs never wait for a collector');
    expect(e).toContain('/etc/gw.yaml:9: outputs[0].select[0].ingresInterface: unknown key — did you mean "ingressInterface"?');
    expect(e).toContain('/etc/gw.yaml:10: outputs[0].select[1].sourceAddress: "10.0.0.300/8" is not an address prefix (e.g. 192.0.2.0/24 or 2001:db8::/32)');
    expect(e).toContain('/etc/gw.yaml:11: outputs[0].select[1].odid: "a-b" is not a number or a range LOW-HIGH (e.g. 10-20)');
    expect(e).toContain('/etc/gw.yaml:13: outputs[1].url: an output has either url or failover (a list of members with their url), not both');
    expect(e.some((x) => x.startsWith('/etc/gw.yaml:15: outputs[1].failover[0].url: "udp://127.0.0.1:2": failover members must be reliable'))).toBe(true);
    expect(e).toContain('/etc/gw.yaml:16: outputs[1].queue.policy: must be drop-newest or drop-oldest');
  });
});
