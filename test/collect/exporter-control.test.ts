// Exporter control (RFC 6183 §9): the allow list, checked against Node's own net.BlockList on random
// prefixes and addresses, and on real sockets (127.0.0.2 is outside 127.0.0.1/32); the per-exporter token
// bucket with a driven clock, and its drops counted on a real socket.

import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { resolve } from 'node:path';
import { AllowList, parseCidr } from '../../src/collect/allow-list.js';
import { ExporterRateLimit } from '../../src/collect/rate-limit.js';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { DEFAULT_MAPPING, parseConfig, ConfigError } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { counter } from '../helpers/metrics.js';
import { until as untilWithin } from '../helpers/wait-for.js';
import { prng } from '../mapping/harness.js';
import { udpPayloads } from '../../src/util/pcap.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };

/** IPv6 text as the WHATWG URL parser writes it (RFC 5952, "::" where it belongs). */
function v6Text(groups: number[]): string {
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}

describe('allow list', () => {
  it('agrees with net.BlockList on random IPv4 and IPv6 prefixes and addresses', () => {
    const rnd = prng(7);
    for (let round = 0; round < 200; round++) {
      const prefixes: string[] = [];
      const reference = new net.BlockList();
      for (let i = 0; i < 3; i++) {
        if (rnd() < 0.5) {
          const a = [0, 0, 0, 0].map(() => Math.floor(rnd() * 256)).join('.');
          const len = Math.floor(rnd() * 33);
          prefixes.push(`${a}/${len}`);
          reference.addSubnet(a, len, 'ipv4');
        } else {
          const a = v6Text([0, 0, 0, 0, 0, 0, 0, 0].map(() => (rnd() < 0.3 ? 0 : Math.floor(rnd() * 65536))));
          const len = Math.floor(rnd() * 129);
          prefixes.push(`${a}/${len}`);
          reference.addSubnet(a, len, 'ipv6');
        }
      }
      const allow = new AllowList(prefixes);
      for (let j = 0; j < 50; j++) {
        // addresses near a prefix (its network with a few random low bits) as well as anywhere
        const base = prefixes[Math.floor(rnd() * prefixes.length)]!.split('/')[0]!;
        if (base.includes(':')) {
          const groups = new URL(`http://[${base}]/`).hostname.slice(1, -1);
          const full = expand(groups);
          if (rnd() < 0.5) full[7] = Math.floor(rnd() * 65536);
          if (rnd() < 0.2) full[Math.floor(rnd() * 8)] = Math.floor(rnd() * 65536);
          const addr = v6Text(full);
          expect(allow.admits(addr), `${addr} in ${prefixes.join(' ')}`).toBe(reference.check(addr, 'ipv6'));
        } else {
          const parts = base.split('.').map(Number);
          if (rnd() < 0.5) parts[3] = Math.floor(rnd() * 256);
          if (rnd() < 0.2) parts[Math.floor(rnd() * 4)] = Math.floor(rnd() * 256);
          const addr = parts.join('.');
          expect(allow.admits(addr), `${addr} in ${prefixes.join(' ')}`).toBe(reference.check(addr, 'ipv4'));
        }
      }
    }
  });

  it('reads IPv4-mapped IPv6 sources as IPv4, full and compressed forms alike; rejects what is not an address', () => {
    const allow = new AllowList(['192.0.2.0/24', '2001:db8::/32', '10.1.2.3']);
    expect(allow.admits('192.0.2.77')).toBe(true);
    expect(allow.admits('::ffff:192.0.2.77')).toBe(true);
    expect(allow.admits('::FFFF:192.0.3.1')).toBe(false);
    expect(allow.admits('10.1.2.3')).toBe(true);
    expect(allow.admits('10.1.2.4')).toBe(false);
    expect(allow.admits('2001:db8:ffff:1::9')).toBe(true);
    expect(allow.admits('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe(true);
    expect(allow.admits('2001:db9::1')).toBe(false);
    expect(allow.admits('fe80::1%lo')).toBe(false);
    for (const junk of ['', 'example.com', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1::2::3', ':1:2', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', '12345::']) expect(allow.admits(junk), junk).toBe(false);
    expect(new AllowList(['0.0.0.0/0']).admits('203.0.113.9')).toBe(true);
    expect(new AllowList(['::/0']).admits('2001:db8::1')).toBe(true);
    // an IPv6 prefix covering ::ffff:0:0/96 covers IPv4 sources too (as net.BlockList has it)
    expect(new AllowList(['::/0']).admits('203.0.113.9')).toBe(true);
    expect(new AllowList(['::ffff:192.0.2.0/120']).admits('192.0.2.200')).toBe(true);
    expect(new AllowList(['::ffff:192.0.2.0/120']).admits('192.0.3.1')).toBe(false);
    expect(new AllowList(['2001:db8::/32']).admits('192.0.2.1')).toBe(false);
  });

  it('names a bad prefix', () => {
    expect(parseCidr('192.0.2.0/33')).toBe('"192.0.2.0/33": prefix length must be 0 to 32');
    expect(parseCidr('2001:db8::/129')).toBe('"2001:db8::/129": prefix length must be 0 to 128');
    expect(parseCidr('host.example/24')).toBe('"host.example/24" is not an IPv4 or IPv6 address prefix (e.g. 192.0.2.0/24, 2001:db8::/32)');
  });
});

function expand(text: string): number[] {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((g) => parseInt(g, 16)) : [];
  const t = tail ? tail.split(':').map((g) => parseInt(g, 16)) : [];
  return tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
}

describe('rate limit (token bucket per exporter)', () => {
  it('datagrams: a burst of `burst` seconds, then the rate', () => {
    const l = new ExporterRateLimit({ datagrams: 10, records: 0, burst: 2 });
    let admitted = 0;
    for (let i = 0; i < 50; i++) if (l.admit('192.0.2.1', 1000)) admitted++;
    expect(admitted).toBe(20); // 10/s × 2 s
    expect(l.admit('192.0.2.1', 1100)).toBe(true); // 0.1 s later: one token back
    expect(l.admit('192.0.2.1', 1100)).toBe(false);
    expect(l.admit('192.0.2.2', 1100)).toBe(true); // another exporter has its own bucket
  });

  it('records: charged after decoding; a datagram that overdraws is let through, the next ones wait until it is paid back', () => {
    const l = new ExporterRateLimit({ datagrams: 0, records: 100, burst: 1 });
    expect(l.admit('a', 0)).toBe(true);
    l.charge(150); // 100 − 150 = −50
    expect(l.admit('a', 0)).toBe(false);
    expect(l.admit('a', 400)).toBe(false); // −50 + 40
    expect(l.admit('a', 600)).toBe(true); // −50 + 60 = 10
    l.charge(10);
    expect(l.admit('a', 600)).toBe(false);
  });
});

let seq = 0;
function input(over: Partial<InputConfig>): InputConfig {
  return { name: `ctl${++seq}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20, ...over };
}
function recordCounter(): { sink: RecordSink; records: () => number; exporters: Set<string> } {
  let n = 0;
  const exporters = new Set<string>();
  return {
    records: () => n,
    exporters,
    sink: {
      sessionStarted: (s) => exporters.add(s.address),
      templateDefined: () => {},
      templateWithdrawn: () => {},
      records: (_s, _t, _b, _st, _e, count) => (n += count),
      sessionEnded: () => {},
    },
  };
}
const until = (cond: () => boolean | Promise<boolean>, ms = 5000) => untilWithin('the condition', cond, ms);
async function sendFrom(address: string, port: number, payloads: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  for (const p of payloads) await new Promise<void>((r) => s.send(p, port, '127.0.0.1', () => r()));
  s.close();
}

describe('exporter control on a real UDP socket', () => {
  const v5 = udpPayloads(resolve(corpus, 'nf5/logstash-dat__generic.pcap')).map((p) => p.payload);
  const v5Records = (d: Buffer) => d.readUInt16BE(2);

  it('drops datagrams from sources outside the allow list, counted as not_allowed', async () => {
    const { sink, records, exporters } = recordCounter();
    const cfg = input({ allow: ['127.0.0.1/32'] });
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    try {
      await sendFrom('127.0.0.2', cp.port, v5);
      await sendFrom('127.0.0.1', cp.port, v5);
      const expected = v5.reduce((n, d) => n + v5Records(d), 0);
      await until(async () => records() === expected && (await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'not_allowed' })) === v5.length);
      expect([...exporters]).toEqual(['127.0.0.1']);
      expect(await counter('ipfix_mediator_packets_received_total', { input: cfg.name })).toBe(2 * v5.length);
    } finally {
      await cp.stop();
    }
  });

  it('drops datagrams above an exporter\'s rate, counted as rate_limited; every datagram is either decoded or counted', async () => {
    const { sink, records } = recordCounter();
    const cfg = input({ rateLimit: { datagrams: 1, records: 0, burst: 1 } });
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    try {
      const burst = Array.from({ length: 20 }, () => v5[0]!);
      await sendFrom('127.0.0.1', cp.port, burst);
      await until(async () => (await counter('ipfix_mediator_packets_received_total', { input: cfg.name })) === 20);
      const dropped = await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'rate_limited' });
      const decoded = records() / v5Records(v5[0]!);
      expect(dropped).toBeGreaterThan(0);
      expect(decoded + dropped).toBe(20);
    } finally {
      await cp.stop();
    }
  });
});

describe('config: TLS, allow and rateLimit keys', () => {
  const errorsOf = (yaml: string) => {
    try {
      parseConfig(yaml, '/etc/gw/gw.yaml');
      return [];
    } catch (e) {
      return (e as ConfigError).errors;
    }
  };

  it('resolves PEM paths against the config file, takes allow and rateLimit, forces IPFIX on tcp/tls inputs', () => {
    const c = parseConfig(
      'inputs:\n  - name: t\n    listen: tls://0.0.0.0:4740\n    ca: pki/ca.pem\n    cert: /abs/gw.pem\n    key: pki/gw.key\n    allow: [192.0.2.0/24, "2001:db8::/32"]\n    rateLimit: { records: 5000 }\n  - name: p\n    listen: tcp://[::]:4739\noutputs:\n  - name: o\n    url: tls://192.0.2.10:4740\n    ca: ca.pem\n    cert: me.pem\n    key: me.key\n    servername: collector.example\n',
      '/etc/gw/gw.yaml',
    );
    expect(c.inputs[0]).toMatchObject({ protocol: 'ipfix', ca: '/etc/gw/pki/ca.pem', cert: '/abs/gw.pem', key: '/etc/gw/pki/gw.key', allow: ['192.0.2.0/24', '2001:db8::/32'], rateLimit: { records: 5000, datagrams: 0, burst: 1 } });
    expect(c.inputs[1]).toMatchObject({ protocol: 'ipfix', listen: 'tcp://[::]:4739' });
    expect(c.outputs[0]).toMatchObject({ ca: '/etc/gw/ca.pem', cert: '/etc/gw/me.pem', key: '/etc/gw/me.key', servername: 'collector.example' });
  });

  it('names what is missing or wrong', () => {
    const errs = errorsOf('inputs:\n  - name: t\n    listen: tls://0.0.0.0:4740\n    protocol: netflow9\n    allow: [10.0.0.0/33, 1.2.3.4]\n    rateLimit: { burst: 2 }\noutputs:\n  - name: o\n    url: tls://c:1\n    cert: a.pem\n');
    expect(errs).toContain('/etc/gw/gw.yaml:4: inputs[0].protocol: tls:// inputs carry IPFIX only; use protocol: ipfix (or leave it out)');
    expect(errs).toContain('/etc/gw/gw.yaml:2: inputs[0].ca: is required for tls:// (a PEM file path; listen is tls://): ca is the CA peers\' certificates must chain to, cert and key are ours');
    expect(errs).toContain('/etc/gw/gw.yaml:5: inputs[0].allow: "10.0.0.0/33": prefix length must be 0 to 32');
    expect(errs).toContain('/etc/gw/gw.yaml:6: inputs[0].rateLimit: needs datagrams and/or records (per second per exporter)');
    expect(errs).toContain('/etc/gw/gw.yaml:8: outputs[0].key: is required for tls:// (a PEM file path; url is tls://): ca is the CA peers\' certificates must chain to, cert and key are ours');
    expect(errs.some((e) => e.includes('outputs[0].cert'))).toBe(false);
  });
});
