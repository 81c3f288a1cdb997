// Octet-level helpers shared by the SCTP codec: network-order integers on plain Uint8Arrays (no
// Buffer, no DataView: the codec runs on any Uint8Array), 4-octet padding, the typed decode error,
// and the textual forms of the IPv4/IPv6 addresses that INIT parameters carry.

/** Every decode failure is one of these; the codec never throws on received bytes. */
export type DecodeErrorCode =
  | 'packet-too-short' // fewer octets than a common header and one chunk header
  | 'bad-checksum' // the CRC32c in the common header does not match the packet
  | 'no-chunks' // a common header and nothing after it
  | 'chunk-too-short' // Chunk Length below 4, or below the fixed part of its chunk type
  | 'chunk-past-end' // Chunk Length runs past the end of the packet
  | 'bad-padding' // the chunk's padding to a multiple of 4 runs past the end of the packet
  | 'bad-chunk-length' // Chunk Length disagrees with the chunk's own counts or fixed size
  | 'parameter-too-short' // Parameter Length below 4 or below its type's fixed size
  | 'parameter-past-end' // a parameter runs past the end of its chunk
  | 'bad-parameter-length' // a fixed-size parameter has another length
  | 'missing-parameter' // a parameter the chunk cannot do without is absent (Heartbeat Info)
  | 'cause-too-short' // Cause Length below 4 or below its cause's fixed size
  | 'cause-past-end' // an error cause runs past the end of its chunk
  | 'bad-cause-length'; // a cause's length disagrees with its own counts

export interface DecodeError {
  code: DecodeErrorCode;
  /** Octet offset of the offending field or structure, from the start of the packet (or of the chunk, for decodeChunk alone). */
  offset: number;
  /** Type of the chunk in which the error was found, -1 when it is in the common header. */
  chunkType: number;
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

export function fail(code: DecodeErrorCode, offset: number, chunkType: number, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { code, offset, chunkType, message } };
}

/** What a receiver does with a chunk or parameter type it does not understand (RFC 9260 §3.2, §3.2.1): the top two bits of the type. */
export type UnrecognizedAction = 'stop' | 'stop-and-report' | 'skip' | 'skip-and-report';

const ACTIONS: readonly UnrecognizedAction[] = ['stop', 'stop-and-report', 'skip', 'skip-and-report'];

/** Action for an unrecognized chunk type (8 bits): 00 stop, 01 stop and report, 10 skip, 11 skip and report. */
export function chunkTypeAction(chunkType: number): UnrecognizedAction {
  return ACTIONS[(chunkType >>> 6) & 3]!;
}

/** Action for an unrecognized parameter type (16 bits), same encoding in the top two bits. */
export function parameterTypeAction(parameterType: number): UnrecognizedAction {
  return ACTIONS[(parameterType >>> 14) & 3]!;
}

/** Length rounded up to a multiple of 4 (RFC 9260 §3.2: chunks, parameters and causes are padded with zeros). */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}

export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Zero the padding octets between `end` and the next multiple of 4 (relative to `base`); returns the padded end. */
export function zeroPad(b: Uint8Array, base: number, end: number): number {
  const padded = base + pad4(end - base);
  for (let i = end; i < padded; i++) b[i] = 0;
  return padded;
}

export function formatIPv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (two or more) of zero groups as "::". */
export function formatIPv6(b: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, o + 2 * i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Write a dotted-quad IPv4 address as 4 octets; throws on text that is not one (a programming error, not received input). */
export function writeIPv4(b: Uint8Array, o: number, text: string): void {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new Error(`not an IPv4 address: ${text}`);
    b[o + i] = v;
  }
}

/** Write an IPv6 address (with "::" and an optional dotted-quad tail) as 16 octets; throws on bad text. */
export function writeIPv6(b: Uint8Array, o: number, text: string): void {
  const bad = () => new Error(`not an IPv6 address: ${text}`);
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = new Uint8Array(4);
        writeIPv4(v4, 0, p);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw bad();
        out.push(parseInt(p, 16));
      }
    });
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw bad();
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  for (let i = 0; i < 8; i++) put16(b, o + 2 * i, all[i]!);
}
