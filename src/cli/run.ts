// `run [--config FILE]`: the gateway (src/cli/gateway.ts). Outputs start first (so nothing decoded has
// nowhere to go), then the inputs. SIGHUP reloads the config file, applying only what changed (TLS
// certificates are read again too); SIGTERM/SIGINT stops the inputs (every session ends 'shutdown'),
// flushes, withdraws and closes the outputs, and exits within 5 seconds (or 3 s past the longest
// drainTimeout above 2) whatever happens.

import { loadConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/types.js';
import { log } from '../observe/log.js';
import { parseArgs } from './args.js';
import { Gateway } from './gateway.js';

const SHUTDOWN_LIMIT_MS = 5000;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['--config'], []);
  const path = a.values.get('--config');
  let config: Config;
  try {
    config = loadConfig(path);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const line of e.errors) process.stderr.write(line + '\n');
    return 1;
  }
  log.level = config.logLevel;
  // SIGHUP's default action ends the process: one that comes while starting is kept for afterwards.
  let hupWhileStarting = false;
  const early = () => (hupWhileStarting = true);
  process.on('SIGHUP', early);
  let gateway: Gateway;
  try {
    gateway = new Gateway(config, path);
    await gateway.start();
  } catch (e) {
    // e.g. TLS certificate files that cannot be read, a port in use
    process.stderr.write(`${config.source}: ${(e as Error).message}\n`);
    log.fatal({ err: e }, 'cannot start');
    return 1;
  } finally {
    process.off('SIGHUP', early);
  }
  log.info({ config: config.source, inputs: config.inputs.map((i) => i.listen), outputs: config.outputs.map((o) => o.url), metrics: config.metrics }, 'ipfix-mediator running');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: stopping inputs, flushing outputs');
      // Output queues may take their drainTimeout (default 2 s, within the limit) to send what waits.
      const limit = gateway.shutdownLimitMs(SHUTDOWN_LIMIT_MS);
      const force = setTimeout(() => {
        log.error(`shutdown took longer than ${limit / 1000} s; exiting anyway`);
        process.exit(1);
      }, limit);
      force.unref();
      await gateway.stop();
      clearTimeout(force);
      log.info('stopped');
      resolve(0);
      // The HTTP server and any stray handle must not keep the process alive past shutdown.
      setImmediate(() => process.exit(0));
    };
    const hup = () => {
      if (stopping) return;
      log.info({ config: path ?? config.source }, 'SIGHUP: reloading the configuration and TLS certificates');
      gateway.reload().catch((err: unknown) => log.error({ err }, 'reload failed'));
    };
    process.on('SIGHUP', hup);
    if (hupWhileStarting) hup();
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
