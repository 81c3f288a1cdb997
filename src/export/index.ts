// Exporting Processes by output URL scheme.

import type { OutputConfig } from '../config/types.js';
import { parseHostPortUrl } from '../config/load.js';
import { ExportingProcess } from './exporting-process.js';
import { UdpTransport } from '../transport/udp.js';
import { TcpTransport } from '../transport/tcp.js';
import { TlsTransport } from '../transport/tls.js';
import { FileTransport } from '../transport/file.js';
import { SctpTransport } from '../transport/sctp-transport.js';
import { parseSctpUrl } from '../transport/sctp-options.js';
import type { Transport } from '../transport/transport.js';
import { FailoverTransport } from './failover.js';

export { ExportingProcess };

export function createExportingProcess(config: OutputConfig): ExportingProcess {
  return new ExportingProcess(config, transportFor(config));
}

function transportFor(c: OutputConfig): Transport {
  // A failover group: each member is built like an output of its own (the group's settings, its URL).
  if (c.failover) return new FailoverTransport(c.name, c.failover.map((m) => ({ name: m.name, transport: transportFor({ ...c, name: m.name, url: m.url, failover: undefined }) })));
  if (c.url.startsWith('file:')) return new FileTransport(c.name, c.url, c.rotate);
  const to = parseHostPortUrl(c.url);
  if (to?.scheme === 'udp') return new UdpTransport(c.name, to, c.mtu);
  if (to?.scheme === 'tcp') return new TcpTransport(c.name, to, c.reconnectMin, c.reconnectMax, c.queueLimit);
  if (to?.scheme === 'tls') return new TlsTransport(c.name, to, c.reconnectMin, c.reconnectMax, c.queueLimit, { ca: c.ca ?? '', cert: c.cert ?? '', key: c.key ?? '' }, c.servername);
  if (to?.scheme === 'sctp') {
    const u = parseSctpUrl(c.url, 'output');
    if (typeof u === 'string') throw new Error(`output ${c.name}: ${u}`);
    return new SctpTransport(c.name, u.at, u.options, c.reconnectMin, c.reconnectMax, c.queueLimit);
  }
  throw new Error(`output ${c.name}: ${c.url.split(':')[0]}:// is not available in this release`);
}
