// IPFIX files (RFC 5655): messages appended to a file; a new file past rotate.maxBytes or rotate.interval.
// Each file is written under a ".part" name and renamed when complete, and each starts with every live
// template (a new Transport Session), so every closed file can be read on its own.

import { closeSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { FileRotation } from '../config/types.js';
import type { Transport } from './transport.js';
import { filesWritten, transportUp } from '../observe/metrics.js';
import { log } from '../observe/log.js';

/** file:///abs/path.ipfix or file:relative/path.ipfix → absolute path (relative to the working directory). */
export function filePathOf(url: string): string {
  const p = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url.slice('file:'.length);
  return resolve(p);
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export class FileTransport implements Transport {
  readonly reliable = false;
  readonly refreshesTemplates = false;
  readonly maxMessage = 65535;
  /** writeSync: the message is in the file (the page cache) when send() returns. */
  readonly doneOnReturn = true;
  private fd = -1;
  private current = '';
  private bytes = 0;
  private openedAt = 0;
  private onSession: () => void = () => {};
  private readonly dir: string;
  private readonly stem: string;
  private readonly ext: string;

  constructor(
    private readonly output: string,
    url: string,
    private readonly rotation: FileRotation,
  ) {
    const path = filePathOf(url);
    this.dir = dirname(path);
    this.ext = extname(path) || '.ipfix';
    this.stem = basename(path, extname(path));
  }

  async start(onSession: () => void): Promise<void> {
    this.onSession = onSession;
    mkdirSync(this.dir, { recursive: true });
    this.open();
  }

  private open(): void {
    const base = `${this.stem}-${stamp(new Date())}`;
    let name = join(this.dir, base + this.ext);
    for (let n = 1; existsSync(name) || existsSync(name + '.part'); n++) name = join(this.dir, `${base}-${n}${this.ext}`);
    this.current = name;
    this.fd = openSync(name + '.part', 'wx');
    this.bytes = 0;
    this.openedAt = Date.now();
    transportUp.set({ output: this.output }, 1);
    this.onSession();
  }

  private finish(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    if (this.bytes === 0) unlinkSync(this.current + '.part');
    else {
      renameSync(this.current + '.part', this.current);
      filesWritten.inc({ output: this.output });
      log.info({ output: this.output, file: this.current, bytes: this.bytes }, 'IPFIX file closed');
    }
    this.prune();
  }

  private prune(): void {
    if (this.rotation.keep <= 0) return;
    const mine = readdirSync(this.dir)
      .filter((f) => f.startsWith(this.stem + '-') && f.endsWith(this.ext))
      .sort();
    for (const f of mine.slice(0, Math.max(0, mine.length - this.rotation.keep))) unlinkSync(join(this.dir, f));
  }

  isUp(): boolean {
    return this.fd >= 0;
  }

  send(message: Buffer): true | { reason: string } {
    if (this.fd < 0) return { reason: 'transport_down' };
    writeSync(this.fd, message);
    this.bytes += message.length;
    return true;
  }

  rotateDue(): boolean {
    return this.bytes > 0 && (this.bytes >= this.rotation.maxBytes || Date.now() - this.openedAt >= this.rotation.interval * 1000);
  }

  rotate(): void {
    this.finish();
    this.open();
  }

  async close(): Promise<void> {
    this.finish();
    transportUp.set({ output: this.output }, 0);
  }
}
