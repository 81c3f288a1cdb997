// Exporter session lifecycle end to end (issue 5 item 3): `ipfix-mediator run` with one UDP NetFlow v9 input
// (sessionTimeout 3 s) and five outputs — TCP with exportTime now, TCP with exportTime keep, TLS (mutual
// authentication), SCTP (over UDP encapsulation, to the project's stack in this process), UDP — fed by
// two hand-built exporters, X from 127.0.0.1 and Y from 127.0.0.2, that use the same Source ID (7) and the
// same Template ID (256). The TCP streams are recorded with arrival times and parsed:
//
// 1. two exporters, same ODID and template id → two outgoing ODIDs, each with its RFC 7119 record
//    (observationDomainId 149 = the outgoing ODID, originalExporterIPv4Address 403, originalObservationDomainId 405);
// 2. Y falls silent → within sessionTimeout + 1 s of its last packet, a withdrawal of exactly the templates
//    announced in its domain (data template and origin options template) on TCP, TLS and SCTP; Y back
//    later → a new ODID;
// 3. X reboots (sysUptime back to 1.5 s, sequence from 0) → its templates withdrawn, a new domain whose
//    templates come before its data;
// 4. X redefines template 256 → the old definition is withdrawn and the new one announced before its data;
// 5. the `now` collector restarts → the new connection gets every template before data, numbering from 0;
// 6. Export Time: `keep` carries each exporter's unix_secs, `now` the gateway's clock; Sequence Numbers are
//    right per ODID in every connection (parseSession), and UDP never carries a withdrawal.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort, sleep, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, startGateway, type Gateway } from '../helpers/gateway.js';
import { SctpTimedCollector, TimedCollector, origins, walk, type WalkedMessage } from '../helpers/timed-collector.js';
import { parseSession } from '../export/strict-collector.js';
import { haveOpenssl, issue, makeCa } from '../helpers/certs.js';
import { until } from '../helpers/wait-for.js';

const tmp = tempDir('interop-sessions-');
afterAll(() => tmp.cleanup());

const SESSION_TIMEOUT = 3;
const SOURCE_ID = 7;
/** Exporter clocks (unix_secs), far from the gateway's so that `keep` and `now` tell apart. */
const X_SECS = 1_600_000_000;
const Y_SECS = 1_500_000_000;

/**
 * NetFlow v9 packet (RFC 3954 §5.1): header (version 9, count, sysUptime, unix_secs, sequence, Source ID 7),
 * a Template FlowSet (id 0) for template 256 — IPV4_SRC_ADDR (8) 4, L4_SRC_PORT (7) 2, and with `proto`
 * PROTOCOL (4) 1 — and a Data FlowSet of two records from `net.1` and `net.2`, ports 80 and 443 (proto 6).
 */
function v9(uptime: number, unixSecs: number, sequence: number, net: number[], proto = false): Buffer {
  const fields = proto ? [8, 4, 7, 2, 4, 1] : [8, 4, 7, 2];
  const n = fields.length / 2;
  const tmpl = Buffer.alloc(8 + 4 * n);
  tmpl.writeUInt16BE(0, 0);
  tmpl.writeUInt16BE(tmpl.length, 2);
  tmpl.writeUInt16BE(256, 4);
  tmpl.writeUInt16BE(n, 6);
  for (let i = 0; i < fields.length; i++) tmpl.writeUInt16BE(fields[i]!, 8 + 2 * i);
  const recLen = proto ? 7 : 6;
  const dataLen = 4 + 2 * recLen;
  const data = Buffer.alloc(dataLen + ((4 - (dataLen % 4)) % 4)); // FlowSets padded to 4 octets
  data.writeUInt16BE(256, 0);
  data.writeUInt16BE(data.length, 2);
  [80, 443].forEach((port, i) => {
    const o = 4 + i * recLen;
    Buffer.from([...net, i + 1]).copy(data, o);
    data.writeUInt16BE(port, o + 4);
    if (proto) data[o + 6] = 6;
  });
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(2, 2);
  h.writeUInt32BE(uptime >>> 0, 4);
  h.writeUInt32BE(unixSecs, 8);
  h.writeUInt32BE(sequence >>> 0, 12);
  h.writeUInt32BE(SOURCE_ID, 16);
  return Buffer.concat([h, tmpl, data]);
}

const X_NET = [192, 0, 2];
const Y_NET = [198, 51, 100];

/** One hand-built exporter: its socket, clock and counters. */
class Exporter {
  private socket?: dgram.Socket;
  uptime: number;
  secs: number;
  sequence = 0;
  lastSentAt = 0;
  readonly secsSent = new Set<number>();
  constructor(
    readonly address: string,
    readonly net: number[],
    uptime: number,
    secs: number,
  ) {
    this.uptime = uptime;
    this.secs = secs;
  }
  async open(): Promise<void> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, this.address, () => r()));
    this.socket = s;
  }
  async send(port: number, proto = false): Promise<void> {
    const p = v9(this.uptime, this.secs, this.sequence++, this.net, proto);
    this.secsSent.add(this.secs);
    await new Promise<void>((r, j) => this.socket!.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    this.lastSentAt = Date.now();
  }
  /** Time passes on the exporter's clocks. */
  tick(ms: number): void {
    this.uptime += ms;
    this.secs += Math.round(ms / 1000) || 1;
  }
  reboot(): void {
    this.uptime = 1500;
    this.sequence = 0;
  }
  close(): void {
    this.socket?.close();
  }
}

async function metricOr0(gw: Gateway, name: string, labels = ''): Promise<number> {
  try {
    if (!labels) return await gw.metric(name);
    const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  } catch {
    return 0;
  }
}

/** Flow records (not RFC 7119 origin records) of a walked message, as "a.b.c.d:port[/proto]". */
function flows(m: WalkedMessage): string[] {
  return m.records.filter((r) => r.template.scopeCount === 0).map((r) => `${[...r.bytes.subarray(0, 4)].join('.')}:${r.bytes.readUInt16BE(4)}${r.bytes.length > 6 ? `/${r.bytes[6]}` : ''}`);
}

const ready = gatewayBuilt() && haveOpenssl();

describe.skipIf(!ready)('exporter sessions end to end: timeout, restart, redefinition, reconnect, export time, two exporters with one ODID', () => {
  const now = new TimedCollector();
  const keep = new TimedCollector();
  let secure!: TimedCollector;
  const sctp = new SctpTimedCollector();
  const udpGot: Buffer[] = [];
  const x = new Exporter('127.0.0.1', X_NET, 3_600_000, X_SECS);
  const y = new Exporter('127.0.0.2', Y_NET, 7_200_000, Y_SECS);
  let yLastBeforeTimeout = 0;
  let endedTimeout = 0;
  let endedRestart = 0;
  let startedAt = 0;
  let stoppedAt = 0;
  let log = '';

  beforeAll(async () => {
    const work = join(tmp.dir, 'gw');
    mkdirSync(work, { recursive: true });
    const rx = dgram.createSocket('udp4');
    rx.on('message', (m) => udpGot.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const ca = makeCa(work, 'ca');
    const server = issue(work, ca, 'collector', 'collector.test', ['IP:127.0.0.1']);
    const client = issue(work, ca, 'gateway', 'gateway.test');
    secure = new TimedCollector(0, { ca: ca.cert, cert: server.cert, key: server.key });
    await now.start();
    await keep.start();
    await secure.start();
    const sctpUdp = await sctp.start();
    const port = await freeUdpPort();
    startedAt = Date.now();
    const gw = await startGateway(
      work,
      [{ name: 'v9', listen: `udp://127.0.0.1:${port}`, protocol: 'netflow9', sessionTimeout: SESSION_TIMEOUT }],
      [
        { name: 'now', url: `tcp://127.0.0.1:${now.port}`, reconnectMin: 0.1, reconnectMax: 0.2, flushInterval: 20 },
        { name: 'keep', url: `tcp://127.0.0.1:${keep.port}`, exportTime: 'keep', flushInterval: 20 },
        { name: 'tls', url: `tls://127.0.0.1:${secure.port}`, ca: ca.cert, cert: client.cert, key: client.key, flushInterval: 20 },
        { name: 'sctp', url: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${sctpUdp}`, flushInterval: 20 },
        { name: 'udp', url: `udp://127.0.0.1:${(rx.address() as { port: number }).port}`, flushInterval: 20 },
      ],
    );
    try {
      await until('TCP, TLS and SCTP outputs connected', async () => (await metricOr0(gw, 'ipfix_mediator_transport_up')) === 4);
      await x.open();
      await y.open();
      // 1. both exporters, three packets each, 300 ms apart
      for (let i = 0; i < 3; i++) {
        await x.send(port);
        await y.send(port);
        x.tick(300);
        y.tick(300);
        await sleep(300);
      }
      yLastBeforeTimeout = y.lastSentAt;
      // 2. Y silent; X goes on until Y's session has ended and its withdrawals have arrived
      await until(
        'Y withdrawn',
        async () => {
          await x.send(port);
          x.tick(300);
          await sleep(300);
          return (await metricOr0(gw, 'ipfix_mediator_exporter_sessions_ended_total', 'reason="timeout"')) === 1 && [now.walked(), secure.walked(), sctp.walked()].every((w) => w.some((m) => m.withdrawn.length > 0));
        },
        15_000,
      );
      // From here on both send every 300 ms (Y's clock went on while it was silent): Y is back in a new
      // session and domain, and stays alive to the end.
      y.tick(SESSION_TIMEOUT * 1000);
      const step = async (proto = false) => {
        await x.send(port, proto);
        await y.send(port);
        x.tick(300);
        y.tick(300);
        await sleep(300);
      };
      await step();
      await step();
      // 3. X reboots
      x.reboot();
      await step();
      await step();
      // 4. X redefines template 256 (PROTOCOL added)
      await step(true);
      await step(true);
      // 5. the `now` collector restarts; the exporters go on
      await until('X redefinition at the now collector', () => now.walked().some((m) => flows(m).some((f) => f.endsWith('/6'))));
      const collectorRestart = (async () => {
        await now.stop();
        await until('output now down', async () => (await metricOr0(gw, 'ipfix_mediator_transport_up', 'output="now"')) === 0);
        await now.start();
        await until('output now up again', async () => (await metricOr0(gw, 'ipfix_mediator_transport_up', 'output="now"')) === 1);
      })();
      let restarted = false;
      void collectorRestart.then(() => (restarted = true), () => (restarted = true));
      while (!restarted) await step(true);
      await collectorRestart;
      await step(true);
      await step(true);
      await until('X after the reconnect', () => now.sessions.length === 2 && walk(now.sessions[1]!).some((m) => flows(m).length > 0));
      endedTimeout = await metricOr0(gw, 'ipfix_mediator_exporter_sessions_ended_total', 'reason="timeout"');
      endedRestart = await metricOr0(gw, 'ipfix_mediator_exporter_sessions_ended_total', 'reason="restart"');
    } finally {
      x.close();
      y.close();
      const s = await gw.stop();
      log = s.stdout + s.stderr;
      stoppedAt = Date.now();
      await now.stop();
      await keep.stop();
      await secure.stop();
      sctp.stop();
      rx.close();
    }
  }, 120_000);

  it('every TCP connection is a strict IPFIX session: templates before data, no redefinition without withdrawal, sequence numbers per ODID', () => {
    expect(now.sessions.length).toBe(2);
    expect(keep.sessions.length).toBe(1);
    expect(secure.sessions.length).toBe(1);
    expect(sctp.sessions.length).toBe(1);
    for (const s of [...now.streams(), ...keep.streams(), ...secure.streams(), ...sctp.streams()]) {
      const p = parseSession(s);
      expect(p.errors).toEqual([]);
      expect(p.records.length).toBeGreaterThan(0);
    }
  });

  it('two exporters with the same Source ID and Template ID get distinct outgoing ODIDs, each with its RFC 7119 record', () => {
    const m = now.walked();
    const o = origins(m);
    const firstX = o.find((r) => r.exporter === '127.0.0.1')!;
    const firstY = o.find((r) => r.exporter === '127.0.0.2')!;
    expect(firstX).toBeDefined();
    expect(firstY).toBeDefined();
    expect(firstX.odid).not.toBe(firstY.odid);
    expect(firstX.originalOdid).toBe(SOURCE_ID);
    expect(firstY.originalOdid).toBe(SOURCE_ID);
    // the record's scope (observationDomainId) is the ODID of the message that carries it
    for (const msg of m) for (const r of origins([msg])) expect(r.odid).toBe(msg.odid);
    // each domain carries its own exporter's flows only, both under the incoming Template ID 256's layout
    const inDomain = (odid: number) => m.filter((x) => x.odid === odid).flatMap(flows);
    expect(inDomain(firstX.odid).length).toBeGreaterThan(0);
    expect(inDomain(firstX.odid).every((f) => f.startsWith('192.0.2.'))).toBe(true);
    expect(inDomain(firstY.odid).sort()).toEqual(['198.51.100.1:80', '198.51.100.1:80', '198.51.100.1:80', '198.51.100.2:443', '198.51.100.2:443', '198.51.100.2:443']);
  });

  it.each([
    ['TCP', () => now.walked()],
    ['TLS', () => secure.walked()],
    ['SCTP', () => sctp.walked()],
  ])("Y's silence (%s): within sessionTimeout + 1 s, exactly its domain's templates are withdrawn and its ODID ends", (_name, walked) => {
    const m = walked();
    const o = origins(m);
    const yOdids = [...new Set(o.filter((r) => r.exporter === '127.0.0.2').map((r) => r.odid))];
    expect(yOdids.length).toBe(2); // the first domain ended; Y came back in a new one
    const [y1, y2] = yOdids as [number, number];
    const inY1 = m.filter((x) => x.odid === y1);
    const announced = new Set(inY1.flatMap((x) => x.announced.map((t) => t.id)));
    expect(announced.size).toBe(2); // template 256's outgoing id and the origin options template
    const withdrawal = inY1.find((x) => x.withdrawn.length > 0)!;
    expect(new Set(withdrawal.withdrawn)).toEqual(announced);
    expect(withdrawal.withdrawn.length).toBe(2);
    // nothing of y1 after its withdrawal
    expect(inY1.indexOf(withdrawal)).toBe(inY1.length - 1);
    const delay = withdrawal.arrivedAt - yLastBeforeTimeout;
    expect(delay).toBeGreaterThan(SESSION_TIMEOUT * 1000);
    expect(delay).toBeLessThanOrEqual(SESSION_TIMEOUT * 1000 + 1000);
    // the new domain announces before its data and is a different ODID from every other
    expect(o.filter((r) => r.exporter === '127.0.0.1').some((r) => r.odid === y2)).toBe(false);
    expect(endedTimeout).toBe(1);
  });

  it("X's reboot: its domain's templates are withdrawn, then a new domain announces before its data", () => {
    const m = now.walked();
    const xOdids = [...new Set(origins(m).filter((r) => r.exporter === '127.0.0.1').map((r) => r.odid))];
    expect(xOdids.length).toBe(2);
    const [x1, x2] = xOdids as [number, number];
    const inX1 = m.filter((z) => z.odid === x1);
    const announced = new Set(inX1.flatMap((z) => z.announced.map((t) => t.id)));
    const withdrawal = inX1.find((z) => z.withdrawn.length > 0)!;
    expect(new Set(withdrawal.withdrawn)).toEqual(announced);
    const firstX2 = m.findIndex((z) => z.odid === x2);
    expect(m.indexOf(withdrawal)).toBeLessThan(firstX2);
    expect(m[firstX2]!.announced.length).toBeGreaterThan(0);
    expect(endedRestart).toBe(1);
    expect(log).toMatch(/"evidence":"sysUptime went back from \d+ to 1500 ms[^"]*".*exporter restarted/);
  });

  it("X's redefinition of template 256: withdrawn, announced anew, and only then data of the new layout", () => {
    const m = now.walked();
    const x2 = [...new Set(origins(m).filter((r) => r.exporter === '127.0.0.1').map((r) => r.odid))][1]!;
    const events: string[] = [];
    for (const z of m.filter((q) => q.odid === x2)) {
      // in the order of the message's sets
      let ai = 0;
      let ri = 0;
      for (const e of z.order) {
        if (e.startsWith('d')) {
          const t = z.announced[ai++]!;
          if (t.scopeCount === 0) events.push(`d${t.id}/${t.fields.length}`);
        } else if (e.startsWith('w')) events.push(e);
        else {
          const r = z.records[ri++]!;
          if (r.template.scopeCount === 0) events.push(r.bytes.length > 6 ? 'new' : 'old');
        }
      }
    }
    const d2 = events.findIndex((e) => /^d\d+\/2$/.test(e));
    const id = events[d2]!.slice(1).split('/')[0];
    const w = events.indexOf(`w${id}`);
    const d3 = events.indexOf(`d${id}/3`);
    expect(d2).toBeGreaterThanOrEqual(0);
    expect(w).toBeGreaterThan(d2);
    expect(d3).toBeGreaterThan(w);
    expect(events.slice(d2 + 1, w).every((e) => e === 'old')).toBe(true);
    expect(events.slice(d3 + 1).filter((e) => e === 'new' || e === 'old').every((e) => e === 'new')).toBe(true);
    expect(events.slice(d3 + 1)).toContain('new');
  });

  it('after the collector restarts, the new connection gets every live template before data and numbers from 0', () => {
    const m = walk(now.sessions[1]!);
    const firstData = m.findIndex((z) => flows(z).length > 0);
    expect(firstData).toBeGreaterThanOrEqual(0);
    const before = m.slice(0, firstData + 1).flatMap((z) => z.announced);
    // live then: X's second domain (its origin options template and the 3-field 256) and Y's second domain
    expect(before.filter((t) => t.scopeCount === 1).length).toBe(2);
    expect(before.some((t) => t.scopeCount === 0 && t.fields.length === 3)).toBe(true);
    expect(before.some((t) => t.scopeCount === 0 && t.fields.length === 2)).toBe(true);
    for (const odid of new Set(m.map((z) => z.odid))) expect(m.find((z) => z.odid === odid)!.sequence).toBe(0);
  });

  it('exportTime keep carries each exporter\'s unix_secs; now carries the gateway\'s clock', () => {
    const k = keep.walked();
    const o = origins(k);
    const kx = new Set(o.filter((r) => r.exporter === '127.0.0.1').map((r) => r.odid));
    const ky = new Set(o.filter((r) => r.exporter === '127.0.0.2').map((r) => r.odid));
    const withFlows = k.filter((z) => flows(z).length > 0);
    expect(withFlows.length).toBeGreaterThan(4);
    for (const z of withFlows) {
      if (kx.has(z.odid)) expect(x.secsSent.has(z.exportTime), `X message with export time ${z.exportTime}`).toBe(true);
      else if (ky.has(z.odid)) expect(y.secsSent.has(z.exportTime), `Y message with export time ${z.exportTime}`).toBe(true);
      else throw new Error(`data in ODID ${z.odid} without an origin record`);
    }
    for (const z of now.sessions.flatMap((s) => walk(s))) {
      expect(z.exportTime).toBeGreaterThanOrEqual(Math.floor(startedAt / 1000));
      expect(z.exportTime).toBeLessThanOrEqual(Math.ceil(stoppedAt / 1000));
    }
  });

  it('UDP gets the same flows and never a withdrawal (RFC 7011 §8.1)', () => {
    const m = walk(udpGot.map((bytes) => ({ at: 0, bytes })));
    expect(m.length).toBe(udpGot.length);
    expect(m.flatMap((z) => z.withdrawn)).toEqual([]);
    const tcpFlows = now.sessions.flatMap((s) => walk(s)).flatMap(flows).length;
    // the now output's flows, less what went to the collector while it restarted (queued, so none), equal UDP's
    expect(m.flatMap(flows).length).toBe(tcpFlows);
  });
});
