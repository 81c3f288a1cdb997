// Failover groups over real loopback TCP: two strict collectors, the first one killed; records continue on
// the second in a new Transport Session (Templates first, Sequence Numbers from 0). What can be lost is only
// what the first member's TCP connection had accepted when its collector died (socket buffers, in flight):
// the test checks that every missing record is one the gateway had handed to that connection.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createExportingProcess } from '../../src/export/index.js';
import type { OutputConfig } from '../../src/config/types.js';
import { makeExporterSession } from '../../src/collect/session.js';
import { makeTemplate } from '../../src/ipfix/template.js';
import { registry } from '../../src/observe/metrics.js';
import { FailoverTransport } from '../../src/export/failover.js';
import type { Transport } from '../../src/transport/transport.js';
import { TestCollector, until, type Rec } from './strict-collector.js';

const QUEUE_LIMIT = 1 << 20;

function group(name: string, ports: number[]): OutputConfig {
  return {
    name,
    url: 'failover:' + ports.map((p) => `tcp://127.0.0.1:${p}`).join(','),
    failover: ports.map((p, i) => ({ name: `${name}/${i + 1}`, url: `tcp://127.0.0.1:${p}` })),
    templateRefresh: 60,
    mtu: 1500,
    flushInterval: 10,
    reconnectMin: 0.05,
    reconnectMax: 0.1,
    queueLimit: QUEUE_LIMIT,
    rotate: { maxBytes: 1 << 20, interval: 300, keep: 0 },
  };
}

const template = () => makeTemplate(256, [{ id: 8, enterprise: 0, length: 4 }, { id: 2, enterprise: 0, length: 4 }]);
const numbers = (recs: Rec[]) => recs.filter((r) => r.template.scopeCount === 0).map((r) => r.bytes.readUInt32BE(4));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(name: string, output: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => v.labels.output === output).reduce((n, v) => n + Number(v.value), 0);
}

/** Octets the kernel may buffer on each side of a loopback TCP connection (send and receive maxima). */
function kernelBuffers(): number {
  const max = (f: string) => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  return max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
}

async function setup(name: string) {
  const c1 = new TestCollector();
  const c2 = new TestCollector();
  const ports = [await c1.start(), await c2.start()];
  const ep = createExportingProcess(group(name, ports));
  await ep.start();
  const fo = ep.queue!.below as FailoverTransport;
  expect(await until(() => fo.activeMember === 0)).toBe(true);
  const s = makeExporterSession('in', 'ipfix', '192.0.2.20', 4739, 7);
  const t = template();
  ep.sessionStarted(s);
  ep.templateDefined(s, t);
  let next = 1;
  const feed = (messages: number) => {
    for (let m = 0; m < messages; m++) {
      const b = Buffer.alloc(800);
      for (let i = 0; i < 100; i++) {
        b.writeUInt32BE(0x0a000000 + next, i * 8);
        b.writeUInt32BE(next++, i * 8 + 4);
      }
      ep.records(s, t, b, 0, 800, 100, 0);
      ep.flush();
    }
  };
  return { c1, c2, ep, fo, feed };
}

describe('failover group', () => {
  it('first member killed at a quiet moment: the second takes over with nothing lost', async () => {
    const { c1, c2, ep, fo, feed } = await setup('fo-quiet');
    feed(20); // 1..2000
    expect(await until(() => numbers(c1.parsed()[0]?.records ?? []).length >= 2000)).toBe(true);
    await c1.stop();
    // The gateway learns of the death from the connection closing (nothing was in flight then).
    expect(await until(() => !fo.members[0]!.transport.isUp())).toBe(true);
    feed(30); // 2001..5000: queued until the group moves (at most 50 ms), then replayed on the second member
    expect(await until(() => numbers(c2.parsed()[0]?.records ?? []).length >= 3000)).toBe(true);
    expect(fo.activeMember).toBe(1);
    await ep.close();
    await c2.stop();
    const [one] = c1.parsed();
    const [two] = c2.parsed();
    expect(numbers(one!.records)).toEqual(range(1, 2000));
    expect(two!.errors).toEqual([]); // Templates before data, sequence numbers from 0
    expect(two!.events[0]).toMatch(/^d/);
    expect(numbers(two!.records)).toEqual(range(2001, 5000));
    expect(await metric('ipfix_mediator_failover_switches_total', 'fo-quiet')).toBe(1);
  }, 30_000);

  it('first member killed under load: the only records missing are the ones its connection had accepted', async () => {
    const { c1, c2, ep, fo, feed } = await setup('fo-load');
    const total = 300 * 100;
    for (let i = 0; i < 30; i++) {
      if (i === 10) void c1.stop(); // mid-stream
      feed(10);
      await wait(5);
    }
    expect(await until(() => fo.activeMember === 1 && (numbers(c2.parsed()[0]?.records ?? []).at(-1) ?? 0) >= total)).toBe(true);
    const sent = await metric('ipfix_mediator_records_sent_total', 'fo-load');
    await ep.close();
    await c2.stop();
    const one = c1.parsed()[0]!;
    const two = c2.parsed()[0]!;
    expect(two.errors).toEqual([]);
    const a = numbers(one.records);
    const b = numbers(two.records);
    // Each collector got one contiguous run, in order, and the runs do not overlap.
    expect(a).toEqual(range(1, a.length));
    expect(b).toEqual(range(b[0]!, total));
    const lost = b[0]! - 1 - a.length;
    expect(lost).toBeGreaterThanOrEqual(0);
    // Every missing record was handed to the first member's connection: the gateway's own count of records
    // sent equals what both collectors got plus the missing ones (origin options records included).
    expect(sent).toBe(one.records.length + two.records.length + lost);
    // ... and no more than that connection can hold unread: its queue limit plus the kernel's buffers.
    expect(lost * 8).toBeLessThanOrEqual(QUEUE_LIMIT + kernelBuffers());
  }, 30_000);

  it('hands what a member\'s peer never acknowledged back to the group\'s owner (the output queue)', () => {
    // Two members that only record what they are given; the first says its peer never acknowledged two messages.
    const member = (): Transport => ({ reliable: true, refreshesTemplates: false, maxMessage: 65535, start: async () => {}, isUp: () => false, send: () => ({ reason: 'transport_down' }), close: async () => {} });
    const a = member();
    const b = member();
    const group = new FailoverTransport('fo-returned', [{ name: 'a', transport: a }, { name: 'b', transport: b }]);
    const got: Buffer[][] = [];
    group.onReturned = (m) => got.push(m);
    const lost = [Buffer.from('first'), Buffer.from('second')];
    a.onReturned!(lost);
    b.onReturned!([]);
    expect(got).toEqual([lost, []]);
    expect(got[0]![0]).toBe(lost[0]); // the same buffers, not copies
  });
});
