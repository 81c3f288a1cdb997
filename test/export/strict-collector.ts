// A strict IPFIX-over-TCP collector for tests: one parse per connection (Transport Session), checking what
// RFC 7011 asks of the exporter — Templates before the Data Records that use them, no Template ID
// redefined without a withdrawal, withdrawals only of known Templates, Sequence Numbers per Observation
// Domain counting the Data Records sent before each message in the session — and returning every record.

import net from 'node:net';
import { messageLength, readTemplateSet, recordEnd } from '../../src/ipfix/reader.js';
import { makeTemplate, type FieldSpecifier, type Template } from '../../src/ipfix/template.js';

export interface Rec {
  odid: number;
  template: Template;
  /** The record's octets. */
  bytes: Buffer;
}

export interface SessionParse {
  errors: string[];
  records: Rec[];
  messages: number;
  /** Template IDs defined, withdrawn, in order, as "d<odid>:<id>" / "w<odid>:<id>". */
  events: string[];
}

function same(a: readonly FieldSpecifier[], b: readonly FieldSpecifier[]): boolean {
  return a.length === b.length && a.every((f, i) => f.id === b[i]!.id && f.enterprise === b[i]!.enterprise && f.length === b[i]!.length);
}

export function parseSession(stream: Buffer): SessionParse {
  const out: SessionParse = { errors: [], records: [], messages: 0, events: [] };
  const templates = new Map<number, Map<number, { t: Template; setId: number }>>();
  const expected = new Map<number, number>();
  let o = 0;
  while (o < stream.length) {
    const len = messageLength(stream, o);
    if (typeof len !== 'number') {
      out.errors.push(`@${o}: ${len.message}`);
      break;
    }
    out.messages++;
    const odid = stream.readUInt32BE(o + 12);
    const seq = stream.readUInt32BE(o + 8);
    if ((expected.get(odid) ?? 0) !== seq) out.errors.push(`message ${out.messages} odid ${odid}: sequence ${seq}, expected ${expected.get(odid) ?? 0}`);
    let ts = templates.get(odid);
    if (!ts) templates.set(odid, (ts = new Map()));
    const dom = ts;
    let n = 0;
    for (let p = o + 16; p < o + len; ) {
      const setId = stream.readUInt16BE(p);
      const sl = stream.readUInt16BE(p + 2);
      if (setId === 2 || setId === 3) {
        readTemplateSet(stream, p + 4, p + sl, setId, {
          template: (id, fields, scope) => {
            const had = dom.get(id);
            if (had && !same(had.t.fields, fields)) out.errors.push(`odid ${odid}: template ${id} redefined without a withdrawal`);
            dom.set(id, { t: makeTemplate(id, fields, scope), setId });
            out.events.push(`d${odid}:${id}`);
          },
          withdrawal: (id) => {
            out.events.push(`w${odid}:${id}`);
            if (id === setId) {
              for (const [k, v] of dom) if (v.setId === setId) dom.delete(k);
            } else if (!dom.delete(id)) out.errors.push(`odid ${odid}: withdrawal of unknown template ${id}`);
          },
          error: (e) => out.errors.push(e.message),
        });
      } else {
        const t = dom.get(setId)?.t;
        if (!t) out.errors.push(`odid ${odid}: data set ${setId} without its template`);
        else {
          let q = p + 4;
          while (q < p + sl) {
            const e = recordEnd(t, stream, q, p + sl);
            if (e < 0 || e === q) break;
            out.records.push({ odid, template: t, bytes: stream.subarray(q, e) });
            n++;
            q = e;
          }
        }
      }
      p += sl;
    }
    expected.set(odid, ((expected.get(odid) ?? 0) + n) >>> 0);
    o += len;
  }
  return out;
}

/** A TCP collector on 127.0.0.1 that keeps each connection's bytes; stop() kills it (connections reset). */
export class TestCollector {
  readonly sessions: Buffer[][] = [];
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  constructor(public port = 0) {}

  async start(): Promise<number> {
    const server = net.createServer((c) => {
      const chunks: Buffer[] = [];
      this.sessions.push(chunks);
      this.sockets.add(c);
      c.on('data', (d) => chunks.push(d));
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

  /**
   * Stop: close the listener, then either reset every connection (a collector that dies: what its socket
   * buffers held is gone) or, `graceful`, close them the way a collector that shuts down does — FIN, and
   * keep reading until the exporter has closed its side too.
   */
  async stop(graceful = false): Promise<void> {
    const closing = this.server ? new Promise<void>((r) => this.server!.close(() => r())) : Promise.resolve();
    if (graceful) {
      const closed = [...this.sockets].map((s) => new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r()))));
      for (const s of this.sockets) s.end();
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5000))]);
    }
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    await closing;
    this.server = undefined;
  }

  get connections(): number {
    return this.sockets.size;
  }

  parsed(): SessionParse[] {
    return this.sessions.map((c) => parseSession(Buffer.concat(c)));
  }
}

/** Poll until `f` is true or `ms` pass (bounded waits, no timing assertions). */
export async function until(f: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return f();
}
