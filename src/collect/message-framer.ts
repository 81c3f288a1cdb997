// IPFIX over a byte stream (TCP, TLS; RFC 7011 §10.4): the stream is a sequence of IPFIX Messages, each
// framed by the Length field of its header. Whole messages inside a received segment are handed on as they
// are (a view each, no copy); only a message split across segments is copied,
// into one reassembly buffer of the largest message size, so a connection can never hold more than one
// message in memory. A stream that is not IPFIX (version ≠ 10, length < 16) cannot be re-synchronised:
// the framer reports it and the caller closes the connection.

import { IPFIX_VERSION, MESSAGE_HEADER_LENGTH } from '../ipfix/constants.js';
import { DropReason, type DropReasonValue } from '../observe/metrics.js';

/** Largest IPFIX Message: its Length field has 16 bits. */
const MAX_MESSAGE = 65535;
/** Version and Length: what is needed to frame the next message. */
const FRAMING_OCTETS = 4;

export interface FramingError {
  reason: DropReasonValue;
  message: string;
}

export class MessageFramer {
  /** Reassembly buffer for one message split across segments, made on first need. */
  private partial?: Buffer;
  /** Octets of the split message held in `partial`. */
  private have = 0;
  /** Its length, once its first four octets are in; 0 before. */
  private need = 0;
  /** Octets of the stream framed so far (for error offsets). */
  private offset = 0;

  /**
   * @param deliver receives one whole message. The buffer is only valid during the call (the reassembly
   *   buffer is reused), as for every sink in this project.
   */
  constructor(private readonly deliver: (messages: Buffer) => void) {}

  /** Octets of an incomplete message waiting for the rest of it. */
  get buffered(): number {
    return this.have;
  }

  /** Frames one received segment. Returns an error when the stream is not IPFIX; nothing more may be pushed then. */
  push(chunk: Buffer): FramingError | undefined {
    let o = 0;
    if (this.have > 0) {
      o = this.completePartial(chunk);
      if (o < 0) return this.error(this.partial!, 0);
      if (this.have > 0) return undefined; // the chunk went into the split message, which is still incomplete
    }
    // Whole messages straight from the segment (a view each, no copy): the common path.
    let end = o;
    while (chunk.length - end >= FRAMING_OCTETS) {
      const length = chunk.readUInt16BE(end + 2);
      if (chunk.readUInt16BE(end) !== IPFIX_VERSION || length < MESSAGE_HEADER_LENGTH) return this.error(chunk, end);
      if (chunk.length - end < length) break;
      this.offset += length;
      this.deliver(end === 0 && length === chunk.length ? chunk : chunk.subarray(end, end + length));
      end += length;
    }
    if (end < chunk.length) {
      // The start of a message whose rest is in later segments.
      const p = (this.partial ??= Buffer.allocUnsafe(MAX_MESSAGE));
      this.have = chunk.copy(p, 0, end);
      this.need = this.have >= FRAMING_OCTETS ? p.readUInt16BE(2) : 0;
    }
    return undefined;
  }

  /** Adds the start of `chunk` to the split message; returns the octets of `chunk` used, or −1 when its header is not IPFIX. */
  private completePartial(chunk: Buffer): number {
    const p = this.partial!;
    let used = 0;
    if (this.need === 0) {
      used = chunk.copy(p, this.have, 0, Math.min(chunk.length, FRAMING_OCTETS - this.have));
      this.have += used;
      if (this.have < FRAMING_OCTETS) return used;
      if (p.readUInt16BE(0) !== IPFIX_VERSION || p.readUInt16BE(2) < MESSAGE_HEADER_LENGTH) return -1;
      this.need = p.readUInt16BE(2);
    }
    const n = chunk.copy(p, this.have, used, used + Math.min(chunk.length - used, this.need - this.have));
    this.have += n;
    used += n;
    if (this.have === this.need) {
      const length = this.need;
      this.have = 0;
      this.need = 0;
      this.offset += length;
      this.deliver(p.subarray(0, length));
    }
    return used;
  }

  private error(buf: Buffer, at: number): FramingError {
    const version = buf.readUInt16BE(at);
    const length = buf.readUInt16BE(at + 2);
    return version !== IPFIX_VERSION
      ? { reason: DropReason.badVersion, message: `not an IPFIX stream: version ${version} at stream offset ${this.offset}` }
      : { reason: DropReason.badLength, message: `not an IPFIX stream: message length ${length} (< 16) at stream offset ${this.offset}` };
  }
}
