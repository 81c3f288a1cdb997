// Reliable-transport input (RFC 7011 §10): one TCP connection (or SCTP association) is one Transport
// Session. Messages are framed by their Length field across any segmentation; withdrawals are honoured;
// templates and sessions do not expire while the connection is up; closing it ends every exporter
// session it carried, at once. Real loopback sockets; messages built here byte by byte.

import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { MessageFramer } from '../../src/collect/message-framer.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import { recorder } from '../helpers/recording-sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { counter } from '../helpers/metrics.js';
import { until as untilWithin } from '../helpers/wait-for.js';
import { ipfix, set, template256, withdraw256 } from '../helpers/ipfix-message.js';

const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };

let seq = 0;
function input(over: Partial<InputConfig> = {}): InputConfig {
  return { name: `stream${++seq}`, listen: 'tcp://127.0.0.1:0', protocol: 'ipfix', sessionTimeout: 5, templateTimeout: 5, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20, ...over };
}

const data256 = (a: number, port: number) => set(256, Buffer.from([192, 0, 2, a, port >> 8, port & 255]));

const until = (cond: () => boolean, ms = 5000) => untilWithin('the condition', cond, ms);

function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('MessageFramer', () => {
  const stream = Buffer.concat([ipfix(1, template256), ipfix(1, data256(1, 80), data256(2, 443)), ipfix(2, template256, data256(3, 53))]);
  const lengths = [32, 36, 42];

  it('frames the same three messages whatever the segmentation (every split point, one octet at a time)', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const got: string[] = [];
      const f = new MessageFramer((m) => got.push(m.toString('hex')));
      expect(f.push(stream.subarray(0, cut))).toBeUndefined();
      expect(f.push(stream.subarray(cut))).toBeUndefined();
      expect(got.map((h) => h.length / 2)).toEqual(lengths);
      expect(got.join('')).toBe(stream.toString('hex'));
      expect(f.buffered).toBe(0);
    }
    const got: Buffer[] = [];
    const f = new MessageFramer((m) => got.push(Buffer.from(m)));
    for (let i = 0; i < stream.length; i++) f.push(stream.subarray(i, i + 1));
    expect(Buffer.concat(got).equals(stream)).toBe(true);
    expect(got.length).toBe(3);
  });

  it('hands whole messages of a segment on as views of it (no copy) and keeps at most one partial message', () => {
    const seen: Buffer[] = [];
    const f = new MessageFramer((m) => seen.push(m));
    f.push(stream.subarray(0, 70));
    expect(seen.map((m) => m.buffer === stream.buffer)).toEqual([true, true]);
    expect(f.buffered).toBe(70 - 68);
  });

  it('random streams, random segmentation: exactly the messages, in order; garbage stops it at the right message', () => {
    let seed = 11;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 300; round++) {
      const messages: Buffer[] = [];
      for (let i = 0, n = 1 + Math.floor(rnd() * 12); i < n; i++) {
        const m = Buffer.alloc(16 + Math.floor(rnd() * (rnd() < 0.1 ? 65520 : 1500)));
        for (let k = 0; k < m.length; k++) m[k] = (rnd() * 256) | 0;
        m.writeUInt16BE(10, 0);
        m.writeUInt16BE(m.length, 2);
        messages.push(m);
      }
      const broken = rnd() < 0.3 ? Math.floor(rnd() * messages.length) : -1;
      if (broken >= 0) {
        const m = messages[broken]!;
        if (rnd() < 0.5) m.writeUInt16BE(9, 0); // a NetFlow v9 header where an IPFIX one belongs
        else m.writeUInt16BE(Math.floor(rnd() * 16), 2); // a Length below the 16-octet header
      }
      const stream = Buffer.concat(messages);
      const got: Buffer[] = [];
      const f = new MessageFramer((m) => got.push(Buffer.from(m)));
      let error: unknown;
      for (let o = 0; o < stream.length && !error; ) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 64 : 9000));
        error = f.push(stream.subarray(o, o + n));
        o += n;
      }
      const whole = broken >= 0 ? messages.slice(0, broken) : messages;
      expect(got.length).toBe(whole.length);
      for (let i = 0; i < whole.length; i++) expect(got[i]!.equals(whole[i]!)).toBe(true);
      if (broken >= 0) expect(error).toMatchObject({ reason: expect.stringMatching(/^(unknown_version|bad_length)$/) });
      else expect([error, f.buffered]).toEqual([undefined, 0]);
      expect(f.buffered).toBeLessThanOrEqual(65535);
    }
  });

  it('reports a stream that is not IPFIX (version, length below the header) with the offset', () => {
    const v9 = Buffer.from('0009000100000000000000000000000000', 'hex');
    const f = new MessageFramer(() => {});
    expect(f.push(Buffer.concat([ipfix(1, template256), v9]))).toEqual({ reason: 'unknown_version', message: 'not an IPFIX stream: version 9 at stream offset 32' });
    const g = new MessageFramer(() => {});
    const short = Buffer.from([0, 10, 0, 8]);
    expect(g.push(short.subarray(0, 3))).toBeUndefined();
    expect(g.push(short.subarray(3))).toEqual({ reason: 'bad_length', message: 'not an IPFIX stream: message length 8 (< 16) at stream offset 0' });
  });
});

describe('reliable input over TCP', () => {
  it('one connection = one Transport Session: withdrawals honoured, nothing expires while it is up, close ends every session at once', async () => {
    const { sink, events } = recorder();
    const cfg = input();
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    try {
      const c = await connect(cp.port);
      const m1 = ipfix(1, template256, data256(1, 80));
      const m2 = ipfix(2, template256, data256(2, 443));
      // Both messages in three writes that cut them in odd places.
      const all = Buffer.concat([m1, m2]);
      c.write(all.subarray(0, 5));
      await new Promise((r) => setTimeout(r, 20));
      c.write(all.subarray(5, 41));
      await new Promise((r) => setTimeout(r, 20));
      c.write(all.subarray(41));
      await until(() => events.filter((e) => e[0] === 'records').length === 2);
      expect(events.filter((e) => e[0] === 'records')).toEqual([
        ['records', 1, 256, 1, 'c000020100' + '50'],
        ['records', 2, 256, 1, 'c000020201bb'],
      ]);
      expect(cp.connections()).toEqual([expect.objectContaining({ exporter: `127.0.0.1:${c.localPort}`, address: '127.0.0.1', port: c.localPort, transport: 'tcp', messages: 2 })]);
      // Long past sessionTimeout and templateTimeout (5 s): a connected exporter's session and templates stay.
      cp.sweep(Date.now() + 60_000);
      expect(events.filter((e) => e[0] === 'ended' || e[0] === 'withdrawn')).toEqual([]);
      // A Template Withdrawal over TCP is honoured (over UDP it would be ignored).
      c.write(ipfix(1, withdraw256));
      await until(() => events.some((e) => e[0] === 'withdrawn'));
      expect(events.filter((e) => e[0] === 'withdrawn')).toEqual([['withdrawn', 1, 256]]);
      c.end();
      await until(() => events.filter((e) => e[0] === 'ended').length === 2);
      expect(events.filter((e) => e[0] === 'ended')).toEqual([
        ['ended', 1, 'closed'],
        ['ended', 2, 'closed'],
      ]);
      expect(cp.connections()).toEqual([]);
      expect(await counter('ipfix_mediator_input_connections', { input: cfg.name })).toBe(0);
      expect(await counter('ipfix_mediator_input_connections_accepted_total', { input: cfg.name })).toBe(1);
      expect(await counter('ipfix_mediator_packets_received_total', { input: cfg.name, protocol: 'ipfix' })).toBe(3);
      expect(await counter('ipfix_mediator_records_received_total', { input: cfg.name, protocol: 'ipfix' })).toBe(2);
    } finally {
      await cp.stop();
    }
  });

  it('closes a connection that does not speak IPFIX, counted and logged', async () => {
    const { sink, events } = recorder();
    const cfg = input();
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    try {
      const c = await connect(cp.port);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.on('error', () => {});
      c.write(ipfix(5, template256));
      c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await closed;
      await until(() => events.some((e) => e[0] === 'ended'));
      expect(events.map((e) => e[0])).toEqual(['started', 'defined', 'ended']);
      expect(await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'not_ipfix' })).toBe(1);
      expect(await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'unknown_version' })).toBe(1);
    } finally {
      await cp.stop();
    }
  });

  it('IPv6: listens on [::1], names the exporter ::1; the allow list refuses 127.0.0.2 before anything is read', async () => {
    const { sink, events } = recorder();
    const v6 = input({ listen: 'tcp://[::1]:0', allow: ['::1/128'] });
    const cp6 = new CollectingProcess(v6, sink, options);
    const v4 = input({ allow: ['127.0.0.1/32'] });
    const cp4 = new CollectingProcess(v4, sink, options);
    await cp6.start();
    await cp4.start();
    try {
      const c = await connect(cp6.port, '::1');
      c.write(ipfix(9, template256, data256(4, 8080)));
      await until(() => events.some((e) => e[0] === 'records'));
      expect(events.slice(0, 3)).toEqual([
        ['started', 9, '::1'],
        ['defined', 9, 256],
        ['records', 9, 256, 1, 'c00002041f90'],
      ]);
      c.destroy();
      await until(() => events.some((e) => e[0] === 'ended'));

      const refused = net.connect({ host: '127.0.0.1', port: cp4.port, localAddress: '127.0.0.2' });
      refused.on('error', () => {});
      refused.write(ipfix(9, template256));
      await new Promise<void>((r) => refused.once('close', () => r()));
      await until(async () => (await counter('ipfix_mediator_input_connections_refused_total', { input: v4.name, reason: 'not_allowed' })) === 1);
      expect(await counter('ipfix_mediator_input_connections_accepted_total', { input: v4.name })).toBe(0);
      expect(events.filter((e) => e[0] === 'started')).toEqual([['started', 9, '::1']]);
    } finally {
      await cp6.stop();
      await cp4.stop();
    }
  });

  it('an SCTP-style association plugs in: whole messages with a stream number, a malformed one refused, close ends its sessions', async () => {
    const { sink, events } = recorder();
    const cfg = input({ listen: 'udp://127.0.0.1:0' });
    const cp = new CollectingProcess(cfg, sink, options);
    const ts = cp.openTransportSession({ transport: 'sctp', address: '192.0.2.9', port: 4739, identity: 'assoc-1' });
    expect(ts.message(new Uint8Array(ipfix(3, template256, data256(9, 22))), 1)).toBe(true);
    const broken = ipfix(3, data256(9, 22));
    broken.writeUInt16BE(broken.length + 4, 2); // Length says more than the user message holds
    expect(ts.message(broken, 1)).toBe(false);
    expect(ts.message(ipfix(3, withdraw256), 0)).toBe(true);
    ts.close();
    expect(events).toEqual([
      ['started', 3, '192.0.2.9'],
      ['defined', 3, 256],
      ['records', 3, 256, 1, 'c00002090016'],
      ['withdrawn', 3, 256],
      ['ended', 3, 'closed'],
    ]);
    expect(ts.message(ipfix(3, template256), 0)).toBe(false); // closed
    expect(await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'bad_length' })).toBe(1);
  });
});
