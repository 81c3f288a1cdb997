// IPFIX over SCTP end to end, on real sockets (RFC 6951 UDP encapsulation on loopback): two exporters
// (a NetFlow v9 and an IPFIX corpus capture, replayed from two source ports) feed `ipfix-mediator run`,
// which exports over two sctp:// outputs — one to `ipfix-mediator collect --listen sctp://`, one to a
// recording SCTP listener in this process. Checked:
// - collect decodes exactly the records the gateway itself reads from the captures (`inspect`);
// - the recorded messages pass the independent judges (ipfixDump, tshark) and carry every record
//   tshark decodes from the input, field by field (the file-output test's machinery);
// - RFC 7011 §10.2 stream use: each outgoing ODID on stream ODID mod streams, and every Data Set on a
//   stream preceded by its Template on that same stream;
// - dumpcap on lo during the run: tshark checks every SCTP packet's CRC32c good, decodes the IPFIX
//   inside the DATA chunks, and marks nothing malformed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, requireOrSkip, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, replay, startGateway, udpDatagramCount, udpPorts, type Gateway } from '../helpers/gateway.js';
import { beyondInput, inputBaseline, judgeIpfixDatagrams, type Verdict } from '../helpers/judge.js';
import { isMalformed, tsharkJson } from '../helpers/tshark.js';
import { canonical, compareRecords, describeMismatches } from '../helpers/compare.js';
import { ipfixDump, sequenceBreaks } from '../helpers/ipfixdump.js';
import { captureLoopback, inspectRecords, recordKey, startCollector, tsharkSctp, until, type Collector, type SctpCaptureVerdict } from '../helpers/sctp.js';
import { SctpListener } from '../../src/transport/sctp-listener.js';
import { parseSctpUrl, type SctpUrl } from '../../src/transport/sctp-options.js';

const CAPTURES = [join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap'), join(corpusDir, 'ipfix/pmacct__100-IPFIX-CISCO.pcap')];
const STREAMS = 8;
const MESSAGE_SIZE = 1200;

const tmp = tempDir('interop-sctp-');
afterAll(() => (process.env.KEEP_TEST_TMP ? console.warn(`kept ${tmp.dir}`) : tmp.cleanup()));

const ready = gatewayBuilt() && CAPTURES.every(existsSync);
if (!ready) console.warn('\n*** interop sctp: dist/ not built or corpus missing; skipped ***\n');

/** A message of Template Withdrawal records only (every set a Template or Options Template Set, every record Field Count 0). */
function withdrawalsOnly(m: Buffer): boolean {
  for (let o = 16; o + 4 <= m.length; o += m.readUInt16BE(o + 2)) {
    const id = m.readUInt16BE(o);
    if ((id !== 2 && id !== 3) || m.readUInt16BE(o + 2) !== 8 || m.readUInt16BE(o + 6) !== 0) return false;
  }
  return true;
}

interface Run {
  collected: Record<string, unknown>[];
  recorded: { stream: number; data: Buffer }[];
  capture: SctpCaptureVerdict;
  expected: Record<string, unknown>[];
  gatewayLog: string;
}

describe.skipIf(!ready || !requireOrSkip('tshark', 'dumpcap', 'ipfixDump'))('gateway → sctp:// (UDP encapsulation) → collect --listen sctp://', () => {
  let r: Run;
  const work = join(tmp.dir, 'run');

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    const collectUdp = await freeUdpPort();
    const capture = await captureLoopback(`udp port ${collectUdp}`, join(work, 'lo.pcap'));
    let collector: Collector | undefined;
    let gw: Gateway | undefined;
    const recorded: { stream: number; data: Buffer }[] = [];
    const url = parseSctpUrl('sctp://127.0.0.1:4739?encapsulation=udp&udpPort=0', 'listen') as SctpUrl;
    const recorder = await SctpListener.open(url.at, url.options, { message: (_peer, data, stream) => recorded.push({ stream, data }) });
    let gatewayLog = '';
    try {
      collector = await startCollector(`sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${collectUdp}`);
      const inPort = await freeUdpPort();
      gw = await startGateway(
        work,
        [{ name: 'in', listen: `udp://127.0.0.1:${inPort}` }],
        [
          { name: 'collect', url: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${collectUdp}&streams=${STREAMS}` },
          // messages of at most one SCTP packet's payload to the recorder: the default 65535 to collect
          { name: 'recorder', url: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${recorder.udpPort}&streams=${STREAMS}&messageSize=${MESSAGE_SIZE}` },
        ],
      );
      await until(async () => (await gw!.metric('ipfix_mediator_transport_up')) === 2, 15_000, 'both SCTP associations');
      // two exporters: each replay sends from its own source port
      let sent = 0;
      for (const pcap of CAPTURES) {
        const rr = await replay([pcap], `udp://127.0.0.1:${inPort}`, []);
        expect(rr.code, rr.stderr).toBe(0);
        sent += udpDatagramCount(pcap);
      }
      expect(await gw.waitReceived(sent)).toBe(sent);
      await until(() => collector!.records().filter((x) => !('originalObservationDomainId' in x)).length >= 63, 15_000, 'the records at the collector');
      // the capture ends before the shutdown withdrawals (see the tshark note in the judge test)
      await capture.stop();
    } finally {
      // SIGTERM: the gateway flushes, withdraws its templates and shuts the associations down
      const s = await gw?.stop();
      gatewayLog = (s?.stdout ?? '') + (s?.stderr ?? '');
      await collector?.stop();
      await recorder.close();
      await capture.stop();
    }
    const expected: Record<string, unknown>[] = [];
    for (const pcap of CAPTURES) expected.push(...(await inspectRecords(pcap)));
    r = { collected: collector!.records(), recorded, capture: await tsharkSctp(capture.file, collectUdp), expected, gatewayLog };
  }, 120_000);

  it('collect decodes every record the gateway read from the captures, with equal values', () => {
    expect(r.gatewayLog).toMatch(/SCTP association up/);
    const origin = r.collected.filter((x) => 'originalObservationDomainId' in x);
    const flows = r.collected.filter((x) => !('originalObservationDomainId' in x));
    expect(r.expected.length).toBe(63); // 51 NetFlow v9 + 12 IPFIX records (corpus README)
    expect(flows.map(recordKey).sort()).toEqual(r.expected.map(recordKey).sort());
    // RFC 7119: each outgoing domain says which exporter and domain it stands for
    expect(origin.length).toBeGreaterThanOrEqual(3);
    for (const o of origin) expect(o.originalExporterIPv4Address).toBe('127.0.0.1');
  });

  it('the recorded messages pass ipfixDump and tshark and carry every input record field by field', async () => {
    // The shutdown withdrawals go to ipfixDump only: tshark 4.0's cflow dissector reads a Scope Field
    // Count after an Options Template Withdrawal record (Template ID, Field Count 0; RFC 7011 §8.1)
    // and marks the frame malformed. Their structure is checked octet by octet below.
    const withdrawals = r.recorded.filter((m) => withdrawalsOnly(m.data)).map((m) => m.data);
    const messages = r.recorded.filter((m) => !withdrawalsOnly(m.data)).map((m) => m.data);
    expect(withdrawals.length).toBe(3); // one per outgoing domain, at shutdown
    for (const w of withdrawals) {
      for (let o = 16; o < w.length; o += 8) {
        expect([2, 3]).toContain(w.readUInt16BE(o)); // Template Set or Options Template Set
        expect(w.readUInt16BE(o + 2)).toBe(8); // one withdrawal record per set
        expect(w.readUInt16BE(o + 4)).toBeGreaterThanOrEqual(256);
        expect(w.readUInt16BE(o + 6)).toBe(0); // Field Count 0: a withdrawal
      }
    }
    const all = join(work, 'sctp-all.ipfix');
    writeFileSync(all, Buffer.concat(r.recorded.map((m) => m.data)));
    const dump = await ipfixDump(all);
    expect(dump.errors).toEqual([]);
    expect(sequenceBreaks(dump.messages)).toEqual([]);
    expect(dump.messages.length).toBe(r.recorded.length);
    const verdict: Verdict = await judgeIpfixDatagrams(messages, work, 'sctp-output');
    const baseline = new Set<string>();
    for (const pcap of CAPTURES) for (const b of await inputBaseline(pcap, work, { udpPorts: udpPorts(pcap) })) baseline.add(b);
    const problems = beyondInput(verdict.problems, baseline);
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);
    const input = [];
    for (const pcap of CAPTURES) input.push(...(await tsharkJson(pcap, { udpPorts: udpPorts(pcap) })).filter((x) => !isMalformed(x)));
    const cmp = compareRecords(
      input.map((x) => canonical(x)),
      verdict.records.map((x) => canonical(x)),
    );
    expect(describeMismatches(cmp), verdict.pcap).toBe('');
    expect(cmp.matched).toBe(input.length);
  });

  it('RFC 7011 §10.2: one stream per outgoing ODID, templates on the stream of the data that uses them', () => {
    const odids = new Set<number>();
    const defined = new Map<string, Set<number>>(); // "stream/odid" → template ids seen so far
    let dataSets = 0;
    for (const { stream, data } of r.recorded) {
      const odid = data.readUInt32BE(12);
      odids.add(odid);
      expect(stream, `ODID ${odid}`).toBe(odid % STREAMS);
      const key = `${stream}/${odid}`;
      const ids = defined.get(key) ?? new Set<number>();
      defined.set(key, ids);
      for (let o = 16; o + 4 <= data.length; ) {
        const setId = data.readUInt16BE(o);
        const len = data.readUInt16BE(o + 2);
        if (setId === 2 || setId === 3) {
          // template records: id, field count (withdrawals have count 0)
          for (let p = o + 4; p + 4 <= o + len; ) {
            const id = data.readUInt16BE(p);
            const count = data.readUInt16BE(p + 2);
            if (count === 0) {
              ids.delete(id);
              p += 4;
              continue;
            }
            ids.add(id);
            let q = p + (setId === 3 ? 6 : 4);
            for (let f = 0; f < count; f++) q += data.readUInt16BE(q) & 0x8000 ? 8 : 4;
            p = q;
          }
        } else if (setId >= 256) {
          dataSets++;
          expect(ids.has(setId), `data set ${setId} on stream ${stream} before its template`).toBe(true);
        }
        o += len;
      }
    }
    // two exporters, the IPFIX one with two observation domains: three outgoing domains, three streams
    expect(odids.size).toBe(3);
    expect(new Set(r.recorded.map((m) => m.stream)).size).toBe(3);
    expect(dataSets).toBeGreaterThanOrEqual(4);
    // the recorder's output was limited to messageSize octets per message
    expect(Math.max(...r.recorded.map((m) => m.data.length))).toBeLessThanOrEqual(MESSAGE_SIZE);
  });

  it('tshark on the loopback capture: every SCTP packet has a good CRC32c, the IPFIX inside decodes, nothing malformed', () => {
    const c = r.capture;
    expect(c.sctpFrames).toBeGreaterThan(10);
    expect(c.checksumGood).toBe(c.sctpFrames);
    // INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, DATA, SACK, SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE
    for (const t of [1, 2, 10, 11, 0, 3]) expect(c.chunkTypes.has(t), `chunk type ${t}`).toBe(true);
    expect(c.ipfixFrames).toBeGreaterThan(0);
    expect(c.problems, c.problems.slice(0, 20).join('\n')).toEqual([]);
  });
});
