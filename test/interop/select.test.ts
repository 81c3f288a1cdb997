// End to end: select rules (RFC 6183 §6.1 data-based collector selection) splitting a real NetFlow v5
// export (78,684 records from one router, many input interfaces and source networks) between file outputs.
// Each file is decoded with the project's own IPFIX file reader and must hold exactly the records of the
// unfiltered output that match its rule; ipfixDump reads the interface-selected file and sees only the
// selected interfaces.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { corpusDir, freeUdpPort, requireOrSkip, tempDir } from '../helpers/tools.js';
import { outputFiles, replay, startGateway, udpDatagramCount } from '../helpers/gateway.js';
import { readIpfixFile } from '../../src/ipfix/file-reader.js';
import { parseSession, type Rec } from '../export/strict-collector.js';

const tmp = tempDir('interop-select-');
afterAll(() => tmp.cleanup());

const pcap = join(corpusDir, 'nf5/overflowd__netflow_4M.pcap');

/** Every flow record of an output's files, read with the project's file reader and a strict parse. */
function flowRecords(dir: string): Rec[] {
  const out: Rec[] = [];
  for (const f of outputFiles(dir)) {
    const bytes = readFileSync(f);
    const problems = [...readIpfixFile(bytes)].filter((i) => 'error' in i);
    expect(problems).toEqual([]);
    const p = parseSession(bytes);
    expect(p.errors).toEqual([]);
    out.push(...p.records.filter((r) => r.template.scopeCount === 0));
  }
  return out;
}

/** Value of IE `id` (unsigned, any length) in a fixed-length record, or undefined when absent. */
function field(r: Rec, id: number): number | undefined {
  let o = 0;
  for (const f of r.template.fields) {
    if (f.id === id && f.enterprise === 0) {
      let v = 0;
      for (let i = 0; i < f.length; i++) v = v * 256 + r.bytes[o + i]!;
      return v;
    }
    o += f.length;
  }
  return undefined;
}

const key = (r: Rec) => r.bytes.toString('hex');

describe.skipIf(!existsSync(pcap) || !requireOrSkip('ipfixDump'))('select rules split records between outputs', () => {
  it('by ingressInterface and by source prefix, each file holding exactly the matching records', async () => {
    const work = join(tmp.dir, 'split');
    for (const d of ['all', 'if', 'pfx']) mkdirSync(join(work, d), { recursive: true });
    const port = await freeUdpPort();
    const gw = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}` }],
      [
        { name: 'all', url: `file://${join(work, 'all/flows.ipfix')}` },
        { name: 'if', url: `file://${join(work, 'if/flows.ipfix')}`, select: [{ ingressInterface: [108, '110-110'] }] },
        { name: 'pfx', url: `file://${join(work, 'pfx/flows.ipfix')}`, select: [{ sourceAddress: '122.0.0.0/8' }] },
      ],
    );
    let unselectedIf = 0;
    let unselectedPfx = 0;
    try {
      expect((await replay([pcap], `udp://127.0.0.1:${port}`)).code).toBe(0);
      expect(await gw.waitReceived(udpDatagramCount(pcap))).toBe(udpDatagramCount(pcap));
      const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
      const count = (output: string) => Number(/ (\d+)$/.exec(text.split('\n').find((l) => l.startsWith(`ipfix_mediator_records_unselected_total{output="${output}"}`)) ?? ' 0')![1]);
      unselectedIf = count('if');
      unselectedPfx = count('pfx');
    } finally {
      const s = await gw.stop();
      expect(s.code, s.stderr.slice(-3000)).toBe(0);
    }
    const all = flowRecords(join(work, 'all'));
    const byIf = flowRecords(join(work, 'if'));
    const byPfx = flowRecords(join(work, 'pfx'));
    expect(all.length).toBeGreaterThan(78000);

    const wantIf = all.filter((r) => [108, 110].includes(field(r, 10)!));
    const wantPfx = all.filter((r) => field(r, 8)! >>> 24 === 122);
    // A real split: both are a part of the whole, neither all nor nothing.
    expect(wantIf.length).toBeGreaterThan(20000);
    expect(wantIf.length).toBeLessThan(all.length);
    expect(wantPfx.length).toBeGreaterThan(40000);
    expect(wantPfx.length).toBeLessThan(all.length);
    // The same records (as multisets: each output packs its domains' messages on its own schedule).
    const sorted = (rs: Rec[]) => rs.map(key).sort();
    expect(sorted(byIf)).toEqual(sorted(wantIf));
    expect(sorted(byPfx)).toEqual(sorted(wantPfx));
    expect(unselectedIf).toBe(all.length - wantIf.length);
    expect(unselectedPfx).toBe(all.length - wantPfx.length);

    // ipfixDump, a reader nobody here wrote, on the interface-selected file.
    const [file] = outputFiles(join(work, 'if'));
    const dump = execFileSync('ipfixDump', ['--in', file!], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const ifs = [...dump.matchAll(/ingressInterface\s*:\s*(\d+)/g)].map((m) => Number(m[1]));
    expect(ifs.length).toBe(wantIf.length);
    expect(new Set(ifs)).toEqual(new Set([108, 110]));
  }, 120_000);
});
