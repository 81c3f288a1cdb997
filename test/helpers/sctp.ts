// Test plumbing for IPFIX over SCTP: `collect --listen sctp://` as a child process, a loopback
// capture with dumpcap, tshark's verdict on SCTP-over-UDP captures (every chunk's CRC32c, expert
// info, the IPFIX inside), a seeded lossy UDP relay between an SCTP output and its collector, and
// records in a comparable form.

import { spawn } from 'node:child_process';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { inspectCapture, recordFields, spawnCollect, type CollectProcess } from './collect-cli.js';
import { run, runOk, sleep, toolPath } from './tools.js';

/**
 * Poll `cond` every 25 ms; throws after `ms` (every wait in these tests is bounded). A condition that
 * throws (e.g. a metrics endpoint not listening yet) counts as not yet true; its last error is reported.
 */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(25);
  }
}

export interface Collector extends CollectProcess {
  /** The UDP port collect bound (its stderr says); 0 over raw IP. */
  udpPort: number;
}

/** `ipfix-mediator collect --listen URL --json` over UDP encapsulation, ready when it says it listens. */
export async function startCollector(url: string): Promise<Collector> {
  const { collect, ready } = await spawnCollect(url, [], /listening on sctp \S+ over UDP port (\d+)/);
  return { ...collect, udpPort: Number(ready[1]) };
}

/** A record without the collector's envelope (exporter, port, ODID, export time: the transport's own), keys sorted. */
export const recordKey = recordFields;

/** What `inspect --json` decodes from a capture: the gateway's own reading of the input. */
export const inspectRecords = inspectCapture;

export interface LoopbackCapture {
  file: string;
  stop(): Promise<void>;
}

/** dumpcap on lo with a capture filter, until stop() (SIGINT, bounded, idempotent). Needs capture privileges. */
export async function captureLoopback(filter: string, file: string): Promise<LoopbackCapture> {
  const bin = toolPath('dumpcap');
  if (!bin) throw new Error('dumpcap is not installed (Debian: tshark)');
  const child = spawn(bin, ['-i', 'lo', '-f', filter, '-w', file, '-P'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await until(() => /Capturing on/.test(err) || child.exitCode !== null, 10_000, 'dumpcap to start');
  if (child.exitCode !== null) throw new Error(`dumpcap failed: ${err}`);
  return {
    file,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await sleep(300); // the last packets reach the capture buffer
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface SctpCaptureVerdict {
  /** Frames holding an SCTP packet. */
  sctpFrames: number;
  /** SCTP packets whose CRC32c tshark checked good (sctp.checksum.status 1). */
  checksumGood: number;
  /** DATA chunks, and chunk types seen (by number). */
  dataChunks: number;
  chunkTypes: Set<number>;
  /** Frames tshark decoded IPFIX (cflow) in. */
  ipfixFrames: number;
  /** "frame: expert message" for every frame marked malformed or with expert info of severity Warning or above. */
  problems: string[];
}

/** tshark on a capture of SCTP over UDP to `udpPort`: CRC32c checked, IPFIX decoded from SCTP port 4739. */
export async function tsharkSctp(file: string, udpPort: number): Promise<SctpCaptureVerdict> {
  const base = ['-r', file, '-o', 'sctp.checksum:crc-32c', '-d', `udp.port==${udpPort},sctp`];
  const env = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
  const rows = await runOk(toolPath('tshark')!, [...base, '-Y', 'sctp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'sctp.checksum.status', '-e', 'sctp.chunk_type', '-e', 'cflow.version'], { timeoutMs: 120_000, env });
  const v: SctpCaptureVerdict = { sctpFrames: 0, checksumGood: 0, dataChunks: 0, chunkTypes: new Set(), ipfixFrames: 0, problems: [] };
  for (const line of rows.stdout.split('\n')) {
    if (!line.trim()) continue;
    const [, status, types, cflow] = line.split('\t');
    v.sctpFrames++;
    if (status === '1') v.checksumGood++;
    for (const t of (types ?? '').split(',').filter(Boolean)) {
      v.chunkTypes.add(Number(t));
      if (t === '0') v.dataChunks++;
    }
    if (cflow) v.ipfixFrames++;
  }
  const expert = await run(toolPath('tshark')!, [...base, '-Y', '_ws.malformed || _ws.expert.severity >= "Warning"', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-e', 'frame.number', '-e', '_ws.expert.message'], { timeoutMs: 120_000, env });
  if (expert.code !== 0) throw new Error(`tshark: ${expert.stderr}`);
  for (const line of expert.stdout.split('\n')) if (line.trim()) v.problems.push(line.replace('\t', ': '));
  return v;
}

export interface LossyRelay {
  /** The relay's UDP port: point the output's udpPort here. */
  port: number;
  /** Datagrams from the exporter side dropped / forwarded. */
  stats: { dropped: number; forwarded: number; returned: number };
  dropRate: number;
  /** True: nothing passes either way (the collector seems to have vanished). */
  cut: boolean;
  close(): Promise<void>;
}

/** Does this SCTP packet hold a DATA chunk? Chunks follow the 12-octet common header, each padded to 4. */
function carriesData(p: Buffer): boolean {
  let o = 12;
  while (o + 4 <= p.length) {
    if (p[o] === 0) return true;
    const len = p.readUInt16BE(o + 2);
    if (len < 4) return false;
    o += (len + 3) & ~3;
  }
  return false;
}

/**
 * A UDP relay on 127.0.0.1 between an SCTP-over-UDP exporter and its collector: datagrams towards the
 * collector are dropped with probability `dropRate` (seeded xorshift32, so a run replays), answers come
 * back untouched. Only packets that carry a DATA chunk are ever dropped, so the
 * association's setup and teardown are not what the test measures.
 */
export async function lossyRelay(collectorPort: number, dropRate: number, seed = 0x9e3779b9): Promise<LossyRelay> {
  const s = createSocket('udp4');
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
  let exporter: RemoteInfo | undefined;
  const relay: LossyRelay = {
    port: 0,
    stats: { dropped: 0, forwarded: 0, returned: 0 },
    dropRate,
    cut: false,
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
  s.on('message', (msg, rinfo) => {
    if (rinfo.port === collectorPort) {
      if (exporter && !relay.cut) {
        relay.stats.returned++;
        s.send(msg, exporter.port, exporter.address);
      }
      return;
    }
    exporter = rinfo;
    if (relay.cut) {
      relay.stats.dropped++;
      return;
    }
    if (carriesData(msg) && random() < relay.dropRate) {
      relay.stats.dropped++;
      return;
    }
    relay.stats.forwarded++;
    s.send(msg, collectorPort, '127.0.0.1');
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  relay.port = s.address().port;
  return relay;
}
