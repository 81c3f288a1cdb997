// `collect --listen udp://HOST:PORT|tcp://HOST:PORT [--json]`: a small IPFIX collector for checking what
// a gateway (or any exporter) sends. UDP uses the gateway's own Collecting Process; TCP frames the stream
// by each message header's length and feeds the same decoder, one session per connection.

import { createServer, type Socket } from 'node:net';
import { CollectingProcess } from '../collect/collecting-process.js';
import { DEFAULT_MAPPING, parseHostPortUrl } from '../config/load.js';
import { loadRegistry } from '../model/registry.js';
import type { InputConfig } from '../config/types.js';
import { log } from '../observe/log.js';
import { parseArgs, UsageError } from './args.js';
import { RenderSink } from './render-sink.js';

export function collectorInput(listen: string): InputConfig {
  return { name: 'collect', listen, protocol: 'ipfix', sessionTimeout: 3600, templateTimeout: 86400, pendingTimeout: 10, pendingLimit: 1024, receiveBuffer: 8 << 20 };
}

export async function collect(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['--listen'], ['--json']);
  const listen = a.values.get('--listen');
  const url = listen ? parseHostPortUrl(listen) : undefined;
  if (!url || (url.scheme !== 'udp' && url.scheme !== 'tcp')) throw new UsageError('collect needs --listen udp://HOST:PORT or tcp://HOST:PORT');
  // Logs go to stderr here: stdout carries the records.
  log.level = 'warn';
  const registry = loadRegistry();
  const sink = new RenderSink(registry, a.flags.has('--json'));
  const options = { registry, mapping: DEFAULT_MAPPING };
  const udpListen = `udp://${url.family === 6 ? `[${url.host}]` : url.host}:${url.port}`;
  const cp = new CollectingProcess(collectorInput(udpListen), sink, options);
  let close: () => Promise<void>;
  if (url.scheme === 'udp') {
    await cp.start();
    close = () => cp.stop();
    process.stderr.write(`collect: listening on udp ${url.host}:${cp.port}\n`);
  } else {
    const sockets = new Set<Socket>();
    const server = createServer((sock) => {
      sockets.add(sock);
      let pending: Buffer = Buffer.alloc(0);
      sock.on('data', (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        while (pending.length - off >= 4) {
          const len = pending.readUInt16BE(off + 2);
          if (pending.readUInt16BE(off) !== 10 || len < 16) {
            process.stderr.write(`collect: ${sock.remoteAddress}:${sock.remotePort} sent a non-IPFIX stream; closing it\n`);
            sock.destroy();
            return;
          }
          if (pending.length - off < len) break;
          cp.feed(pending.subarray(off, off + len), sock.remoteAddress ?? '0.0.0.0', sock.remotePort ?? 0);
          off += len;
        }
        pending = pending.subarray(off);
      });
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => sockets.delete(sock));
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(url.port, url.host, () => res());
    });
    const addr = server.address();
    process.stderr.write(`collect: listening on tcp ${url.host}:${typeof addr === 'object' && addr ? addr.port : url.port}\n`);
    close = async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
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
