// `collect --listen udp://HOST:PORT|tcp://HOST:PORT|tls://HOST:PORT|sctp://HOST:PORT[?...] [--ca F --cert F
// --key F] [--json]`: a small IPFIX collector for checking what a gateway (or any exporter) sends, on the
// gateway's own Collecting Process (TCP, TLS: one Transport Session per connection; SCTP: per association).

import { CollectingProcess } from '../collect/collecting-process.js';
import { DEFAULT_MAPPING, parseHostPortUrl } from '../config/load.js';
import { loadRegistry } from '../model/registry.js';
import type { InputConfig } from '../config/types.js';
import { log } from '../observe/log.js';
import { parseArgs, UsageError } from './args.js';
import { RenderSink } from './render-sink.js';
import { resolve } from 'node:path';
import { SctpInput } from '../collect/sctp-input.js';
import { parseSctpUrl } from '../transport/sctp-options.js';

export function collectorInput(listen: string): InputConfig {
  return { name: 'collect', listen, protocol: 'ipfix', sessionTimeout: 3600, templateTimeout: 86400, pendingTimeout: 10, pendingLimit: 1024, receiveBuffer: 8 << 20, receive: 'auto' };
}

export async function collect(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['--listen', '--ca', '--cert', '--key'], ['--json']);
  const listen = a.values.get('--listen');
  const url = listen ? parseHostPortUrl(listen) : undefined;
  if (!url || (url.scheme !== 'udp' && url.scheme !== 'tcp' && url.scheme !== 'tls' && url.scheme !== 'sctp')) throw new UsageError('collect needs --listen udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT (with --ca, --cert, --key) or sctp://HOST:PORT[?encapsulation=udp&udpPort=N]');
  const sctpUrl = url.scheme === 'sctp' ? parseSctpUrl(listen!, 'listen') : undefined;
  if (typeof sctpUrl === 'string') throw new UsageError(sctpUrl);
  // Logs go to stderr here: stdout carries the records.
  log.level = 'warn';
  const registry = loadRegistry();
  const sink = new RenderSink(registry, a.flags.has('--json'));
  const options = { registry, mapping: DEFAULT_MAPPING };
  const udpListen = `udp://${url.family === 6 ? `[${url.host}]` : url.host}:${url.port}`;
  // tcp:// and tls:// use the Collecting Process's own listener: one Transport Session per connection,
  // withdrawals honoured; tls:// requires a client certificate issued by --ca (RFC 7011 §11).
  const stream = url.scheme === 'tcp' || url.scheme === 'tls';
  const files = { ca: a.values.get('--ca'), cert: a.values.get('--cert'), key: a.values.get('--key') };
  if (url.scheme === 'tls' && !(files.ca && files.cert && files.key)) throw new UsageError('collect --listen tls:// needs --ca, --cert and --key (PEM files)');
  const tlsFiles = url.scheme === 'tls' ? { ca: resolve(files.ca!), cert: resolve(files.cert!), key: resolve(files.key!) } : {};
  const cp = new CollectingProcess(stream ? { ...collectorInput(listen!), ...tlsFiles } : collectorInput(udpListen), sink, options);
  let close: () => Promise<void>;
  if (url.scheme === 'udp' || stream) {
    await cp.start();
    close = () => cp.stop();
    // SIGHUP: certificates read again; established connections keep theirs.
    process.on('SIGHUP', () => cp.reloadCertificates());
    process.stderr.write(`collect: listening on ${url.scheme} ${url.host}:${cp.port}\n`);
  } else if (sctpUrl) {
    // Each association is one Transport Session; SCTP delivers whole messages (RFC 7011 §10.2).
    const input = await SctpInput.listen({
      input: 'collect',
      at: sctpUrl.at,
      options: sctpUrl.options,
      admits: () => true,
      open: (peer) => cp.openTransportSession(peer),
      refused: (reason, _address, detail) => process.stderr.write(`collect: ${reason}: ${detail}\n`),
    });
    const over = sctpUrl.options.encapsulation === 'udp' ? `over UDP port ${input.udpPort}` : 'over IP';
    process.stderr.write(`collect: listening on sctp ${url.host}:${input.port} ${over}\n`);
    close = async () => {
      await input.close();
      await cp.stop();
    };
  }
  return new Promise<number>((resolve) => {
    const stop = async () => {
      await close();
      process.stderr.write(`collect: ${sink.recordCount} records, ${sink.templates} templates\n`);
      resolve(0);
    };
    process.once('SIGTERM', () => void stop());
    process.once('SIGINT', () => void stop());
  });
}
