// RFC 5655 IPFIX files are IPFIX Messages one after another; each message's header says its length.

import { IPFIX_VERSION, MESSAGE_HEADER_LENGTH } from './constants.js';

export type FileItem = { message: Buffer; offset: number } | { error: string; offset: number };

/** The messages of an IPFIX file in order; stops with an error item at the first unreadable header. */
export function* readIpfixFile(buf: Buffer): Generator<FileItem> {
  let off = 0;
  while (off < buf.length) {
    if (off + MESSAGE_HEADER_LENGTH > buf.length) {
      yield { error: `truncated file: ${buf.length - off} octets left, less than a message header`, offset: off };
      return;
    }
    const version = buf.readUInt16BE(off);
    const length = buf.readUInt16BE(off + 2);
    if (version !== IPFIX_VERSION) {
      yield { error: `not an IPFIX message: version ${version}`, offset: off };
      return;
    }
    if (length < MESSAGE_HEADER_LENGTH) {
      yield { error: `message length ${length} is shorter than its header`, offset: off };
      return;
    }
    if (off + length > buf.length) {
      yield { error: `truncated file: message of ${length} octets, ${buf.length - off} left`, offset: off };
      return;
    }
    yield { message: buf.subarray(off, off + length), offset: off };
    off += length;
  }
}
