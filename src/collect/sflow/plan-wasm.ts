// WebAssembly for the moves of a compiled flow-sample plan (sample-plan.ts): a fact read as it stands from
// the datagram (or the clock) and stored into the record, maybe cut to its low octets, led by zeros, or
// masked; and constants. Both sides are big-endian octets, and a move keeps octets in order, so no value is
// ever byte-swapped: a load and a store each, with a mask swapped once when the plan is made. Anything that
// computes (a comparison, a sum, a product) stays in the JavaScript part of the plan.
//
// The module is assembled here by hand (WebAssembly core specification, binary format): one function of
// one parameter, the record's address in the plan memory, which it imports.

import { PLAN_MEMORY } from './plan-memory.js';

/** A fact moved into a record column of `length` octets at `to` (from the record's start). */
export type Move =
  /** `width` octets at `base` + `offset` of the datagram, read as a big-endian number and masked. */
  | { kind: 'read'; base: number; offset: number; width: 1 | 2 | 4; mask: number }
  /** The column's octets copied from `address` + `offset` of the memory (`base` -1: none). */
  | { kind: 'copy'; base: number; offset: number }
  | { kind: 'constant'; value: number };

export interface PlacedMove {
  move: Move;
  to: number;
  length: number;
}

const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_AND = 0x71;
const END = 0x0b;
const LOAD: Record<number, number> = { 1: 0x2d, 2: 0x2f, 4: 0x28 };
const STORE: Record<number, number> = { 1: 0x3a, 2: 0x3b, 4: 0x36 };

function unsigned(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function signed(n: number, out: number[]): void {
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** The value whose little-endian octets are `v`'s `width` big-endian ones: what a wasm load of them gives. */
function swapped(v: number, width: number): number {
  let r = 0;
  for (let i = 0; i < width; i++) r |= ((v >>> (8 * (width - 1 - i))) & 0xff) << (8 * i);
  return r | 0;
}

/**
 * The function body for `moves`: `bases` are the slots (indexes into PLAN_MEMORY.slots) the moves read
 * from, each loaded once into a local.
 */
function body(moves: readonly PlacedMove[], slotsAt: number): number[] {
  const bases = [...new Set(moves.flatMap(({ move }) => (move.kind === 'constant' || move.base < 0 ? [] : [move.base])))];
  const local = (slot: number) => 1 + bases.indexOf(slot);
  const code: number[] = [];
  // Locals: one i32 per base slot (local 0 is the record's address).
  if (bases.length > 0) code.push(1, ...leb(bases.length), 0x7f);
  else code.push(0);
  for (const slot of bases) {
    code.push(I32_CONST);
    signed(slotsAt + 4 * slot, code);
    code.push(LOAD[4]!, 2, 0, LOCAL_SET, ...leb(local(slot)));
  }
  // store(to, width, value...): the record's address, the value, then the store with its offset.
  const store = (to: number, width: number, value: number[]) => {
    code.push(LOCAL_GET, 0, ...value, STORE[width]!, 0, ...leb(to));
  };
  const load = (base: number, offset: number, width: number): number[] => {
    const c: number[] = [];
    if (base < 0) {
      // An absolute address (the clock).
      c.push(I32_CONST);
      signed(offset, c);
      c.push(LOAD[width]!, 0, 0);
    } else if (offset >= 0) c.push(LOCAL_GET, ...leb(local(base)), LOAD[width]!, 0, ...leb(offset));
    else {
      // Before the base (the EtherType before the IP header): the address is computed, offsets are unsigned.
      c.push(LOCAL_GET, ...leb(local(base)), I32_CONST);
      signed(offset, c);
      c.push(I32_ADD, LOAD[width]!, 0, 0);
    }
    return c;
  };
  const constant = (v: number) => {
    const c = [I32_CONST];
    signed(v, c);
    return c;
  };
  // Zeros for `n` octets at `to`, in the widest stores that fit.
  const zeros = (to: number, n: number) => {
    for (const w of [4, 2, 1]) while (n >= w) {
      store(to, w, constant(0));
      to += w;
      n -= w;
    }
  };
  for (const { move, to, length } of moves) {
    if (move.kind === 'copy') {
      let k = 0;
      for (const w of [4, 2, 1]) for (; length - k >= w; k += w) store(to + k, w, load(move.base, move.offset + k, w));
      continue;
    }
    // A number: its low octets when the column is narrower, zeros first when it is wider.
    const width = move.kind === 'constant' ? 4 : move.width;
    const stored = Math.min(length, width);
    zeros(to, length - stored);
    const at = to + length - stored;
    if (move.kind === 'constant') {
      store(at, stored, constant(swapped(move.value, stored)));
      continue;
    }
    const full = stored === 4 ? 0xffffffff : (1 << (8 * stored)) - 1;
    const mask = (move.mask & full) >>> 0;
    const value = load(move.base, move.offset + width - stored, stored);
    if (mask !== full) value.push(...constant(swapped(mask, stored)), I32_AND);
    store(at, stored, value);
  }
  code.push(END);
  return code;
}

function leb(n: number): number[] {
  const out: number[] = [];
  unsigned(n, out);
  return out;
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function name(s: string): number[] {
  return [s.length, ...Buffer.from(s, 'ascii')];
}

/** The module's octets: imports the memory as m.m, exports the function as w. */
export function moduleOctets(moves: readonly PlacedMove[], slotsAt: number): Uint8Array<ArrayBuffer> {
  const code = body(moves, slotsAt);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    // Types: (i32) -> ().
    ...section(1, [1, 0x60, 1, 0x7f, 0]),
    // Imports: memory m.m, no bounds asked.
    ...section(2, [1, ...name('m'), ...name('m'), 0x02, 0x00, 0]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('w'), 0x00, 0]),
    ...section(10, [1, ...leb(code.length), ...code]),
  ]);
}

/** The moves as a function of the record's address, or null without WebAssembly. */
export function compileMoves(moves: readonly PlacedMove[], slotsAt: number): ((address: number) => void) | null {
  const memory = PLAN_MEMORY.memory;
  if (!memory) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleOctets(moves, slotsAt)), { m: { m: memory } });
  return instance.exports.w as (address: number) => void;
}
