// IPFIX over a connection-oriented byte stream (RFC 7011 §10.4 TCP, §11 TLS over TCP): one connection is
// one Transport Session. The connection is kept up in the background with exponential backoff; every new
// connection is a new Transport Session (templates first, sequence numbers from zero); a slow collector
// fills a bounded socket queue, then sends are refused. TCP and TLS differ only in how they dial.

import type net from 'node:net';
import type { HostPort } from '../config/load.js';
import type { Transport } from './transport.js';
import { log } from '../observe/log.js';
import { reconnects, transportUp, queueDepth } from '../observe/metrics.js';

export interface Dialer {
  /** "TCP", "TLS": for logs. */
  readonly label: string;
  /** The event that says the stream is ready for IPFIX ('connect', or 'secureConnect' after the handshake). */
  readonly readyEvent: 'connect' | 'secureConnect';
  dial(to: HostPort): net.Socket;
}

export class StreamTransport implements Transport {
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
    protected readonly output: string,
    protected readonly to: HostPort,
    private readonly reconnectMin: number,
    private readonly reconnectMax: number,
    private readonly queueLimit: number,
    private readonly dialer: Dialer,
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
    const label = this.dialer.label;
    let s: net.Socket;
    try {
      s = this.dialer.dial(this.to);
    } catch (err) {
      // e.g. credentials that no longer make a TLS context: try again later like any failed connect.
      log.warn({ output: this.output, err: (err as Error).message }, `${label} connect failed`);
      this.retry();
      return;
    }
    s.setNoDelay(true);
    this.socket = s;
    s.on(this.dialer.readyEvent, () => {
      this.connected = true;
      this.backoff = this.reconnectMin;
      this.queued = 0;
      transportUp.set({ output: this.output }, 1);
      log.info({ output: this.output, collector: `${this.to.host}:${this.to.port}` }, `${label} connected`);
      // A new Transport Session: templates again, sequence numbers from zero.
      this.onSession();
    });
    s.on('drain', () => {
      this.queued = s.writableLength;
      queueDepth.set({ output: this.output }, this.queued);
    });
    s.on('error', (err) => log.warn({ output: this.output, err: err.message }, `${label} connection error`));
    s.on('data', () => {}); // collectors send nothing; read and discard so the socket never stalls
    s.on('close', () => {
      const was = this.connected;
      this.connected = false;
      if (this.socket === s) this.socket = undefined;
      transportUp.set({ output: this.output }, 0);
      if (this.closing) return;
      if (was) log.warn({ output: this.output }, `${label} connection lost; reconnecting`);
      this.retry();
    });
  }

  private retry(): void {
    this.timer = setTimeout(() => this.connect(), this.backoff * 1000);
    this.timer.unref();
    this.backoff = Math.min(this.backoff * 2, this.reconnectMax);
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
