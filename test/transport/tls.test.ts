// IPFIX over TLS (RFC 7011 §11) in process, real loopback sockets, a PKI made by openssl here: the TLS
// output presents its certificate and verifies the collector's; the TLS input requires a client certificate
// from its CA and names the exporter by the certificate subject; certificates reload without dropping
// established sessions, and a bad file on reload keeps the old ones.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync as readFile, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import { recorder } from '../helpers/recording-sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { counter } from '../helpers/metrics.js';
import { until as untilWithin } from '../helpers/wait-for.js';
import { TlsTransport, reloadTlsOutputs } from '../../src/transport/tls.js';
import { issue, makeCa, type CertFiles } from '../helpers/certs.js';
import { requireOrSkip, tempDir } from '../helpers/tools.js';

const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };
const tmp = tempDir('tls-');
afterAll(() => tmp.cleanup());

let ca: CertFiles, otherCa: CertFiles, server: CertFiles, server2: CertFiles, client: CertFiles, client2: CertFiles, intruder: CertFiles;

let seq = 0;
function tlsInput(over: Partial<InputConfig> = {}): InputConfig {
  return {
    name: `tlsin${++seq}`,
    listen: 'tls://127.0.0.1:0',
    protocol: 'ipfix',
    sessionTimeout: 300,
    templateTimeout: 1800,
    pendingTimeout: 10,
    pendingLimit: 256,
    receiveBuffer: 1 << 20,
    ca: ca.cert,
    cert: join(tmp.dir, 'live-server.pem'),
    key: join(tmp.dir, 'live-server.key'),
    ...over,
  };
}

const until = (cond: () => boolean | Promise<boolean>, ms = 8000) => untilWithin('the condition', cond, ms);

// IPFIX message with template 256 (sourceIPv4Address 4, destinationTransportPort 2) and one record.
function message(odid: number, lastOctet: number): Buffer {
  const m = Buffer.alloc(16 + 16 + 10);
  m.writeUInt16BE(10, 0);
  m.writeUInt16BE(m.length, 2);
  m.writeUInt32BE(1_700_000_000, 4);
  m.writeUInt32BE(odid, 12);
  // Template Set: id 2, length 16; template 256, 2 fields: (8, 4), (11, 2)
  Buffer.from([0, 2, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 11, 0, 2]).copy(m, 16);
  // Data Set 256, length 10: 192.0.2.<lastOctet>, port 80
  Buffer.from([1, 0, 0, 10, 192, 0, 2, lastOctet, 0, 80]).copy(m, 32);
  return m;
}

function useServerCert(c: CertFiles): void {
  copyFileSync(c.cert, join(tmp.dir, 'live-server.pem'));
  copyFileSync(c.key, join(tmp.dir, 'live-server.key'));
}

/** A raw TLS client; resolves with the server certificate's CN once the handshake is done, rejects when refused. */
function handshake(port: number, creds?: CertFiles): Promise<{ socket: tls.TLSSocket; serverCn: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: [ca.cert, otherCa.cert].map((f) => readFile(f)), servername: 'collector.test', ...(creds ? { cert: readFile(creds.cert), key: readFile(creds.key) } : {}), minVersion: 'TLSv1.2' }, () => {
      // TLS 1.3: the server checks the client certificate after the client's handshake is done, and says so
      // with an alert; wait for a first read so a refusal shows up here.
      s.once('data', () => {});
      const t = setTimeout(() => resolve({ socket: s, serverCn: String(s.getPeerCertificate().subject.CN) }), 300);
      s.once('close', () => {
        clearTimeout(t);
        reject(new Error('closed by the server'));
      });
    });
    s.once('error', reject);
  });
}

describe.skipIf(!requireOrSkip('openssl'))('TLS transport (mutual authentication)', () => {
  beforeAll(() => {
    ca = makeCa(tmp.dir, 'test-ca');
    otherCa = makeCa(tmp.dir, 'other-ca');
    server = issue(tmp.dir, ca, 'server', 'collector.test', ['DNS:collector.test', 'IP:127.0.0.1']);
    server2 = issue(tmp.dir, ca, 'server2', 'collector-2.test', ['DNS:collector.test', 'IP:127.0.0.1']);
    client = issue(tmp.dir, ca, 'client', 'exporter-1.test');
    client2 = issue(tmp.dir, ca, 'client2', 'exporter-2.test');
    intruder = issue(tmp.dir, otherCa, 'intruder', 'intruder.test');
    useServerCert(server);
  });

  it('TLS output → TLS input: records arrive, the exporter is named by its certificate, close ends its sessions', async () => {
    const { sink, events } = recorder();
    const cfg = tlsInput();
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    const out = new TlsTransport('tls-out-1', { scheme: 'tls', host: '127.0.0.1', port: cp.port, family: 4 }, 0.05, 0.2, 1 << 20, { ca: ca.cert, cert: client.cert, key: client.key }, 'collector.test');
    try {
      let sessions = 0;
      await out.start(() => sessions++);
      await until(() => out.isUp());
      expect(sessions).toBe(1);
      expect(out.send(message(7, 33))).toBe(true);
      await until(() => events.some((e) => e[0] === 'records'));
      expect(events).toEqual([
        ['started', 7, '127.0.0.1'],
        ['defined', 7, 256],
        ['records', 7, 256, 1, 'c00002210050'],
      ]);
      expect(cp.connections()).toEqual([expect.objectContaining({ exporter: 'exporter-1.test', transport: 'tls', messages: 1 })]);
      await out.close();
      await until(() => events.some((e) => e[0] === 'ended'));
      expect(events.at(-1)).toEqual(['ended', 7, 'closed']);
    } finally {
      await out.close();
      await cp.stop();
    }
  });

  it('refuses a client without a certificate and one from another CA, and counts them', async () => {
    const { sink, events } = recorder();
    const cfg = tlsInput();
    const cp = new CollectingProcess(cfg, sink, options);
    await cp.start();
    try {
      await expect(handshake(cp.port)).rejects.toThrow();
      await expect(handshake(cp.port, intruder)).rejects.toThrow();
      await until(async () => (await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'tls_handshake' })) >= 2);
      expect(await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'tls_handshake' })).toBe(2);
      expect(await counter('ipfix_mediator_input_connections_accepted_total', { input: cfg.name })).toBe(0);
      // a good client gets in
      const ok = await handshake(cp.port, client);
      expect(ok.serverCn).toBe('collector.test');
      ok.socket.destroy();
      expect(events).toEqual([]);
    } finally {
      await cp.stop();
    }
  });

  it('refuses a source outside the allow list before the handshake, counted once as not_allowed', async () => {
    const cfg = tlsInput({ allow: ['127.0.0.1/32'] });
    const cp = new CollectingProcess(cfg, recorder().sink, options);
    await cp.start();
    try {
      const s = tls.connect({ host: '127.0.0.1', port: cp.port, localAddress: '127.0.0.2', ca: readFile(ca.cert), cert: readFile(client.cert), key: readFile(client.key), servername: 'collector.test' });
      await new Promise<void>((resolve) => {
        s.once('error', () => resolve());
        s.once('close', () => resolve());
      });
      s.destroy();
      await until(async () => (await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'not_allowed' })) === 1);
      // give a late handshake error the chance to be (wrongly) counted before looking
      await new Promise((r) => setTimeout(r, 200));
      expect(await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'tls_handshake' })).toBe(0);
      expect(cp.connections()).toEqual([]);
    } finally {
      await cp.stop();
    }
  });

  it('the TLS output does not send to a collector whose certificate does not carry the expected name', async () => {
    const cfg = tlsInput();
    const cp = new CollectingProcess(cfg, recorder().sink, options);
    await cp.start();
    const out = new TlsTransport('tls-out-2', { scheme: 'tls', host: '127.0.0.1', port: cp.port, family: 4 }, 0.05, 0.1, 1 << 20, { ca: ca.cert, cert: client.cert, key: client.key }, 'someone-else.test');
    try {
      await out.start(() => {});
      // The client aborts each handshake; the collector sees them fail, the output never comes up.
      await until(async () => (await counter('ipfix_mediator_input_connections_refused_total', { input: cfg.name, reason: 'tls_handshake' })) >= 2);
      expect(out.isUp()).toBe(false);
      expect(out.send(message(1, 1))).toEqual({ reason: 'transport_down' });
      expect(cp.connections()).toEqual([]);
    } finally {
      await out.close();
      await cp.stop();
    }
  });

  it('reloads the server certificate without dropping an established session; a bad file keeps the old one', async () => {
    const { sink, events } = recorder();
    useServerCert(server);
    const cp = new CollectingProcess(tlsInput(), sink, options);
    await cp.start();
    const out = new TlsTransport('tls-out-3', { scheme: 'tls', host: '127.0.0.1', port: cp.port, family: 4 }, 0.05, 0.2, 1 << 20, { ca: ca.cert, cert: client.cert, key: client.key }, 'collector.test');
    try {
      await out.start(() => {});
      await until(() => out.isUp());
      out.send(message(1, 1));
      await until(() => events.filter((e) => e[0] === 'records').length === 1);

      useServerCert(server2);
      expect(cp.reloadCertificates()).toBe(true);
      // New connections get the new certificate ...
      const fresh = await handshake(cp.port, client);
      expect(fresh.serverCn).toBe('collector-2.test');
      fresh.socket.destroy();
      // ... the established one is still up and carries data.
      expect(out.isUp()).toBe(true);
      out.send(message(1, 2));
      await until(() => events.filter((e) => e[0] === 'records').length === 2);
      expect(events.filter((e) => e[0] === 'ended')).toEqual([]);

      // A broken key file: logged, the previous certificate stays in use.
      writeFileSync(join(tmp.dir, 'live-server.key'), '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
      expect(cp.reloadCertificates()).toBe(false);
      const still = await handshake(cp.port, client);
      expect(still.serverCn).toBe('collector-2.test');
      still.socket.destroy();
    } finally {
      await out.close();
      await cp.stop();
      useServerCert(server);
    }
  });

  it('the TLS output uses reloaded client certificates for its next connection', async () => {
    // A plain TLS collector that records who connects, and drops the first connection.
    const cns: string[] = [];
    const live = join(tmp.dir, 'live-client');
    copyFileSync(client.cert, live + '.pem');
    copyFileSync(client.key, live + '.key');
    const srv = tls.createServer({ ca: readFile(ca.cert), cert: readFile(server.cert), key: readFile(server.key), requestCert: true, rejectUnauthorized: true }, (s) => {
      cns.push(String(s.getPeerCertificate().subject.CN));
      s.on('error', () => {});
      s.on('data', () => {});
      if (cns.length === 1) setTimeout(() => s.destroy(), 50);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const out = new TlsTransport('tls-out-4', { scheme: 'tls', host: '127.0.0.1', port, family: 4 }, 0.05, 0.1, 1 << 20, { ca: ca.cert, cert: live + '.pem', key: live + '.key' });
    try {
      let sessions = 0;
      await out.start(() => sessions++);
      await until(() => cns.length === 1);
      copyFileSync(client2.cert, live + '.pem');
      copyFileSync(client2.key, live + '.key');
      expect(reloadTlsOutputs()).toBe(true);
      await until(() => cns.length === 2 && out.isUp());
      // The URL host is an IP and no servername is set: the collector's IP subjectAltName was checked.
      expect(cns).toEqual(['exporter-1.test', 'exporter-2.test']);
      expect(sessions).toBe(2);
    } finally {
      await out.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
