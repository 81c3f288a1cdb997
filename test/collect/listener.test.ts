// The UDP listener: the receive buffer the kernel really granted is read back (Linux reports double the
// granted size, socket(7)) and a cap is reported with its remedy; IPv6 inputs receive on a udp6 socket.

import { DEFAULT_MAPPING } from '../../src/config/load.js';
import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { applyReceiveBuffer, grantedReceiveBuffer, listenUdp } from '../../src/collect/listener.js';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { udpPayloads } from '../../src/util/pcap.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const RMEM_MAX = '/proc/sys/net/core/rmem_max';

function capture(): { logger: pino.Logger; lines: Array<{ msg: string; requested?: number; granted?: number }> } {
  const lines: Array<{ msg: string; requested?: number; granted?: number }> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe('UDP listener', () => {
  it.skipIf(!existsSync(RMEM_MAX))('reads back the granted receive buffer and names the sysctl when the kernel caps it', async () => {
    const rmemMax = Number(readFileSync(RMEM_MAX, 'utf8').trim());
    const { logger, lines } = capture();
    const socket = await listenUdp('rcvbuf', { scheme: 'udp', host: '127.0.0.1', port: 0, family: 4 }, Math.floor(rmemMax / 2), () => {}, logger);
    try {
      // Below the cap: granted exactly, nothing to say.
      expect(grantedReceiveBuffer(socket.getRecvBufferSize())).toBe(Math.floor(rmemMax / 2));
      expect(lines).toEqual([]);
      // Above the cap: the kernel grants rmem_max, and the warning says how to raise it.
      const requested = rmemMax * 4;
      expect(applyReceiveBuffer('rcvbuf', socket, requested, logger)).toBe(rmemMax);
      expect(lines.length).toBe(1);
      expect(lines[0]!.requested).toBe(requested);
      expect(lines[0]!.granted).toBe(rmemMax);
      expect(lines[0]!.msg).toContain(`sysctl -w net.core.rmem_max=${requested}`);
    } finally {
      await new Promise<void>((r) => socket.close(() => r()));
    }
  });

  it('rejects start() when the port is taken, leaving the first listener bound', async () => {
    const first = await listenUdp('a', { scheme: 'udp', host: '127.0.0.1', port: 0, family: 4 }, 1 << 16, () => {});
    try {
      const port = first.address().port;
      await expect(listenUdp('b', { scheme: 'udp', host: '127.0.0.1', port, family: 4 }, 1 << 16, () => {})).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(first.address().port).toBe(port);
    } finally {
      await new Promise<void>((r) => first.close(() => r()));
    }
  });

  it('receives on an IPv6 input ([::1]) and sees the exporter by its IPv6 address', async () => {
    const started: string[] = [];
    let records = 0;
    const sink: RecordSink = {
      sessionStarted: (s) => void started.push(`${s.address} ${s.addressBytes.length}`),
      templateDefined() {},
      templateWithdrawn() {},
      records: (_s, _t, _b, _st, _e, count) => void (records += count),
      sessionEnded() {},
    };
    const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };
    const cp = new CollectingProcess(
      { name: 'v6in', listen: 'udp://[::1]:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 16, receiveBuffer: 1 << 20 },
      sink,
      options,
    );
    await cp.start();
    const tx = dgram.createSocket('udp6');
    try {
      // The first v5 datagram of a corpus capture: its header counts 29 records.
      const [p] = udpPayloads(resolve(corpus, 'nf5/akvorado__nfv5.pcap'));
      expect(p!.payload.readUInt16BE(2)).toBe(29);
      await new Promise<void>((r, j) => tx.send(p!.payload, cp.port, '::1', (e) => (e ? j(e) : r())));
      for (let i = 0; i < 100 && records < 29; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      tx.close();
      await cp.stop();
    }
    expect(records).toBe(29);
    expect(started).toEqual(['::1 16']);
  });
});
