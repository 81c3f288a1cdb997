// Exporter control (RFC 6183 §9): an input's `allow` list of address prefixes. Prefixes are parsed once into
// 32-bit words and masks; a source address (the text dgram/net hand over) is read into preallocated words
// and compared as numbers, so checking a datagram allocates nothing. IPv4-mapped IPv6 sources
// (::ffff:a.b.c.d, what a dual-stack socket reports) match IPv4 prefixes, and IPv4 sources match IPv6
// prefixes that cover their mapped form (as net.BlockList does).

interface Prefix4 {
  network: number;
  mask: number;
}
interface Prefix6 {
  /** Four 32-bit words, already masked. */
  network: Uint32Array;
  mask: Uint32Array;
}

/** "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (a host) → parsed, or an error message. */
export function parseCidr(text: string): { v4: Prefix4 } | { v6: Prefix6 } | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  const words = new Uint32Array(4);
  const read = readAddress(addr, words);
  if (read === 0) return `"${text}" is not an IPv4 or IPv6 address prefix (e.g. 192.0.2.0/24, 2001:db8::/32)`;
  // Written with a colon it is an IPv6 prefix (::ffff:192.0.2.0/120 included), whatever it reads as.
  const family = addr.includes(':') ? 6 : 4;
  if (family === 6 && read === 4) {
    words[0] = 0;
    words[1] = 0;
    words[2] = 0xffff;
  }
  const max = family === 4 ? 32 : 128;
  const len = lenText === undefined ? max : /^\d{1,3}$/.test(lenText) ? Number(lenText) : -1;
  if (len < 0 || len > max) return `"${text}": prefix length must be 0 to ${max}`;
  if (family === 4) {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return { v4: { network: (words[3]! & mask) >>> 0, mask } };
  }
  const mask = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - i * 32));
    mask[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    words[i] = (words[i]! & mask[i]!) >>> 0;
  }
  return { v6: { network: words, mask } };
}

export class AllowList {
  private readonly v4: Prefix4[] = [];
  private readonly v6: Prefix6[] = [];
  /** Scratch words the source address is read into (the check allocates nothing). */
  private readonly words = new Uint32Array(4);

  /** Throws on a prefix that does not parse (the config loader has validated them already). */
  constructor(readonly prefixes: readonly string[]) {
    for (const p of prefixes) {
      const r = parseCidr(p);
      if (typeof r === 'string') throw new Error(r);
      if ('v4' in r) this.v4.push(r.v4);
      else this.v6.push(r.v6);
    }
  }

  /** Is a datagram or connection from `address` allowed? */
  admits(address: string): boolean {
    const w = this.words;
    const family = readAddress(address, w);
    if (family === 0) return false;
    if (family === 4) {
      const a = w[3]!;
      for (let i = 0; i < this.v4.length; i++) {
        const p = this.v4[i]!;
        if (((a & p.mask) >>> 0) === p.network) return true;
      }
      // An IPv4 source also matches IPv6 prefixes that cover its mapped form ::ffff:a.b.c.d.
      w[0] = 0;
      w[1] = 0;
      w[2] = 0xffff;
    }
    for (let i = 0; i < this.v6.length; i++) {
      const p = this.v6[i]!;
      if (
        ((w[0]! & p.mask[0]!) >>> 0) === p.network[0] &&
        ((w[1]! & p.mask[1]!) >>> 0) === p.network[1] &&
        ((w[2]! & p.mask[2]!) >>> 0) === p.network[2] &&
        ((w[3]! & p.mask[3]!) >>> 0) === p.network[3]
      )
        return true;
    }
    return false;
  }
}

const DOT = 46;
const COLON = 58;
const PERCENT = 37;

/**
 * Reads an address into `out` (IPv4 in out[3]; IPv6 as four big-endian words). Returns 4, 6 (IPv4-mapped
 * IPv6 reads as 4), or 0 when the text is not an address. No allocation.
 */
function readAddress(s: string, out: Uint32Array): 0 | 4 | 6 {
  if (s.indexOf(':') < 0) {
    const v = readIpv4(s, 0, s.length);
    if (v < 0) return 0;
    out[3] = v;
    return 4;
  }
  return readIpv6(s, out);
}

/** Dotted quad in s[start, end) → its 32-bit value, or −1. */
function readIpv4(s: string, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text (with "::", an embedded IPv4 tail, a %zone) → four words in `out`. */
function readIpv6(s: string, out: Uint32Array): 0 | 4 | 6 {
  let end = s.indexOf('%');
  if (end < 0) end = s.length;
  // Groups before "::" go from the front, after it from the back; 16-bit groups kept in out as pairs.
  out[0] = out[1] = out[2] = out[3] = 0;
  let group = 0; // groups written
  let gap = -1; // group index where "::" stands
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === COLON && s.charCodeAt(1) === COLON) {
    gap = 0;
    i = 2;
  } else if (end > 0 && s.charCodeAt(0) === COLON) return 0;
  while (i < end) {
    // An IPv4 tail: the rest holds a dot.
    let j = i;
    let hasDot = false;
    while (j < end && s.charCodeAt(j) !== COLON) {
      if (s.charCodeAt(j) === DOT) hasDot = true;
      j++;
    }
    if (hasDot) {
      if (j !== end || group > 6) return 0;
      const v = readIpv4(s, i, end);
      if (v < 0) return 0;
      setGroup(out, group++, v >>> 16);
      setGroup(out, group++, v & 0xffff);
      i = end;
      break;
    }
    if (j === i || j - i > 4 || group > 7) return 0;
    let g = 0;
    for (let k = i; k < j; k++) {
      const h = hexValue(s.charCodeAt(k));
      if (h < 0) return 0;
      g = g * 16 + h;
    }
    setGroup(out, group++, g);
    i = j;
    if (i < end) {
      // a colon; a second one right after it is the "::"
      i++;
      if (i < end && s.charCodeAt(i) === COLON) {
        if (gap >= 0) return 0;
        gap = group;
        i++;
      } else if (i === end) return 0; // trailing single colon
    }
  }
  if (gap < 0 && group !== 8) return 0;
  if (gap >= 0) {
    if (group > 7) return 0;
    // Move the groups after the gap to the end.
    const tail = group - gap;
    for (let k = tail - 1; k >= 0; k--) {
      const v = getGroup(out, gap + k);
      setGroup(out, gap + k, 0);
      setGroup(out, 8 - tail + k, v);
    }
  }
  // ::ffff:a.b.c.d is an IPv4 source on a dual-stack socket.
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) return 4;
  return 6;
}

function setGroup(out: Uint32Array, g: number, v: number): void {
  const w = g >> 1;
  out[w] = g & 1 ? ((out[w]! & 0xffff0000) | v) >>> 0 : ((v << 16) | (out[w]! & 0xffff)) >>> 0;
}
function getGroup(out: Uint32Array, g: number): number {
  const w = out[g >> 1]!;
  return g & 1 ? w & 0xffff : w >>> 16;
}
