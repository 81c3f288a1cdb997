// The built gateway (`bin/ipfix-mediator run`, dist/) with worker threads, end to end over real sockets:
// - NetFlow v5, v9 and sFlow corpus captures replayed from 30 source addresses (127.0.0.x) with
//   `workers: 2` give IPFIX files whose records equal those of the same run with `workers: 0`;
// - the workers' counters are what /metrics reports (the main thread decodes nothing);
// - exporter sessions that time out in a worker have their templates withdrawn on a TCP collector;
// - SIGHUP: an output added learns the live sessions and templates from the main thread's mirror; a new
//   worker count restarts the UDP input, whose sessions end (templates withdrawn).
// Build first: npm run build.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freeUdpPort, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, gatewayPid, outputFiles, replay, startGateway, udpDatagramCount } from '../helpers/gateway.js';
import { TimedCollector, walk, type WalkedRecord } from '../helpers/timed-collector.js';
import { until } from '../helpers/wait-for.js';
import { VARLEN } from '../../src/ipfix/constants.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const tmp = tempDir('pipeline-gateway-');
afterAll(() => tmp.cleanup());

const CAPTURES = ['nf5/overflowd__netflow_4M.pcap', 'nf9/pmacct__102-NFv9-CISCO-sampling.pcap', 'nf9/pmacct__101-NFv9-CISCO.pcap', 'sflow/oxyflow__sflow.pcap'].map((f) => join(corpus, f));
/** The PEN of sFlow's own elements (mapping.sflow.enterprise default). */
const SFLOW_PEN = 4294967293;
/** Time elements: sFlow records carry the time they were received, which differs from run to run. */
const TIMES = new Set([150, 151, 152, 153, 154, 155, 156, 258, 322, 323, 324, 325]);

/**
 * A record as comparable text: every field as enterprise/id=value, in template order. Left out: the outgoing
 * ODID in RFC 7119 origin records (scope observationDomainId, 149: numbered in the order exporters appear,
 * which threads change) and the times of sFlow records.
 */
function canonical(r: WalkedRecord): string {
  const sflow = r.template.fields.some((f) => f.enterprise === SFLOW_PEN);
  const out: string[] = [];
  let o = 0;
  for (const f of r.template.fields) {
    let len = f.length;
    if (len === VARLEN) {
      len = r.bytes[o]!;
      o++;
      if (len === 255) {
        len = r.bytes.readUInt16BE(o);
        o += 2;
      }
    }
    const keep = !(f.enterprise === 0 && (f.id === 149 || (sflow && TIMES.has(f.id))));
    if (keep) out.push(`${f.enterprise}/${f.id}=${r.bytes.toString('hex', o, o + len)}`);
    o += len;
  }
  return out.join(' ');
}

/** Records of every file the run wrote, canonical and sorted (their order across exporters is the threads'). */
function fileRecords(dir: string): string[] {
  const out: string[] = [];
  for (const f of outputFiles(dir)) for (const m of walk([{ at: 0, bytes: readFileSync(f) }])) for (const r of m.records) out.push(canonical(r));
  return out.sort();
}

/** One run: the files' records, the records decoded and the exporter sessions alive before the stop, per /metrics. */
async function runOnce(workers: number): Promise<{ records: string[]; decoded: number; sessions: number }> {
  const work = join(tmp.dir, `w${workers}`);
  const out = join(work, 'out');
  mkdirSync(out, { recursive: true });
  const port = await freeUdpPort();
  const g = await startGateway(work, [{ name: 'udp', listen: `udp://127.0.0.1:${port}`, receiveBuffer: 16 << 20 }], [{ name: 'file', url: `file://${out}/flows.ipfix` }], { workers, logLevel: 'warn' });
  try {
    // paced, so that the socket's receive buffer never overflows on a busy machine
    const r = await replay(CAPTURES, `udp://127.0.0.1:${port}`, ['--map-exporters', '--rate', '5000'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const sent = CAPTURES.reduce((n, c) => n + udpDatagramCount(c), 0);
    expect(await g.waitReceived(sent, 60_000)).toBe(sent);
    const decoded = await g.metric('ipfix_mediator_records_received_total');
    const sessions = await g.metric('ipfix_mediator_exporter_sessions');
    const end = await g.stop();
    expect(end.code, end.stderr).toBe(0);
    return { records: fileRecords(out), decoded, sessions };
  } finally {
    await g.stop();
  }
}

describe.skipIf(!gatewayBuilt())('gateway with worker threads', () => {
  it('writes the records of v5, v9 and sFlow from 30 exporters that it writes without them', async () => {
    const main = await runOnce(0);
    const threads = await runOnce(2);
    // v5 75,864 (the capture's last datagram is cut short), v9 51 + 35, sFlow samples
    expect(main.decoded).toBeGreaterThan(75_864 + 86);
    expect(threads.decoded).toBe(main.decoded);
    // sessions alive at the stop, summed over the workers' gauges: 2 + 2 + 1 Source IDs of NetFlow, 27 sFlow agents
    expect(threads.sessions).toBe(main.sessions);
    expect(main.sessions).toBeGreaterThanOrEqual(30);
    expect(main.records.length).toBeGreaterThan(main.decoded);
    expect(threads.records.length).toBe(main.records.length);
    expect(threads.records).toEqual(main.records);
  }, 240_000);

  it('withdraws on a TCP collector the templates of sessions that time out in a worker', async () => {
    const collector = new TimedCollector();
    const cport = await collector.start();
    const port = await freeUdpPort();
    const work = join(tmp.dir, 'timeout');
    mkdirSync(work, { recursive: true });
    const g = await startGateway(work, [{ name: 'udp', listen: `udp://127.0.0.1:${port}`, sessionTimeout: 1 }], [{ name: 'tcp', url: `tcp://127.0.0.1:${cport}` }], { workers: 2, logLevel: 'warn' });
    try {
      const nf9 = CAPTURES.slice(1, 3);
      const r = await replay(nf9, `udp://127.0.0.1:${port}`, ['--map-exporters', '--rate', '2000']);
      expect(r.code, r.stderr).toBe(0);
      // Each outgoing domain: everything it announced comes back withdrawn once its session timed out.
      const open = () => {
        const announced = new Map<number, Set<number>>();
        for (const m of collector.walked()) {
          const a = announced.get(m.odid) ?? new Set<number>();
          for (const t of m.announced) a.add(t.id);
          for (const id of m.withdrawn) a.delete(id);
          announced.set(m.odid, a);
        }
        return announced;
      };
      await until('every template withdrawn', () => open().size >= 3 && [...open().values()].every((s) => s.size === 0), 20_000);
      const messages = collector.walked();
      const domains = new Set(messages.filter((m) => m.announced.length).map((m) => m.odid));
      // pmacct 102 has two Source IDs, 101 one: three exporter sessions, three outgoing domains
      expect(domains.size).toBe(3);
      for (const odid of domains) {
        const mine = messages.filter((m) => m.odid === odid);
        const announced = mine.flatMap((m) => m.announced.map((t) => t.id)).sort();
        const withdrawn = mine.flatMap((m) => m.withdrawn).sort();
        expect(withdrawn).toEqual(announced);
        expect(mine.flatMap((m) => m.records).length).toBeGreaterThan(0);
      }
      expect(await g.metric('ipfix_mediator_exporter_sessions_ended_total')).toBe(3);
      expect(await g.metric('ipfix_mediator_exporter_sessions')).toBe(0);
    } finally {
      await g.stop();
      await collector.stop();
    }
  }, 60_000);

  it('SIGHUP: an added TCP output learns the live templates from the mirror; a new worker count ends the sessions', async () => {
    const port = await freeUdpPort();
    const work = join(tmp.dir, 'reload');
    const out = join(work, 'out');
    mkdirSync(out, { recursive: true });
    const inputs = [{ name: 'udp', listen: `udp://127.0.0.1:${port}`, protocol: 'auto' }];
    const file = { name: 'file', url: `file://${out}/flows.ipfix` };
    const g = await startGateway(work, inputs, [file], { workers: 2, logLevel: 'warn' });
    const collector = new TimedCollector();
    const cport = await collector.start();
    try {
      const nf9 = CAPTURES.slice(1, 3);
      const sent = nf9.reduce((n, c) => n + udpDatagramCount(c), 0);
      expect((await replay(nf9, `udp://127.0.0.1:${port}`, ['--map-exporters', '--rate', '2000'])).code).toBe(0);
      expect(await g.waitReceived(sent)).toBe(sent);
      const config = JSON.parse(readFileSync(g.configPath, 'utf8')) as Record<string, unknown>;
      const pid = gatewayPid(g.configPath);
      const reloads = async () => await g.metric('ipfix_mediator_config_reloads_total');

      // 1. a TCP output joins: before any new datagram, it is told every live session's templates
      writeFileSync(g.configPath, JSON.stringify({ ...config, outputs: [file, { name: 'tcp', url: `tcp://127.0.0.1:${cport}` }] }));
      process.kill(pid, 'SIGHUP');
      await until('reload 1', async () => (await reloads()) === 1);
      // pmacct 102 has two Source IDs (templates 260 and 313), 101 one (313): three domains, each with its
      // data template and the RFC 7119 origin options template
      const domainsWithDataTemplates = () => new Set(collector.walked().filter((x) => x.announced.some((t) => t.scopeCount === 0)).map((x) => x.odid));
      await until('templates announced to the new output', () => domainsWithDataTemplates().size === 3);
      expect(collector.walked().flatMap((x) => x.records).filter((r) => r.template.scopeCount === 0)).toHaveLength(0);

      // 2. workers 2 → 1: the UDP input restarts on one worker; its sessions end and everything is withdrawn
      writeFileSync(g.configPath, JSON.stringify({ ...config, workers: 1, outputs: [file, { name: 'tcp', url: `tcp://127.0.0.1:${cport}` }] }));
      process.kill(pid, 'SIGHUP');
      await until('reload 2', async () => (await reloads()) === 2);
      await until('every template withdrawn', () => {
        const live = new Map<number, Set<number>>();
        for (const x of collector.walked()) {
          const l = live.get(x.odid) ?? new Set<number>();
          for (const t of x.announced) l.add(t.id);
          for (const id of x.withdrawn) l.delete(id);
          live.set(x.odid, l);
        }
        return live.size === 3 && [...live.values()].every((l) => l.size === 0);
      });
      expect(await g.metric('ipfix_mediator_exporter_sessions_ended_total')).toBe(3);
      // the input runs again, on its new worker
      expect((await replay(nf9.slice(1), `udp://127.0.0.1:${port}`, ['--map-exporters', '--rate', '2000'])).code).toBe(0);
      await until('records on the TCP output after the restart', () => collector.walked().some((x) => x.records.some((r) => r.template.scopeCount === 0)));
    } finally {
      await g.stop();
      await collector.stop();
    }
  }, 90_000);
});
