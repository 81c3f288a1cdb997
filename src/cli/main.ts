// The single entry point: `ipfix-mediator <command> ...`.

import { UsageError } from './args.js';

const USAGE = `usage: ipfix-mediator <command> [options]

  run [--config FILE]                 run the gateway (default: the embedded config/default.yaml)
  replay PCAP... --to udp://HOST:PORT [--rate PPS] [--map-exporters]
                                      send the UDP payloads of captures to a port
  collect --listen URL [--json] [--ca F --cert F --key F]
                                      a small IPFIX collector (udp://, tcp://, tls://, sctp://), one line per record
  inspect FILE [--json]               decode a pcap (any flow protocol) or an IPFIX file offline
  check-config FILE                   validate a configuration without starting anything

Documentation: docs/cli.md`;

export async function main(argv: string[]): Promise<number | void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await (await import('./run.js')).run(rest);
      case 'replay':
        return await (await import('./replay.js')).replay(rest);
      case 'collect':
        return await (await import('./collect.js')).collect(rest);
      case 'inspect':
        return await (await import('./inspect.js')).inspect(rest);
      case 'check-config':
        return await (await import('./check-config.js')).checkConfigCommand(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ipfix-mediator: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}
