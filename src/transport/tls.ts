// IPFIX over TLS (RFC 7011 §11, §10.4.1): TCP with mutual authentication. The collector's certificate must
// chain to `ca` and carry the collector's name (`servername`, else the URL host — an IP address is then
// matched against the certificate's IP subjectAltNames); ours (`cert`, `key`) is presented to it. TLS 1.2
// or later. Everything else — reconnects, Transport Sessions, the bounded queue — is the stream transport's.
// Certificates are read again on SIGHUP (reloadTlsOutputs): the live connection keeps its session, the
// next one uses the new files.

import net from 'node:net';
import tls from 'node:tls';
import type { HostPort } from '../config/load.js';
import { StreamTransport } from './stream.js';
import { TlsCredentials } from './tls-credentials.js';

/** Every TLS output of the process, for SIGHUP. */
const live = new Set<TlsTransport>();

export class TlsTransport extends StreamTransport {
  readonly credentials: TlsCredentials;

  constructor(output: string, to: HostPort, reconnectMin: number, reconnectMax: number, queueLimit: number, files: { ca: string; cert: string; key: string }, servername?: string) {
    const credentials = new TlsCredentials(files, `output ${output}`);
    super(output, to, reconnectMin, reconnectMax, queueLimit, {
      label: 'TLS',
      readyEvent: 'secureConnect',
      dial: (at) =>
        tls.connect({
          ...credentials.clientOptions(),
          host: at.host,
          port: at.port,
          // SNI only carries names (RFC 6066 §3); for an IP host without servername the IP SAN is checked.
          ...(servername ? { servername } : net.isIP(at.host) ? {} : { servername: at.host }),
          rejectUnauthorized: true,
        }),
    });
    this.credentials = credentials;
  }

  override async start(onSession: () => void): Promise<void> {
    live.add(this);
    return super.start(onSession);
  }

  override async close(): Promise<void> {
    live.delete(this);
    return super.close();
  }
}

/** SIGHUP: every TLS output reads its certificate files again (a bad file keeps the old ones). */
export function reloadTlsOutputs(): boolean {
  let ok = true;
  for (const t of live) ok = t.credentials.reload() && ok;
  return ok;
}
