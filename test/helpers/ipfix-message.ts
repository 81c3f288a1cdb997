// IPFIX Messages built byte by byte for tests (RFC 7011 §3.1, §3.3.2): a Message Header (version 10,
// length, export time 1,700,000,000, sequence number, Observation Domain ID) followed by Sets, each a Set
// Header (Set ID, length) and its body. Template 256 below is the one the stream tests share.

/** An IPFIX Message with Sequence Number 0: header, then the sets as given. */
export function ipfix(odid: number, ...sets: Buffer[]): Buffer {
  return ipfixMessage(odid, 0, sets);
}

/** An IPFIX Message with this Sequence Number: header, then the sets as given. */
export function ipfixMessage(odid: number, sequence: number, sets: Buffer[]): Buffer {
  const body = Buffer.concat(sets);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + body.length, 2);
  h.writeUInt32BE(1_700_000_000, 4);
  h.writeUInt32BE(sequence, 8);
  h.writeUInt32BE(odid, 12);
  return Buffer.concat([h, body]);
}

/** A Set: Set ID (2 template, 3 options template, ≥ 256 data) and length, then `body`. */
export function set(id: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([h, body]);
}

/** Template 256: sourceIPv4Address (8, 4 octets), destinationTransportPort (11, 2 octets). */
export const template256 = set(2, Buffer.from([1, 0, 0, 2, 0, 8, 0, 4, 0, 11, 0, 2]));
/** Withdrawal of template 256: a template record with field count 0 (RFC 7011 §8.1). */
export const withdraw256 = set(2, Buffer.from([1, 0, 0, 0]));
