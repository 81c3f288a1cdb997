// WebAssembly for the columns of a compiled flow-sample plan (sample-plan.ts). A fact read as it stands
// from the datagram (or the clock) is moved: maybe cut to its low octets, led by zeros, or masked; both
// sides are big-endian octets and a move keeps them in order, so it is a load and a store, with a mask
// swapped once when the plan is made. A fact that computes (a comparison, a sum, a shift) is evaluated on
// native numbers, its reads byte-swapped, and stored byte-swapped. The AS path and communities follow as
// variable-length fields (tails). Scaled counts, 64-bit products that the general decoder computes as
// doubles, stay in the JavaScript part of the plan.
//
// The module has one function: the record's position in its staging chunk → where the record ends; it adds
// the chunk's address in the plan memory, which it imports.

import { PLAN_MEMORY } from './plan-memory.js';
import { ALL_OF, BGP_COMMUNITY_ID } from './formats.js';
import { add, and, be16, be32, block, br, brIf, type Code, eq, type Func, geU, get, i32, instantiate, load, loop, ltS, ltU, moduleOf, ne, set, shl, shrU, store, sub, swap16, swap32, when } from './wasm-asm.js';

/** No mask: every bit of the read. */
export const ALL = 0xffffffff;

/** A number fact, in big-endian octets in the datagram and in the record. */
export type Expr =
  /** `width` octets at the position in slot `base` + `offset`, a big-endian number, masked. */
  | { kind: 'read'; base: number; offset: number; width: 1 | 2 | 4; mask: number }
  | { kind: 'constant'; value: number }
  /** The value of slot `slot` (a position, or -1 for none). */
  | { kind: 'slot'; slot: number }
  /** `<` is signed (slots); the others are on 32-bit numbers, `===`, `!==`, `<` and `&&` giving 0 or 1. */
  | { kind: 'op'; op: '&' | '>>>' | '+' | '===' | '!==' | '<' | '&&'; a: Expr; b: Expr }
  /** `then` or `otherwise` by `cond`; only the one chosen is read. */
  | { kind: 'if'; cond: Expr; then: Expr; otherwise: Expr };

/** Octets copied as they stand from the position in slot `base` + `offset`, or from `offset` of the memory
 *  when `base` is -1 (the clock). */
export interface Copy {
  kind: 'copy';
  base: number;
  offset: number;
}

export type Fact = Expr | Copy;

/** A fact written into a record column of `length` octets at `to` (from the record's start). */
export interface PlacedFact {
  fact: Fact;
  to: number;
  length: number;
}

/** A variable-length field after the fixed ones (gateway.ts writeCommunities, writeAsPath), with the slots
 *  that say where its parts are. */
export type Tail =
  | { kind: 'communities'; count: number }
  | { kind: 'asPath'; path: number; segments: number; asns: number };

/** The value whose little-endian octets are `v`'s `width` big-endian ones: what a wasm load of them gives. */
function swapped(v: number, width: number): number {
  let r = 0;
  for (let i = 0; i < width; i++) r |= ((v >>> (8 * (width - 1 - i))) & 0xff) << (8 * i);
  return r | 0;
}

/** The slots an expression reads. */
function slotsOf(f: Fact): number[] {
  switch (f.kind) {
    case 'read':
    case 'copy':
      return f.base < 0 ? [] : [f.base];
    case 'slot':
      return [f.slot];
    case 'op':
      return [...slotsOf(f.a), ...slotsOf(f.b)];
    case 'if':
      return [...slotsOf(f.cond), ...slotsOf(f.then), ...slotsOf(f.otherwise)];
    default:
      return [];
  }
}

const OPS = { '&': and, '>>>': shrU, '+': add, '===': eq, '!==': ne, '<': ltS, '&&': and } as const;

/**
 * The function writing `facts` for a record of `length` fixed octets in the chunk at `chunkAddress`, then
 * its `tails`: each slot it reads loaded once into a local. Locals: 0 the record's position, then the
 * slots, then the record's address, a value being swapped (in the tails, a field's length), a scratch for
 * byte swaps, and for the tails the
 * write cursor, a count, an index and a read position.
 */
function func(facts: readonly PlacedFact[], length: number, tails: readonly Tail[], slotsAt: number, chunkAddress: number): Func {
  const tailSlots = tails.flatMap((t) => (t.kind === 'communities' ? [t.count] : [t.path, t.segments, t.asns]));
  const bases = [...new Set([...facts.flatMap(({ fact }) => slotsOf(fact)), ...tailSlots])];
  const local = (slot: number) => 1 + bases.indexOf(slot);
  const D = 1 + bases.length;
  const V = D + 1;
  const T = D + 2;
  const [E, N, I, P, SEGMENT] = [D + 3, D + 4, D + 5, D + 6, D + 7];
  const code: Code = [...bases.flatMap((slot) => set(local(slot), load(4, i32(slotsAt + 4 * slot)))), ...set(D, add(get(0), i32(chunkAddress)))];
  const d = get(D);
  // The address of `offset` from a base slot and the instruction's offset: those are unsigned, so one before
  // its base (the EtherType before the IP header) is added first; base -1: an absolute address (the clock).
  const address = (base: number, offset: number): [Code, number] => {
    if (base < 0) return [i32(offset), 0];
    return offset >= 0 ? [get(local(base)), offset] : [add(get(local(base)), i32(offset)), 0];
  };
  const raw = (base: number, offset: number, width: 1 | 2 | 4): Code => load(width, ...address(base, offset));
  const value = (e: Expr): Code => {
    switch (e.kind) {
      case 'constant':
        return i32(e.value);
      case 'slot':
        return get(local(e.slot));
      case 'read': {
        const [a, o] = address(e.base, e.offset);
        const v = e.width === 4 ? be32(a, o, T) : e.width === 2 ? be16(a, o) : load(1, a, o);
        return e.mask === ALL ? v : and(v, i32(e.mask));
      }
      case 'op':
        return OPS[e.op](value(e.a), value(e.b));
      case 'if':
        return [...value(e.cond), 0x04, 0x7f, ...value(e.then), 0x05, ...value(e.otherwise), 0x0b];
    }
  };
  // Zeros for `n` octets at `to`, in the widest stores that fit.
  const zeros = (to: number, n: number) => {
    for (const w of [4, 2, 1] as const) while (n >= w) {
      code.push(...store(w, d, i32(0), to));
      to += w;
      n -= w;
    }
  };
  for (const { fact, to, length: octets } of facts) {
    if (fact.kind === 'copy') {
      let k = 0;
      for (const w of [4, 2, 1] as const) for (; octets - k >= w; k += w) code.push(...store(w, d, raw(fact.base, fact.offset + k, w), to + k));
      continue;
    }
    if (fact.kind === 'read' || fact.kind === 'constant') {
      // Moved: its low octets when the column is narrower, zeros first when it is wider.
      const width = fact.kind === 'constant' ? 4 : fact.width;
      const stored = Math.min(octets, width) as 1 | 2 | 4;
      zeros(to, octets - stored);
      const at = to + octets - stored;
      if (fact.kind === 'constant') {
        code.push(...store(stored, d, i32(swapped(fact.value, stored)), at));
        continue;
      }
      const full = stored === 4 ? ALL : (1 << (8 * stored)) - 1;
      const mask = (fact.mask & full) >>> 0;
      const v = raw(fact.base, fact.offset + width - stored, stored);
      code.push(...store(stored, d, mask === full ? v : and(v, i32(swapped(mask, stored))), at));
      continue;
    }
    // Computed: the native value, stored big-endian in the column's last (at most 4) octets.
    const stored = Math.min(octets, 4);
    zeros(to, octets - stored);
    const at = to + octets - stored;
    if (stored === 4) code.push(...store(4, d, swap32(value(fact), V), at));
    else if (stored === 2) code.push(...store(2, d, swap16(value(fact), V), at));
    else code.push(...store(1, d, value(fact), at));
  }
  if (tails.length === 0) {
    code.push(...add(get(0), i32(length)));
    return { params: 1, locals: bases.length + 3, results: 1, body: code, name: 'w' };
  }
  // The variable-length fields, each with its length prefix (RFC 7011 §7): 1 octet below 255, else 255
  // and 2 octets. `length` is the content's length in V.
  const prefix = (): Code =>
    when(
      ltU(get(V), i32(255)),
      [...store(1, get(E), get(V)), ...set(E, add(get(E), i32(1)))],
      [...store(1, get(E), i32(255)), ...store(2, get(E), swap16(get(V), T), 1), ...set(E, add(get(E), i32(3)))],
    );
  // N four-octet words from P to the cursor, which then moves past them.
  const words = (): Code => [
    ...set(I, i32(0)),
    ...block(loop([...brIf(1, geU(get(I), get(N))), ...store(4, add(get(E), shl(get(I), i32(2))), load(4, add(get(P), shl(get(I), i32(2))))), ...set(I, add(get(I), i32(1))), ...br(0)])),
    ...set(E, add(get(E), shl(get(N), i32(2)))),
  ];
  code.push(...set(E, add(d, i32(length))));
  for (const t of tails) {
    if (t.kind === 'communities') {
      // A basicList of bgpCommunity, "allOf" (RFC 6313, RFC 8549): semantic, element id, element length.
      code.push(...set(N, be32(get(local(t.count)), 0, T)), ...set(V, add(i32(5), shl(get(N), i32(2)))), ...prefix());
      code.push(...store(1, get(E), i32(ALL_OF)), ...store(2, get(E), i32(swapped(BGP_COMMUNITY_ID, 2)), 1), ...store(2, get(E), i32(swapped(4, 2)), 3), ...set(E, add(get(E), i32(5))));
      code.push(...set(P, add(get(local(t.count)), i32(4))), ...words());
    } else {
      // The AS numbers of every segment, in path order.
      code.push(...set(V, shl(get(local(t.asns)), i32(2))), ...prefix(), ...set(P, get(local(t.path))), ...set(SEGMENT, i32(0)));
      code.push(
        ...block(
          loop([
            ...brIf(1, geU(get(SEGMENT), get(local(t.segments)))),
            ...set(N, be32(get(P), 4, T)),
            ...set(P, add(get(P), i32(8))),
            ...words(),
            ...set(P, add(get(P), shl(get(N), i32(2)))),
            ...set(SEGMENT, add(get(SEGMENT), i32(1))),
            ...br(0),
          ]),
        ),
      );
    }
  }
  code.push(...sub(get(E), i32(chunkAddress)));
  return { params: 1, locals: bases.length + 8, results: 1, body: code, name: 'w' };
}

/** The facts and tails as a function of the record's position in its chunk (→ where the record ends), or
 *  null without WebAssembly. */
export function compileFacts(facts: readonly PlacedFact[], length: number, tails: readonly Tail[], slotsAt: number, chunkAddress: number): ((d: number) => number) | null {
  const exports = instantiate(moduleOf([func(facts, length, tails, slotsAt, chunkAddress)]), PLAN_MEMORY.memory);
  return exports ? (exports.w as (d: number) => number) : null;
}
