// Datagrams handed from the main thread (which owns the UDP socket) to a worker thread, many at a time in
// one SharedArrayBuffer that is posted (no copy, no transfer: messages.ts) and comes back to be reused.
// The main thread copies each datagram once, from dgram's Buffer into the batch; the worker decodes it in
// place.
//
// Layout: a header (count u32, used u32), then per datagram
//   port u16 | address length u8 | address text (latin1) | length u32 | datagram octets

import { endBatch, startBatch } from '../collect/arrival.js';
import { readingReceiveArea } from '../collect/sflow/plan-memory.js';

/**
 * Batch size: room for about 45 sFlow datagrams of 1,400 octets (libuv reads at most 32 datagrams per
 * readiness of a socket, so a batch rarely fills); a larger datagram gets a batch of its own size.
 */
export const DATAGRAM_BATCH_BYTES = 64 * 1024;
const HEADER = 8;
/** Per-datagram overhead besides the address text: port, address length, datagram length. */
const ENTRY = 2 + 1 + 4;

/** The batch being filled on the main thread. */
export class DatagramBatch {
  readonly bytes: Buffer;
  count = 0;
  private used = HEADER;

  constructor(readonly buffer: ArrayBufferLike = new SharedArrayBuffer(DATAGRAM_BATCH_BYTES)) {
    this.bytes = Buffer.from(buffer);
  }

  /** Octets a batch holding only this datagram needs. */
  static room(address: string, length: number): number {
    return HEADER + ENTRY + address.length + length;
  }

  /** Does a datagram of `length` octets from `address` still fit? */
  fits(address: string, length: number): boolean {
    return this.used + ENTRY + address.length + length <= this.bytes.length;
  }

  /** Appends (the caller checked `fits`). */
  add(datagram: Buffer, address: string, port: number): void {
    const b = this.bytes;
    let o = this.used;
    b.writeUInt16LE(port, o);
    const n = b.write(address, o + 3, 'latin1');
    b[o + 2] = n;
    o += 3 + n;
    b.writeUInt32LE(datagram.length, o);
    o += 4;
    datagram.copy(b, o);
    this.used = o + datagram.length;
    this.count++;
  }

  /** Writes the header; the buffer is then ready to post. */
  seal(): ArrayBufferLike {
    this.bytes.writeUInt32LE(this.count, 0);
    this.bytes.writeUInt32LE(this.used, 4);
    return this.buffer;
  }
}

/** A datagram: the octets bytes[start, end) (a view of them would cost an object per datagram). */
export type DatagramHandler = (bytes: Buffer, start: number, end: number, address: string, port: number) => void;

/** A view of the datagram bytes[start, end), for code that needs one: the bytes themselves when they are all of it. */
export function viewOf(bytes: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
}

/**
 * Reads a sealed batch: `each` gets where every datagram lies in it (valid until the batch goes back to the
 * main thread, or the receiver reads again). Consecutive datagrams from one address share one address
 * string.
 */
export class DatagramReader {
  private lastAddress = '';
  private readonly lastBytes = Buffer.alloc(64);
  private lastLength = -1;

  /** Reads the sealed batch in `b` (a posted batch's buffer, or a receiver's batch). */
  read(b: Buffer, each: DatagramHandler): number {
    // Fields through a DataView: Buffer#readUInt32LE checks its argument on every call.
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const count = v.getUint32(0, true);
    const used = v.getUint32(4, true);
    // One arrival time for the batch (collect/arrival.ts); the sFlow decoder reads the datagrams of a batch
    // in a receive area where they lie (collect/sflow/plan-memory.ts).
    startBatch();
    readingReceiveArea(b);
    try {
      this.handOn(b, v, count, used, each);
    } finally {
      readingReceiveArea(null);
      endBatch();
    }
    return count;
  }

  /** Hands on the batch's datagrams. */
  private handOn(b: Buffer, v: DataView, count: number, used: number, each: DatagramHandler): void {
    let o = HEADER;
    for (let i = 0; i < count && o + ENTRY <= used; i++) {
      const port = v.getUint16(o, true);
      const n = b[o + 2]!;
      const at = o + 3;
      const address = this.address(b, at, n);
      o = at + n;
      const length = v.getUint32(o, true);
      o += 4;
      each(b, o, o + length, address, port);
      o += length;
    }
  }

  /** The address text at b[at, at+n): the previous string when the octets are the same. */
  private address(b: Buffer, at: number, n: number): string {
    if (n === this.lastLength && this.same(b, at, n)) return this.lastAddress;
    b.copy(this.lastBytes, 0, at, at + n);
    this.lastLength = n;
    this.lastAddress = b.toString('latin1', at, at + n);
    return this.lastAddress;
  }

  /** Are b[at, at+n) the last address's octets? (A loop: Buffer#compare is a native call, for ~12 octets.) */
  private same(b: Buffer, at: number, n: number): boolean {
    const last = this.lastBytes;
    for (let i = 0; i < n; i++) if (b[at + i] !== last[i]) return false;
    return true;
  }
}
