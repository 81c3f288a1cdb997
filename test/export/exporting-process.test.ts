// The Exporting Process over real loopback sockets and files, its output parsed back with the project's
// own IPFIX reader and judged by ipfixDump.

import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createExportingProcess, ExportingProcess } from '../../src/export/index.js';
import type { OutputConfig } from '../../src/config/types.js';
import { makeExporterSession } from '../../src/collect/session.js';
import { makeTemplate } from '../../src/ipfix/template.js';
import { readTemplateSet, messageLength } from '../../src/ipfix/reader.js';
import { metricsText } from '../../src/observe/metrics.js';

function output(url: string, over: Partial<OutputConfig> = {}): OutputConfig {
  return { name: `o${Math.random().toString(36).slice(2, 7)}`, url, templateRefresh: 60, mtu: 1500, flushInterval: 10, reconnectMin: 0.05, reconnectMax: 0.2, queueLimit: 1 << 20, rotate: { maxBytes: 1 << 20, interval: 300, keep: 0 }, ...over };
}

interface Parsed {
  odid: number;
  sequence: number;
  length: number;
  sets: { id: number; length: number; templates?: { id: number; fields: number; scope: number; withdrawal?: boolean }[] }[];
}

function parseStream(b: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let o = 0;
  while (o < b.length) {
    const len = messageLength(b, o);
    if (typeof len !== 'number') throw new Error(len.message);
    const m: Parsed = { odid: b.readUInt32BE(o + 12), sequence: b.readUInt32BE(o + 8), length: len, sets: [] };
    let p = o + 16;
    while (p < o + len) {
      const id = b.readUInt16BE(p);
      const sl = b.readUInt16BE(p + 2);
      const set: Parsed['sets'][number] = { id, length: sl };
      if (id === 2 || id === 3) {
        set.templates = [];
        readTemplateSet(b, p + 4, p + sl, id, {
          template: (tid, fields, scope) => set.templates!.push({ id: tid, fields: fields.length, scope }),
          withdrawal: (tid) => set.templates!.push({ id: tid, fields: 0, scope: 0, withdrawal: true }),
          error: (e) => {
            throw new Error(e.message);
          },
        });
      }
      m.sets.push(set);
      p += sl;
    }
    out.push(m);
    o += len;
  }
  return out;
}

const t4 = () => makeTemplate(300, [{ id: 8, enterprise: 0, length: 4 }, { id: 2, enterprise: 0, length: 4 }]);
function recs(n: number): Buffer {
  const b = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) {
    b.writeUInt32BE(0xc0000200 + i, 8 * i);
    b.writeUInt32BE(i + 1, 8 * i + 4);
  }
  return b;
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Exporting Process', () => {
  it('UDP: templates and the RFC 7119 origin record before data, messages within the MTU, sequence numbers by records', async () => {
    const rx = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const ep = createExportingProcess(output(`udp://127.0.0.1:${rx.address().port}`, { mtu: 576 }));
    await ep.start();
    const s = makeExporterSession('in', 'netflow9', '192.0.2.7', 2055, 42);
    const t = t4();
    ep.sessionStarted(s);
    ep.templateDefined(s, t);
    const data = recs(200);
    ep.records(s, t, data, 0, data.length, 200, 0);
    ep.flush();
    for (let i = 0; i < 100 && got.reduce((n, m) => n + m.length, 0) < 1600; i++) await wait(10);
    await ep.close();
    rx.close();
    const msgs = got.flatMap((g) => parseStream(g));
    expect(msgs.every((m) => m.length <= 576 - 28)).toBe(true);
    const first = msgs[0]!;
    // Options template (origin) and the data template come first, then the origin record, then data.
    expect(first.sets[0]!.id).toBe(3);
    expect(first.sets[0]!.templates![0]).toMatchObject({ fields: 3, scope: 1 });
    const dataTemplate = first.sets.find((x) => x.id === 2)!.templates![0]!;
    expect(dataTemplate.fields).toBe(2);
    // 200 records of 8 octets arrive whole; each message's sequence number counts the records before it.
    let seq = 0;
    let n = 0;
    for (const m of msgs) {
      expect(m.sequence).toBe(seq);
      for (const set of m.sets) if (set.id === dataTemplate.id) n += (set.length - 4) / 8;
      const records = m.sets.filter((x) => x.id >= 256).reduce((k, x) => k + (x.id === dataTemplate.id ? (x.length - 4) / 8 : 1), 0);
      seq += records;
    }
    expect(n).toBe(200);
  });

  it('UDP: every message handed to the socket before close() goes out (sends carry no completion callback, close waits for the socket queue)', async () => {
    const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const ep = createExportingProcess(output(`udp://127.0.0.1:${rx.address().port}`, { mtu: 576 }));
    await ep.start();
    const s = makeExporterSession('in', 'netflow9', '192.0.2.8', 2055, 43);
    const t = t4();
    ep.sessionStarted(s);
    ep.templateDefined(s, t);
    const data = recs(20000); // ~300 messages of at most 548 octets
    ep.records(s, t, data, 0, data.length, 20000, 0);
    await ep.close();
    // Data records of 8 octets; the origin options record (12 octets) is in a set of its own.
    const dataRecords = () => got.flatMap((g) => parseStream(g)).flatMap((m) => m.sets.filter((x) => x.id >= 256 && (x.length - 4) % 8 === 0)).reduce((n, x) => n + (x.length - 4) / 8, 0);
    for (let i = 0; i < 200 && dataRecords() < 20000; i++) await wait(10);
    rx.close();
    expect(got.length).toBeGreaterThan(250);
    expect(dataRecords()).toBe(20000);
  });

  it('keeps two templates apart whose uids share a slot of the lookup in front of the template table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slot-'));
    const ep = createExportingProcess(output(`file://${dir}/x.ipfix`));
    await ep.start();
    const s = makeExporterSession('in', 'ipfix', '192.0.2.10', 4739, 3);
    const a = makeTemplate(400, [{ id: 8, enterprise: 0, length: 4 }]); // 4-octet records
    // uids are process-wide and increase by one: 4095 more templates later, the next one lands on a's slot
    // (the table's front has 4096 slots).
    for (let i = 0; i < 4095; i++) makeTemplate(999, [{ id: 8, enterprise: 0, length: 4 }]);
    const b = makeTemplate(401, [{ id: 8, enterprise: 0, length: 4 }, { id: 12, enterprise: 0, length: 4 }]); // 8 octets
    expect(b.uid - a.uid).toBe(4096);
    ep.sessionStarted(s);
    ep.templateDefined(s, a);
    ep.templateDefined(s, b);
    const four = Buffer.from([192, 0, 2, 1]);
    const eight = Buffer.from([192, 0, 2, 2, 198, 51, 100, 2]);
    for (let i = 0; i < 3; i++) {
      ep.records(s, a, four, 0, 4, 1, 0);
      ep.records(s, b, eight, 0, 8, 1, 0);
    }
    // b withdrawn: a's records still go out under a's Template ID.
    ep.templateWithdrawn(s, b);
    ep.records(s, a, four, 0, 4, 1, 0);
    await ep.close();
    const bytes = readFileSync(join(dir, readdirSync(dir)[0]!));
    const msgs = parseStream(bytes);
    const defined = new Map(msgs.flatMap((m) => m.sets.filter((x) => x.id === 2).flatMap((x) => x.templates!.map((t) => [t.id, t.fields] as const))));
    expect(defined.get(400)).toBe(1);
    expect(defined.get(401)).toBe(2);
    const dataSets = msgs.flatMap((m) => m.sets.filter((x) => x.id === 400 || x.id === 401).map((x) => `${x.id}:${x.length - 4}`));
    expect(dataSets).toEqual(['400:4', '401:8', '400:4', '401:8', '400:4', '401:8', '400:4']);
  });

  it('counts messages, octets and records sent exactly at every scrape, though send() only adds to plain numbers', async () => {
    const rx = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const config = output(`udp://127.0.0.1:${rx.address().port}`, { mtu: 576 });
    const ep = createExportingProcess(config);
    await ep.start();
    const s = makeExporterSession('in', 'netflow9', '192.0.2.11', 2055, 44);
    const t = t4();
    ep.sessionStarted(s);
    ep.templateDefined(s, t);
    const sent = async (name: string) => {
      const m = new RegExp(`^ipfix_mediator_${name}\\{output="${config.name}"\\} (\\d+)$`, 'm').exec(await metricsText());
      return m ? Number(m[1]) : 0;
    };
    const data = recs(1000);
    ep.records(s, t, data, 0, data.length, 1000, 0);
    ep.flush();
    for (let i = 0; i < 100 && got.reduce((n, m) => n + m.length, 0) < 8000; i++) await wait(10);
    // 1000 data records and the origin record; every datagram and its octets.
    expect(await sent('records_sent_total')).toBe(1001);
    expect(await sent('messages_sent_total')).toBe(got.length);
    expect(await sent('bytes_sent_total')).toBe(got.reduce((n, m) => n + m.length, 0));
    ep.records(s, t, data, 0, 80, 10, 0);
    await ep.close(); // the last message is counted by close()
    expect(await sent('records_sent_total')).toBe(1011);
    rx.close();
  });

  it('gives two exporters with the same ODID and template id distinct outgoing ODIDs and template ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exp-'));
    const ep = createExportingProcess(output(`file://${dir}/x.ipfix`));
    await ep.start();
    const a = makeExporterSession('in', 'ipfix', '192.0.2.1', 4739, 0);
    const b = makeExporterSession('in', 'ipfix', '2001:db8::1', 4739, 0);
    const ta = t4();
    const tb = t4();
    for (const [s, t] of [[a, ta], [b, tb]] as const) {
      ep.sessionStarted(s);
      ep.templateDefined(s, t);
      ep.records(s, t, recs(3), 0, 24, 3, 0);
    }
    await ep.close();
    const [file] = readdirSync(dir);
    const bytes = readFileSync(join(dir, file!));
    const msgs = parseStream(bytes);
    expect(new Set(msgs.map((m) => m.odid))).toEqual(new Set([1, 2]));
    const dataIds = msgs.map((m) => m.sets.find((x) => x.id === 2)!.templates![0]!.id);
    expect(new Set(dataIds).size).toBe(2);
    // The IPv6 exporter's origin template carries originalExporterIPv6Address (404, 16 octets).
    expect(bytes.includes(Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe(true);
    const dump = execFileSync('ipfixDump', ['--in', join(dir, file!)], { encoding: 'utf8' });
    expect(dump).toContain('originalExporterIPv4Address : 192.0.2.1');
    expect(dump).toContain('originalExporterIPv6Address : 2001:0db8::0001'); // ipfixDump's own IPv6 spelling
    expect(dump).toMatch(/File Stats: 2 Messages, 8 Data Records/);
  });

  it('TCP: withdraws templates when they or their session go away, and re-announces after a reconnect', async () => {
    const streams: Buffer[][] = [];
    const sockets: net.Socket[] = [];
    const server = net.createServer((c) => {
      const chunks: Buffer[] = [];
      streams.push(chunks);
      sockets.push(c);
      c.on('data', (d) => chunks.push(d));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const ep = createExportingProcess(output(`tcp://127.0.0.1:${port}`));
    await ep.start();
    for (let i = 0; i < 200 && sockets.length === 0; i++) await wait(10);
    await wait(50);
    const s = makeExporterSession('in', 'netflow9', '192.0.2.9', 9995, 1);
    const t1 = t4();
    const t2 = makeTemplate(301, [{ id: 12, enterprise: 0, length: 4 }]);
    ep.sessionStarted(s);
    ep.templateDefined(s, t1);
    ep.templateDefined(s, t2);
    ep.records(s, t1, recs(2), 0, 16, 2, 0);
    ep.records(s, t2, recs(1), 0, 4, 1, 0);
    ep.templateWithdrawn(s, t1);
    ep.flush();
    await wait(100);
    const first = parseStream(Buffer.concat(streams[0]!));
    const sets1 = first.flatMap((m) => m.sets);
    const announced = sets1.filter((x) => x.id === 2).flatMap((x) => x.templates!).filter((x) => !x.withdrawal);
    const [id1, id2] = announced.map((x) => x.id);
    // Data of t1 comes after its template and before its withdrawal.
    const order = sets1.map((x) => (x.id === 2 ? x.templates!.map((y) => (y.withdrawal ? `w${y.id}` : `t${y.id}`)).join(',') : x.id >= 256 ? `d${x.id}` : `s${x.id}`));
    expect(order.indexOf(`d${id1}`)).toBeGreaterThan(order.findIndex((x) => x.includes(`t${id1}`)));
    expect(order.at(-1)).toBe(`w${id1}`);

    // Collector restart: drop the connection; the exporter reconnects and announces again before data.
    for (const c of sockets) c.destroy();
    for (let i = 0; i < 300 && streams.length < 2; i++) await wait(10);
    await wait(50);
    ep.records(s, t2, recs(1), 0, 4, 1, 0);
    ep.sessionEnded(s, 'timeout');
    ep.flush();
    await wait(100);
    const second = parseStream(Buffer.concat(streams[1]!));
    expect(second[0]!.sequence).toBe(0);
    const sets2 = second.flatMap((m) => m.sets);
    const kinds = sets2.map((x) => (x.id === 2 || x.id === 3 ? x.templates!.map((y) => (y.withdrawal ? `w${y.id}` : `t${y.id}`)).join(',') : `d${x.id}`));
    expect(kinds.findIndex((k) => k.includes(`t${id2}`))).toBeLessThan(kinds.indexOf(`d${id2}`));
    // The session end withdraws what is left: the data template and the origin options template.
    expect(kinds.slice(-2).join(' ')).toMatch(new RegExp(`w${id2}.*w\\d+|w\\d+.*w${id2}`));
    await ep.close();
    server.close();
  });

  it('ends the ODID mapping with the last session of an exporter: 200 reconnects from new ports each get a fresh ODID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reconn-'));
    const ep = createExportingProcess(output(`file://${dir}/flows.ipfix`));
    await ep.start();
    const t = t4();
    for (let i = 0; i < 200; i++) {
      // A TCP/TLS/SCTP exporter reconnecting: same address, a new ephemeral port each time.
      const s = makeExporterSession('in', 'ipfix', '192.0.2.77', 40000 + i, 7);
      ep.sessionStarted(s);
      ep.templateDefined(s, t);
      ep.records(s, t, recs(3), 0, 24, 3, 0);
      ep.sessionEnded(s, 'closed');
    }
    await ep.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.ipfix'));
    const msgs = parseStream(Buffer.concat(files.map((f) => readFileSync(join(dir, f)))));
    const data = msgs.flatMap((m) => m.sets.filter((x) => x.id >= 256).map((x) => ({ odid: m.odid, id: x.id, length: x.length })));
    // every session's records, each under a fresh outgoing ODID
    expect(data.filter((x) => x.length === 4 + 24).length).toBe(200);
    expect(new Set(data.filter((x) => x.length === 4 + 24).map((x) => x.odid)).size).toBe(200);
  });

  it('keeps no domain for an ended exporter session (no growth with reconnecting exporters)', async () => {
    const ep = createExportingProcess(output(`file://${mkdtempSync(join(tmpdir(), 'reconn-'))}/flows.ipfix`));
    await ep.start();
    // Not observable on the wire: the domain table is looked at directly. Each Domain holds a message
    // buffer as large as the transport's largest message, so one per reconnect is a leak.
    const domains = (ep as unknown as { domains: Map<string, unknown> }).domains;
    expect(domains).toBeInstanceOf(Map);
    const t = t4();
    const kept = makeExporterSession('in', 'ipfix', '192.0.2.78', 4739, 7);
    ep.sessionStarted(kept);
    ep.templateDefined(kept, t);
    for (let i = 0; i < 50; i++) {
      const s = makeExporterSession('in', 'ipfix', '192.0.2.77', 40000 + i, 7);
      ep.sessionStarted(s);
      ep.templateDefined(s, t);
      ep.records(s, t, recs(1), 0, 8, 1, 0);
      ep.sessionEnded(s, 'closed');
    }
    expect(domains.size).toBe(1);
    ep.sessionEnded(kept, 'timeout');
    expect(domains.size).toBe(0);
    await ep.close();
  });

  it('files: rotate by size, each file self-contained and valid for ipfixDump', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rot-'));
    const ep = createExportingProcess(output(`file://${dir}/flows.ipfix`, { rotate: { maxBytes: 65536, interval: 300, keep: 0 } }));
    await ep.start();
    const s = makeExporterSession('in', 'netflow5', '198.51.100.1', 2055, 0);
    const t = t4();
    ep.sessionStarted(s);
    ep.templateDefined(s, t);
    const data = recs(1000);
    for (let i = 0; i < 30; i++) {
      ep.records(s, t, data, 0, data.length, 1000, 0);
      ep.flush();
    }
    await ep.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.ipfix'));
    expect(files.length).toBeGreaterThan(2);
    expect(readdirSync(dir).some((f) => f.endsWith('.part'))).toBe(false);
    let total = 0;
    for (const f of files) {
      const out = execFileSync('ipfixDump', ['--in', join(dir, f), '--stats'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const m = /File Stats: \d+ Messages, (\d+) Data Records, (\d+) Template Records/.exec(out)!;
      expect(Number(m[2])).toBeGreaterThanOrEqual(2); // every file starts with its templates
      total += Number(m[1]);
    }
    expect(total).toBe(30 * 1000 + files.length); // every record, plus one origin record per file
  });
  it('reuses one message buffer only on a transport that is done with it when send() returns (files), never on one that keeps it', async () => {
    // Each batch of records carries its own values; a message buffer filled again while the transport still
    // held it would show a later batch's values in an earlier message.
    const batch = (k: number) => {
      const b = Buffer.alloc(8 * 3);
      for (let i = 0; i < 3; i++) {
        b.writeUInt32BE(0xc0000200 + k, 8 * i);
        b.writeUInt32BE(k * 10 + i, 8 * i + 4);
      }
      return b;
    };
    /** The second field of the first record of every 3-record Data Set, message by message. */
    const batchValues = (b: Buffer) => {
      const out: number[] = [];
      let o = 0;
      for (const m of parseStream(b)) {
        let p = o + 16;
        for (const x of m.sets) {
          if (x.id >= 256 && x.length === 4 + 24) out.push(b.readUInt32BE(p + 4 + 4));
          p += x.length;
        }
        o += m.length;
      }
      return out;
    };
    // A transport that keeps every buffer given to send() (as a socket's queue does), not done on return.
    const kept: Buffer[] = [];
    const keeping = { reliable: false, refreshesTemplates: false, maxMessage: 65535, start: async (on: () => void) => on(), isUp: () => true, send: (m: Buffer) => (kept.push(m), true as const), close: async () => {} };
    const dir = mkdtempSync(join(tmpdir(), 'reuse-'));
    const file = createExportingProcess(output(`file://${dir}/flows.ipfix`));
    const held = new ExportingProcess(output('udp://127.0.0.1:9'), keeping);
    const s = makeExporterSession('in', 'ipfix', '192.0.2.9', 4739, 1);
    const t = t4();
    for (const ep of [file, held]) {
      await ep.start();
      ep.sessionStarted(s);
      ep.templateDefined(s, t);
      for (let k = 1; k <= 5; k++) {
        ep.records(s, t, batch(k), 0, 24, 3, 0);
        ep.flush();
      }
    }
    await file.close();
    await held.close();
    // Five messages with data, in order, each with its own batch's values.
    const fromFile = readFileSync(join(dir, readdirSync(dir)[0]!));
    expect(batchValues(fromFile)).toEqual([10, 20, 30, 40, 50]);
    // Sequence numbers count the records before each message (the first carries the origin record too).
    expect(parseStream(fromFile).map((m) => m.sequence)).toEqual([0, 4, 7, 10, 13]);
    expect(batchValues(Buffer.concat(kept))).toEqual([10, 20, 30, 40, 50]);
    // The keeping transport was given a buffer of its own for every message.
    expect(new Set(kept.map((m) => m.buffer)).size).toBe(kept.length);
  });

  it('announces a template used only inside structured data, under the exporter\'s own Template ID when free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sub-'));
    const ep = createExportingProcess(output(`file://${dir}/x.ipfix`));
    await ep.start();
    const s = makeExporterSession('in', 'ipfix', '192.0.2.3', 4739, 5);
    // 0xc004 heads no Data Set: a subTemplateMultiList of another template's records would name it.
    const sub = makeTemplate(0xc004, [{ id: 8, enterprise: 0, length: 4 }]);
    const outer = makeTemplate(0xc005, [{ id: 293, enterprise: 0, length: 0xffff }]);
    ep.sessionStarted(s);
    ep.templateDefined(s, sub);
    ep.templateDefined(s, outer);
    await ep.close();
    const msgs = parseStream(readFileSync(join(dir, readdirSync(dir)[0]!)));
    const ids = msgs.flatMap((m) => m.sets.filter((x) => x.id === 2).flatMap((x) => x.templates!.map((t) => t.id)));
    expect(ids).toEqual([0xc004, 0xc005]);
  });
});
