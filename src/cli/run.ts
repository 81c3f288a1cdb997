// `run [--config FILE]`: the gateway. Outputs start first (so nothing decoded has nowhere to go), then
// the inputs; SIGTERM/SIGINT stops the inputs (every session ends 'shutdown'), flushes and closes the
// outputs, and exits within 5 seconds whatever happens.

import { loadConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/types.js';
import { CollectingProcess } from '../collect/collecting-process.js';
import { createExportingProcess, type ExportingProcess } from '../export/index.js';
import { FanOut } from '../mediate/sink.js';
import { Selector } from '../mediate/select.js';
import { loadRegistry } from '../model/registry.js';
import { log } from '../observe/log.js';
import { startHttp } from '../observe/http.js';
import { parseArgs } from './args.js';
import { reloadTlsOutputs } from '../transport/tls.js';

const SHUTDOWN_LIMIT_MS = 5000;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['--config'], []);
  let config: Config;
  try {
    config = loadConfig(a.values.get('--config'));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const line of e.errors) process.stderr.write(line + '\n');
    return 1;
  }
  log.level = config.logLevel;
  const registry = loadRegistry(config.mapping.dir);
  let outputs: ExportingProcess[];
  try {
    outputs = config.outputs.map((o) => createExportingProcess(o));
  } catch (e) {
    // e.g. TLS certificate files that cannot be read
    process.stderr.write(`${config.source}: ${(e as Error).message}\n`);
    return 1;
  }
  for (const o of outputs) {
    try {
      await o.start();
    } catch (e) {
      process.stderr.write(`${config.source}: outputs "${o.name}": cannot start: ${(e as Error).message}\n`);
      await Promise.allSettled(outputs.map((x) => x.close()));
      return 1;
    }
  }
  // Outputs with select rules see only the records those match (RFC 6183 §6.1); the others see all.
  const sink = new FanOut(outputs.map((o) => (o.config.select ? new Selector(o.name, o.config.select, o) : o)));
  const inputs = config.inputs.map((i) => new CollectingProcess(i, sink, { registry, mapping: config.mapping }));
  try {
    for (const i of inputs) await i.start();
  } catch (e) {
    log.fatal({ err: e }, 'cannot start an input');
    await Promise.allSettled(inputs.map((i) => i.stop()));
    await Promise.allSettled(outputs.map((o) => o.close()));
    return 1;
  }
  if (config.metrics) {
    try {
      await startHttp(config.metrics, () => ({
        inputs: config.inputs.map((i, n) => ({ name: i.name, listen: i.listen, protocol: i.protocol, ...(/^(tcp|tls|sctp):/.test(i.listen) ? { connections: inputs[n]!.connections() } : {}) })),
        outputs: outputs.map((o) => ({ name: o.name, url: o.config.url, ...o.health() })),
      }));
    } catch (e) {
      log.error({ err: e, metrics: config.metrics }, 'metrics endpoint could not start; running without it');
    }
  }
  log.info({ config: config.source, inputs: config.inputs.map((i) => i.listen), outputs: config.outputs.map((o) => o.url), metrics: config.metrics }, 'ipfix-mediator running');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: stopping inputs, flushing outputs');
      // Output queues may take their drainTimeout (default 2 s, within the limit) to send what waits.
      const limit = SHUTDOWN_LIMIT_MS + Math.max(0, ...config.outputs.map((o) => (o.drainTimeout ?? 2) - 2)) * 1000;
      const force = setTimeout(() => {
        log.error(`shutdown took longer than ${limit / 1000} s; exiting anyway`);
        process.exit(1);
      }, limit);
      force.unref();
      await Promise.allSettled(inputs.map((i) => i.stop()));
      await Promise.allSettled(outputs.map((o) => o.close()));
      clearTimeout(force);
      log.info('stopped');
      resolve(0);
      // The HTTP server and any stray handle must not keep the process alive past shutdown.
      setImmediate(() => process.exit(0));
    };
    // SIGHUP: TLS certificates read again; live connections keep theirs, new ones use the new files.
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading TLS certificates');
      for (const i of inputs) i.reloadCertificates();
      reloadTlsOutputs();
    });
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
