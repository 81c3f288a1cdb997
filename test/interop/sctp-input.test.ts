// The gateway's sctp:// input (IPFIX over SCTP, RFC 7011 §10.2): gateway A turns a NetFlow v9 capture
// into IPFIX and exports it over sctp:// (UDP encapsulation on loopback) to gateway B, whose sctp://
// input is one Transport Session per association and whose file:// output is judged like every file
// output (ipfixDump, tshark, field by field against the capture). When A shuts down, B sees the
// association end: its connection gauge drops and every exporter session A carried ends ('closed').

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, requireOrSkip, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, outputFiles, replay, startGateway, udpDatagramCount, udpPortBound, udpPorts, type Gateway } from '../helpers/gateway.js';
import { beyondInput, inputBaseline, judgeIpfixFiles } from '../helpers/judge.js';
import { isMalformed, tsharkJson } from '../helpers/tshark.js';
import { canonical, compareRecords, describeMismatches } from '../helpers/compare.js';
import { until } from '../helpers/sctp.js';

const PCAP = join(corpusDir, 'nf9/pmacct__102-NFv9-CISCO-sampling.pcap');

const tmp = tempDir('interop-sctp-input-');
afterAll(() => tmp.cleanup());

const ready = gatewayBuilt() && existsSync(PCAP);
if (!ready) console.warn('\n*** interop sctp input: dist/ not built or corpus missing; skipped ***\n');

describe.skipIf(!ready || !requireOrSkip('tshark', 'ipfixDump'))('gateway A → sctp:// → gateway B sctp:// input → file://', () => {
  it('B writes every record of the capture; A going away ends B\'s Transport Session and its exporter sessions', async () => {
    const work = join(tmp.dir, 'chain');
    const outDir = join(work, 'b-out');
    mkdirSync(join(work, 'a'), { recursive: true });
    mkdirSync(outDir, { recursive: true });
    const bUdp = await freeUdpPort();
    const aIn = await freeUdpPort();
    let a: Gateway | undefined;
    let b: Gateway | undefined;
    try {
      b = await startGateway(work, [{ name: 'sctp-in', listen: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${bUdp}` }], [{ name: 'file', url: `file://${join(outDir, 'flows.ipfix')}` }]);
      await until(() => udpPortBound(bUdp), 10_000, 'B to bind its SCTP-over-UDP port');
      a = await startGateway(join(work, 'a'), [{ name: 'in', listen: `udp://127.0.0.1:${aIn}` }], [{ name: 'to-b', url: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${bUdp}` }]);
      await until(async () => (await b!.metric('ipfix_mediator_input_connections')) === 1, 15_000, 'the association A → B');
      const sent = udpDatagramCount(PCAP);
      const r = await replay([PCAP], `udp://127.0.0.1:${aIn}`, []);
      expect(r.code, r.stderr).toBe(0);
      expect(await a.waitReceived(sent)).toBe(sent);
      const recordsIn = await a.metric('ipfix_mediator_records_received_total');
      // B decodes what A sent: A's records plus its RFC 7119 options records
      await until(async () => (await b!.metric('ipfix_mediator_records_received_total')) >= recordsIn, 15_000, 'B to decode every record');
      expect(await b.metric('ipfix_mediator_input_connections_accepted_total')).toBe(1);
      // /health lists the association as the input's Transport Session
      const health = (await (await fetch(`http://127.0.0.1:${b.metricsPort}/health`, { signal: AbortSignal.timeout(5000) })).json()) as { inputs: { name: string; connections?: { transport: string; address: string; exporter: string }[] }[] };
      const conns = health.inputs.find((i) => i.name === 'sctp-in')?.connections ?? [];
      expect(conns.map((c) => [c.transport, c.address])).toEqual([['sctp', '127.0.0.1']]);
      expect(conns[0]!.exporter).toMatch(/^127\.0\.0\.1:\d+$/);

      // A stops: SHUTDOWN of the association; B ends every exporter session it carried
      const sa = await a.stop();
      expect(sa.code, sa.stdout.slice(-3000)).toBe(0);
      await until(async () => (await b!.metric('ipfix_mediator_input_connections')) === 0, 10_000, 'B to see the association end');
      expect(await b.metric('ipfix_mediator_exporter_sessions')).toBe(0);
      expect(await b.metric('ipfix_mediator_exporter_sessions_ended_total')).toBeGreaterThanOrEqual(2);
      expect(await b.metric('ipfix_mediator_packets_dropped_total')).toBe(0);
    } finally {
      await a?.stop();
      const sb = await b?.stop();
      expect(sb?.code, (sb?.stdout ?? '').slice(-3000)).toBe(0);
    }

    const verdict = await judgeIpfixFiles(outputFiles(outDir), work);
    const problems = beyondInput(verdict.problems, await inputBaseline(PCAP, work, { udpPorts: udpPorts(PCAP) }));
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);
    const input = (await tsharkJson(PCAP, { udpPorts: udpPorts(PCAP) })).filter((x) => !isMalformed(x));
    const cmp = compareRecords(
      input.map((x) => canonical(x)),
      verdict.records.map((x) => canonical(x)),
      input.map((x) => x.frame),
    );
    expect(describeMismatches(cmp), verdict.pcap).toBe('');
    expect(cmp.matched).toBe(input.length);
  }, 120_000);
});
