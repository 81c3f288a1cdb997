// /health lists the exporter sessions of UDP inputs (inputs[].sessions) the same with worker threads as
// without: the gateway in this process (src/cli/gateway.ts) runs once with `workers: 0` and once with
// `workers: 2`, the same exporter sockets send the same NetFlow v5 and v9 corpus datagrams to each, and the
// two /health answers list the same sessions — key (protocol, exporter address and port, Observation Domain)
// and live Template IDs — which are also checked against what the captures hold.
// The worker threads run the built dist/pipeline/worker.js: run `npm run build` first.

import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../src/cli/gateway.js';
import { NETFLOW5_TEMPLATE_ID } from '../../src/collect/netflow5/decode.js';
import { loadConfig } from '../../src/config/load.js';
import { metricsText } from '../../src/observe/metrics.js';
import type { SessionHealth } from '../../src/observe/http.js';
import { workerUrl } from '../../src/pipeline/sharded-input.js';
import { shardOf } from '../../src/pipeline/shard.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { corpusDir, freeUdpPort, tempDir } from '../helpers/tools.js';
import { freeTcpPort } from '../helpers/gateway.js';
import { until } from '../helpers/wait-for.js';

const built = existsSync(fileURLToPath(workerUrl()));
const tmp = tempDir('health-workers-');
const sockets: dgram.Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.close();
  tmp.cleanup();
});

const payloads = (f: string) => udpPayloads(join(corpusDir, f)).map((p) => p.payload);
/** Two Source IDs (2081, 2193), each with template 313 and 260. */
const nf9a = payloads('nf9/pmacct__102-NFv9-CISCO-sampling.pcap');
/** Source ID 0, template 313. */
const nf9b = payloads('nf9/pmacct__101-NFv9-CISCO.pcap');
/** Engine type 0, engine id 3. */
const v5 = payloads('nf5/akvorado__nfv5.pcap');
/** IPFIX, ODID 33312: templates 256 and 347, options templates 257, 334 and 338. */
const ipfix = payloads('ipfix/pmacct__112-IPFIX-CISCO-options.pcap');

async function sender(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

interface Health {
  inputs: { name: string; sessions: SessionHealth[] }[];
}

describe.skipIf(!built)('/health with and without worker threads', () => {
  it('lists the same exporter sessions and templates for workers: 0 and workers: 2', async () => {
    // Six exporters, three on each of the two worker threads; each sends one capture.
    const candidates = Array.from({ length: 60 }, (_, i) => `127.0.3.${i + 1}`);
    const addresses = [...candidates.filter((a) => shardOf(a, 2) === 0).slice(0, 3), ...candidates.filter((a) => shardOf(a, 2) === 1).slice(0, 3)].sort();
    const plan = new Map(addresses.map((a, i) => [a, [nf9a, nf9b, v5, ipfix][i % 4]!]));
    const senders = new Map<string, dgram.Socket>();
    for (const a of addresses) senders.set(a, await sender(a));
    const sent = [...plan.values()].reduce((n, p) => n + p.length, 0);

    // What the captures say, exporter by exporter (sorted by address, then port, protocol, domain).
    const port = (a: string) => senders.get(a)!.address().port;
    const expected: SessionHealth[] = addresses.flatMap((a): SessionHealth[] => {
      const p = plan.get(a);
      if (p === nf9a)
        return [
          { protocol: 'netflow9', exporter: a, port: port(a), observationDomainId: 2081, templates: [260, 313] },
          { protocol: 'netflow9', exporter: a, port: port(a), observationDomainId: 2193, templates: [260, 313] },
        ];
      if (p === nf9b) return [{ protocol: 'netflow9', exporter: a, port: port(a), observationDomainId: 0, templates: [313] }];
      if (p === ipfix) return [{ protocol: 'ipfix', exporter: a, port: port(a), observationDomainId: 33312, templates: [256, 257, 334, 338, 347] }];
      // v5 has no templates of its own: the decoder's one (netflow5/decode.ts NETFLOW5_TEMPLATE_ID)
      return [{ protocol: 'netflow5', exporter: a, port: port(a), observationDomainId: 3, templates: [NETFLOW5_TEMPLATE_ID] }];
    });
    async function healthOf(workers: number): Promise<SessionHealth[]> {
      const name = `health${workers}-${process.pid}`;
      const port = await freeUdpPort();
      const metricsPort = await freeTcpPort();
      const path = join(tmp.dir, `gw${workers}.yaml`);
      writeFileSync(
        path,
        JSON.stringify({
          workers,
          logLevel: 'warn',
          metrics: `127.0.0.1:${metricsPort}`,
          inputs: [{ name, listen: `udp://127.0.0.1:${port}`, protocol: 'auto' }],
          outputs: [{ name: `${name}-file`, url: `file://${join(tmp.dir, `out${workers}`)}/flows.ipfix` }],
        }),
      );
      const gw = new Gateway(loadConfig(path), path);
      await gw.start();
      try {
        for (const [a, datagrams] of plan) for (const d of datagrams) await new Promise<void>((r) => senders.get(a)!.send(d, port, '127.0.0.1', () => r()));
        const received = async () =>
          (await metricsText())
            .split('\n')
            .filter((l) => l.startsWith(`ipfix_mediator_packets_received_total{input="${name}",`))
            .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
        await until('every datagram decoded', async () => (await received()) === sent, 15_000);
        const get = async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/health`, { signal: AbortSignal.timeout(5000) })).json()) as Health;
        // The mirror follows the events the workers send back, a moment after their counters.
        await until('every session in /health', async () => (await get()).inputs[0]!.sessions.length === expected.length, 10_000);
        const h = await get();
        expect(h.inputs.map((i) => i.name)).toEqual([name]);
        return h.inputs[0]!.sessions;
      } finally {
        await gw.stop();
      }
    }

    const main = await healthOf(0);
    const threads = await healthOf(2);
    expect(threads).toEqual(main);

    expect(main).toEqual(expected);
  }, 60_000);
});
