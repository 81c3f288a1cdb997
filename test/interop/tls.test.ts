// IPFIX over TLS and TCP end to end, real loopback sockets, a PKI made here with openssl:
//
// 1. A NetFlow v9 capture replayed over UDP into gateway A, which exports over three outputs: TLS to
//    `collect --listen tls://` (client certificate required), TLS to gateway B's tls:// input and TCP to
//    gateway C's tcp:// input; B and C write files. collect decodes exactly the records the gateway reads
//    from the capture; B's and C's files pass ipfixDump and tshark and carry every record tshark decodes
//    from the capture, field by field; B names its exporter by A's certificate subject.
// 2. Gateway D with a TLS input (allow list 127.0.0.1/32) and a TCP output recorded here: a hand-built
//    exporter's records pass; SIGHUP reloads D's certificate while that connection stays up; clients
//    without a certificate, with one from another CA, or from 127.0.0.2 are refused and counted; when the
//    exporter's connection drops, D withdraws every template it announced for it on its reliable output.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, requireOrSkip, tempDir } from '../helpers/tools.js';
import { freeTcpPort, gatewayBuilt, gatewayPid, ipfixMessages, outputFiles, replay, startGateway, udpDatagramCount, udpPorts, type Gateway } from '../helpers/gateway.js';
import { beyondInput, inputBaseline, judgeIpfixFiles } from '../helpers/judge.js';
import { isMalformed, tsharkJson } from '../helpers/tshark.js';
import { canonical, compareRecords, describeMismatches } from '../helpers/compare.js';
import { inspectCapture, recordFields, startCollectCli, type CollectCli } from '../helpers/collect-cli.js';
import { issue, makeCa, type CertFiles } from '../helpers/certs.js';
import { until as untilWithin } from '../helpers/wait-for.js';

const CAPTURE = join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap'); // 40 datagrams, 51 records (corpus README)

const tmp = tempDir('interop-tls-');
afterAll(() => (process.env.KEEP_TEST_TMP ? console.warn(`kept ${tmp.dir}`) : tmp.cleanup()));

const ready = gatewayBuilt() && existsSync(CAPTURE);
if (!ready) console.warn('\n*** interop tls: dist/ not built or corpus missing; skipped ***\n');

/** The waits here are bounded by 20 s unless they say otherwise. */
const until = (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) => untilWithin(what, cond, ms);

/** A metric of a gateway, 0 while its endpoint does not answer yet. */
async function metricOr0(gw: Gateway, name: string): Promise<number> {
  try {
    return await gw.metric(name);
  } catch {
    return 0;
  }
}

/** One metric sample with exactly these labels, from /metrics. */
async function sample(gw: Gateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (want.every((w) => labelText.split(',').includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function health(gw: Gateway): Promise<{ inputs: { name: string; connections?: { exporter: string; transport: string }[] }[] }> {
  return (await fetch(`http://127.0.0.1:${gw.metricsPort}/health`, { signal: AbortSignal.timeout(5000) })).json() as never;
}

let ca: CertFiles, otherCa: CertFiles, server: CertFiles, server2: CertFiles, client: CertFiles, intruder: CertFiles;
function pki(): void {
  ca ??= makeCa(tmp.dir, 'test-ca');
  otherCa ??= makeCa(tmp.dir, 'other-ca');
  server ??= issue(tmp.dir, ca, 'server', 'collector.test', ['DNS:collector.test', 'IP:127.0.0.1']);
  server2 ??= issue(tmp.dir, ca, 'server2', 'collector-2.test', ['DNS:collector.test', 'IP:127.0.0.1']);
  client ??= issue(tmp.dir, ca, 'client', 'exporter-1.test');
  intruder ??= issue(tmp.dir, otherCa, 'intruder', 'intruder.test');
}

const skip = !ready || !requireOrSkip('openssl', 'tshark', 'ipfixDump');

describe.skipIf(skip)('UDP NetFlow v9 → gateway → TLS/TCP → collect --listen tls:// and gateway tls:// / tcp:// inputs', () => {
  const work = join(tmp.dir, 'chain');
  let collected: Record<string, unknown>[] = [];
  let expected: Record<string, unknown>[] = [];
  let filesB: string[] = [];
  let filesC: string[] = [];
  let logB = '';
  let healthB: Awaited<ReturnType<typeof health>> | undefined;

  beforeAll(async () => {
    pki();
    for (const d of ['a', 'b', 'c', 'b/out', 'c/out']) mkdirSync(join(work, d), { recursive: true });
    let collect: CollectCli | undefined;
    let a: Gateway | undefined, b: Gateway | undefined, c: Gateway | undefined;
    try {
      collect = await startCollectCli('tls://127.0.0.1:0', ['--ca', ca.cert, '--cert', server.cert, '--key', server.key]);
      const portB = await freeTcpPort();
      const portC = await freeTcpPort();
      b = await startGateway(join(work, 'b'), [{ name: 'tls-in', listen: `tls://127.0.0.1:${portB}`, ca: ca.cert, cert: server.cert, key: server.key }], [{ name: 'file', url: `file://${join(work, 'b/out/flows.ipfix')}` }]);
      c = await startGateway(join(work, 'c'), [{ name: 'tcp-in', listen: `tcp://127.0.0.1:${portC}` }], [{ name: 'file', url: `file://${join(work, 'c/out/flows.ipfix')}` }]);
      await until('gateways B and C', async () => (await metricOr0(b!, 'ipfix_mediator_transport_up')) === 1 && (await metricOr0(c!, 'ipfix_mediator_transport_up')) === 1);
      const inPort = await freeUdpPort();
      a = await startGateway(
        join(work, 'a'),
        [{ name: 'udp-in', listen: `udp://127.0.0.1:${inPort}` }],
        [
          { name: 'to-collect', url: `tls://127.0.0.1:${collect.port}`, ca: ca.cert, cert: client.cert, key: client.key, servername: 'collector.test' },
          // an IP host and no servername: the collector's IP subjectAltName is checked
          { name: 'to-b', url: `tls://127.0.0.1:${portB}`, ca: ca.cert, cert: client.cert, key: client.key },
          { name: 'to-c', url: `tcp://127.0.0.1:${portC}` },
        ],
      );
      await until('gateway A connected to its three collectors', async () => (await metricOr0(a!, 'ipfix_mediator_transport_up')) === 3);
      const r = await replay([CAPTURE], `udp://127.0.0.1:${inPort}`, []);
      expect(r.code, r.stderr).toBe(0);
      const sent = udpDatagramCount(CAPTURE);
      expect(await a.waitReceived(sent)).toBe(sent);
      await until('records at collect, B and C', async () => collect!.records().filter((x) => !('originalObservationDomainId' in x)).length >= 51 && (await metricOr0(b!, 'ipfix_mediator_records_received_total')) >= 51 && (await metricOr0(c!, 'ipfix_mediator_records_received_total')) >= 51);
      healthB = await health(b);
    } finally {
      await a?.stop();
      const sb = await b?.stop();
      logB = (sb?.stdout ?? '') + (sb?.stderr ?? '');
      await c?.stop();
      await collect?.stop();
    }
    collected = collect!.records();
    expected = await inspectCapture(CAPTURE);
    filesB = outputFiles(join(work, 'b/out'));
    filesC = outputFiles(join(work, 'c/out'));
  }, 180_000);

  it('collect --listen tls:// decodes every record the gateway read from the capture, with equal values', () => {
    expect(expected.length).toBe(51);
    const flows = collected.filter((x) => !('originalObservationDomainId' in x));
    expect(flows.map(recordFields).sort()).toEqual(expected.map(recordFields).sort());
    // RFC 7119: the outgoing domain says which exporter it stands for
    const origin = collected.filter((x) => 'originalObservationDomainId' in x);
    expect(origin.length).toBeGreaterThanOrEqual(1);
    for (const o of origin) expect(o.originalExporterIPv4Address).toBe('127.0.0.1');
  });

  it('the TLS input names its exporter by the client certificate subject (/health and logs)', () => {
    expect(healthB?.inputs[0]?.connections).toEqual([expect.objectContaining({ exporter: 'exporter-1.test', transport: 'tls' })]);
    expect(logB).toMatch(/"exporter":"exporter-1\.test".*"msg":"exporter Transport Session opened"/);
  });

  it.each([
    ['tls:// input', () => filesB],
    ['tcp:// input', () => filesC],
  ])('%s → file: ipfixDump and tshark accept it and every input record is there, field by field', async (name, files) => {
    const dir = join(work, name.slice(0, 3));
    mkdirSync(dir, { recursive: true });
    expect(files().length).toBeGreaterThan(0);
    const verdict = await judgeIpfixFiles(files(), dir, 'out');
    const problems = beyondInput(verdict.problems, await inputBaseline(CAPTURE, dir, { udpPorts: udpPorts(CAPTURE) }));
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);
    const input = (await tsharkJson(CAPTURE, { udpPorts: udpPorts(CAPTURE) })).filter((r) => !isMalformed(r));
    expect(input.length).toBe(51);
    const cmp = compareRecords(
      input.map((r) => canonical(r)),
      verdict.records.map((r) => canonical(r)),
      input.map((r) => r.frame),
    );
    expect(describeMismatches(cmp), verdict.pcap).toBe('');
    expect(cmp.matched).toBe(51);
  });
});

// --- hand-built IPFIX (RFC 7011 §3): a message with one Template Set and one Data Set -------------------
function message(odid: number, templateId: number, lastOctet: number): Buffer {
  const m = Buffer.alloc(16 + 16 + 10);
  m.writeUInt16BE(10, 0);
  m.writeUInt16BE(m.length, 2);
  m.writeUInt32BE(Math.floor(Date.now() / 1000), 4);
  m.writeUInt32BE(odid, 12);
  // Template Set (2), 16 octets: template `templateId`, 2 fields: sourceIPv4Address (8) 4, destinationTransportPort (11) 2
  Buffer.from([0, 2, 0, 16, templateId >> 8, templateId & 255, 0, 2, 0, 8, 0, 4, 0, 11, 0, 2]).copy(m, 16);
  // Data Set, 10 octets: 192.0.2.<lastOctet>, port 443
  Buffer.from([templateId >> 8, templateId & 255, 0, 10, 192, 0, 2, lastOctet, 1, 187]).copy(m, 32);
  return m;
}

/** Template ids announced and withdrawn, and data records, in an IPFIX byte stream. */
function templateEvents(stream: Buffer): { announced: number[]; withdrawn: number[]; dataRecords: number } {
  const announced: number[] = [];
  const withdrawn: number[] = [];
  let dataRecords = 0;
  for (const m of ipfixMessages(stream)) {
    for (let o = 16; o + 4 <= m.length; ) {
      const setId = m.readUInt16BE(o);
      const len = m.readUInt16BE(o + 2);
      if (setId === 2 || setId === 3) {
        for (let p = o + 4; p + 4 <= o + len; ) {
          const id = m.readUInt16BE(p);
          const count = m.readUInt16BE(p + 2);
          if (count === 0) {
            withdrawn.push(id);
            p += 4;
            continue;
          }
          announced.push(id);
          let q = p + (setId === 3 ? 6 : 4);
          for (let f = 0; f < count; f++) q += m.readUInt16BE(q) & 0x8000 ? 8 : 4;
          p = q;
        }
      } else if (setId === 256 || setId === 257) dataRecords += (len - 4) / 6;
      o += len;
    }
  }
  return { announced, withdrawn, dataRecords };
}

/** TLS handshake with D; resolves with the server certificate's CN, rejects when the server refuses. */
function handshake(port: number, creds: CertFiles | undefined, localAddress = '127.0.0.1'): Promise<{ socket: tls.TLSSocket; serverCn: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, localAddress, servername: 'collector.test', ca: readFileSync(ca.cert), ...(creds ? { cert: readFileSync(creds.cert), key: readFileSync(creds.key) } : {}), minVersion: 'TLSv1.2' },
      () => {
        // TLS 1.3: a refused client certificate is reported by an alert after the client's side of the handshake
        s.on('data', () => {});
        const t = setTimeout(() => resolve({ socket: s, serverCn: String(s.getPeerCertificate().subject.CN) }), 300);
        s.once('close', () => {
          clearTimeout(t);
          reject(new Error('closed by the server'));
        });
      },
    );
    s.once('error', reject);
  });
}

describe.skipIf(!ready || !requireOrSkip('openssl'))('gateway tls:// input: identity, reload, refusals, allow list, withdrawals when the exporter goes', () => {
  it('end to end through a gateway with a TCP output recorded here', async () => {
    pki();
    const work = join(tmp.dir, 'input');
    mkdirSync(work, { recursive: true });
    const liveCert = join(work, 'server.pem');
    const liveKey = join(work, 'server.key');
    copyFileSync(server.cert, liveCert);
    copyFileSync(server.key, liveKey);
    // the collector behind the gateway: records the stream it receives
    const chunks: Buffer[] = [];
    const recorder = net.createServer((s) => s.on('data', (b: Buffer) => chunks.push(b)));
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', () => r()));
    const recorded = () => templateEvents(Buffer.concat(chunks));
    const port = await freeTcpPort();
    const d = await startGateway(
      work,
      [{ name: 'tls-in', listen: `tls://127.0.0.1:${port}`, ca: ca.cert, cert: liveCert, key: liveKey, allow: ['127.0.0.1/32', '::1/128'] }],
      [{ name: 'rec', url: `tcp://127.0.0.1:${(recorder.address() as net.AddressInfo).port}` }],
    );
    let exporter: tls.TLSSocket | undefined;
    try {
      await until('gateway D up and connected to the recorder', async () => (await metricOr0(d, 'ipfix_mediator_transport_up')) === 1);
      const first = await handshake(port, client);
      exporter = first.socket;
      expect(first.serverCn).toBe('collector.test');
      exporter.write(message(5, 256, 1));
      exporter.write(message(6, 257, 2));
      await until('2 records at the recorder', () => recorded().dataRecords === 2);
      expect((await health(d)).inputs[0]!.connections).toEqual([expect.objectContaining({ exporter: 'exporter-1.test', transport: 'tls' })]);

      // SIGHUP with a new certificate in place: new connections get it, the established one stays up.
      copyFileSync(server2.cert, liveCert);
      copyFileSync(server2.key, liveKey);
      process.kill(gatewayPid(d.configPath), 'SIGHUP');
      await until('the reloaded certificate', async () => {
        const h = await handshake(port, client);
        h.socket.destroy();
        return h.serverCn === 'collector-2.test';
      });
      exporter.write(message(5, 256, 3));
      await until('a third record over the connection opened before the reload', () => recorded().dataRecords === 3);
      expect(await sample(d, 'ipfix_mediator_exporter_sessions_ended_total', {})).toBe(0);

      // Refusals: no certificate, another CA, a source outside the allow list.
      const refusedBefore = await sample(d, 'ipfix_mediator_input_connections_refused_total', { reason: 'tls_handshake' });
      await expect(handshake(port, undefined)).rejects.toThrow();
      await expect(handshake(port, intruder)).rejects.toThrow();
      await until('two refused handshakes counted', async () => (await sample(d, 'ipfix_mediator_input_connections_refused_total', { reason: 'tls_handshake' })) === refusedBefore + 2);
      await expect(handshake(port, client, '127.0.0.2')).rejects.toThrow();
      await until('a refused source counted', async () => (await sample(d, 'ipfix_mediator_input_connections_refused_total', { reason: 'not_allowed' })) === 1);
      expect(await sample(d, 'ipfix_mediator_input_connections_refused_total', { reason: 'tls_handshake' })).toBe(refusedBefore + 2);

      // The exporter vanishes without withdrawing anything: its two sessions end with the connection and the
      // gateway withdraws every template it had announced for them on its reliable output.
      exporter.destroy();
      await until('sessions ended', async () => (await sample(d, 'ipfix_mediator_exporter_sessions_ended_total', { reason: 'closed' })) === 2);
      await until('withdrawals at the recorder', () => recorded().withdrawn.length >= new Set(recorded().announced).size);
      const r = recorded();
      expect(r.announced).toEqual(expect.arrayContaining([256, 257]));
      expect([...new Set(r.withdrawn)].sort()).toEqual([...new Set(r.announced)].sort());
      expect(await sample(d, 'ipfix_mediator_input_connections', {})).toBe(0);
    } finally {
      exporter?.destroy();
      const s = await d.stop();
      expect(s.code, (s.stdout + s.stderr).slice(-3000)).toBe(0);
      await new Promise<void>((r) => recorder.close(() => r()));
    }
  }, 120_000);
});
