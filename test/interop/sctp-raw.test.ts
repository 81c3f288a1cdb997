// sctp:// without encapsulation: SCTP straight over IPv4 (protocol 132) through raw sockets, which
// needs root or CAP_NET_RAW and no kernel SCTP (skipped loudly otherwise). Gateway → sctp:// →
// collect --listen sctp:// on 127.0.0.1, on a random SCTP port (every raw socket on the host sees every
// SCTP packet; the endpoints keep only their own ports). collect decodes exactly the records the
// gateway reads from the capture, and tshark, reading the loopback capture as plain IP protocol 132,
// finds every CRC32c good and the IPFIX inside well formed.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, haveTool, run, tempDir, toolPath } from '../helpers/tools.js';
import { gatewayBuilt, replay, startGateway, udpDatagramCount, type Gateway } from '../helpers/gateway.js';
import { captureLoopback, inspectRecords, recordKey, until, type Collector } from '../helpers/sctp.js';
import { spawnCollect } from '../helpers/collect-cli.js';
import { RawIpError, openRawIp } from '../../src/transport/sctp/raw-ip.js';

const PCAP = join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap');

/** Can this process open SCTP raw sockets (root/CAP_NET_RAW, the addon built, no kernel SCTP)? */
async function rawAvailable(): Promise<string | undefined> {
  try {
    const l = await openRawIp({ family: 4, address: '127.0.0.1' });
    l.close();
    return undefined;
  } catch (e) {
    return e instanceof RawIpError ? `${e.code}: ${e.message}` : String(e);
  }
}
const unavailable = await rawAvailable();
if (unavailable) console.warn(`\n*** SKIPPING sctp:// over raw IP: ${unavailable} ***\n`);

const tmp = tempDir('interop-sctp-raw-');
afterAll(() => tmp.cleanup());

/** collect over raw IP: its stderr line has no UDP port. */
async function startRawCollector(url: string): Promise<Collector> {
  const { collect } = await spawnCollect(url, [], /listening on sctp \S+ over IP/);
  return { ...collect, udpPort: 0 };
}

describe.skipIf(!gatewayBuilt() || !existsSync(PCAP) || !!unavailable || !haveTool('tshark') || !haveTool('dumpcap'))('sctp:// over raw IPv4', () => {
  it('gateway → sctp:// (protocol 132) → collect: records equal, every packet checksum good', async () => {
    const work = join(tmp.dir, 'raw');
    mkdirSync(work, { recursive: true });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const capture = await captureLoopback(`sctp port ${port}`, join(work, 'lo.pcap'));
    let collector: Collector | undefined;
    let gw: Gateway | undefined;
    const expected = (await inspectRecords(PCAP)).map(recordKey).sort();
    try {
      collector = await startRawCollector(`sctp://127.0.0.1:${port}`);
      const inPort = await freeUdpPort();
      gw = await startGateway(work, [{ name: 'in', listen: `udp://127.0.0.1:${inPort}` }], [{ name: 'raw', url: `sctp://127.0.0.1:${port}` }]);
      await until(async () => (await gw!.metric('ipfix_mediator_transport_up')) === 1, 15_000, 'the association over raw IP');
      const r = await replay([PCAP], `udp://127.0.0.1:${inPort}`, []);
      expect(r.code, r.stderr).toBe(0);
      expect(await gw.waitReceived(udpDatagramCount(PCAP))).toBe(udpDatagramCount(PCAP));
      await until(() => collector!.records().filter((x) => !('originalObservationDomainId' in x)).length >= expected.length, 15_000, 'the records at the collector');
      await capture.stop();
    } finally {
      const s = await gw?.stop();
      expect(s?.code, (s?.stdout ?? '').slice(-3000)).toBe(0);
      await collector?.stop();
      await capture.stop();
    }
    expect(collector!.records().filter((x) => !('originalObservationDomainId' in x)).map(recordKey).sort()).toEqual(expected);

    const env = { ...process.env, LC_ALL: 'C' };
    const rows = await run(toolPath('tshark')!, ['-r', capture.file, '-o', 'sctp.checksum:crc-32c', '-d', `sctp.port==${port},cflow`, '-Y', 'sctp', '-T', 'fields', '-e', 'sctp.checksum.status', '-e', 'cflow.version'], { timeoutMs: 60_000, env });
    const lines = rows.stdout.split('\n').filter((l) => l.trim());
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.split('\t')[0] !== '1')).toEqual([]);
    expect(lines.some((l) => l.split('\t')[1])).toBe(true); // IPFIX decoded inside
    const bad = await run(toolPath('tshark')!, ['-r', capture.file, '-o', 'sctp.checksum:crc-32c', '-d', `sctp.port==${port},cflow`, '-Y', '_ws.malformed || _ws.expert.severity >= "Warning"', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message'], { timeoutMs: 60_000, env });
    expect(bad.stdout.trim()).toBe('');
  }, 90_000);
});
