// End to end: `ipfix-mediator run` with a failover group of two TCP collectors, fed a real capture. The
// first collector is killed (connections reset) in the middle of the replay; the records continue on the
// second, in a Transport Session that starts with every template. The only records allowed to be missing
// are those the gateway had handed to the dead connection (IPFIX over TCP has no acknowledgments), and
// there can be no more of them than that connection's buffers hold.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { corpusDir, freeUdpPort, sleep, tempDir } from '../helpers/tools.js';
import { gatewayBin, replay, startGateway } from '../helpers/gateway.js';
import { TestCollector, until, type SessionParse } from '../export/strict-collector.js';

const tmp = tempDir('interop-failover-');
afterAll(() => tmp.cleanup());

const small = join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap'); // 51 records
const big = join(corpusDir, 'nf5/overflowd__netflow_4M.pcap'); // 78684 records
const QUEUE_LIMIT = 1 << 20;

const flows = (p: SessionParse) => p.records.filter((r) => r.template.scopeCount === 0).length;
const sum = (ps: SessionParse[], f: (p: SessionParse) => number) => ps.reduce((n, p) => n + f(p), 0);

function kernelBuffers(): number {
  const max = (f: string) => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  return max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem');
}

describe.skipIf(!existsSync(big))('gateway → failover group of two TCP collectors', () => {
  it('first collector killed mid-replay: the second takes over; only what the dead connection held is missing', async () => {
    const work = join(tmp.dir, 'kill');
    mkdirSync(work, { recursive: true });
    const c1 = new TestCollector();
    const c2 = new TestCollector();
    const ports = [await c1.start(), await c2.start()];
    const port = await freeUdpPort();
    const gw = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}` }],
      [{ name: 'pair', failover: ports.map((p) => ({ url: `tcp://127.0.0.1:${p}` })), reconnectMin: 0.1, reconnectMax: 0.2, flushInterval: 20, queueLimit: QUEUE_LIMIT }],
    );
    let decoded = 0;
    let sent = 0;
    try {
      expect(await until(async () => (await gw.metric('ipfix_mediator_failover_active_member')) === 0)).toBe(true);
      expect((await replay([small], `udp://127.0.0.1:${port}`)).code).toBe(0);
      expect(await until(() => sum(c1.parsed(), flows) >= 51)).toBe(true);

      const child = spawn(process.execPath, [gatewayBin, 'replay', big, '--to', `udp://127.0.0.1:${port}`, '--map-exporters', '--rate', '1500'], { stdio: 'ignore' });
      const done = new Promise<number | null>((r) => child.once('exit', r));
      await sleep(500);
      await c1.stop(); // killed: its unread data is gone
      expect(await done).toBe(0);
      expect(await until(async () => (await gw.metric('ipfix_mediator_failover_active_member')) === 1)).toBe(true);
      // Everything decoded has been handed to a transport once the output queue is empty.
      expect(await until(async () => (await gw.metric('ipfix_mediator_output_queue_messages')) === 0 && sum(c2.parsed(), flows) > 0, 20_000)).toBe(true);
      await sleep(300);
      decoded = await gw.metric('ipfix_mediator_records_received_total');
      sent = await gw.metric('ipfix_mediator_records_sent_total');
      expect(await gw.metric('ipfix_mediator_failover_switches_total')).toBe(1);
    } finally {
      const s = await gw.stop();
      expect(s.code, s.stderr.slice(-3000)).toBe(0);
      await c2.stop(true);
    }
    const one = c1.parsed();
    const two = c2.parsed();
    expect(two.length).toBe(1);
    expect(two[0]!.errors).toEqual([]); // the new session: templates before data, sequence numbers from 0
    expect(two[0]!.events[0]).toMatch(/^d/);
    for (const p of one) expect(p.errors.filter((e) => !e.startsWith('@'))).toEqual([]); // a reset may cut the last message
    const arrived = sum(one, (p) => p.records.length) + sum(two, (p) => p.records.length);
    const lost = sent - arrived;
    expect(decoded).toBe(51 + 78684);
    expect(lost).toBeGreaterThanOrEqual(0);
    // Every decoded flow record arrived, or was among those handed to the dead connection ...
    expect(sum(one, flows) + sum(two, flows) + lost).toBe(decoded);
    // ... of which there are no more than its buffers hold (a v5 record is 45 octets or more as IPFIX).
    expect(lost * 45).toBeLessThanOrEqual(QUEUE_LIMIT + kernelBuffers());
    console.info(`failover under load: ${lost} records lost in the killed connection, ${sum(two, flows)} on the second member`);
  }, 90_000);
});
