// SIGHUP end to end (issue 5 item 7): a running `ipfix-mediator run` with a UDP NetFlow v9 input and two
// TCP outputs, `stay` and `gone`, while a hand-built exporter keeps sending. The config file is rewritten —
// `gone` removed, an output `new` and a second input added, `stay` untouched — and the gateway gets SIGHUP:
// `new` receives the live templates and then records, `gone` withdraws everything it announced and closes,
// and `stay` never notices (one connection, Sequence Numbers continuous, the same outgoing ODID, the
// exporter's session never ended). Then a config that does not validate: the reload is rejected with the
// error logged, and the gateway goes on with the running one.

import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort, sleep, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, gatewayPid, startGateway, type Gateway } from '../helpers/gateway.js';
import { TimedCollector, origins, walk } from '../helpers/timed-collector.js';
import { parseSession } from '../export/strict-collector.js';
import { until } from '../helpers/wait-for.js';

const tmp = tempDir('interop-reload-');
afterAll(() => tmp.cleanup());

/**
 * NetFlow v9 packet (RFC 3954 §5.1), Source ID 1: a Template FlowSet for template 256 (IPV4_SRC_ADDR 8/4,
 * L4_SRC_PORT 7/2) and a Data FlowSet of one record 192.0.2.<n % 250 + 1>, port n (padded to 12 octets).
 */
function v9(n: number, uptime: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(2, 2);
  h.writeUInt32BE(uptime, 4);
  h.writeUInt32BE(1_700_000_000 + Math.floor(uptime / 1000), 8);
  h.writeUInt32BE(n, 12);
  h.writeUInt32BE(1, 16);
  const tmpl = Buffer.from([0, 0, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 7, 0, 2]);
  const data = Buffer.from([1, 0, 0, 12, 192, 0, 2, (n % 250) + 1, n >> 8, n & 255, 0, 0]);
  return Buffer.concat([h, tmpl, data]);
}

async function metric(gw: Gateway, name: string, labels = ''): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    return text
      .split('\n')
      .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  } catch {
    return 0;
  }
}

/** Flow records (not RFC 7119 origin records) in a recorded connection. */
const flowCount = (c: TimedCollector, session = 0) =>
  walk(c.sessions[session] ?? [])
    .flatMap((m) => m.records)
    .filter((r) => r.template.scopeCount === 0).length;

describe.skipIf(!gatewayBuilt())('SIGHUP: config reload end to end', () => {
  it('adds and removes outputs and inputs; untouched ones keep their connection and sessions; a bad config is rejected', async () => {
    const work = join(tmp.dir, 'gw');
    mkdirSync(work, { recursive: true });
    const stay = new TimedCollector();
    const gone = new TimedCollector();
    const added = new TimedCollector();
    await stay.start();
    await gone.start();
    await added.start();
    const port = await freeUdpPort();
    const port2 = await freeUdpPort();
    const gw = await startGateway(
      work,
      [{ name: 'in', listen: `udp://127.0.0.1:${port}`, sessionTimeout: 60 }],
      [
        { name: 'stay', url: `tcp://127.0.0.1:${stay.port}`, flushInterval: 20 },
        { name: 'gone', url: `tcp://127.0.0.1:${gone.port}`, flushInterval: 20 },
      ],
    );
    const exporter = dgram.createSocket('udp4');
    await new Promise<void>((r) => exporter.bind(0, '127.0.0.1', () => r()));
    let n = 0;
    let uptime = 3_600_000;
    // a second exporter (another source port) for the input the reload adds
    const exporter2 = dgram.createSocket('udp4');
    await new Promise<void>((r) => exporter2.bind(0, '127.0.0.1', () => r()));
    const send = async (to = port) => {
      await new Promise<void>((r, j) => (to === port ? exporter : exporter2).send(v9(n++, uptime), to, '127.0.0.1', (e) => (e ? j(e) : r())));
      uptime += 100;
    };
    // the exporter sends every 100 ms for the whole test, reloads included
    let sending = true;
    const sender = (async () => {
      while (sending) {
        await send();
        await sleep(100);
      }
    })();
    let log = '';
    try {
      await until('records at stay and gone', () => flowCount(stay) >= 5 && flowCount(gone) >= 5);
      const pid = gatewayPid(gw.configPath);

      // 1. rewrite: gone out, new in, a second input; stay exactly as it was
      const config = JSON.parse(readFileSync(gw.configPath, 'utf8')) as { inputs: unknown[]; outputs: { name: string }[] };
      config.outputs = [config.outputs.find((o) => o.name === 'stay')!, { name: 'new', url: `tcp://127.0.0.1:${added.port}`, flushInterval: 20 } as never];
      config.inputs.push({ name: 'in2', listen: `udp://127.0.0.1:${port2}`, protocol: 'auto' });
      writeFileSync(gw.configPath, JSON.stringify(config, null, 2));
      process.kill(pid, 'SIGHUP');
      await until('reload ok', async () => (await metric(gw, 'ipfix_mediator_config_reloads_total', 'result="ok"')) === 1);
      await until('gone closed', () => gone.connections === 0);
      await until('records at new', () => flowCount(added) >= 5);
      // the second input works: an exporter on it reaches both outputs
      const before = flowCount(stay);
      await send(port2);
      await until('the new input\'s record at stay and new', () => flowCount(stay) > before && walk(added.sessions[0]!).some((m) => m.records.some((r) => r.bytes.length === 6 && r.bytes.readUInt16BE(4) === n - 1)));

      // 2. a config that does not validate: rejected, logged, the running one goes on
      writeFileSync(gw.configPath, JSON.stringify({ ...config, outputs: [{ name: 'stay', url: 'tcp://127.0.0.1' }], inptus: [] }, null, 2));
      process.kill(pid, 'SIGHUP');
      await until('reload rejected', async () => (await metric(gw, 'ipfix_mediator_config_reloads_total', 'result="rejected"')) === 1);
      const stayBefore = flowCount(stay);
      const addedBefore = flowCount(added);
      await until('records go on at stay and new', () => flowCount(stay) >= stayBefore + 5 && flowCount(added) >= addedBefore + 5);
      expect(await metric(gw, 'ipfix_mediator_exporter_sessions_ended_total')).toBe(0);
      expect(await metric(gw, 'ipfix_mediator_config_reloads_total', 'result="ok"')).toBe(1);
      // a removed output's gauges go with it
      const text = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      expect(text).toMatch(/^ipfix_mediator_transport_up\{output="stay"\} 1$/m);
      expect(text).not.toMatch(/^ipfix_mediator_transport_up\{output="gone"\}/m);
    } finally {
      sending = false;
      await sender;
      exporter.close();
      exporter2.close();
      const s = await gw.stop();
      log = s.stdout + s.stderr;
      await stay.stop();
      await gone.stop();
      await added.stop();
    }

    // stay: one connection the whole time, strict (templates before data, sequence numbers continuous per
    // ODID across both reloads), one outgoing domain for the exporter on `in` and one for the one on `in2`
    expect(stay.sessions.length).toBe(1);
    const stayParse = parseSession(stay.streams()[0]!);
    expect(stayParse.errors).toEqual([]);
    const stayOrigins = origins(stay.walked());
    expect(new Set(stayOrigins.map((o) => o.odid)).size).toBe(2);
    // the exporter's template was announced once on stay (no session restarted), and withdrawn only at shutdown
    const stayMessages = stay.walked();
    const firstOdid = stayOrigins[0]!.odid;
    const announcedInFirst = stayMessages.filter((m) => m.odid === firstOdid).flatMap((m) => m.announced.map((t) => t.id));
    expect(announcedInFirst.length).toBe(2); // template 256's outgoing id and the origin options template, once each
    const withdrawnAt = stayMessages.findIndex((m) => m.odid === firstOdid && m.withdrawn.length > 0);
    expect(stayMessages.slice(withdrawnAt + 1).some((m) => m.odid === firstOdid)).toBe(false);

    // gone: everything it announced was withdrawn before it closed
    expect(gone.sessions.length).toBe(1);
    const goneParse = parseSession(gone.streams()[0]!);
    expect(goneParse.errors).toEqual([]);
    const defined = new Set(goneParse.events.filter((e) => e.startsWith('d')).map((e) => e.slice(1)));
    const withdrawn = new Set(goneParse.events.filter((e) => e.startsWith('w')).map((e) => e.slice(1)));
    expect(defined.size).toBe(2);
    expect(withdrawn).toEqual(defined);

    // new: a strict session that learned the live templates first
    expect(added.sessions.length).toBe(1);
    expect(parseSession(added.streams()[0]!).errors).toEqual([]);
    expect(origins(added.walked()).some((o) => o.exporter === '127.0.0.1' && o.originalOdid === 1)).toBe(true);

    // the rejected config is named with its problems in the log
    expect(log).toMatch(/reload rejected: .*gateway\.yaml:\d+: inptus: unknown key — did you mean \\"inputs\\"\?/);
    expect(log).toMatch(/reload rejected: .*outputs\[0\]\.url/);
    expect(log).toMatch(/the new configuration is not valid; the running one stays/);
  }, 120_000);
});
