// The built executable end to end: check-config, and NetFlow v5 replayed into `run`, exported over TCP to
// `collect --json`, whose records must carry the v5 capture's values (cross-checked with tshark's decode).

import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { udpPayloads } from '../../src/util/pcap.js';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin/ipfix-mediator');
const corpus = resolve(root, '../shared/corpus');
const built = existsSync(join(root, 'dist/cli/main.js'));
if (!built) console.warn('*** test/cli: dist/ is not built (npm test builds it); skipping ***');

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  return { child, out: () => out, err: () => err };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await wait(25);
  }
}

describe.skipIf(!built)('command line', () => {
  it('check-config: ok and exit 0, or every error with file:line and exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-'));
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(good, 'inputs:\n  - name: a\n    listen: udp://127.0.0.1:2055\noutputs:\n  - name: b\n    url: file:out/x.ipfix\n');
    writeFileSync(bad, 'inputs:\n  - name: a\n    listen: udp://127.0.0.1:2055\n    protocl: auto\noutputs: []\n');
    const ok = spawnSync(process.execPath, [bin, 'check-config', good], { encoding: 'utf8' });
    expect([ok.status, ok.stdout]).toEqual([0, 'ok\n']);
    const ko = spawnSync(process.execPath, [bin, 'check-config', bad], { encoding: 'utf8' });
    expect(ko.status).toBe(1);
    expect(ko.stderr).toContain(`${bad}:4: inputs[0].protocl: unknown key — did you mean "protocol"?`);
    expect(ko.stderr).toContain(`${bad}:5: outputs: must be a list with at least one entry`);
    expect(spawnSync(process.execPath, [bin, 'nonsense'], { encoding: 'utf8' }).status).toBe(2);
  });

  it('replay → run (UDP in, TCP out) → collect --json, values as in the v5 capture; SIGTERM exits within 5 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
    const [inPort, collectPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const collector = start(['collect', '--listen', `tcp://127.0.0.1:${collectPort}`, '--json']);
    await until(() => collector.err().includes('listening'));
    const config = join(dir, 'gw.yaml');
    writeFileSync(config, `inputs:\n  - name: r\n    listen: udp://127.0.0.1:${inPort}\noutputs:\n  - name: c\n    url: tcp://127.0.0.1:${collectPort}\nmetrics: 127.0.0.1:${metricsPort}\n`);
    const gw = start(['run', '--config', config]);
    await until(() => gw.out().includes('ipfix-mediator running'));
    await wait(300); // TCP connection up

    const pcap = join(corpus, 'nf5/akvorado__nfv5.pcap');
    const r = spawnSync(process.execPath, [bin, 'replay', pcap, '--to', `udp://127.0.0.1:${inPort}`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('replay: done, 1 packets');
    const lines = () => collector.out().split('\n').filter((l) => l.startsWith('{'));
    await until(() => lines().length >= 30);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/ipfix_mediator_records_received_total\{input="r",protocol="netflow5"\} 29/);
    expect(metrics).toMatch(/ipfix_mediator_records_sent_total\{output="c"\} 30/); // 29 flows + the RFC 7119 record

    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => gw.child.once('exit', (c) => res(c)));
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    collector.child.kill('SIGTERM');
    await new Promise((res) => collector.child.once('exit', res));

    const recs = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    // Field by field against the capture's own bytes: v5 record i at 24 + 48·i.
    const v5 = udpPayloads(pcap)[0]!.payload;
    const origin = recs.find((x) => 'originalExporterIPv4Address' in x)!;
    // The v5 session's observation domain is engine_type << 8 | engine_id.
    expect(origin).toMatchObject({ originalExporterIPv4Address: '127.0.0.1', originalObservationDomainId: (v5[20]! << 8) | v5[21]! });
    const flows = recs.filter((x) => 'sourceIPv4Address' in x);
    expect(flows.length).toBe(29);
    const ip = (o: number) => `${v5[o]}.${v5[o + 1]}.${v5[o + 2]}.${v5[o + 3]}`;
    const unixMs = v5.readUInt32BE(8) * 1000 + Math.floor(v5.readUInt32BE(12) / 1e6);
    flows.forEach((f, i) => {
      const o = 24 + 48 * i;
      expect(f).toMatchObject({
        sourceIPv4Address: ip(o),
        destinationIPv4Address: ip(o + 4),
        ipNextHopIPv4Address: ip(o + 8),
        packetDeltaCount: v5.readUInt32BE(o + 16),
        octetDeltaCount: v5.readUInt32BE(o + 20),
        sourceTransportPort: v5.readUInt16BE(o + 32),
        destinationTransportPort: v5.readUInt16BE(o + 34),
        protocolIdentifier: v5[o + 38],
        flowStartMilliseconds: new Date(unixMs - ((v5.readUInt32BE(4) - v5.readUInt32BE(o + 24)) | 0)).toISOString(),
        flowEndMilliseconds: new Date(unixMs - ((v5.readUInt32BE(4) - v5.readUInt32BE(o + 28)) | 0)).toISOString(),
      });
    });
  });

  it('inspect: a NetFlow v9 capture comes out converted, with its record count', () => {
    const r = spawnSync(process.execPath, [bin, 'inspect', join(corpus, 'nf9/pmacct__101-NFv9-CISCO.pcap'), '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.length).toBe(51);
    expect(recs.every((x) => typeof x.flowStartMilliseconds === 'string' && (x.flowStartMilliseconds as string).endsWith('Z'))).toBe(true);
    expect(r.stderr).toMatch(/inspect: 40 datagrams, 51 records/);
  });
});
