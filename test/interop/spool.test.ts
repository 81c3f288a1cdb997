// End to end: `ipfix-mediator run` relaying real captures (replayed over UDP) to a TCP collector that
// goes away mid-stream and comes back, with a small memory queue and a disk spool. Every record the
// gateway decoded is counted at the collector, each Transport Session checked by a strict parser
// (Templates before data, no redefinition without withdrawal, Sequence Numbers per ODID). Then SIGTERM:
// with the collector up, the queue drains and every template is withdrawn; with it down, what waits is
// left in the spool directory as one RFC 5655 file that ipfixDump reads.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { corpusDir, freeUdpPort, requireOrSkip, sleep, tempDir } from '../helpers/tools.js';
import { gatewayBin, replay, startGateway } from '../helpers/gateway.js';
import { spawn } from 'node:child_process';
import { TestCollector, parseSession, until, type SessionParse } from '../export/strict-collector.js';

const tmp = tempDir('interop-spool-');
afterAll(() => tmp.cleanup());

const small = join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap'); // 40 datagrams, 51 records
const big = join(corpusDir, 'nf5/overflowd__netflow_4M.pcap'); // 2709 datagrams, 78684 records
const tail = join(corpusDir, 'nf5/logstash-dat__generic.pcap'); // 12 datagrams, 30 records

/** Flow records (the RFC 7119 origin options records the gateway adds are not flows). */
const flows = (p: SessionParse) => p.records.filter((r) => r.template.scopeCount === 0).length;

/** `replay` in the background, paced, so the collector can come and go while it runs. */
function replayPaced(pcap: string, to: string, rate: number): Promise<number | null> {
  const child = spawn(process.execPath, [gatewayBin, 'replay', pcap, '--to', to, '--map-exporters', '--rate', String(rate)], { stdio: 'ignore' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((r) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      r(code);
    }),
  );
}

describe.skipIf(!existsSync(big) || !requireOrSkip('ipfixDump'))('gateway → TCP collector restarted mid-stream, disk spool', () => {
  it('every decoded record reaches the collector once; SIGTERM drains and withdraws', async () => {
    const work = join(tmp.dir, 'restart');
    mkdirSync(work, { recursive: true });
    const spoolDir = join(work, 'spool');
    const col = new TestCollector();
    const colPort = await col.start();
    const port = await freeUdpPort();
    const gw = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}` }],
      [{ name: 'relay', url: `tcp://127.0.0.1:${colPort}`, reconnectMin: 0.1, reconnectMax: 0.2, flushInterval: 20, queue: { maxBytes: 65536 }, spool: { dir: spoolDir, maxBytes: 64 << 20 } }],
    );
    let stopped: Awaited<ReturnType<typeof gw.stop>> | undefined;
    try {
      expect((await replay([small], `udp://127.0.0.1:${port}`)).code).toBe(0);
      expect(await until(() => col.parsed().reduce((n, p) => n + flows(p), 0) >= 51)).toBe(true);

      // The big capture is replayed at 1500 datagrams/s (about 1.8 s); the collector shuts down after
      // 0.4 s and comes back 1 s later, while the replay still runs; what came meanwhile waits on disk.
      const running = replayPaced(big, `udp://127.0.0.1:${port}`, 1500);
      await sleep(400);
      await col.stop(true);
      await sleep(1000);
      expect(await gw.metric('ipfix_mediator_spool_bytes')).toBeGreaterThan(0);
      const health = (await (await fetch(`http://127.0.0.1:${gw.metricsPort}/health`)).json()) as { outputs: { name: string; transportUp: boolean; waiting: { records: number }; spoolBytes: number }[] };
      expect(health.outputs[0]).toMatchObject({ name: 'relay', transportUp: false });
      expect(health.outputs[0]!.waiting.records).toBeGreaterThan(0);
      expect(health.outputs[0]!.spoolBytes).toBeGreaterThan(0);
      await col.start();
      expect(await running).toBe(0);
      expect((await replay([tail], `udp://127.0.0.1:${port}`)).code).toBe(0);

      const decoded = () => gw.metric('ipfix_mediator_records_received_total');
      expect(await until(async () => col.parsed().reduce((n, p) => n + flows(p), 0) >= (await decoded()), 20_000)).toBe(true);
      const want = await decoded();
      expect(want).toBe(51 + 78684 + 30);
      expect(await gw.metric('ipfix_mediator_records_spooled_total')).toBeGreaterThan(0);
      expect(await gw.metric('ipfix_mediator_records_replayed_total')).toBeGreaterThan(0);
      // Nothing dropped at the output (the input side drops the capture's truncated last frame, not counted here).
      const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
      expect(text.split('\n').filter((l) => l.startsWith('ipfix_mediator_records_dropped_total{') && l.includes('stage="relay"'))).toEqual([]);
      stopped = await gw.stop();
    } finally {
      stopped ??= await gw.stop();
      await col.stop(true);
    }
    expect(stopped.code, stopped.stderr.slice(-3000)).toBe(0);
    const sessions = col.parsed();
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    for (const p of sessions) expect(p.errors).toEqual([]);
    expect(sessions.reduce((n, p) => n + flows(p), 0)).toBe(51 + 78684 + 30);
    // SIGTERM with the collector up: every template of the last session is withdrawn at the end.
    const last = sessions.at(-1)!;
    const defined = new Set(last.events.filter((e) => e.startsWith('d')).map((e) => e.slice(1)));
    const withdrawn = new Set(last.events.filter((e) => e.startsWith('w')).map((e) => e.slice(1)));
    expect(defined.size).toBeGreaterThan(0);
    expect(withdrawn).toEqual(defined);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.ipfix'))).toEqual([]); // all replayed
  }, 90_000);

  it('SIGTERM with the collector down: what waits is counted and left as one file ipfixDump reads; the next run sends it first', async () => {
    const work = join(tmp.dir, 'down');
    mkdirSync(work, { recursive: true });
    const spoolDir = join(work, 'spool');
    const colPort = await (async () => {
      const c = new TestCollector();
      const p = await c.start();
      await c.stop();
      return p;
    })();
    const port = await freeUdpPort();
    const gw = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}` }],
      [{ name: 'relay', url: `tcp://127.0.0.1:${colPort}`, reconnectMin: 0.1, reconnectMax: 0.2, queue: { maxBytes: 65536 }, spool: { dir: spoolDir, maxBytes: 64 << 20 }, drainTimeout: 0.5 }],
    );
    let received = 0;
    try {
      expect((await replay([small, tail], `udp://127.0.0.1:${port}`)).code).toBe(0);
      received = await gw.waitReceived(40 + 12);
      expect(received).toBe(52);
      await sleep(300); // past the flush interval: everything decoded is in the queue
    } finally {
      const s = await gw.stop();
      expect(s.code, s.stderr.slice(-3000)).toBe(0);
      expect(s.stdout).toMatch(/records not sent before shutdown are left in the spool directory/);
    }
    const files = readdirSync(spoolDir).filter((f) => f.startsWith('unsent-'));
    expect(files.length).toBe(1);
    const file = join(spoolDir, files[0]!);
    const p = parseSession(readFileSync(file));
    expect(p.errors).toEqual([]);
    expect(flows(p)).toBe(51 + 30);
    const dump = execFileSync('ipfixDump', ['--in', file, '--stats'], { encoding: 'utf8' });
    const m = /(\d+) Data Records/.exec(dump)!;
    expect(Number(m[1])).toBe(p.records.length);

    // Restart with the collector up: the earlier run's records go out first, then this run's.
    const col = new TestCollector(colPort);
    await col.start();
    const gw2 = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}` }],
      [{ name: 'relay', url: `tcp://127.0.0.1:${colPort}`, reconnectMin: 0.1, reconnectMax: 0.2, queue: { maxBytes: 65536 }, spool: { dir: spoolDir, maxBytes: 64 << 20 } }],
    );
    try {
      expect((await replay([tail], `udp://127.0.0.1:${port}`)).code).toBe(0);
      expect(await until(() => col.parsed().reduce((n, q) => n + flows(q), 0) >= 51 + 30 + 30)).toBe(true);
    } finally {
      const s = await gw2.stop();
      expect(s.code, s.stderr.slice(-3000)).toBe(0);
      expect(s.stdout).toMatch(/records an earlier run left unsent go out first/);
      await col.stop(true);
    }
    const sessions = col.parsed();
    expect(sessions.length).toBe(1);
    expect(sessions[0]!.errors).toEqual([]);
    expect(flows(sessions[0]!)).toBe(51 + 30 + 30);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.ipfix'))).toEqual([]);
  }, 60_000);
});
