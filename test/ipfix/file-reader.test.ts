// RFC 5655 file reading: an IPFIX file is IPFIX Messages back to back. Files here are built from the
// corpus' real messages (the datagram payloads of a capture, concatenated) and then cut or corrupted.

import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { corpus } from '../mapping/harness.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { readIpfixFile, type FileItem } from '../../src/ipfix/file-reader.js';

const payloads = udpPayloads(resolve(corpus, 'ipfix/pmacct__400-IPFIX-CISCO-SRv6.pcap')).map((p) => p.payload);
const file = Buffer.concat(payloads);
const items = (b: Buffer): FileItem[] => [...readIpfixFile(b)];

describe('readIpfixFile', () => {
  it('yields every message of a file made of 583 real messages, byte for byte and at its offset', () => {
    const got = items(file);
    expect(got).toHaveLength(583);
    let off = 0;
    got.forEach((item, i) => {
      expect('message' in item).toBe(true);
      if (!('message' in item)) return;
      expect(item.offset).toBe(off);
      expect(item.message.equals(payloads[i]!)).toBe(true);
      off += payloads[i]!.length;
    });
  });

  it('an empty file has no messages', () => {
    expect(items(Buffer.alloc(0))).toEqual([]);
  });

  it('a tail cut inside a message: every whole message, then one clear error at the cut message', () => {
    const lastStart = file.length - payloads.at(-1)!.length;
    const got = items(file.subarray(0, file.length - 5));
    expect(got).toHaveLength(583);
    expect(got.at(-1)).toEqual({ offset: lastStart, error: `truncated file: message of ${payloads.at(-1)!.length} octets, ${payloads.at(-1)!.length - 5} left` });
  });

  it('a tail cut inside a message header', () => {
    const lastStart = file.length - payloads.at(-1)!.length;
    const got = items(file.subarray(0, lastStart + 10));
    expect(got.at(-1)).toEqual({ offset: lastStart, error: 'truncated file: 10 octets left, less than a message header' });
    expect(got.filter((i) => 'message' in i)).toHaveLength(582);
  });

  it('stops at a message that is not IPFIX or whose length is below its header', () => {
    const second = payloads[0]!.length;
    const bad = Buffer.from(file.subarray(0, second + payloads[1]!.length));
    bad.writeUInt16BE(9, second);
    expect(items(bad)).toEqual([expect.objectContaining({ offset: 0 }), { offset: second, error: 'not an IPFIX message: version 9' }]);
    bad.writeUInt16BE(10, second);
    bad.writeUInt16BE(12, second + 2);
    expect(items(bad)[1]).toEqual({ offset: second, error: 'message length 12 is shorter than its header' });
  });
});
