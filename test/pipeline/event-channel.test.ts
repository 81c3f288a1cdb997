// The event channel (src/pipeline/event-channel.ts): sink events written to bytes in one thread, replayed
// into a sink in another, must arrive as the same calls in the same order with the same record octets.
// Driven by a real Collecting Process over corpus captures, and by hand for every event type.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolve } from 'node:path';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import { makeExporterSession } from '../../src/collect/session.js';
import { makeTemplate } from '../../src/ipfix/template.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { EVENT_BATCH_BYTES, EventReader, EventWriter } from '../../src/pipeline/event-channel.js';
import { ipfix, set } from '../helpers/ipfix-message.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };

let inputSeq = 0;
function input(): InputConfig {
  return { name: `ch${++inputSeq}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20 };
}

type Ev = unknown[];
/** Every call with the values that must survive the trip: identities by content (uids differ per thread). */
function recorder(): { sink: RecordSink; events: Ev[] } {
  const events: Ev[] = [];
  const tpl = (t: { id: number; scopeCount: number; fields: readonly { id: number; enterprise: number; length: number }[] }) => [t.id, t.scopeCount, t.fields.map((f) => `${f.enterprise}/${f.id}/${f.length}`).join(',')];
  const ses = (s: { input: string; protocol: string; address: string; port: number; observationDomainId: number; addressBytes: Buffer }) => [s.input, s.protocol, s.address, s.port, s.observationDomainId, s.addressBytes.toString('hex')];
  return {
    events,
    sink: {
      sessionStarted: (s) => events.push(['started', ...ses(s)]),
      templateDefined: (s, t) => events.push(['defined', s.address, s.observationDomainId, ...tpl(t)]),
      templateWithdrawn: (s, t) => events.push(['withdrawn', s.address, s.observationDomainId, ...tpl(t)]),
      records: (s, t, buf, start, end, count, exportTime) => events.push(['records', s.address, s.port, s.observationDomainId, t.id, count, exportTime, buf.toString('hex', start, end)]),
      sessionEnded: (s, reason) => events.push(['ended', s.address, s.observationDomainId, reason]),
    },
  };
}

/** A writer whose batches are read back into `sink` whenever `pump` is called (buffers recycled like the worker's). */
function channel(name: string, sink: RecordSink) {
  const free: ArrayBuffer[] = [];
  let allocated = 0;
  const writer = new EventWriter((size) => {
    const b = size === EVENT_BATCH_BYTES ? free.pop() : undefined;
    if (b) return b;
    allocated++;
    return new ArrayBuffer(size);
  });
  const reader = new EventReader(name);
  let batches = 0;
  const pump = () => {
    for (const b of writer.take()) {
      batches++;
      reader.replay(b, sink);
      new Uint8Array(b).fill(0xee); // the sink's contract: the buffer is reused after the call
      if (b.byteLength === EVENT_BATCH_BYTES) free.push(b);
    }
  };
  return { writer, reader, pump, stats: () => ({ batches, allocated }) };
}

describe('EventWriter → EventReader', () => {
  afterEach(() => void vi.useRealTimers());

  it.each([
    ['sflow/oxyflow__sflow.pcap', 27],
    ['nf9/pmacct__102-NFv9-CISCO-sampling.pcap', 2],
    ['ipfix/pmacct__112-IPFIX-CISCO-options.pcap', 2],
    ['nf5/overflowd__netflow_4M.pcap', 2],
  ])('replays what a Collecting Process emits for %s exactly (records, templates, sessions, shutdown)', async (capture, sessions) => {
    // sFlow carries no absolute time: its records are stamped with the time of receipt, the same for both here.
    vi.useFakeTimers({ toFake: ['Date'], now: 1_795_446_860_000 });
    const packets = udpPayloads(resolve(corpus, capture));
    const direct = recorder();
    const through = recorder();
    const c = input();
    const ch = channel(c.name, through.sink);
    const a = new CollectingProcess(c, direct.sink, options);
    const b = new CollectingProcess(c, ch.writer, options);
    for (const [i, p] of packets.entries()) {
      a.feed(p.payload, p.src, p.srcPort);
      b.feed(p.payload, p.src, p.srcPort);
      if (i % 7 === 6) ch.pump(); // batches of several datagrams, as the worker sends them
    }
    ch.pump();
    expect(ch.reader.sessionCount).toBe(sessions);
    await a.stop();
    await b.stop();
    ch.pump();
    expect(ch.reader.sessionCount).toBe(0);
    const records = direct.events.filter((e) => e[0] === 'records').length;
    expect(records).toBeGreaterThan(0);
    expect(direct.events.filter((e) => e[0] === 'ended')).toHaveLength(sessions);
    expect(through.events).toEqual(direct.events);
  });

  it('carries every event type, in order, with the record octets and export time', () => {
    const through = recorder();
    const ch = channel('by-hand', through.sink);
    const v6 = makeExporterSession('by-hand', 'ipfix', '2001:db8::7', 4739, 0xfffffffe);
    const v4 = makeExporterSession('by-hand', 'netflow9', '192.0.2.1', 65535, 7);
    // Template 256 (sourceIPv4Address, destinationTransportPort), its redefinition with an enterprise varlen
    // field, and an Options Template with one scope field.
    const t1 = makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }, { id: 11, enterprise: 0, length: 2 }]);
    const t2 = makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }, { id: 100, enterprise: 4294967293, length: 65535 }]);
    const opt = makeTemplate(257, [{ id: 149, enterprise: 0, length: 4 }, { id: 34, enterprise: 0, length: 4 }], 1);
    // Two records of t1: 10.0.0.1 port 53, 10.0.0.2 port 443; one of t2: 10.0.0.3 then a 3-octet varlen "abc".
    const r1 = Buffer.from('0a00000100350a00000201bb', 'hex');
    const r2 = Buffer.from('ff0a00000303616263ff', 'hex'); // taken from [1, 9): the bytes around are not records
    const w = ch.writer;
    w.sessionStarted(v6);
    w.sessionStarted(v4);
    w.templateDefined(v6, t1);
    w.templateDefined(v4, opt);
    w.records(v6, t1, r1, 0, r1.length, 2, 1_700_000_000);
    w.templateWithdrawn(v6, t1);
    w.templateDefined(v6, t2);
    w.records(v6, t2, r2, 1, 9, 1, 1_700_000_001.5);
    w.sessionEnded(v4, 'timeout');
    w.sessionEnded(v6, 'restart');
    ch.pump();
    expect(through.events).toEqual([
      ['started', 'by-hand', 'ipfix', '2001:db8::7', 4739, 0xfffffffe, '20010db8000000000000000000000007'],
      ['started', 'by-hand', 'netflow9', '192.0.2.1', 65535, 7, 'c0000201'],
      ['defined', '2001:db8::7', 0xfffffffe, 256, 0, '0/8/4,0/11/2'],
      ['defined', '192.0.2.1', 7, 257, 1, '0/149/4,0/34/4'],
      ['records', '2001:db8::7', 4739, 0xfffffffe, 256, 2, 1_700_000_000, '0a00000100350a00000201bb'],
      ['withdrawn', '2001:db8::7', 0xfffffffe, 256, 0, '0/8/4,0/11/2'],
      ['defined', '2001:db8::7', 0xfffffffe, 256, 0, '0/8/4,4294967293/100/65535'],
      ['records', '2001:db8::7', 4739, 0xfffffffe, 256, 1, 1_700_000_001.5, '0a00000303616263'],
      ['ended', '192.0.2.1', 7, 'timeout'],
      ['ended', '2001:db8::7', 0xfffffffe, 'restart'],
    ]);
    expect(ch.reader.sessionCount).toBe(0);
  });

  it('a Template redefinition from a real exporter arrives as withdrawn then defined', () => {
    const through = recorder();
    const c = input();
    const ch = channel(c.name, through.sink);
    const cp = new CollectingProcess(c, ch.writer, options);
    const tmpl = (...fields: [number, number][]) => set(2, Buffer.from([1, 0, 0, fields.length, ...fields.flatMap(([f, l]) => [0, f, 0, l])]));
    cp.feed(ipfix(9, tmpl([8, 4], [11, 2]), set(256, Buffer.from('0a00000100350a00000201bb', 'hex'))), '198.51.100.1', 4739);
    cp.feed(ipfix(9, tmpl([8, 4]), set(256, Buffer.from('0a000009', 'hex'))), '198.51.100.1', 4739);
    ch.pump();
    expect(through.events.map((e) => e.slice(0, 1).concat(e.slice(-2)))).toEqual([
      ['started', 9, 'c6336401'],
      ['defined', 0, '0/8/4,0/11/2'],
      ['records', 1_700_000_000, '0a00000100350a00000201bb'],
      ['withdrawn', 0, '0/8/4,0/11/2'],
      ['defined', 0, '0/8/4'],
      ['records', 1_700_000_000, '0a000009'],
    ]);
  });

  it('announces live sessions and templates to a late sink, and ends them all when the worker is gone', () => {
    const first = recorder();
    const c = input();
    const ch = channel(c.name, first.sink);
    const cp = new CollectingProcess(c, ch.writer, options);
    for (const p of udpPayloads(resolve(corpus, 'nf9/pmacct__102-NFv9-CISCO-sampling.pcap'))) cp.feed(p.payload, p.src, p.srcPort);
    ch.pump();
    const late = recorder();
    ch.reader.announceTo(late.sink);
    // Per session in the order they started: the session, then its templates in the order they were defined.
    const started = first.events.filter((e) => e[0] === 'started');
    const live = started.flatMap((s) => [s, ...first.events.filter((e) => e[0] === 'defined' && e[1] === s[3] && e[2] === s[5])]);
    expect(live.length).toBeGreaterThan(2);
    expect(late.events).toEqual(live);
    expect(late.events.filter((e) => e[0] === 'started')).toHaveLength(2);
    const ended = recorder();
    ch.reader.endAll(ended.sink, 'shutdown');
    expect(ended.events).toEqual(started.map((e) => ['ended', e[3], e[5], 'shutdown']));
    expect(ch.reader.sessionCount).toBe(0);
  });

  it('stops at the mark of a datagram batch whose turn has not come, and goes on from there', () => {
    const through = recorder();
    const ch = channel('marks', through.sink);
    const s = makeExporterSession('marks', 'netflow5', '192.0.2.5', 2055, 0);
    const t = makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }]);
    const w = ch.writer;
    w.sessionStarted(s); // before any mark: a sweep's events
    w.batch(7);
    w.templateDefined(s, t);
    w.records(s, t, Buffer.from('0a000001', 'hex'), 0, 4, 1, 1);
    w.batch(8);
    w.records(s, t, Buffer.from('0a000002', 'hex'), 0, 4, 1, 2);
    const [b] = w.take();
    let turn = 0;
    const pass = (sequence: number) => sequence === turn;
    const at7 = ch.reader.replay(b!, through.sink, undefined, pass);
    expect(through.events.map((e) => e[0])).toEqual(['started']);
    turn = 7;
    const at8 = ch.reader.replay(b!, through.sink, at7, pass);
    expect(at8).toBeGreaterThan(at7);
    expect(through.events.map((e) => e[0])).toEqual(['started', 'defined', 'records']);
    turn = 8;
    expect(ch.reader.replay(b!, through.sink, at8, pass)).toBe(-1);
    expect(through.events.map((e) => e.at(-1))).toEqual(['c0000205', '0/8/4', '0a000001', '0a000002']);
  });

  it('a sink that throws loses that one event, not the ones after it', () => {
    const through = recorder();
    const failing: RecordSink = {
      ...through.sink,
      templateDefined: () => {
        throw new Error('downstream bug');
      },
    };
    const ch = channel('throws', failing);
    const s = makeExporterSession('throws', 'netflow5', '192.0.2.6', 2055, 0);
    const t = makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }]);
    ch.writer.sessionStarted(s);
    ch.writer.templateDefined(s, t);
    ch.writer.records(s, t, Buffer.from('0a000003', 'hex'), 0, 4, 1, 1);
    ch.writer.sessionEnded(s, 'timeout');
    const errors: unknown[] = [];
    for (const b of ch.writer.take()) ch.reader.replay(b, failing, undefined, undefined, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect(through.events.map((e) => e[0])).toEqual(['started', 'records', 'ended']);
  });

  it('gives a records event larger than a batch a batch of its own', () => {
    const through = recorder();
    const ch = channel('big', through.sink);
    const s = makeExporterSession('big', 'ipfix', '192.0.2.9', 1, 1);
    const t = makeTemplate(300, [{ id: 8, enterprise: 0, length: 4 }]);
    const big = Buffer.alloc(EVENT_BATCH_BYTES + 4000);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
    ch.writer.sessionStarted(s);
    ch.writer.templateDefined(s, t);
    ch.writer.records(s, t, big, 0, big.length, big.length / 4, 5);
    ch.writer.sessionEnded(s, 'closed');
    ch.pump();
    expect(ch.stats().batches).toBe(3);
    expect(through.events.map((e) => e[0])).toEqual(['started', 'defined', 'records', 'ended']);
    expect(through.events[2]![7]).toBe(big.toString('hex'));
  });
});
