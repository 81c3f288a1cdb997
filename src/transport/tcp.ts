// IPFIX over TCP (RFC 7011 §10.4): one connection is one Transport Session. The connection is kept up in
// the background with exponential backoff; a slow collector fills a bounded queue, then records drop.

import net from 'node:net';
import type { HostPort } from '../config/load.js';
import type { Transport } from './transport.js';
import { log } from '../observe/log.js';
import { reconnects, transportUp, queueDepth } from '../observe/metrics.js';

export class TcpTransport implements Transport {
  readonly reliable = true;
  readonly refreshesTemplates = false;
  readonly maxMessage = 65535;
  private socket?: net.Socket;
  private connected = false;
  private closing = false;
  private backoff: number;
  private timer?: NodeJS.Timeout;
  private queued = 0;
  private onSession: () => void = () => {};

  constructor(
    private readonly output: string,
    private readonly to: HostPort,
    private readonly reconnectMin: number,
    private readonly reconnectMax: number,
    private readonly queueLimit: number,
  ) {
    this.backoff = reconnectMin;
  }

  async start(onSession: () => void): Promise<void> {
    this.onSession = onSession;
    this.connect();
  }

  private connect(): void {
    if (this.closing) return;
    reconnects.inc({ output: this.output });
    const s = net.connect({ host: this.to.host, port: this.to.port });
    s.setNoDelay(true);
    this.socket = s;
    s.on('connect', () => {
      this.connected = true;
      this.backoff = this.reconnectMin;
      this.queued = 0;
      transportUp.set({ output: this.output }, 1);
      log.info({ output: this.output, collector: `${this.to.host}:${this.to.port}` }, 'TCP connected');
      // A new Transport Session: templates again, sequence numbers from zero.
      this.onSession();
    });
    s.on('drain', () => {
      this.queued = s.writableLength;
      queueDepth.set({ output: this.output }, this.queued);
    });
    s.on('error', (err) => log.warn({ output: this.output, err: err.message }, 'TCP connection error'));
    s.on('data', () => {}); // collectors send nothing; read and discard so the socket never stalls
    s.on('close', () => {
      const was = this.connected;
      this.connected = false;
      this.socket = undefined;
      transportUp.set({ output: this.output }, 0);
      if (this.closing) return;
      if (was) log.warn({ output: this.output }, 'TCP connection lost; reconnecting');
      this.timer = setTimeout(() => this.connect(), this.backoff * 1000);
      this.timer.unref();
      this.backoff = Math.min(this.backoff * 2, this.reconnectMax);
    });
  }

  isUp(): boolean {
    return this.connected;
  }

  send(message: Buffer): true | { reason: string } {
    const s = this.socket;
    if (!s || !this.connected) return { reason: 'transport_down' };
    if (s.writableLength + message.length > this.queueLimit && s.writableLength > 0) return { reason: 'queue_full' };
    s.write(message);
    this.queued = s.writableLength;
    queueDepth.set({ output: this.output }, this.queued);
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.socket;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 1500);
      s.end(() => {
        clearTimeout(t);
        resolve();
      });
    });
    s.destroy();
  }
}
