// The sFlow header decoder on mutated real frames: bit flips, boundary words, cuts, random spans over
// every frame of the corpus captures and the hand-built ones. It must never throw, never read outside
// the record, and every view it leaves must be self-consistent.

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHeader, HeaderOutcome, HeaderProtocol } from '../../../src/collect/sflow/header.js';
import { FlowView, Group, V } from '../../../src/collect/sflow/view.js';
import { corpusDir } from '../../helpers/tools.js';
import { mutate, prng } from '../../mapping/harness.js';
import { readFrames } from './frames.js';
import { factsOf } from './header-judge.js';

const CAPTURES = [
  'akvorado__gre-v4-key.pcap', 'akvorado__gre-v6-plain.pcap', 'akvorado__ipv4-ipv6.pcap', 'akvorado__mpls-eompls-cw.pcap',
  'akvorado__mpls-ipv4.pcap', 'akvorado__mpls-ipv6.pcap', 'akvorado__vlan-ipv6.pcap', 'akvorado__srv6-end-dt6.pcap',
  'tcpreplay__test.pcap', 'tcpreplay__test_fragroute.pcap', 'ipfixprobe__vlan.pcap',
];

/** What must hold for any view the decoder leaves; returns the broken rule or ''. */
function inconsistency(view: FlowView): string {
  const m = view.mask;
  const has = (g: number) => (m & g) !== 0;
  if (has(Group.ipv4) && has(Group.ipv6)) return 'ipv4 and ipv6';
  if (has(Group.ip)) {
    const version = view.b[V.ipVersion!]!;
    const protocol = view.b[V.protocol!]!;
    if (!(version === 4 ? has(Group.ipv4) : version === 6 ? has(Group.ipv6) : false)) return `ipVersion ${version}`;
    if (has(Group.tcp) && protocol !== 6) return `tcp facts with protocol ${protocol}`;
    if (has(Group.icmpv4) && protocol !== 1) return `icmp facts with protocol ${protocol}`;
    if (has(Group.icmpv6) && protocol !== 58) return `icmpv6 facts with protocol ${protocol}`;
  } else if (has(Group.ports) || has(Group.tcp) || has(Group.icmpv4) || has(Group.icmpv6)) return 'transport without ip';
  if (has(Group.tcp) && !has(Group.ports)) return 'tcp flags without ports';
  if (has(Group.tunnel) !== (view.tunnel !== 0)) return `tunnel group vs tunnel ${view.tunnel}`;
  if (has(Group.tunnel) && !has(Group.ip) && !has(Group.ipv6)) return 'tunnel without an inner packet';
  if (has(Group.customerVlan) && !has(Group.vlan)) return 'customer tag without service tag';
  return '';
}

describe('decodeHeader on mutated frames', () => {
  it('100,000 mutations: no throw, reads inside the record, consistent views', () => {
    const frames = CAPTURES.flatMap((n) => readFrames(resolve(corpusDir, 'ordinary', n)).map((f) => Buffer.from(f.data)));
    expect(frames.length).toBe(2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 179 + 20 + 6);
    const rnd = prng(0x5f10);
    const view = new FlowView();
    const copy = new FlowView();
    const outcomes = [0, 0, 0];
    const problems: string[] = [];
    for (let i = 0; i < 100_000 && problems.length < 5; i++) {
      const frame = mutate(frames[i % frames.length]!, rnd);
      const protocol = i % 7 === 0 ? HeaderProtocol.ipv4 : i % 11 === 0 ? HeaderProtocol.ipv6 : HeaderProtocol.ethernet;
      const start = protocol === HeaderProtocol.ethernet ? 0 : 14;
      const keepOuter = (i & 1) === 1;
      view.reset();
      const outcome = decodeHeader(frame, start, frame.length, protocol, view, keepOuter);
      outcomes[outcome]!++;
      const broken = inconsistency(view);
      if (broken) problems.push(`case ${i}: ${broken}`);
      if (i % 16 === 0) {
        // Inside a larger buffer with junk around it: the same facts, so nothing outside was read.
        const big = Buffer.alloc(frame.length + 48, 0xa5);
        frame.copy(big, 24);
        copy.reset();
        decodeHeader(big, 24 + start, 24 + frame.length, protocol, copy, keepOuter);
        // (Only the facts of set groups: reset() leaves stale bytes in the fields of unset ones.)
        if (copy.mask !== view.mask || JSON.stringify(factsOf(copy)) !== JSON.stringify(factsOf(view))) {
          problems.push(`case ${i}: read outside`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(outcomes[HeaderOutcome.unsupportedProtocol]).toBe(0);
    expect(outcomes[HeaderOutcome.ok]).toBeGreaterThan(80_000);
    expect(outcomes[HeaderOutcome.truncated]).toBeGreaterThan(0);
  }, 60_000);
});
