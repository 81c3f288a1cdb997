// TLS credentials of one input or output (RFC 7011 §11: mutual authentication): the CA that peers'
// certificates must chain to, and our own certificate and key, as PEM files. They can be read again
// (SIGHUP) without touching established connections; a file that does not load keeps the previous set.

import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { log } from '../observe/log.js';

export interface TlsFiles {
  /** PEM paths. */
  ca: string;
  cert: string;
  key: string;
}

interface Loaded {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export class TlsCredentials {
  private loaded: Loaded;

  /** Throws (with the file named) when a file cannot be read or the set does not make a TLS context. */
  constructor(
    readonly files: TlsFiles,
    /** "input NAME" / "output NAME", for messages. */
    private readonly owner: string,
  ) {
    this.loaded = load(files, owner);
  }

  /** Reads the files again. On any problem it logs, keeps the credentials it had and returns false. */
  reload(): boolean {
    try {
      this.loaded = load(this.files, this.owner);
      log.info({ owner: this.owner, cert: this.files.cert }, 'TLS certificates reloaded');
      return true;
    } catch (err) {
      log.error({ owner: this.owner, err: (err as Error).message }, 'TLS certificates not reloaded; the previous ones stay in use');
      return false;
    }
  }

  /** For tls.createServer / server.setSecureContext. */
  serverOptions(): tls.SecureContextOptions {
    return { ca: this.loaded.ca, cert: this.loaded.cert, key: this.loaded.key, minVersion: 'TLSv1.2' };
  }

  /** For tls.connect. */
  clientOptions(): tls.ConnectionOptions {
    return { ca: this.loaded.ca, cert: this.loaded.cert, key: this.loaded.key, minVersion: 'TLSv1.2' };
  }
}

function load(files: TlsFiles, owner: string): Loaded {
  const read = (what: keyof TlsFiles): Buffer => {
    try {
      return readFileSync(files[what]);
    } catch (err) {
      throw new Error(`${owner}: cannot read ${what} ${files[what]}: ${(err as Error).message}`);
    }
  };
  const loaded = { ca: read('ca'), cert: read('cert'), key: read('key') };
  try {
    // Parses the PEM and checks that key and certificate belong together, before anything uses them.
    tls.createSecureContext({ ...loaded, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new Error(`${owner}: ${files.cert} / ${files.key} / ${files.ca} do not make a TLS context: ${(err as Error).message}`);
  }
  return loaded;
}

/** The peer certificate's subject as an identity: its CN, else its first subjectAltName, else its address. */
export function peerIdentity(sock: tls.TLSSocket): string {
  const cert = sock.getPeerCertificate();
  const cn = cert?.subject?.CN;
  if (typeof cn === 'string' && cn) return cn;
  if (Array.isArray(cn) && cn.length) return String(cn[0]);
  const san = cert?.subjectaltname?.split(',')[0]?.trim();
  if (san) return san.replace(/^[A-Za-z ]+:/, '');
  return `${sock.remoteAddress}:${sock.remotePort}`;
}
