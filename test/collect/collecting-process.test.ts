import { DEFAULT_MAPPING } from '../../src/config/load.js';
import { describe, expect, it, vi } from 'vitest';
import dgram from 'node:dgram';
import { resolve } from 'node:path';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import type { InputConfig } from '../../src/config/types.js';
import { loadRegistry } from '../../src/model/registry.js';
import { registry as metrics } from '../../src/observe/metrics.js';
import { counter } from '../helpers/metrics.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { log } from '../../src/observe/log.js';
import type { DecodeFn } from '../../src/collect/decoder.js';
import { ipfix, set } from '../helpers/ipfix-message.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };

let inputSeq = 0;
function input(over: Partial<InputConfig> = {}): InputConfig {
  return { name: `t${++inputSeq}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20, ...over };
}

type Ev = [string, ...unknown[]];
function recorder(): { sink: RecordSink; events: Ev[] } {
  const events: Ev[] = [];
  return {
    events,
    sink: {
      sessionStarted: (s) => events.push(['started', s.address, s.port, s.observationDomainId]),
      templateDefined: (s, t) => events.push(['defined', s.uid, t.id, t.uid]),
      templateWithdrawn: (s, t) => events.push(['withdrawn', s.uid, t.id, t.uid]),
      records: (s, t, _b, _st, _e, count) => events.push(['records', s.uid, t.id, count]),
      sessionEnded: (s, reason) => events.push(['ended', s.uid, reason]),
    },
  };
}

const tmpl = (id: number, ...fields: [number, number][]) => set(2, Buffer.from([id >> 8, id & 255, 0, fields.length, ...fields.flatMap(([f, l]) => [f >> 8, f & 255, l >> 8, l & 255])]));
const data = (id: number, ...bytes: number[]) => set(id, Buffer.from(bytes));

describe('CollectingProcess', () => {
  it('receives v5 over a real UDP socket, counts datagrams and octets, and announces the session before its records', async () => {
    const { sink, events } = recorder();
    const cfg = input();
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    const tx = dgram.createSocket('udp4');
    const pkts = udpPayloads(resolve(corpus, 'nf5/logstash-dat__generic.pcap'));
    for (const p of pkts) await new Promise<void>((r) => tx.send(p.payload, cp.port, '127.0.0.1', () => r()));
    const expected = pkts.reduce((n, p) => n + p.payload.readUInt16BE(2), 0);
    for (let i = 0; i < 100 && events.filter((e) => e[0] === 'records').reduce((n, e) => n + (e[3] as number), 0) < expected; i++) await new Promise((r) => setTimeout(r, 20));
    tx.close();
    await cp.stop();
    expect(events[0]![0]).toBe('started');
    expect(events.filter((e) => e[0] === 'records').reduce((n, e) => n + (e[3] as number), 0)).toBe(expected);
    expect(events.at(-1)).toEqual(['ended', expect.any(Number), 'shutdown']);
    expect(await counter('ipfix_mediator_packets_received_total', { input: cfg.name, protocol: 'netflow5' })).toBe(pkts.length);
    expect(await counter('ipfix_mediator_bytes_received_total', { input: cfg.name })).toBe(pkts.reduce((n, p) => n + p.payload.length, 0));
    expect(await counter('ipfix_mediator_records_received_total', { input: cfg.name, protocol: 'netflow5' })).toBe(expected);
  });

  it('keeps two exporters with the same ODID and template ids apart', async () => {
    const { sink, events } = recorder();
    const cfg = input();
    const cp = new CollectingProcess(cfg, sink, options);
    const msg = ipfix(7, tmpl(300, [8, 4]), data(300, 192, 0, 2, 1));
    cp.feed(msg, '127.0.0.2', 5000);
    cp.feed(msg, '127.0.0.3', 5000);
    const started = events.filter((e) => e[0] === 'started');
    expect(started).toEqual([['started', '127.0.0.2', 5000, 7], ['started', '127.0.0.3', 5000, 7]]);
    const defined = events.filter((e) => e[0] === 'defined');
    expect(defined.length).toBe(2);
    expect(defined[0]![1]).not.toBe(defined[1]![1]);
    // Port and ODID are part of the key too (the largest ODID included); a repeat finds its session again.
    cp.feed(ipfix(7, tmpl(300, [8, 4])), '127.0.0.2', 5001);
    cp.feed(ipfix(0xffffffff, tmpl(300, [8, 4])), '127.0.0.2', 5000);
    cp.feed(ipfix(0xfffffffe, tmpl(300, [8, 4])), '127.0.0.2', 5000);
    cp.feed(msg, '127.0.0.2', 5000);
    expect(events.filter((e) => e[0] === 'started').slice(2)).toEqual([
      ['started', '127.0.0.2', 5001, 7],
      ['started', '127.0.0.2', 5000, 0xffffffff],
      ['started', '127.0.0.2', 5000, 0xfffffffe],
    ]);
    expect(events.at(-1)).toEqual(['records', defined[0]![1], 300, 1]);
    // Counted per datagram in plain numbers, exact at every read of the registry (no sweep or stop yet).
    expect(await counter('ipfix_mediator_packets_received_total', { input: cfg.name, protocol: 'ipfix' })).toBe(6);
    expect(await metrics.metrics()).toContain(`ipfix_mediator_records_received_total{input="${cfg.name}",protocol="ipfix"} 3`);
  });

  it('withdraws the old definition before announcing a redefinition, and refreshes an identical one silently', () => {
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    cp.feed(ipfix(1, tmpl(300, [8, 4])), '127.0.0.2', 1);
    cp.feed(ipfix(1, tmpl(300, [8, 4])), '127.0.0.2', 1);
    cp.feed(ipfix(1, tmpl(300, [12, 4], [7, 2]), data(300, 1, 2, 3, 4, 0, 80)), '127.0.0.2', 1);
    expect(events.map((e) => e[0])).toEqual(['started', 'defined', 'withdrawn', 'defined', 'records']);
    expect(events[2]![3]).toBe(events[1]![3]); // the withdrawn uid is the first definition
  });

  it('holds data until its template comes, and expires what never gets one', async () => {
    const { sink, events } = recorder();
    let now = 1_000_000;
    const cfg = input({ pendingTimeout: 5 });
    const cp = new CollectingProcess(cfg, sink, options, () => now);
    cp.feed(ipfix(1, data(300, 10, 0, 0, 1)), '127.0.0.2', 1);
    cp.feed(ipfix(1, data(301, 10, 0, 0, 2)), '127.0.0.2', 1);
    expect(events.filter((e) => e[0] === 'records')).toEqual([]);
    cp.feed(ipfix(1, tmpl(300, [8, 4])), '127.0.0.2', 1);
    expect(events.filter((e) => e[0] === 'records').map((e) => e[2])).toEqual([300]);
    now += 6000;
    cp.sweep(now);
    expect(await counter('ipfix_mediator_records_dropped_total', { stage: cfg.name, reason: 'no_template' })).toBe(1);
  });

  it('drops the oldest held set past pendingLimit', async () => {
    const { sink } = recorder();
    const cfg = input({ pendingLimit: 2 });
    const cp = new CollectingProcess(cfg, sink, options);
    for (let i = 0; i < 5; i++) cp.feed(ipfix(1, data(300 + i, 1, 2, 3, 4)), '127.0.0.2', 1);
    expect(await counter('ipfix_mediator_records_dropped_total', { stage: cfg.name, reason: 'pending_overflow' })).toBe(3);
  });

  it('ends a silent session after sessionTimeout and expires unrefreshed templates', () => {
    const { sink, events } = recorder();
    let now = 0;
    const cp = new CollectingProcess(input({ sessionTimeout: 60, templateTimeout: 30 }), sink, options, () => now);
    cp.feed(ipfix(1, tmpl(300, [8, 4])), '127.0.0.2', 1);
    cp.feed(ipfix(2, tmpl(300, [8, 4])), '127.0.0.2', 1);
    now = 31_000;
    cp.feed(ipfix(2, data(300, 1, 2, 3, 4)), '127.0.0.2', 1); // keeps session 2 alive, not its template
    cp.sweep(now);
    expect(events.filter((e) => e[0] === 'withdrawn').length).toBe(2);
    now = 61_500;
    cp.sweep(now);
    expect(events.filter((e) => e[0] === 'ended')).toEqual([['ended', expect.any(Number), 'timeout']]);
  });

  it('keeps templates the decoder made itself (NetFlow v5) for as long as their session lives', () => {
    const { sink, events } = recorder();
    let now = 0;
    const cp = new CollectingProcess(input({ sessionTimeout: 60, templateTimeout: 30 }), sink, options, () => now);
    const v5 = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'))[0]!.payload;
    cp.feed(v5, '127.0.0.2', 1);
    for (now = 20_000; now <= 100_000; now += 20_000) {
      cp.feed(v5, '127.0.0.2', 1);
      cp.sweep(now);
    }
    // 100 s of traffic, past the 30 s template lifetime: one definition, no withdrawal, 6 × 29 records.
    expect(events.filter((e) => e[0] === 'defined').length).toBe(1);
    expect(events.filter((e) => e[0] === 'withdrawn').length).toBe(0);
    expect(events.filter((e) => e[0] === 'records').reduce((n, e) => n + (e[3] as number), 0)).toBe(6 * 29);
  });

  it('counts a cut sFlow header, unknown versions, protocol mismatches and a throwing decoder, and carries on', async () => {
    const { sink, events } = recorder();
    const cfg = input({ protocol: 'netflow9' });
    const cp = new CollectingProcess(cfg, sink, options);
    cp.feed(Buffer.from([0, 0, 0, 5, 0, 0, 0, 1]), '127.0.0.2', 1);
    cp.feed(Buffer.from([0, 7, 0, 0]), '127.0.0.2', 1);
    cp.feed(ipfix(1, tmpl(300, [8, 4])), '127.0.0.2', 1);
    (cp as unknown as { decoders: Map<string, unknown> }).decoders.set('netflow9', () => {
      throw new Error('bug');
    });
    cp.feed(Buffer.from([0, 9, 0, 0, ...new Array(16).fill(0)]), '127.0.0.2', 1);
    for (const reason of ['protocol_mismatch', 'unknown_version', 'decoder_error']) {
      expect(await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason })).toBe(reason === 'protocol_mismatch' ? 2 : 1);
    }
    const auto = input();
    const cp2 = new CollectingProcess(auto, sink, options);
    // An sFlow v5 header cut after 8 octets reaches the sFlow decoder, which drops it as truncated.
    cp2.feed(Buffer.from([0, 0, 0, 5, 0, 0, 0, 1]), '127.0.0.2', 1);
    expect(await counter('ipfix_mediator_packets_dropped_total', { input: auto.name, reason: 'truncated' })).toBe(1);
    expect(events).toEqual([]);
  });

  it('releases held sets in arrival order on definition and keeps the session and template gauges right', async () => {
    const { sink, events } = recorder();
    let now = 0;
    const cfg = input({ sessionTimeout: 60 });
    const cp = new CollectingProcess(cfg, sink, options, () => now);
    const gauge = (name: string) => counter(name, { input: cfg.name });
    // Two data sets for template 300 before it exists: one record, then two (4-octet records).
    cp.feed(ipfix(1, data(300, 10, 0, 0, 1)), '127.0.0.2', 1);
    cp.feed(ipfix(1, data(300, 10, 0, 0, 2, 10, 0, 0, 3)), '127.0.0.2', 1);
    expect(await gauge('ipfix_mediator_pending_sets')).toBe(2);
    cp.feed(ipfix(1, tmpl(300, [8, 4]), tmpl(301, [12, 4])), '127.0.0.2', 1);
    cp.feed(ipfix(2, tmpl(300, [8, 4])), '127.0.0.3', 1);
    expect(events.filter((e) => e[0] === 'records').map((e) => e[3])).toEqual([1, 2]);
    expect(await gauge('ipfix_mediator_pending_sets')).toBe(0);
    expect(await gauge('ipfix_mediator_exporter_sessions')).toBe(2);
    expect(await gauge('ipfix_mediator_templates')).toBe(3);
    now = 30_000;
    cp.feed(ipfix(2, data(300, 1, 2, 3, 4)), '127.0.0.3', 1);
    now = 61_000;
    cp.sweep(now); // 127.0.0.2 silent for 61 s: ended with its two templates, and no per-template withdrawal
    expect(events.filter((e) => e[0] === 'withdrawn')).toEqual([]);
    expect(await gauge('ipfix_mediator_exporter_sessions')).toBe(1);
    expect(await gauge('ipfix_mediator_templates')).toBe(1);
    expect(await counter('ipfix_mediator_exporter_sessions_ended_total', { input: cfg.name, reason: 'timeout' })).toBe(1);
    await cp.stop();
    expect(await gauge('ipfix_mediator_exporter_sessions')).toBe(0);
    expect(await gauge('ipfix_mediator_templates')).toBe(0);
    expect(await counter('ipfix_mediator_exporter_sessions_ended_total', { input: cfg.name, reason: 'shutdown' })).toBe(1);
  });

  it('counts a decoder\'s drops as datagrams or records, logs them with exporter fields, and drops runts as truncated', async () => {
    const { sink } = recorder();
    const cfg = input();
    const cp = new CollectingProcess(cfg, sink, options);
    const warn = vi.spyOn(log, 'warn');
    try {
      const fake: DecodeFn = (ctx, d, address, port) => {
        const s = ctx.session('ipfix', address, port, d.readUInt32BE(12));
        ctx.drop('bad_length', { session: s.session, offset: 16, templateId: 300, message: 'set beyond the message' }, 3);
        ctx.drop('truncated', { session: s.session, offset: 4, message: 'short header' });
      };
      (cp as unknown as { decoders: Map<string, DecodeFn> }).decoders.set('ipfix', fake);
      cp.feed(ipfix(9), '127.0.0.5', 7);
      cp.feed(Buffer.from([0, 10, 0]), '127.0.0.5', 7);
      expect(await counter('ipfix_mediator_records_dropped_total', { stage: cfg.name, reason: 'bad_length' })).toBe(3);
      expect(await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'bad_length' })).toBe(0);
      expect(await counter('ipfix_mediator_packets_dropped_total', { input: cfg.name, reason: 'truncated' })).toBe(2);
      const fields = warn.mock.calls.map((c) => c[0] as unknown as Record<string, unknown>);
      expect(fields[0]).toMatchObject({ input: cfg.name, reason: 'bad_length', exporter: '127.0.0.5', odid: 9, templateId: 300, offset: 16, records: 3 });
      expect(fields.at(-1)).toMatchObject({ input: cfg.name, reason: 'truncated' });
    } finally {
      warn.mockRestore();
    }
  });
});
