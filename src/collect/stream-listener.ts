// The TCP or TLS listener of an input (RFC 7011 §10.4, §11): every accepted connection is one Transport
// Session, its bytes framed into IPFIX Messages. Sources outside the input's allow list are refused before
// any handshake: a plain TCP server accepts, and only admitted connections are handed to the TLS server
// (which never listens itself), so a refused source never shows up as a failed handshake. Over TLS the exporter must present a certificate issued by the configured CA (mutual
// authentication, TLS 1.2 or later); its subject is the exporter's identity in logs and /health.

import net from 'node:net';
import tls from 'node:tls';
import type { HostPort } from '../config/load.js';
import { MessageFramer } from './message-framer.js';
import type { TransportPeer, TransportSession } from './transport-session.js';
import { TlsCredentials, peerIdentity } from '../transport/tls-credentials.js';
import { RateLimitedLog, log } from '../observe/log.js';

/** Idle connections are probed so a vanished exporter's sessions end instead of living forever. */
const KEEPALIVE_MS = 60_000;

export type RefusedReason = 'not_allowed' | 'tls_handshake' | 'not_ipfix';

export interface StreamListenerOptions {
  input: string;
  at: HostPort;
  /** Required for tls:// (ca, cert, key PEM paths). */
  credentials?: TlsCredentials;
  /** False refuses the connection (allow list). */
  admits(address: string): boolean;
  open(peer: TransportPeer): TransportSession;
  refused(reason: RefusedReason, address: string, detail: string): void;
}

export class StreamListener {
  /** Every connection not closed yet (TLS: from before its handshake), closed by close(). */
  private readonly sockets = new Set<net.Socket>();
  private readonly warn = new RateLimitedLog();

  private constructor(
    private readonly options: StreamListenerOptions,
    /** Accepts TCP connections; the allow list is applied here. */
    private readonly server: net.Server,
    /** tls:// only: never listens itself, it is handed the admitted connections for their handshake. */
    private readonly tlsServer?: tls.Server,
  ) {}

  static async listen(options: StreamListenerOptions): Promise<StreamListener> {
    const { at, credentials } = options;
    let tlsServer: tls.Server | undefined;
    if (at.scheme === 'tls') {
      if (!credentials) throw new Error(`input ${options.input}: tls:// needs ca, cert and key`);
      tlsServer = tls.createServer({
        ...credentials.serverOptions(),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      });
    }
    const server = net.createServer();
    const l = new StreamListener(options, server, tlsServer);
    // Before any TLS handshake: the allow list refuses by source address.
    server.on('connection', (sock: net.Socket) => {
      const address = sock.remoteAddress ?? '';
      if (!options.admits(address)) {
        options.refused('not_allowed', address, `${address}:${sock.remotePort} is not in the allow list`);
        sock.destroy();
        return;
      }
      l.sockets.add(sock);
      sock.once('close', () => l.sockets.delete(sock));
      if (tlsServer) tlsServer.emit('connection', sock);
      else l.accept(sock, undefined);
    });
    if (tlsServer) {
      tlsServer.on('secureConnection', (sock: tls.TLSSocket) => l.accept(sock, peerIdentity(sock)));
      tlsServer.on('tlsClientError', (err: Error, sock: tls.TLSSocket) => {
        options.refused('tls_handshake', sock.remoteAddress ?? '', `${sock.remoteAddress}:${sock.remotePort}: TLS handshake refused: ${err.message}`);
      });
    }
    server.on('error', (err) => log.error({ input: options.input, err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return l;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** TLS: certificates read again (SIGHUP); established connections keep theirs. False: the old ones stay. */
  reloadCertificates(): boolean {
    const c = this.options.credentials;
    if (!c || !this.tlsServer) return true;
    if (!c.reload()) return false;
    this.tlsServer.setSecureContext(c.serverOptions());
    return true;
  }

  private accept(sock: net.Socket, identity: string | undefined): void {
    const o = this.options;
    const address = sock.remoteAddress ?? '';
    const port = sock.remotePort ?? 0;
    const ts = o.open({ transport: o.at.scheme === 'tls' ? 'tls' : 'tcp', address, port, identity });
    const framer = new MessageFramer((messages) => ts.deliver(messages));
    this.sockets.add(sock);
    sock.setKeepAlive(true, KEEPALIVE_MS);
    sock.on('data', (chunk: Buffer) => {
      const bad = framer.push(chunk);
      if (bad) {
        ts.refuse(bad.reason, bad.message);
        o.refused('not_ipfix', address, `${ts.identity}: ${bad.message}`);
        sock.destroy();
      }
    });
    sock.on('error', (err) => this.warn.warn(`error|${address}`, { input: o.input, exporter: ts.identity, err: err.message }, 'exporter connection error'));
    sock.on('close', () => {
      this.sockets.delete(sock);
      if (framer.buffered > 0) log.warn({ input: o.input, exporter: ts.identity, octets: framer.buffered }, 'connection closed inside a message; its start is discarded');
      ts.close('closed');
    });
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
