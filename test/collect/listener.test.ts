// The UDP listener, read both ways (receive: recvmmsg through native/udp-receiver, receive: dgram): the
// receive buffer the kernel really granted is read back (Linux reports double the granted size, socket(7))
// and a cap is reported with its remedy; IPv6 inputs receive on a dual-stack socket; every datagram of a
// burst from several sources arrives whole, with its source; and with recvmmsg, what the kernel dropped
// for want of receive buffer (sk_drops) is counted exactly, and a failed receive is counted and logged.

import { DEFAULT_MAPPING } from '../../src/config/load.js';
import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { applyReceiveBuffer, grantedReceiveBuffer, listenUdp, loadUdpReceiver, receiveFrom } from '../../src/collect/listener.js';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { PLAN_MEMORY, releaseReceiveArea, takeReceiveArea } from '../../src/collect/sflow/plan-memory.js';
import { buildSflowDecoder } from '../../src/collect/sflow/decode.js';
import { RecordingContext } from '../mapping/harness.js';
import type { UdpReceive } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { metricsText } from '../../src/observe/metrics.js';
import { udpPayloads } from '../../src/util/pcap.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const RMEM_MAX = '/proc/sys/net/core/rmem_max';
const LOOPBACK = { scheme: 'udp', host: '127.0.0.1', port: 0, family: 4 as const };
// CI builds the addon in npm ci (and says so); elsewhere the recvmmsg cases need it built.
const addonBuilt = existsSync(resolve(import.meta.dirname, '../../native/udp-receiver/build/Release/udp_receiver.node'));
const ways: UdpReceive[] = addonBuilt || process.env.IPFIX_MEDIATOR_INTEROP === 'required' ? ['recvmmsg', 'dgram'] : ['dgram'];

function capture(): { logger: pino.Logger; lines: Array<{ msg: string; requested?: number; granted?: number }> } {
  const lines: Array<{ msg: string; requested?: number; granted?: number }> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

async function scraped(input: string, reason: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`ipfix_mediator_packets_dropped_total{input="${input}",reason="${reason}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe.each(ways)('UDP listener, receive: %s', (receive) => {
  it.skipIf(!existsSync(RMEM_MAX))('reads back the granted receive buffer and names the sysctl when the kernel caps it', async () => {
    const rmemMax = Number(readFileSync(RMEM_MAX, 'utf8').trim());
    const { logger, lines } = capture();
    const socket = await listenUdp('rcvbuf', LOOPBACK, Math.floor(rmemMax / 2), () => {}, { receive, logger });
    try {
      expect(socket.receive).toBe(receive);
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
      await socket.close();
    }
  });

  it('rejects a port that is taken, leaving the first listener bound', async () => {
    const first = await listenUdp('a', LOOPBACK, 1 << 16, () => {}, { receive });
    try {
      const port = first.port;
      expect(port).toBeGreaterThan(0);
      await expect(listenUdp('b', { ...LOOPBACK, port }, 1 << 16, () => {}, { receive })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // Still bound: a datagram to it arrives.
      const got: Buffer[] = [];
      await first.close();
      const again = await listenUdp('a2', { ...LOOPBACK, port }, 1 << 16, (d, s, e) => void got.push(Buffer.from(d.subarray(s, e))), { receive });
      const tx = dgram.createSocket('udp4');
      await new Promise<void>((r, j) => tx.send(Buffer.from('hello'), port, '127.0.0.1', (e) => (e ? j(e) : r())));
      for (let i = 0; i < 100 && got.length === 0; i++) await tick();
      tx.close();
      await again.close();
      expect(got.map((b) => b.toString())).toEqual(['hello']);
    } finally {
      await first.close();
    }
  });

  it('delivers every datagram of a burst from three sources whole, with its source address and port, in order per source', async () => {
    const got: { address: string; port: number; bytes: Buffer }[] = [];
    const rx = await listenUdp('burst', LOOPBACK, 8 << 20, (d, s, e, address, port) => void got.push({ address, port, bytes: Buffer.from(d.subarray(s, e)) }), { receive });
    const sources = await Promise.all(
      ['127.0.0.1', '127.0.0.1', '127.0.0.2'].map(
        (host) =>
          new Promise<dgram.Socket>((r) => {
            const s = dgram.createSocket('udp4');
            s.bind(0, host, () => r(s));
          }),
      ),
    );
    // Datagram i of source k: octet 0 = k, octets 1-4 = i, then (i * 7 + k) & 0xff repeated; lengths vary
    // from 5 to 1,504 octets, and every 250th is the largest IPv4 UDP payload (65,507 octets).
    const from = sources.map((s) => s.address());
    const N = 1500;
    const make = (k: number, i: number): Buffer => {
      const b = Buffer.alloc(i % 250 === 0 ? 65507 : 5 + ((i * 37 + k * 11) % 1500), (i * 7 + k) & 0xff);
      b[0] = k;
      b.writeUInt32BE(i, 1);
      return b;
    };
    try {
      for (let i = 0; i < N; i++) {
        for (let k = 0; k < sources.length; k++) sources[k]!.send(make(k, i), rx.port, '127.0.0.1');
        // Paced so that the 8 MiB buffer never overflows: this test is about what arrives, not loss.
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
      }
      for (let i = 0; i < 200 && got.length < N * sources.length; i++) await tick();
    } finally {
      for (const s of sources) s.close();
      await rx.close();
    }
    expect(got.length).toBe(N * sources.length);
    const next = [0, 0, 0];
    for (const g of got) {
      const k = g.bytes[0]!;
      const i = g.bytes.readUInt32BE(1);
      expect(i).toBe(next[k]); // in order per source
      next[k]!++;
      expect(g.bytes.equals(make(k, i))).toBe(true);
      expect(g.address).toBe(from[k]!.address);
      expect(g.port).toBe(from[k]!.port);
    }
    expect(next).toEqual([N, N, N]);
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
      { name: `v6in-${receive}`, listen: 'udp://[::1]:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 16, receiveBuffer: 1 << 20, receive },
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
      for (let i = 0; i < 100 && records < 29; i++) await tick();
    } finally {
      tx.close();
      await cp.stop();
    }
    expect(records).toBe(29);
    expect(started).toEqual(['::1 16']);
  });
});

describe.skipIf(!ways.includes('recvmmsg'))('UDP listener, receive: recvmmsg, into a receive area', () => {
  /** Receive areas free now (all taken, then given back). */
  const freeAreas = (): number => {
    const taken: Buffer[] = [];
    for (let a = takeReceiveArea(); a !== null; a = takeReceiveArea()) taken.push(a);
    for (const a of taken) releaseReceiveArea(a);
    return taken.length;
  };

  it('the addon fills a receive area of the plan memory, where the sFlow decoder reads datagrams in place, and gives it back on close', async () => {
    const free = freeAreas();
    expect(free).toBeGreaterThan(0);
    const got: { inMemory: boolean; text: string }[] = [];
    const rx = await listenUdp('area', LOOPBACK, 1 << 16, (b, s, e) => void got.push({ inMemory: b.buffer === PLAN_MEMORY.memory!.buffer, text: b.toString('latin1', s, e) }), { receive: 'recvmmsg' });
    const tx = dgram.createSocket('udp4');
    try {
      expect(freeAreas()).toBe(free - 1);
      for (const text of ['first', 'second']) await new Promise<void>((r, j) => tx.send(Buffer.from(text), rx.port, '127.0.0.1', (e) => (e ? j(e) : r())));
      for (let i = 0; i < 100 && got.length < 2; i++) await tick();
    } finally {
      tx.close();
      await rx.close();
    }
    expect(got).toEqual([
      { inMemory: true, text: 'first' },
      { inMemory: true, text: 'second' },
    ]);
    expect(freeAreas()).toBe(free);
  });

  it.each(['recvmmsg', 'dgram'] as const)('an sFlow input reading with %s: every record arrives, datagrams copied into the plan memory only with dgram', async (receive) => {
    const datagrams = udpPayloads(resolve(corpus, 'sflow/oxyflow__sflow.pcap')).map((p) => p.payload).slice(0, 40);
    // What the decoder makes of them handed over directly.
    const direct = new RecordingContext();
    const decode = buildSflowDecoder({ registry: loadRegistry(), mapping: DEFAULT_MAPPING });
    for (const d of datagrams) decode(direct, d, '127.0.0.1', 6343);
    const want = direct.records.reduce((n, r) => n + r.count, 0);
    expect(want).toBeGreaterThan(100);
    let records = 0;
    const sink: RecordSink = { sessionStarted() {}, templateDefined() {}, templateWithdrawn() {}, records: (_s, _t, _b, _st, _e, count) => void (records += count), sessionEnded() {} };
    const cp = new CollectingProcess(
      { name: `sflow-${receive}`, listen: 'udp://127.0.0.1:0', protocol: 'sflow', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 16, receiveBuffer: 1 << 20, receive },
      sink,
      { registry: loadRegistry(), mapping: DEFAULT_MAPPING },
    );
    // The decoder copies a datagram it does not read in place with the plan memory's set().
    const memory = PLAN_MEMORY.bytes;
    let copies = 0;
    memory.set = function (this: Buffer, ...args: Parameters<Buffer['set']>) {
      copies++;
      return Uint8Array.prototype.set.apply(this, args);
    };
    await cp.start();
    const tx = dgram.createSocket('udp4');
    try {
      // One at a time: each is its own receive batch (the order of sends is the order of reads).
      for (const d of datagrams) {
        await new Promise<void>((r, j) => tx.send(d, cp.port, '127.0.0.1', (e) => (e ? j(e) : r())));
        await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < 100 && records < want; i++) await tick();
    } finally {
      delete (memory as { set?: unknown }).set;
      tx.close();
      await cp.stop();
    }
    expect(records).toBe(want);
    expect(copies).toBe(receive === 'dgram' ? datagrams.length : 0);
  });
});

describe.skipIf(!ways.includes('recvmmsg'))('UDP listener, receive: recvmmsg, kernel drops', () => {
  it('counts the datagrams the kernel dropped for a full receive buffer (receive_buffer_full): received + dropped = sent', async () => {
    let received = 0;
    // The smallest buffer the kernel grants (a few KiB): 400 datagrams of 1,000 octets cannot all wait in it.
    const rx = await listenUdp('rxq-ovfl', LOOPBACK, 4096, () => void received++, { receive: 'recvmmsg', logger: capture().logger });
    const SENT = 400;
    try {
      // spawnSync blocks this thread's event loop while another process sends: nothing is read meanwhile.
      const sender = `const s=require('dgram').createSocket('udp4');let n=0;const b=Buffer.alloc(1000,1);const go=()=>{if(n===${SENT})return s.close();s.send(b,${rx.port},'127.0.0.1',go);n++};go();`;
      const r = spawnSync(process.execPath, ['-e', sender], { timeout: 10_000 });
      expect(r.status).toBe(0);
      for (let i = 0, last = -1; i < 100 && received !== last; i++) {
        last = received;
        await tick();
      }
      const dropped = await scraped('rxq-ovfl', 'receive_buffer_full');
      expect(dropped).toBeGreaterThan(0);
      expect(received + dropped).toBe(SENT);
    } finally {
      await rx.close();
    }
  });
});

describe.skipIf(!ways.includes('recvmmsg'))('UDP listener, receive: recvmmsg, SO_REUSEPORT sharded by exporter', () => {
  it('three sockets of one port: each sFlow agent, whatever its source, and each other source lands on one socket, and all three get some', async () => {
    const addon = loadUdpReceiver();
    if ('unavailable' in addon) throw new Error(addon.unavailable);
    const fds = [addon.socket(4, '127.0.0.1', 0, true)];
    const port = addon.port(fds[0]!);
    fds.push(addon.socket(4, '127.0.0.1', port, true), addon.socket(4, '127.0.0.1', port, true));
    addon.shardBy(fds[0]!, 3, true);
    // exporter key -> the sockets it reached
    const seen = new Map<string, Set<number>>();
    let received = 0;
    const stops = fds.map((fd, i) =>
      receiveFrom(addon, fd, 'shard-test', (b, s, e, address) => {
        received++;
        const d = b.subarray(s, e);
        // An sFlow v5 header (version 5, agent address type 1) is keyed by its agent, anything else by its source.
        const key = d.length >= 28 && d.readUInt32BE(0) === 5 ? `agent ${d[8]}.${d[9]}.${d[10]}.${d[11]}` : `source ${address}`;
        const set = seen.get(key) ?? new Set<number>();
        set.add(i);
        seen.set(key, set);
      }),
    );
    // 24 sending sockets: 12 loopback addresses, two source ports each; sFlow agents 10.0.0.0-6 each sent
    // from several of them.
    const senders: dgram.Socket[] = [];
    for (let x = 1; x <= 12; x++) {
      for (let p = 0; p < 2; p++) {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, `127.0.0.${x}`, () => r()));
        senders.push(s);
      }
    }
    let sent = 0;
    try {
      for (let round = 0; round < 5; round++) {
        for (const [j, s] of senders.entries()) {
          s.send(Buffer.from([1, 2, 3, 4]), port, '127.0.0.1');
          const sflow = Buffer.alloc(28);
          sflow.writeUInt32BE(5, 0);
          sflow.writeUInt32BE(1, 4);
          sflow.writeUInt32BE(0x0a000000 + (j % 7), 8);
          s.send(sflow, port, '127.0.0.1');
          sent += 2;
        }
        await tick();
      }
      for (let i = 0; i < 100 && received < sent; i++) await tick();
    } finally {
      for (const s of senders) s.close();
      for (const r of stops) r.stop();
      for (const fd of fds) addon.closeSocket(fd);
    }
    expect(received).toBe(sent);
    expect(seen.size).toBe(12 + 7);
    for (const [key, sockets] of seen) expect({ key, sockets: sockets.size }).toEqual({ key, sockets: 1 });
    const used = new Set([...seen.values()].map((v) => [...v][0]));
    expect(used.size).toBe(3);
  });
});

describe.skipIf(!ways.includes('recvmmsg'))('UDP listener, receive: recvmmsg, a failing receive', () => {
  it('counts a failed recvmmsg by its error code and logs it, without a batch: a FIFO polled as if it were the socket fails with ENOTSOCK', async () => {
    const addon = loadUdpReceiver();
    if ('unavailable' in addon) throw new Error(addon.unavailable);
    const dir = mkdtempSync(join(tmpdir(), 'recv-error-'));
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // O_RDWR: a FIFO opened both ways never blocks on open and stays readable once written to.
    const fd = openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    const { logger, lines } = capture();
    let batches = 0;
    const receiving = receiveFrom(addon, fd, 'recv-error', () => void batches++, undefined, logger);
    try {
      writeSync(fd, Buffer.from('not a datagram'));
      for (let i = 0; i < 100 && lines.length === 0; i++) await tick();
    } finally {
      // The byte stays in the FIFO, so the poll keeps failing until it stops.
      receiving.stop();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(batches).toBe(0);
    expect(lines[0]).toMatchObject({ msg: 'UDP receive failed', input: 'recv-error', code: 'ENOTSOCK' });
    const line = (await metricsText()).split('\n').find((l) => l.startsWith('ipfix_mediator_udp_receive_errors_total{input="recv-error",code="ENOTSOCK"} '));
    expect(Number(line?.split(' ')[1])).toBeGreaterThanOrEqual(1);
  });
});
