// Interop (a): real captures replayed through `ipfix-mediator run` into a file:// output. The output
// must satisfy judges nobody here wrote: ipfixDump reads every message with no complaint (lengths,
// set ids, IE lengths, sequence numbers), tshark finds no malformed or warning frame, and every
// record tshark decodes from the input appears in tshark's decode of the output with equal field
// values (rules: test/helpers/compare.ts, docs/testing.md).

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { corpusDir, freeUdpPort, pcapsDir, repoRoot, requireOrSkip, tempDir } from '../helpers/tools.js';
import { outputFiles, replay, startGateway, udpDatagramCount, udpPorts } from '../helpers/gateway.js';
import { isMalformed, tsharkJson } from '../helpers/tshark.js';
import { beyondInput, inputBaseline, judgeIpfixFiles } from '../helpers/judge.js';
import { canonical, compareRecords, describeMismatches } from '../helpers/compare.js';

/** Captures left out, with the reason (they are covered elsewhere). */
const LEFT_OUT: Record<string, string> = {
  'nf5/logstash-dat__invalid01.pcap': 'negative test: the decoder tests check it is refused',
  'nf9/logstash-dat__invalid01.pcap': 'negative test: the decoder tests check it is refused',
  'nf5/overflowd__netflow_4M.pcap': '78,684 records: too big for tshark -T json in a test; the v5 golden test covers it',
};

function corpusCases(): string[] {
  const out: string[] = [];
  for (const dir of ['nf5', 'nf9', 'ipfix']) {
    const full = join(corpusDir, dir);
    if (!existsSync(full)) continue;
    for (const f of readdirSync(full).sort()) if (f.endsWith('.pcap') && !LEFT_OUT[`${dir}/${f}`]) out.push(join(full, f));
  }
  return out;
}

const PROJECT_PCAPS = [
  'softflowd-v5.pcap',
  'softflowd-v9.pcap',
  'softflowd-ipfix.pcap',
  'softflowd-ipfix-milli.pcap',
  'pmacctd-nfprobe-v5.pcap',
  'pmacctd-nfprobe-v9.pcap',
  'pmacctd-nfprobe-ipfix.pcap',
].map((f) => join(pcapsDir, f));

const CASES = [...corpusCases(), ...PROJECT_PCAPS].map((p) => [relative(resolve(repoRoot, '..'), p), p] as const);

const tmp = tempDir('interop-file-');
afterAll(() => tmp.cleanup());

// Until the gateway's CLI exists there is nothing to judge; say so loudly rather than pass.
const cliWritten = existsSync(join(repoRoot, 'src/cli/main.ts'));
if (!cliWritten) console.warn('\n*** interop file-output: src/cli/main.ts does not exist yet; these tests are skipped ***\n');

describe.skipIf(!cliWritten || !requireOrSkip('tshark', 'ipfixDump'))('replay → run → file:// output, judged by ipfixDump and tshark', () => {
  it('covers the corpus and the project captures', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('%s', async (_name, pcap) => {
    const work = join(tmp.dir, _name.replace(/[^\w.-]+/g, '_'));
    const outDir = join(work, 'out');
    mkdirSync(outDir, { recursive: true });
    const port = await freeUdpPort();
    const gw = await startGateway(work, [{ name: 'in', listen: `udp://127.0.0.1:${port}` }], [{ name: 'file', url: `file://${join(outDir, 'flows.ipfix')}` }]);
    let logs = '';
    try {
      const sent = udpDatagramCount(pcap);
      const r = await replay([pcap], `udp://127.0.0.1:${port}`);
      expect(r.code, `replay failed:\n${r.stderr}`).toBe(0);
      const received = await gw.waitReceived(sent);
      expect(received).toBe(sent);
    } finally {
      const s = await gw.stop();
      logs = s.stdout + s.stderr;
      expect(s.code, `gateway exit\n${logs.slice(-4000)}`).toBe(0);
    }

    const files = outputFiles(outDir);
    const verdict = await judgeIpfixFiles(files, work);
    const problems = beyondInput(verdict.problems, await inputBaseline(pcap, work, { udpPorts: udpPorts(pcap) }));
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);

    // records tshark itself could not decode (its malformed markers inside them) are no reference
    const decoded = await tsharkJson(pcap, { udpPorts: udpPorts(pcap) });
    const input = decoded.filter((r) => !isMalformed(r));
    if (input.length < decoded.length) console.warn(`${_name}: ${decoded.length - input.length} input records tshark decodes as malformed are not compared`);
    const cmp = compareRecords(
      input.map((r) => canonical(r)),
      verdict.records.map((r) => canonical(r)),
      input.map((r) => r.frame),
    );
    expect(describeMismatches(cmp), `output ${verdict.pcap}`).toBe('');
    expect(cmp.matched).toBe(input.length);
    // every flow tshark decoded is there; the gateway may decode more than tshark could (data that
    // came before its template is held until the template arrives), never fewer
    expect(verdict.records.filter((r) => !r.options).length).toBeGreaterThanOrEqual(input.filter((r) => !r.options).length);
  });
});
