// The disk part of an output queue: a FIFO of IPFIX Messages kept as RFC 5655 IPFIX files (messages one
// after another) in the output's spool directory. Messages are appended to the newest file, read back from
// the oldest, and a file is deleted once read. The number of Data Records of each message is kept beside
// (in memory), for sequence numbers and drop counters: the spool lives as long as the process.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface SpoolFile {
  readonly path: string;
  fd: number;
  /** Octets written. */
  bytes: number;
  /** Data Records of each message, in order. */
  readonly records: number[];
  /** Reading: the file's content once loaded, the next message's offset and index. */
  data?: Buffer;
  readOffset: number;
  readIndex: number;
}

export interface SpooledMessage {
  buf: Buffer;
  records: number;
}

export class SpoolFiles {
  private readonly files: SpoolFile[] = [];
  private serial = 0;
  private readonly run: string;
  /** Octets of messages not yet read. */
  bytes = 0;
  /** Messages not yet read. */
  messages = 0;
  /** Data Records in them. */
  records = 0;

  constructor(
    readonly dir: string,
    /** Start a new file past this size, so read files can be deleted while the spool is still filled. */
    private readonly fileBytes: number,
    /** Part of every file name (the output's name), so outputs may share a directory. */
    private readonly tag: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.run = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  }

  /** Files of output `tag` in `dir` before this run wrote any (left by an earlier run). */
  static leftovers(dir: string, tag: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => f.endsWith('.ipfix') && (f.startsWith(`spool-${tag}-`) || f.startsWith(`unsent-${tag}-`)));
  }

  get empty(): boolean {
    return this.messages === 0;
  }

  append(buf: Buffer, records: number): void {
    let f = this.files.at(-1);
    if (!f || f.fd < 0 || f.bytes >= this.fileBytes) f = this.open();
    writeSync(f.fd, buf);
    f.bytes += buf.length;
    f.records.push(records);
    this.bytes += buf.length;
    this.messages++;
    this.records += records;
  }

  private open(): SpoolFile {
    const path = join(this.dir, `spool-${this.tag}-${this.run}-${String(++this.serial).padStart(6, '0')}.ipfix`);
    const f: SpoolFile = { path, fd: openSync(path, 'w'), bytes: 0, records: [], readOffset: 0, readIndex: 0 };
    this.files.push(f);
    return f;
  }

  /** The oldest unread message (its buffer is a view of the file's content), or undefined. */
  peek(): SpooledMessage | undefined {
    const f = this.files[0];
    if (!f || f.readIndex >= f.records.length) return undefined;
    if (!f.data) {
      // A file is read whole, once nothing more will be written to it.
      if (f.fd >= 0) {
        closeSync(f.fd);
        f.fd = -1;
      }
      f.data = readFileSync(f.path);
    }
    const len = f.data.readUInt16BE(f.readOffset + 2);
    return { buf: f.data.subarray(f.readOffset, f.readOffset + len), records: f.records[f.readIndex]! };
  }

  /** Consume the message peek() returned. */
  shift(): void {
    const f = this.files[0];
    if (!f?.data) return;
    const len = f.data.readUInt16BE(f.readOffset + 2);
    f.readOffset += len;
    f.readIndex++;
    this.bytes -= len;
    this.messages--;
    this.records -= f.records[f.readIndex - 1]!;
    if (f.readIndex >= f.records.length) this.remove(f);
  }

  /** Takes every unread message of the oldest file out of the spool (policy drop-oldest), in order. */
  takeOldestFile(): SpooledMessage[] {
    const out: SpooledMessage[] = [];
    const f = this.files[0];
    if (!f) return out;
    // Counted, so that the next file is not loaded (nor the one being written closed) by looking past the end.
    for (let left = f.records.length - f.readIndex; left > 0; left--) {
      out.push(this.peek()!);
      this.shift();
    }
    return out;
  }

  private remove(f: SpoolFile): void {
    if (f.fd >= 0) closeSync(f.fd);
    f.fd = -1;
    f.data = undefined;
    try {
      unlinkSync(f.path);
    } catch {
      // already gone: nothing to keep
    }
    const i = this.files.indexOf(f);
    if (i >= 0) this.files.splice(i, 1);
  }

  /** Close every file and delete them (what was unread is the caller's to account for). */
  clear(): void {
    for (const f of [...this.files]) this.remove(f);
    this.bytes = 0;
    this.messages = 0;
    this.records = 0;
  }
}
