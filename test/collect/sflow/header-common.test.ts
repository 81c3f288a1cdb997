// The common-frame pass of the header decoder (Ethernet, one tag at most, IPv4 without options or IPv6
// without extension headers, TCP/UDP/SCTP/ICMP/ICMPv6) against the general layer walk: on every corpus
// frame and 100,000 mutations of them, from a clean view and from one left dirty by an earlier record,
// whenever the common pass takes a frame it must leave exactly the view the walk leaves, and decodeHeader
// (common pass first) must always agree with the walk alone.

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommonFrame, decodeHeader, HeaderProtocol, walkHeader } from '../../../src/collect/sflow/header.js';
import { FlowView, VIEW_FIELDS } from '../../../src/collect/sflow/view.js';
import { corpusDir } from '../../helpers/tools.js';
import { mutate, prng } from '../../mapping/harness.js';
import { readFrames } from './frames.js';

const CAPTURES = [
  'akvorado__gre-v4-key.pcap', 'akvorado__gre-v6-plain.pcap', 'akvorado__ipv4-ipv6.pcap', 'akvorado__mpls-eompls-cw.pcap',
  'akvorado__mpls-ipv4.pcap', 'akvorado__mpls-ipv6.pcap', 'akvorado__vlan-ipv6.pcap', 'akvorado__srv6-end-dt6.pcap',
  'tcpreplay__test.pcap', 'tcpreplay__test_fragroute.pcap', 'ipfixprobe__vlan.pcap',
];

/** The view's mask, tunnel and the octets of every field its mask says it holds ('' when equal). */
function difference(a: FlowView, b: FlowView): string {
  if (a.mask !== b.mask) return `mask ${(a.mask >>> 0).toString(16)} != ${(b.mask >>> 0).toString(16)}`;
  if (a.tunnel !== b.tunnel) return `tunnel ${a.tunnel} != ${b.tunnel}`;
  for (const f of VIEW_FIELDS.values()) {
    if ((a.mask & f.bits) !== f.bits) continue;
    const x = Buffer.from(a.b.subarray(f.offset, f.offset + f.length)).toString('hex');
    const y = Buffer.from(b.b.subarray(f.offset, f.offset + f.length)).toString('hex');
    if (x !== y) return `${f.name} ${x} != ${y}`;
  }
  return '';
}

/** Both views in the same state: clean, or as an earlier record of the sample might have left them. */
function prepare(views: FlowView[], rnd: () => number, dirty: boolean): void {
  const mask = dirty ? (Math.floor(rnd() * 0x100000000) | 0) : 0;
  const tunnel = dirty ? Math.floor(rnd() * 5) : 0;
  const fill = Math.floor(rnd() * 256);
  for (const v of views) {
    v.reset();
    v.b.fill(fill);
    v.mask = mask;
    v.tunnel = tunnel;
  }
}

describe('the common-frame pass of decodeHeader', () => {
  it('leaves the view the general walk leaves, on corpus frames and 100,000 mutations', () => {
    const frames = CAPTURES.flatMap((n) => readFrames(resolve(corpusDir, 'ordinary', n)).map((f) => Buffer.from(f.data)));
    const rnd = prng(0xc0ffee);
    const walked = new FlowView();
    const common = new FlowView();
    const decoded = new FlowView();
    let taken = 0;
    let takenUnmutated = 0;
    const problems: string[] = [];
    for (let i = 0; i < 100_000 + frames.length && problems.length < 5; i++) {
      const unmutated = i < frames.length;
      const frame = unmutated ? frames[i]! : mutate(frames[i % frames.length]!, rnd);
      const keepOuter = (i & 1) === 1;
      prepare([walked, common, decoded], rnd, i % 3 === 0);
      const outcome = walkHeader(frame, 0, frame.length, HeaderProtocol.ethernet, walked, keepOuter);
      if (decodeCommonFrame(frame, 0, frame.length, common)) {
        taken++;
        if (unmutated) takenUnmutated++;
        const d = difference(walked, common);
        if (d) problems.push(`frame ${i} (${frame.subarray(0, 64).toString('hex')}): common pass ${d}`);
      } else if (difference(common, decoded)) problems.push(`frame ${i}: a refused frame changed the view`);
      const o = decodeHeader(frame, 0, frame.length, HeaderProtocol.ethernet, decoded, keepOuter);
      const d = difference(walked, decoded);
      if (o !== outcome || d) problems.push(`frame ${i}: decodeHeader ${o} ${d} against the walk's ${outcome}`);
    }
    expect(problems).toEqual([]);
    // Most real frames are common ones (tcpreplay's 179 are Ethernet/IPv4/TCP-UDP); the tunnels, MPLS,
    // QinQ, fragments and extension headers of the rest go to the walk.
    expect(takenUnmutated).toBeGreaterThan(150);
    expect(takenUnmutated).toBeLessThan(frames.length);
    expect(taken).toBeGreaterThan(50_000);
  }, 60_000);
});
