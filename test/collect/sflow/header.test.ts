// The sFlow raw packet header decoder against tshark: real frames (corpus captures, and frames scapy
// builds here for what the corpus lacks) decoded with decodeHeader as an agent's sampled header, the
// view's facts compared whole with what tshark's dissection of the same frame implies.

import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader, HeaderOutcome, HeaderProtocol } from '../../../src/collect/sflow/header.js';
import { FlowView } from '../../../src/collect/sflow/view.js';
import { corpusDir, requireOrSkip, runOk, tempDir } from '../../helpers/tools.js';
import { LINKTYPE_ETHERNET, readFrames } from './frames.js';
import { expectedFacts, factsOf, tsharkFrames, type Facts } from './header-judge.js';

/** Corpus captures, with the tshark options some need. */
const CAPTURES: Array<string | [string, string[]]> = [
  'akvorado__gre-v4-key.pcap',
  'akvorado__gre-v6-plain.pcap',
  'akvorado__ipv4-ipv6.pcap',
  // tshark's pseudowire heuristic guesses "no control word" here, but octets 22-25 are a control word
  // (00000000) followed by an Ethernet header (02:00:00:00:00:03 ...; type 0x0800): tell it so.
  ['akvorado__mpls-eompls-cw.pcap', ['-d', 'mpls.label==17,pwethcw']],
  'akvorado__mpls-ipv4.pcap',
  'akvorado__mpls-ipv6.pcap',
  'akvorado__vlan-ipv6.pcap',
  'akvorado__srv6-end-dt6.pcap',
  'tcpreplay__test.pcap',
  'tcpreplay__test_fragroute.pcap',
  'ipfixprobe__vlan.pcap',
];

interface Mismatch {
  frame: number;
  keepOuter: boolean;
  decoded: Facts;
  tshark: Facts;
}

/** Decodes every frame both ways and returns the frames whose facts differ from tshark's. */
async function judge(path: string, tsharkArgs: readonly string[] = []): Promise<{ frames: number; mismatches: Mismatch[]; decoded: Facts[] }> {
  const frames = readFrames(path);
  const dissected = await tsharkFrames(path, tsharkArgs);
  expect(dissected.length).toBe(frames.length);
  const view = new FlowView();
  const mismatches: Mismatch[] = [];
  const decoded: Facts[] = [];
  for (const f of frames) {
    expect(f.linkType).toBe(LINKTYPE_ETHERNET);
    for (const keepOuter of [false, true]) {
      view.reset();
      const outcome = decodeHeader(f.data, 0, f.data.length, HeaderProtocol.ethernet, view, keepOuter);
      expect(outcome).toBe(HeaderOutcome.ok);
      const got = factsOf(view);
      const want = expectedFacts(dissected[f.number - 1]!, keepOuter);
      if (!keepOuter) decoded.push(got);
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
        mismatches.push({ frame: f.number, keepOuter, decoded: got, tshark: want });
      }
    }
  }
  return { frames: frames.length, mismatches, decoded };
}

function sortKeys(o: Facts): Facts {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

describe.skipIf(!requireOrSkip('tshark'))('decodeHeader agrees with tshark on corpus frames', () => {
  for (const entry of CAPTURES) {
    const [name, args] = typeof entry === 'string' ? [entry, []] : entry;
    it(name, async () => {
      const r = await judge(resolve(corpusDir, 'ordinary', name), args);
      expect(r.mismatches.slice(0, 3)).toEqual([]);
      expect(r.frames).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe.skipIf(!requireOrSkip('tshark', 'python3-scapy'))('decodeHeader agrees with tshark on frames scapy builds', () => {
  const tmp = tempDir('sflow-header-');
  const pcap = resolve(tmp.dir, 'frames.pcap');
  beforeAll(async () => {
    await runOk('/usr/bin/python3', [resolve(import.meta.dirname, 'header-frames.py'), pcap], { timeoutMs: 60_000 });
  }, 70_000);
  afterAll(() => tmp.cleanup());

  it('every frame, inner and outer flow', async () => {
    const r = await judge(pcap);
    expect(r.mismatches.slice(0, 3)).toEqual([]);
    expect(r.frames).toBe(24);
    // Chosen values, so the comparison above is known to have compared something.
    const byFrame = (n: number) => r.decoded[n - 1]!;
    expect(byFrame(1)).toMatchObject({ sourceIPv4: '192.0.2.1', classOfService: 0xb8, ttl: 3, tcpFlags: 0x1c2, sourcePort: 1234 });
    expect(byFrame(3)).toMatchObject({ fragmentId: 0x4242, fragmentOffset: 175, fragmentFlags: 0x20 });
    expect(byFrame(3)).not.toHaveProperty('sourcePort');
    expect(byFrame(6)).toMatchObject({ fragmentId: 0xcafe01, fragmentOffset: 154, protocol: 17, flowLabel: 0x12345 });
    expect(byFrame(10)).toMatchObject({ vlanId: 100, vlanPriority: 3, customerVlanId: 200, customerVlanPriority: 5, etherType: 0x0800 });
    expect(byFrame(12)).toMatchObject({ etherType: 0x0800, sourceIPv4: '10.0.0.1' });
    expect(byFrame(13)).toMatchObject({ tunnel: 'VXLAN', vxlanSegment: '0x0100000000123456', sourceIPv6: '2001:db8:1::1', destinationPort: 40000 });
    expect(byFrame(14)).toMatchObject({ tunnel: 'GTP-U', gtpuTeid: 0x01020304, sourceIPv4: '100.64.0.1', icmpTypeCodeV4: 0x0800 });
    expect(byFrame(16)).toMatchObject({ tunnel: 'GRE', greKey: 0xdeadbeef, icmpTypeCodeV6: 129 << 8 });
    expect(byFrame(23)).toMatchObject({ mplsDepth: 4, mplsLabel1: (100 << 4) | (1 << 1), mplsLabel3: (300 << 4) | (3 << 1), mplsTopLabelTtl: 64 });
    expect(byFrame(24)).toMatchObject({ tunnel: 'IPIP', greKey: 7, sourceIPv6: '2001:db8::5', tcpFlags: 0x04 });
  }, 60_000);
});
