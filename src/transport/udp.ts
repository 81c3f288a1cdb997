// IPFIX over UDP (RFC 7011 §10.3): one message per datagram, sized to the path MTU.

import dgram from 'node:dgram';
import type { HostPort } from '../config/load.js';
import type { Transport } from './transport.js';
import { log } from '../observe/log.js';

const UDP_HEADER = 8;

export class UdpTransport implements Transport {
  readonly reliable = false;
  readonly refreshesTemplates = true;
  readonly maxMessage: number;
  private socket?: dgram.Socket;
  private errors = 0;
  /** Sends handed to the socket and not completed yet: closing cancels them, so close() waits. */
  private inFlight = 0;
  private drained?: () => void;
  private readonly sent = (err: Error | null) => {
    if (err && this.errors++ % 1000 === 0) log.warn({ output: this.output, err: err.message }, 'UDP send failed');
    if (--this.inFlight === 0 && this.drained) this.drained();
  };

  constructor(
    private readonly output: string,
    private readonly to: HostPort,
    mtu: number,
  ) {
    this.maxMessage = Math.min(65535, mtu - (to.family === 6 ? 40 : 20) - UDP_HEADER);
  }

  async start(onSession: () => void): Promise<void> {
    const s = dgram.createSocket({ type: this.to.family === 6 ? 'udp6' : 'udp4', sendBufferSize: 4 << 20 });
    // A collector that is not there answers with ICMP port unreachable: count and go on, never crash.
    s.on('error', (err) => {
      if (this.errors++ % 1000 === 0) log.warn({ output: this.output, err: err.message }, 'UDP send error (collector unreachable?)');
    });
    await new Promise<void>((resolve) => s.bind(0, resolve));
    // Connected: each send skips the per-call address handling (measured as most of the output cost).
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(this.to.port, this.to.host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    this.socket = s;
    onSession();
  }

  isUp(): boolean {
    return this.socket !== undefined;
  }

  send(message: Buffer): true | { reason: string } {
    if (!this.socket) return { reason: 'transport_down' };
    this.inFlight++;
    this.socket.send(message, this.sent);
    return true;
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    await new Promise<void>((r) => s.close(() => r()));
  }
}
