// A TCP IPFIX collector for end-to-end tests that keeps, per connection (Transport Session), the bytes with
// the time each chunk arrived, and a walker that reads such a stream message by message: header (ODID,
// Sequence Number, Export Time), Template and Options Template records, withdrawals (RFC 7011 §8.1: a
// template record with field count 0), Data Records by template, and when the message was complete.
// Strictness (templates before data, sequence numbers) is parseSession's job (test/export/strict-collector.ts).

import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { messageLength, readTemplateSet, recordEnd } from '../../src/ipfix/reader.js';
import { SctpEndpoint, openUdpEncapsulation } from '../../src/transport/sctp/index.js';
import { makeTemplate, type Template } from '../../src/ipfix/template.js';

export interface Chunk {
  at: number;
  bytes: Buffer;
}

export interface WalkedRecord {
  template: Template;
  bytes: Buffer;
}

export interface WalkedMessage {
  odid: number;
  sequence: number;
  exportTime: number;
  /** Date.now() when the chunk completing this message arrived. */
  arrivedAt: number;
  /** Template IDs announced (with their templates) and withdrawn, in order. */
  announced: Template[];
  withdrawn: number[];
  records: WalkedRecord[];
  /** Everything above in the order of the message: "d<id>" announced, "w<id>" withdrawn, "r<id>" a record. */
  order: string[];
}

/** Reads a recorded connection message by message (stops at a truncated or non-IPFIX tail). */
export function walk(chunks: readonly Chunk[]): WalkedMessage[] {
  const stream = Buffer.concat(chunks.map((c) => c.bytes));
  const ends: number[] = [];
  let total = 0;
  for (const c of chunks) ends.push((total += c.bytes.length));
  const templates = new Map<number, Map<number, Template>>();
  const out: WalkedMessage[] = [];
  let chunk = 0;
  for (let o = 0; o < stream.length; ) {
    const len = messageLength(stream, o);
    if (typeof len !== 'number') break;
    while (ends[chunk]! < o + len) chunk++;
    const odid = stream.readUInt32BE(o + 12);
    let dom = templates.get(odid);
    if (!dom) templates.set(odid, (dom = new Map()));
    const d = dom;
    const m: WalkedMessage = { odid, sequence: stream.readUInt32BE(o + 8), exportTime: stream.readUInt32BE(o + 4), arrivedAt: chunks[chunk]!.at, announced: [], withdrawn: [], records: [], order: [] };
    for (let p = o + 16; p + 4 <= o + len; ) {
      const setId = stream.readUInt16BE(p);
      const sl = stream.readUInt16BE(p + 2);
      if (sl < 4) break;
      if (setId === 2 || setId === 3) {
        readTemplateSet(stream, p + 4, p + sl, setId, {
          template: (id, fields, scope) => {
            const t = makeTemplate(id, fields, scope);
            d.set(id, t);
            m.announced.push(t);
            m.order.push(`d${id}`);
          },
          withdrawal: (id) => {
            m.withdrawn.push(id);
            m.order.push(`w${id}`);
            d.delete(id);
          },
          error: () => {},
        });
      } else {
        const t = d.get(setId);
        for (let q = p + 4; t && q < p + sl; ) {
          const e = recordEnd(t, stream, q, p + sl);
          if (e < 0 || e === q) break;
          m.records.push({ template: t, bytes: stream.subarray(q, e) });
          m.order.push(`r${setId}`);
          q = e;
        }
      }
      p += sl;
    }
    out.push(m);
    o += len;
  }
  return out;
}

/** The RFC 7119 original-exporter record of an outgoing domain: scope observationDomainId (149), 403/404, 405. */
export interface Origin {
  odid: number;
  exporter: string;
  originalOdid: number;
}

export function origins(messages: readonly WalkedMessage[]): Origin[] {
  const out: Origin[] = [];
  for (const m of messages) {
    for (const r of m.records) {
      const f = r.template.fields;
      if (r.template.scopeCount !== 1 || f[0]?.id !== 149) continue;
      const addrLen = f[1]!.length;
      const a = r.bytes.subarray(4, 4 + addrLen);
      const exporter = addrLen === 4 ? [...a].join('.') : a.toString('hex');
      out.push({ odid: r.bytes.readUInt32BE(0), exporter, originalOdid: r.bytes.readUInt32BE(4 + addrLen) });
    }
  }
  return out;
}

/** PEM files of a TLS collector: the CA exporters' certificates must chain to, its certificate and key. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A TCP (or, with `tls`, TLS with a client certificate required) collector on 127.0.0.1 recording each
 * connection's chunks with their arrival times.
 */
export class TimedCollector {
  readonly sessions: Chunk[][] = [];
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  constructor(
    public port = 0,
    private readonly tlsFiles?: TlsFiles,
  ) {}

  async start(): Promise<number> {
    const f = this.tlsFiles;
    const options = f ? { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const } : undefined;
    const server = (options ? tls.createServer.bind(null, options) : net.createServer)((c: net.Socket) => {
      const chunks: Chunk[] = [];
      this.sessions.push(chunks);
      this.sockets.add(c);
      c.on('data', (bytes: Buffer) => chunks.push({ at: Date.now(), bytes }));
      c.on('close', () => this.sockets.delete(c));
      c.on('error', () => {});
    });
    await new Promise<void>((r, j) => {
      server.once('error', j);
      server.listen(this.port, '127.0.0.1', () => r());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Like a collector shutting down cleanly: FIN, reading until the exporter has closed too (bounded). */
  async stop(): Promise<void> {
    const closing = this.server ? new Promise<void>((r) => this.server!.close(() => r())) : Promise.resolve();
    const closed = [...this.sockets].map((s) => new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r()))));
    for (const s of this.sockets) s.end();
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5000))]);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closing;
    this.server = undefined;
  }

  get connections(): number {
    return this.sockets.size;
  }

  walked(session = 0): WalkedMessage[] {
    return walk(this.sessions[session] ?? []);
  }

  /** Every connection's bytes, for parseSession. */
  streams(): Buffer[] {
    return this.sessions.map((s) => Buffer.concat(s.map((c) => c.bytes)));
  }
}

/**
 * An IPFIX-over-SCTP collector in process (the project's stack over RFC 6951 UDP encapsulation on
 * 127.0.0.1, SCTP port 4739): each association's messages, whole, with their arrival times, concatenated in
 * arrival order (each stream — one per outgoing ODID — stays in order).
 */
export class SctpTimedCollector {
  readonly sessions: Chunk[][] = [];
  udpPort = 0;
  private endpoint?: SctpEndpoint;

  async start(): Promise<number> {
    const lower = await openUdpEncapsulation({ port: 0, address: '127.0.0.1' });
    this.udpPort = lower.local.udpPort;
    const endpoint = new SctpEndpoint({ lower });
    endpoint.listen(4739, (a) => {
      const chunks: Chunk[] = [];
      this.sessions.push(chunks);
      a.on('message', (data) => chunks.push({ at: Date.now(), bytes: Buffer.from(data) }));
    });
    this.endpoint = endpoint;
    return this.udpPort;
  }

  stop(): void {
    this.endpoint?.close();
    this.endpoint = undefined;
  }

  walked(session = 0): WalkedMessage[] {
    return walk(this.sessions[session] ?? []);
  }

  streams(): Buffer[] {
    return this.sessions.map((s) => Buffer.concat(s.map((c) => c.bytes)));
  }
}
