// `inspect FILE [--json]`: decode a capture or an IPFIX file offline through the gateway's own Collecting
// Process, so NetFlow shows up already converted to IPFIX Information Elements.

import { readFileSync } from 'node:fs';
import { CollectingProcess } from '../collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../config/load.js';
import { loadRegistry } from '../model/registry.js';
import { readIpfixFile } from '../ipfix/file-reader.js';
import { registry as metrics } from '../observe/metrics.js';
import { log } from '../observe/log.js';
import { udpPayloads } from '../util/pcap.js';
import { parseArgs, UsageError } from './args.js';
import { RenderSink } from './render-sink.js';
import { collectorInput } from './collect.js';

export async function inspect(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [], ['--json']);
  if (a.positionals.length !== 1) throw new UsageError('inspect takes exactly one FILE');
  const path = a.positionals[0]!;
  log.level = 'warn';
  const registry = loadRegistry();
  const sink = new RenderSink(registry, a.flags.has('--json'));
  const options = { registry, mapping: DEFAULT_MAPPING };
  const head = readFileSync(path).subarray(0, 4);
  const isIpfixFile = head.length >= 2 && head.readUInt16BE(0) === 10;
  const cp = new CollectingProcess({ ...collectorInput('udp://127.0.0.1:0'), name: 'inspect', protocol: isIpfixFile ? 'ipfix' : 'auto' }, sink, options);
  let units = 0;
  if (isIpfixFile) {
    for (const item of readIpfixFile(readFileSync(path))) {
      if ('error' in item) {
        process.stderr.write(`inspect: ${path} at offset ${item.offset}: ${item.error}\n`);
        break;
      }
      cp.feed(item.message, '0.0.0.0', 0);
      units++;
    }
  } else {
    for (const p of udpPayloads(path)) {
      cp.feed(p.payload, p.src, p.srcPort);
      units++;
    }
  }
  await cp.stop();
  const drops = (await metrics.getMetricsAsJSON())
    .filter((m) => m.name.endsWith('_dropped_total'))
    .flatMap((m) => m.values.filter((v) => v.value > 0).map((v) => `${v.labels.reason}=${v.value}`));
  process.stderr.write(`inspect: ${units} ${isIpfixFile ? 'messages' : 'datagrams'}, ${sink.recordCount} records, ${sink.templates} templates${drops.length ? `, dropped: ${drops.join(' ')}` : ''}\n`);
  return 0;
}
