// Interop (c): nfcapd as a second collector. The gateway's UDP output goes into nfcapd; nfdump must
// list the same flows the input carried (addresses, ports, protocol, packets, octets, start and end
// second). nfcapd accepts malformed input silently, so this judges content and counts only; form
// is judged by ipfixDump and tshark in the other interop tests.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort, pcapsDir, repoRoot, requireOrSkip, tempDir } from '../helpers/tools.js';
import { replay, startGateway, udpDatagramCount, udpPorts } from '../helpers/gateway.js';
import { nfdumpFlows, startNfcapd, type NfdumpFlow } from '../helpers/nfdump.js';
import { tsharkJson, type TsharkRecord } from '../helpers/tshark.js';
import { canonical } from '../helpers/compare.js';

const tmp = tempDir('interop-nfcapd-');
afterAll(() => tmp.cleanup());

const CAPTURES = ['softflowd-v5.pcap', 'softflowd-v9.pcap', 'softflowd-ipfix-milli.pcap', 'pmacctd-nfprobe-ipfix.pcap'];

const ICMP = new Set(['1', '58']);
const PROTO: Record<string, string> = { TCP: '6', UDP: '17', ICMP: '1', ICMP6: '58' };
const second = (ms: string) => new Date(Math.floor(Number(ms) / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** The comparable key of a flow tshark decoded from the input (ports left out for ICMP, where nfdump shows type/code). */
function inputKey(r: TsharkRecord): string {
  const c = canonical(r);
  const proto = c.get('cflow.protocol')!;
  const ports = ICMP.has(proto) ? '' : `${c.get('cflow.srcport')}>${c.get('cflow.dstport')}`;
  const src = c.get('cflow.srcaddr') ?? c.get('cflow.srcaddrv6');
  const dst = c.get('cflow.dstaddr') ?? c.get('cflow.dstaddrv6');
  return [src, dst, proto, ports, c.get('cflow.packets'), c.get('cflow.octets'), second(c.get('@flowStart')!), second(c.get('@flowEnd')!)].join(' ');
}

function nfdumpKey(f: NfdumpFlow): string {
  const proto = PROTO[f['pr']!] ?? f['pr']!;
  const ports = ICMP.has(proto) ? '' : `${f['sp']}>${f['dp']}`;
  return [f['sa'], f['da'], proto, ports, f['ipkt'], f['ibyt'], f['ts'], f['te']].join(' ');
}

const cliWritten = existsSync(join(repoRoot, 'src/cli/main.ts'));
if (!cliWritten) console.warn('\n*** interop nfcapd: src/cli/main.ts does not exist yet; these tests are skipped ***\n');

describe.skipIf(!cliWritten || !requireOrSkip('tshark', 'nfcapd', 'nfdump'))('gateway UDP output → nfcapd/nfdump', () => {
  it.each(CAPTURES)('%s', async (file) => {
    const pcap = join(pcapsDir, file);
    const work = join(tmp.dir, file);
    const nfDir = join(work, 'nfcapd');
    mkdirSync(nfDir, { recursive: true });
    const nfPort = await freeUdpPort();
    const nfcapd = await startNfcapd(nfDir, nfPort);
    const port = await freeUdpPort();
    const gw = await startGateway(work, [{ name: 'in', listen: `udp://127.0.0.1:${port}` }], [{ name: 'nfcapd', url: `udp://127.0.0.1:${nfPort}` }]);
    try {
      const sent = udpDatagramCount(pcap);
      const r = await replay([pcap], `udp://127.0.0.1:${port}`);
      expect(r.code, r.stderr).toBe(0);
      expect(await gw.waitReceived(sent)).toBe(sent);
    } finally {
      const s = await gw.stop();
      expect(s.code, (s.stdout + s.stderr).slice(-4000)).toBe(0);
    }
    await new Promise((res) => setTimeout(res, 300)); // the last datagrams reach nfcapd
    const log = await nfcapd.stop();

    const input = (await tsharkJson(pcap, { udpPorts: udpPorts(pcap) })).filter((r) => !r.options);
    const got = await nfdumpFlows(nfDir);
    expect(got.length, log).toBe(input.length);
    expect(got.map(nfdumpKey).sort()).toEqual(input.map(inputKey).sort());
  });
});
