// The running gateway's reload (src/cli/gateway.ts) in process, over real loopback sockets: a UDP NetFlow v9
// input, a TCP output recorded here, the config file rewritten between reloads. Each case checks what the
// collector sees: an unchanged config changes nothing; a metrics address comes up; a changed output is a new Transport Session after
// the old one withdrew everything; a changed input (or changed mapping settings) ends its sessions — their
// templates withdrawn on the same connection — and decodes anew; a config naming a certificate that does
// not exist is rejected before anything changes.

import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '../../src/cli/gateway.js';
import { loadConfig } from '../../src/config/load.js';
import { diffConfig } from '../../src/config/diff.js';
import { freeUdpPort, tempDir } from '../helpers/tools.js';
import { until as untilWithin } from '../helpers/wait-for.js';
import { freeTcpPort } from '../helpers/gateway.js';
import { TimedCollector, walk } from '../helpers/timed-collector.js';
import { parseSession } from '../export/strict-collector.js';
import { log } from '../../src/observe/log.js';
import { registry } from '../../src/observe/metrics.js';

const tmp = tempDir('gateway-reload-');
afterAll(() => tmp.cleanup());
log.level = 'silent';

/** NetFlow v9 packet, Source ID 3: template 256 (IPV4_SRC_ADDR 8/4, L4_SRC_PORT 7/2) and one record 192.0.2.1:n. */
function v9(n: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(2, 2);
  h.writeUInt32BE(3_600_000 + n * 100, 4);
  h.writeUInt32BE(1_700_000_000 + n, 8);
  h.writeUInt32BE(n, 12);
  h.writeUInt32BE(3, 16);
  return Buffer.concat([h, Buffer.from([0, 0, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 7, 0, 2]), Buffer.from([1, 0, 0, 12, 192, 0, 2, 1, n >> 8, n & 255, 0, 0])]);
}

const until = (what: string, cond: () => boolean, ms = 10_000) => untilWithin(what, cond, ms);

const flows = (c: TimedCollector, session: number) =>
  walk(c.sessions[session] ?? [])
    .flatMap((m) => m.records)
    .filter((r) => r.template.scopeCount === 0).length;
const withdrawals = (c: TimedCollector, session: number) => walk(c.sessions[session] ?? []).flatMap((m) => m.withdrawn);
const announcements = (c: TimedCollector, session: number) => walk(c.sessions[session] ?? []).flatMap((m) => m.announced);

describe('Gateway.reload', () => {
  it('unchanged, changed output, changed input, changed mapping, rejected certificate', async () => {
    const col = new TimedCollector();
    await col.start();
    const port = await freeUdpPort();
    const path = join(tmp.dir, 'gw.yaml');
    const write = (over: { flushInterval?: number; sessionTimeout?: number; enterprise?: number; extraOutput?: object; metrics?: string } = {}) =>
      writeFileSync(
        path,
        JSON.stringify({
          inputs: [{ name: 'in', listen: `udp://127.0.0.1:${port}`, sessionTimeout: over.sessionTimeout ?? 60 }],
          outputs: [{ name: 'out', url: `tcp://127.0.0.1:${col.port}`, flushInterval: over.flushInterval ?? 20 }, ...(over.extraOutput ? [over.extraOutput] : [])],
          ...(over.enterprise ? { mapping: { netflow9Enterprise: over.enterprise } } : {}),
          metrics: over.metrics ?? false,
          logLevel: 'silent',
        }),
      );
    write();
    const gw = new Gateway(loadConfig(path), path);
    await gw.start();
    const exporter = dgram.createSocket('udp4');
    await new Promise<void>((r) => exporter.bind(0, '127.0.0.1', () => r()));
    let n = 0;
    const send = () => new Promise<void>((r) => exporter.send(v9(n++), port, '127.0.0.1', () => r()));
    try {
      await until('connected', () => col.connections === 1);
      await send();
      await until('first record', () => flows(col, 0) === 1);

      // unchanged: nothing happens
      expect(await gw.reload()).toBe('ok');
      await send();
      await until('second record', () => flows(col, 0) === 2);
      expect(col.sessions.length).toBe(1);
      expect(withdrawals(col, 0)).toEqual([]);

      // changed output: the old session withdraws everything and closes; the new one learns the live
      // templates; what arrives meanwhile is held and replayed into it: nothing lost, nothing twice
      write({ flushInterval: 30 });
      const reloading = gw.reload();
      for (let i = 0; i < 3; i++) await send();
      expect(await reloading).toBe('ok');
      await until('second connection', () => col.sessions.length === 2);
      await until('the records sent during the reload', () => flows(col, 0) + flows(col, 1) === 5);
      const ports = [0, 1].flatMap((k) => walk(col.sessions[k]!).flatMap((m) => m.records.filter((r) => r.template.scopeCount === 0).map((r) => r.bytes.readUInt16BE(4))));
      expect(ports.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
      expect(flows(col, 0)).toBe(2); // the three sent during the reload were held for the new session
      expect(new Set(withdrawals(col, 0))).toEqual(new Set(announcements(col, 0).map((t) => t.id)));
      expect(withdrawals(col, 0).length).toBe(2);
      const onNew = flows(col, 1);
      await send();
      await until('a record on the new connection', () => flows(col, 1) === onNew + 1);
      expect(parseSession(col.streams()[1]!).errors).toEqual([]);
      expect(announcements(col, 1).length).toBe(2);

      // changed input: its session ends (withdrawals on the unchanged output's connection), then decodes anew
      write({ flushInterval: 30, sessionTimeout: 61 });
      expect(await gw.reload()).toBe('ok');
      await until('withdrawals after the input restart', () => withdrawals(col, 1).length === 2);
      await send();
      await until('a record after the input restart', () => flows(col, 1) === onNew + 2);
      expect(col.sessions.length).toBe(2);
      expect(announcements(col, 1).length).toBe(4);

      // changed mapping settings: every input restarts
      write({ flushInterval: 30, sessionTimeout: 61, enterprise: 4242 });
      expect(await gw.reload()).toBe('ok');
      await until('withdrawals after the mapping change', () => withdrawals(col, 1).length === 4);
      await send();
      await until('a record after the mapping change', () => flows(col, 1) === onNew + 3);

      // the metrics endpoint comes up where the new config says, with /health of what runs
      const metricsPort = await freeTcpPort();
      write({ flushInterval: 30, sessionTimeout: 61, enterprise: 4242, metrics: `127.0.0.1:${metricsPort}` });
      expect(await gw.reload()).toBe('ok');
      const health = (await (await fetch(`http://127.0.0.1:${metricsPort}/health`, { signal: AbortSignal.timeout(5000) })).json()) as { inputs: { name: string }[]; outputs: { name: string; transportUp: boolean }[] };
      expect(health.inputs.map((i) => i.name)).toEqual(['in']);
      expect(health.outputs).toEqual([expect.objectContaining({ name: 'out', transportUp: true })]);
      expect(col.sessions.length).toBe(2);

      // a new TLS output whose certificate does not exist: rejected, nothing changes
      const before = gw.current;
      write({ flushInterval: 30, sessionTimeout: 61, enterprise: 4242, metrics: `127.0.0.1:${metricsPort}`, extraOutput: { name: 'tls', url: 'tls://127.0.0.1:1', ca: 'missing-ca.pem', cert: 'missing.pem', key: 'missing.key' } });
      expect(await gw.reload()).toBe('rejected');
      expect(gw.current).toBe(before);
      await send();
      await until('records go on', () => flows(col, 1) === onNew + 4);
      expect(col.sessions.length).toBe(2);
      expect(withdrawals(col, 1).length).toBe(4);
      expect(parseSession(col.streams()[1]!).errors).toEqual([]);
      // the output's mapping state: one domain, its data template and its RFC 7119 options template
      const gauge = async (name: string) => (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values.find((v) => v.labels.output === 'out')?.value;
      expect(await gauge('ipfix_mediator_output_domains')).toBe(1);
      expect(await gauge('ipfix_mediator_output_templates')).toBe(2);
      expect((await registry.getMetricsAsJSON()).find((m) => m.name === 'ipfix_mediator_config_reloads_total')?.values.filter((v) => v.labels.result === 'rejected').map((v) => v.value)).toEqual([1]);
    } finally {
      exporter.close();
      await gw.stop();
      await col.stop();
    }
  }, 60_000);
});

describe('diffConfig', () => {
  it('matches inputs and outputs by name and compares validated settings', () => {
    const a = join(tmp.dir, 'a.yaml');
    const b = join(tmp.dir, 'b.yaml');
    writeFileSync(
      a,
      'inputs:\n  - name: i1\n    listen: udp://127.0.0.1:2055\n  - name: i2\n    listen: udp://127.0.0.1:2056\noutputs:\n  - name: o1\n    url: tcp://127.0.0.1:4739\n  - name: o2\n    url: udp://127.0.0.1:4740\n',
    );
    // i1 the same with a default written out and keys reordered; i2 changed; o2 removed; o3 added
    writeFileSync(
      b,
      'outputs:\n  - url: tcp://127.0.0.1:4739\n    name: o1\n  - name: o3\n    url: udp://127.0.0.1:4741\ninputs:\n  - listen: udp://127.0.0.1:2055\n    name: i1\n    sessionTimeout: 300\n  - name: i2\n    listen: udp://127.0.0.1:2056\n    sessionTimeout: 30\n',
    );
    const d = diffConfig(loadConfig(a), loadConfig(b));
    expect(d.inputs.unchanged.map((x) => x.name)).toEqual(['i1']);
    expect(d.inputs.changed.map((x) => x.name)).toEqual(['i2']);
    expect(d.inputs.added).toEqual([]);
    expect(d.outputs.unchanged.map((x) => x.name)).toEqual(['o1']);
    expect(d.outputs.added.map((x) => x.name)).toEqual(['o3']);
    expect(d.outputs.removed.map((x) => x.name)).toEqual(['o2']);
    expect(d.mapping).toBe(false);
  });
});
