// Counts the data records of IPFIX messages (a UDP sink's datagrams, or an RFC 5655 file read as it grows)
// with the gateway's own reader from dist/, split by whether their template carries an element of a given
// enterprise (the sFlow PEN marks the records made from sFlow samples; the original-exporter options
// records do not carry it). Templates are kept per observation domain. Benchmark use only.

import { closeSync, fstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const dist = (p) => import(resolve(root, 'dist', p));
const { readTemplateSet, dataSetRecords } = await dist('ipfix/reader.js');
const { makeTemplate } = await dist('ipfix/template.js');

/** A record counter over messages of one transport session (one UDP sink, or one file). */
export function ipfixCounter(enterprise) {
  const templates = new Map(); // odid * 65536 + templateId → { t, marked }
  const st = new Int32Array(2);
  const c = { marked: 0, other: 0, messages: 0, badSets: 0 };
  let odid = 0;
  const visitor = {
    template(id, fields, scopeCount) {
      templates.set(odid * 65536 + id, { t: makeTemplate(id, fields, scopeCount), marked: fields.some((f) => f.enterprise === enterprise) });
    },
    withdrawal() {},
    error() {
      c.badSets++;
    },
  };
  /** Counts the records of one whole message buf[off, off + length). */
  c.message = (buf, off = 0, length = buf.length - off) => {
    c.messages++;
    odid = buf.readUInt32BE(off + 12);
    const end = off + length;
    let o = off + 16;
    while (end - o >= 4) {
      const id = buf.readUInt16BE(o);
      const len = buf.readUInt16BE(o + 2);
      if (len < 4 || o + len > end) {
        c.badSets++;
        return;
      }
      if (id === 2 || id === 3) readTemplateSet(buf, o + 4, o + len, id, visitor);
      else if (id >= 256) {
        const e = templates.get(odid * 65536 + id);
        if (!e) c.badSets++;
        else {
          dataSetRecords(e.t, buf, o + 4, o + len, st);
          if (e.marked) c.marked += st[0];
          else c.other += st[0];
        }
      }
      o += len;
    }
  };
  return c;
}

/**
 * Counts the records in the IPFIX files of `dir` (stem*.ipfix and the one being written, *.ipfix.part),
 * reading only what was appended since the last call. Returns the running totals. With `removeRead`, a
 * closed file (renamed from .part) is deleted once read to its end, so a long run needs little disk.
 */
export function ipfixDirCounter(dir, enterprise, { removeRead = false } = {}) {
  const files = new Map(); // name without .part → { counter, offset }
  const totals = { marked: 0, other: 0, messages: 0, badSets: 0, files: 0 };
  const retired = { marked: 0, other: 0, messages: 0, badSets: 0, files: 0 };
  const chunk = Buffer.alloc(1 << 22);
  return function count() {
    let names;
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.ipfix') || n.endsWith('.ipfix.part'));
    } catch {
      return totals;
    }
    for (const name of names.sort()) {
      const key = name.replace(/\.part$/, '');
      let f = files.get(key);
      if (!f) files.set(key, (f = { counter: ipfixCounter(enterprise), offset: 0 }));
      let fd;
      let size = 0;
      try {
        fd = openSync(join(dir, name), 'r');
      } catch {
        continue; // renamed between readdir and open: read under its new name next time
      }
      try {
        size = fstatSync(fd).size;
        // Whole messages only; a message cut at the end is read again next time.
        while (f.offset + 4 <= size) {
          const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - f.offset), f.offset);
          let o = 0;
          while (n - o >= 4) {
            const length = chunk.readUInt16BE(o + 2);
            if (length < 16 || o + length > n) break;
            f.counter.message(chunk, o, length);
            o += length;
          }
          if (o === 0) break;
          f.offset += o;
        }
      } finally {
        closeSync(fd);
      }
      if (removeRead && name === key && f.offset >= size) {
        unlinkSync(join(dir, name));
        files.delete(key);
        for (const k of ['marked', 'other', 'messages', 'badSets']) retired[k] += f.counter[k];
        retired.files++;
      }
    }
    Object.assign(totals, retired);
    for (const { counter } of files.values()) {
      totals.marked += counter.marked;
      totals.other += counter.other;
      totals.messages += counter.messages;
      totals.badSets += counter.badSets;
    }
    totals.files += files.size;
    return totals;
  };
}
