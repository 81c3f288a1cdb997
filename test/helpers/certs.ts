// Test PKI made with the openssl CLI (Debian package `openssl`) in a temp dir: certificate authorities and
// certificates they issue, for TLS tests with mutual authentication. EC P-256 keys, valid two days.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPath } from './tools.js';

export const haveOpenssl = (): boolean => toolPath('openssl') !== null;

export interface CertFiles {
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync(toolPath('openssl') ?? 'openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

/** A self-signed CA named `name` in dir: `${name}.pem`, `${name}.key`. */
export function makeCa(dir: string, name: string): CertFiles {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/**
 * A certificate `name` issued by `ca`, subject CN=`cn`, with the given subjectAltNames (e.g.
 * ["DNS:collector.test", "IP:127.0.0.1"]); usable by servers and clients.
 */
export function issue(dir: string, ca: CertFiles, name: string, cn: string, altNames: string[] = []): CertFiles {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  const ext = [`basicConstraints=CA:FALSE`, `extendedKeyUsage=serverAuth,clientAuth`, ...(altNames.length ? [`subjectAltName=${altNames.join(',')}`] : [])];
  writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n');
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}
