// The output queue and disk spool of a reliable output, over real loopback TCP: a collector that is down,
// killed and restarted, or too slow; every record counted, every Transport Session checked by a strict
// parser (Templates before data, no redefinition without withdrawal, Sequence Numbers per ODID).

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createExportingProcess } from '../../src/export/index.js';
import type { OutputConfig } from '../../src/config/types.js';
import { makeExporterSession, type ExporterSession } from '../../src/collect/session.js';
import { makeTemplate, type Template } from '../../src/ipfix/template.js';
import { recordsDropped, registry } from '../../src/observe/metrics.js';
import { TestCollector, parseSession, until, type Rec } from './strict-collector.js';
import type { ExportingProcess } from '../../src/export/exporting-process.js';

const dirs: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function output(url: string, over: Partial<OutputConfig> = {}): OutputConfig {
  return { name: `q${Math.random().toString(36).slice(2, 7)}`, url, templateRefresh: 60, mtu: 1500, flushInterval: 10, reconnectMin: 0.05, reconnectMax: 0.1, queueLimit: 1 << 20, rotate: { maxBytes: 1 << 20, interval: 300, keep: 0 }, ...over };
}

/** A port nobody listens on right now (taken and released). */
async function closedPort(): Promise<number> {
  const c = new TestCollector();
  const p = await c.start();
  await c.stop();
  return p;
}

// Records of the flow templates: sourceIPv4Address (8) and packetDeltaCount (2) numbering every record
// from 1; the second definition adds destinationIPv4Address (12).
const flowA = () => makeTemplate(300, [{ id: 8, enterprise: 0, length: 4 }, { id: 2, enterprise: 0, length: 4 }]);
const flowB = () => makeTemplate(300, [{ id: 8, enterprise: 0, length: 4 }, { id: 2, enterprise: 0, length: 4 }, { id: 12, enterprise: 0, length: 4 }]);

class Feeder {
  next = 1;
  constructor(
    private readonly ep: ExportingProcess,
    private readonly s: ExporterSession,
  ) {}
  /** `messages` messages of `per` records each (flushed one by one). */
  feed(t: Template, messages: number, per = 100): void {
    const w = t.fixedLength;
    for (let m = 0; m < messages; m++) {
      const b = Buffer.alloc(w * per);
      for (let i = 0; i < per; i++) {
        b.writeUInt32BE(0x0a000000 + this.next, i * w);
        b.writeUInt32BE(this.next, i * w + 4);
        if (w === 12) b.writeUInt32BE(0xc0000201, i * w + 8);
        this.next++;
      }
      this.ep.records(this.s, t, b, 0, b.length, per, 0);
      this.ep.flush();
    }
  }
}

/** packetDeltaCount of every flow record (the numbering), in arrival order. */
const numbers = (recs: Rec[]) => recs.filter((r) => r.template.fields.some((f) => f.id === 2)).map((r) => r.bytes.readUInt32BE(4));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function dropped(stage: string, reason: string): Promise<number> {
  const m = await recordsDropped.get();
  return m.values.filter((v) => v.labels.stage === stage && v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}
async function counter(name: string, output: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => v.labels.output === output).reduce((n, v) => n + Number(v.value), 0);
}

describe('output queue and spool', () => {
  it('collector down, then up, then killed and restarted: every record once, in order, each session self-contained', async () => {
    const port = await closedPort();
    const spoolDir = tmp('spool-');
    const cfg = output(`tcp://127.0.0.1:${port}`, { queue: { maxBytes: 1 << 14, policy: 'drop-newest' }, spool: { dir: spoolDir, maxBytes: 64 << 20 } });
    const ep = createExportingProcess(cfg);
    await ep.start();
    const s = makeExporterSession('in', 'netflow9', '192.0.2.7', 2055, 42);
    const f = new Feeder(ep, s);
    const a = flowA();
    ep.sessionStarted(s);
    ep.templateDefined(s, a);
    f.feed(a, 20); // 1..2000
    // While the collector is away the exporter redefines its template: the outgoing ID 300 is withdrawn
    // and reused for the new layout; the spool must replay that in order.
    ep.templateWithdrawn(s, a);
    const b = flowB();
    ep.templateDefined(s, b);
    f.feed(b, 20); // 2001..4000
    // 40 messages of ~820 octets overflow the 16 KiB memory queue: part of them is on disk.
    expect(readdirSync(spoolDir).filter((x) => x.startsWith('spool-')).length).toBeGreaterThan(0);
    expect(await counter('ipfix_mediator_records_spooled_total', cfg.name)).toBeGreaterThan(0);

    const col = new TestCollector(port);
    await col.start();
    expect(await until(() => col.parsed()[0] !== undefined && numbers(col.parsed()[0]!.records).length >= 4000)).toBe(true);
    const first = col.parsed()[0]!;
    expect(first.errors).toEqual([]);
    expect(numbers(first.records)).toEqual(range(1, 4000));
    // The replayed stream withdraws 300 before defining it again.
    const ev = first.events.filter((e) => e.endsWith(':300'));
    expect(ev).toEqual(['d1:300', 'w1:300', 'd1:300']);
    expect(await counter('ipfix_mediator_records_replayed_total', cfg.name)).toBe(4000 + 1); // and the RFC 7119 origin record
    expect(readdirSync(spoolDir).filter((x) => x.startsWith('spool-'))).toEqual([]); // replayed files are deleted

    // Live for a while, then the collector dies at a quiet moment and records keep coming.
    f.feed(b, 5); // 4001..4500
    expect(await until(() => numbers(col.parsed()[0]!.records).length >= 4500)).toBe(true);
    await col.stop();
    expect(await until(() => !ep.queue!.transportUp())).toBe(true);
    f.feed(b, 30); // 4501..7500, queued and spooled
    await col.start();
    expect(await until(() => col.parsed()[1] !== undefined && numbers(col.parsed()[1]!.records).length >= 3000)).toBe(true);
    f.feed(b, 5); // 7501..8000 live after the replay
    expect(await until(() => numbers(col.parsed()[1]!.records).length >= 3500)).toBe(true);
    await ep.close();
    await col.stop();
    const [one, two] = col.parsed();
    expect(numbers(one!.records)).toEqual(range(1, 4500));
    // The new session starts with the live template (and the RFC 7119 origin options), numbered from 0.
    expect(two!.errors).toEqual([]);
    expect(two!.events[0]).toMatch(/^d1:/);
    expect(two!.events).toContain('d1:300');
    const origin = two!.records.filter((r) => r.template.scopeCount > 0);
    expect(origin.length).toBeGreaterThanOrEqual(1);
    expect(origin[0]!.bytes.subarray(4, 8)).toEqual(Buffer.from([192, 0, 2, 7])); // originalExporterIPv4Address
    expect(numbers(two!.records)).toEqual(range(4501, 8000));
    expect(two!.records.filter((r) => r.template.scopeCount === 0 && r.template.fields.length === 3).length).toBe(3500);
  }, 30_000);

  /**
   * 60,000 records (~490 KB: more than 64 KiB memory + 256 KiB spool) fed while the collector is down,
   * then the collector comes up: how many records the spool dropped, and the session the collector got.
   */
  async function spoolFull(policy: 'drop-newest' | 'drop-oldest', exporter: string) {
    const port = await closedPort();
    const spoolDir = tmp('spool-');
    const cfg = output(`tcp://127.0.0.1:${port}`, { queue: { maxBytes: 1 << 16, policy }, spool: { dir: spoolDir, maxBytes: 1 << 18 } });
    const ep = createExportingProcess(cfg);
    await ep.start();
    const s = makeExporterSession('in', 'ipfix', exporter, 4739, 1);
    const f = new Feeder(ep, s);
    const a = flowA();
    ep.sessionStarted(s);
    ep.templateDefined(s, a); // drop-oldest: announced in the first message, which is dropped with the oldest file
    f.feed(a, 600);
    const lost = await dropped(cfg.name, 'spool_full');
    expect(lost).toBeGreaterThan(0);
    const col = new TestCollector(port);
    await col.start();
    expect(await until(() => col.parsed()[0] !== undefined && numbers(col.parsed()[0]!.records).length >= 60000 - lost)).toBe(true);
    await ep.close();
    await col.stop();
    return { lost, p: col.parsed()[0]! };
  }

  it('spool full, drop-newest: the oldest records arrive, the counter names every dropped record', async () => {
    const { lost, p } = await spoolFull('drop-newest', '192.0.2.8');
    expect(p.errors).toEqual([]);
    expect(numbers(p.records)).toEqual(range(1, 60000 - lost));
  }, 30_000);

  it('spool full, drop-oldest: the newest records arrive, a template from a dropped file still precedes its data', async () => {
    const { lost, p } = await spoolFull('drop-oldest', '192.0.2.9');
    expect(p.errors).toEqual([]);
    // The oldest file held the first message: the origin record (1) and flows 1..lost-1.
    expect(numbers(p.records)).toEqual(range(lost, 60000));
  }, 30_000);

  it('a restart sends what the earlier run left unsent first, then withdraws its templates before its own', async () => {
    const port = await closedPort();
    const spoolDir = tmp('spool-');
    const name = `restart${Math.random().toString(36).slice(2, 7)}`;
    const cfg = output(`tcp://127.0.0.1:${port}`, { name, queue: { maxBytes: 1 << 14, policy: 'drop-newest' }, spool: { dir: spoolDir, maxBytes: 1 << 22 }, drainTimeout: 0.1 });
    // First run: the collector is down the whole time; 3000 records are left in the unsent file.
    const ep1 = createExportingProcess(cfg);
    await ep1.start();
    const s1 = makeExporterSession('in', 'ipfix', '192.0.2.12', 4739, 1);
    const f1 = new Feeder(ep1, s1);
    const a = flowA();
    ep1.sessionStarted(s1);
    ep1.templateDefined(s1, a);
    f1.feed(a, 30);
    await ep1.close();
    expect(readdirSync(spoolDir).filter((x) => x.startsWith(`unsent-${name}-`)).length).toBe(1);

    // Second run: the same outgoing ODID (1) and Template ID (300) now mean another exporter and layout.
    const ep2 = createExportingProcess(cfg);
    await ep2.start();
    expect(readdirSync(spoolDir).filter((x) => x.startsWith('unsent-'))).toEqual([]); // taken into the spool
    const s2 = makeExporterSession('in', 'ipfix', '198.51.100.12', 4739, 9);
    const f2 = new Feeder(ep2, s2);
    f2.next = 100001;
    const b = flowB();
    ep2.sessionStarted(s2);
    ep2.templateDefined(s2, b);
    f2.feed(b, 10);
    const col = new TestCollector(port);
    await col.start();
    expect(await until(() => col.parsed()[0] !== undefined && numbers(col.parsed()[0]!.records).length >= 4000)).toBe(true);
    await ep2.close();
    await col.stop();
    const p = col.parsed()[0]!;
    expect(p.errors).toEqual([]);
    expect(numbers(p.records)).toEqual([...range(1, 3000), ...range(100001, 101000)]);
    // The old layout and its withdrawal (the first run withdrew its templates when it closed, into the
    // unsent file), then the new layout under the same ID.
    expect(p.events.filter((e) => e.endsWith(':300'))).toEqual(['d1:300', 'w1:300', 'd1:300']);
    const origins = p.records.filter((r) => r.template.scopeCount > 0).map((r) => [...r.bytes.subarray(4, 8)].join('.'));
    expect(origins).toEqual(['192.0.2.12', '198.51.100.12']);
  }, 30_000);

  it('memory only, drop-oldest across a template redefinition: the kept Template Sets keep the replay decodable', async () => {
    const port = await closedPort();
    const cfg = output(`tcp://127.0.0.1:${port}`, { queue: { maxBytes: 1 << 14, policy: 'drop-oldest' } });
    const ep = createExportingProcess(cfg);
    await ep.start();
    const s = makeExporterSession('in', 'ipfix', '192.0.2.11', 4739, 1);
    const f = new Feeder(ep, s);
    const a = flowA();
    ep.sessionStarted(s);
    ep.templateDefined(s, a);
    f.feed(a, 50); // 1..5000: all dropped from the 16 KiB queue
    ep.templateWithdrawn(s, a);
    const b = flowB();
    ep.templateDefined(s, b); // the same outgoing ID 300, a new layout, in a message that is dropped too
    f.feed(b, 30); // 5001..8000: the newest ~16 KiB survive
    const lost = await dropped(cfg.name, 'queue_full');
    const col = new TestCollector(port);
    await col.start();
    const kept = 8000 - (lost - 1); // the origin record was dropped with the first message
    expect(await until(() => col.parsed()[0] !== undefined && numbers(col.parsed()[0]!.records).length >= kept)).toBe(true);
    await ep.close();
    await col.stop();
    const p = col.parsed()[0]!;
    expect(p.errors).toEqual([]);
    expect(numbers(p.records)).toEqual(range(8001 - kept, 8000));
    expect(kept).toBeLessThan(3000);
    expect(p.events.filter((e) => e.endsWith(':300'))).toEqual(['d1:300', 'w1:300', 'd1:300']);
    expect(p.records.filter((r) => r.template.scopeCount === 0).every((r) => r.template.fields.length === 3)).toBe(true);
  }, 30_000);

  it('memory only, collector never up: close() counts what is left; with a spool it is left as one self-contained file', async () => {
    const port = await closedPort();
    const spoolDir = tmp('spool-');
    const cfg = output(`tcp://127.0.0.1:${port}`, { queue: { maxBytes: 1 << 16, policy: 'drop-newest' }, spool: { dir: spoolDir, maxBytes: 1 << 22 }, drainTimeout: 0.2 });
    const ep = createExportingProcess(cfg);
    await ep.start();
    const s = makeExporterSession('in', 'ipfix', '192.0.2.10', 4739, 3);
    const f = new Feeder(ep, s);
    const a = flowA();
    ep.sessionStarted(s);
    ep.templateDefined(s, a);
    f.feed(a, 100); // 10000
    await ep.close();
    expect(await dropped(cfg.name, 'unsent_at_shutdown')).toBe(10000 + 1); // the records and the origin record
    const files = readdirSync(spoolDir);
    expect(files.filter((x) => x.startsWith('spool-'))).toEqual([]);
    const unsent = files.filter((x) => x.startsWith('unsent-'));
    expect(unsent.length).toBe(1);
    const p = parseSession(readFileSync(join(spoolDir, unsent[0]!)));
    expect(p.errors).toEqual([]);
    expect(numbers(p.records)).toEqual(range(1, 10000));
    const dump = execFileSync('ipfixDump', ['--in', join(spoolDir, unsent[0]!), '--stats'], { encoding: 'utf8' });
    expect(dump).toMatch(/10001 Data Records/);
  }, 30_000);
});
