// IPFIX over TCP (RFC 7011 §10.4): one connection is one Transport Session (see stream.ts).

import net from 'node:net';
import type { HostPort } from '../config/load.js';
import { StreamTransport, type Dialer } from './stream.js';

const TCP: Dialer = {
  label: 'TCP',
  readyEvent: 'connect',
  dial: (to) => net.connect({ host: to.host, port: to.port }),
};

export class TcpTransport extends StreamTransport {
  constructor(output: string, to: HostPort, reconnectMin: number, reconnectMax: number, queueLimit: number) {
    super(output, to, reconnectMin, reconnectMax, queueLimit, TCP);
  }
}
