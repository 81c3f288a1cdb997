// `replay PCAP... --to udp://HOST:PORT [--rate PPS] [--map-exporters]`: sends the captured UDP payloads
// in capture order. Without --rate it sends as fast as the socket accepts (waiting for send callbacks in
// batches so nothing is dropped inside this process). --map-exporters gives each original exporter its
// own loopback source 127.0.0.(2+n), so collectors that key exporters by address keep them apart.

import dgram from 'node:dgram';
import { udpPayloads, type CapturedPacket } from '../util/pcap.js';
import { parseHostPortUrl } from '../config/load.js';
import { parseArgs, UsageError } from './args.js';

const BATCH = 64;

export async function replay(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['--to', '--rate'], ['--map-exporters']);
  const to = a.values.get('--to');
  const target = to ? parseHostPortUrl(to) : undefined;
  if (!target || target.scheme !== 'udp') throw new UsageError('replay needs --to udp://HOST:PORT');
  if (a.positionals.length === 0) throw new UsageError('replay needs at least one PCAP');
  const rate = a.values.has('--rate') ? Number(a.values.get('--rate')) : 0;
  if (!(rate >= 0)) throw new UsageError('--rate must be a number of packets per second');
  const mapExporters = a.flags.has('--map-exporters');

  const packets: CapturedPacket[] = [];
  for (const f of a.positionals) packets.push(...udpPayloads(f));
  const type = target.family === 6 ? 'udp6' : 'udp4';
  const sockets = new Map<string, dgram.Socket>();
  const socketFor = async (src: string): Promise<dgram.Socket> => {
    const key = mapExporters ? src : '';
    let s = sockets.get(key);
    if (!s) {
      s = dgram.createSocket({ type, sendBufferSize: 4 << 20 });
      const local = mapExporters ? (type === 'udp4' ? `127.0.0.${2 + sockets.size}` : '::1') : undefined;
      if (mapExporters && sockets.size > 252) throw new Error('more than 252 exporters: --map-exporters runs out of 127.0.0.x sources');
      await new Promise<void>((res, rej) => {
        s!.once('error', rej);
        s!.bind({ port: 0, address: local }, () => res());
      });
      sockets.set(key, s);
    }
    return s;
  };

  const started = Date.now();
  let sent = 0;
  let bytes = 0;
  let lastReport = started;
  let inflight: Promise<void>[] = [];
  for (const p of packets) {
    const s = await socketFor(p.src);
    inflight.push(
      new Promise<void>((res, rej) => s.send(p.payload, target.port, target.host, (err) => (err ? rej(err) : res()))),
    );
    sent++;
    bytes += p.payload.length;
    if (inflight.length >= BATCH) {
      await Promise.all(inflight);
      inflight = [];
    }
    if (rate > 0) {
      const due = started + (sent / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 1) {
        await Promise.all(inflight);
        inflight = [];
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    const now = Date.now();
    if (now - lastReport >= 1000) {
      lastReport = now;
      process.stderr.write(`replay: ${sent}/${packets.length} packets, ${bytes} bytes, ${Math.round(sent / ((now - started) / 1000))} pkt/s\n`);
    }
  }
  await Promise.all(inflight);
  for (const s of sockets.values()) s.close();
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  process.stderr.write(
    `replay: done, ${sent} packets, ${bytes} bytes in ${secs.toFixed(2)} s (${Math.round(sent / secs)} pkt/s)` +
      (mapExporters ? `, ${sockets.size} exporter source(s)` : '') +
      '\n',
  );
  return 0;
}
